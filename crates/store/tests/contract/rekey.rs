use integrations_ports::{Envelope, KeyCount, KeyRotationStore, SealPlace, TemplateStore};
use integrations_testing::TestDb;
use serde_json::json;

use crate::sealed::sealed;
use crate::support::{audit, new_revision, new_template, org, store};

fn counts(pairs: &[(&str, u64)]) -> Vec<KeyCount> {
    pairs
        .iter()
        .map(|(kid, n)| KeyCount {
            kid: (*kid).to_owned(),
            sealed_values: *n,
        })
        .collect()
}

fn key_rotation_counts_pages_and_reseals_only_unchanged_values(db: &TestDb) {
    let store = store(db);
    let (a, b) = (org("org_a"), org("org_b"));
    for (org, kids) in [(&a, ["old", "old", "new"]), (&b, ["old", "other", "old"])] {
        let t = store
            .create_template(new_template(org, "T"), audit().into())
            .expect("created");
        let mut revision =
            new_revision(json!({ "a": "enc:v2:x", "b": "enc:v2:y", "c": "enc:v2:z" }));
        revision.secrets = ["/a", "/b", "/c"]
            .iter()
            .zip(kids)
            .map(|(path, kid)| sealed(path, kid, &format!("ct-{kid}")))
            .collect();
        store
            .create_revision(org, t.id, revision, audit().into())
            .expect("revised");
    }
    assert_eq!(
        store.sealed_counts(Some(&a)).expect("counted"),
        counts(&[("new", 1), ("old", 2)])
    );
    assert_eq!(
        store.sealed_counts(None).expect("counted"),
        counts(&[("new", 1), ("old", 4), ("other", 1)])
    );
    assert!(
        store
            .sealed_counts(Some(&org("org_none")))
            .expect("counted")
            .is_empty()
    );

    // Everything not under "new", two at a time, in place order, across orgs.
    let mut seen = Vec::new();
    let mut after: Option<SealPlace> = None;
    loop {
        let page = store
            .sealed_not_under("new", after.as_ref(), 2)
            .expect("read");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.place.clone());
        seen.extend(page);
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|s| s.envelope.kid != "new"));
    assert!(
        seen.windows(2).all(|w| w[0].place < w[1].place),
        "in place order"
    );
    assert_eq!(seen.iter().filter(|s| s.org == "org_b").count(), 3);

    // Re-seal them all, except that one changed after it was read: it is left alone.
    let touched = seen[0].clone();
    let mut stale = touched.clone();
    "something older".clone_into(&mut stale.envelope.ciphertext);
    let mut changes: Vec<_> = seen[1..]
        .iter()
        .map(|s| {
            (
                s.clone(),
                Envelope {
                    kid: "new".to_owned(),
                    ciphertext: format!("resealed {}", s.envelope.ciphertext),
                },
            )
        })
        .collect();
    changes.push((
        stale,
        Envelope {
            kid: "new".to_owned(),
            ciphertext: "must not land".to_owned(),
        },
    ));
    assert_eq!(store.reseal(&changes).expect("resealed"), 4);
    // Again: idempotent, nothing left to replace.
    assert_eq!(store.reseal(&changes).expect("resealed"), 0);
    assert_eq!(store.reseal(&[]).expect("nothing"), 0);
    assert_eq!(
        store.sealed_counts(None).expect("counted"),
        counts(&[("new", 5), (&touched.envelope.kid, 1)])
    );
    let left = store.sealed_not_under("new", None, 10).expect("read");
    assert_eq!(left, vec![touched]);
}

integrations_testing::backend_tests!(key_rotation_counts_pages_and_reseals_only_unchanged_values,);
