use integrations_domain::RevisionId;
use integrations_domain::secrets::SecretVersion;
use integrations_ports::{Envelope, SealedSecret, SealedValueStore, StoreError, TemplateStore};
use integrations_testing::{Backend, TestDb};
use serde_json::json;
use ulid::Ulid;

use crate::support::{Raw, audit, new_revision, new_template, org, store};

pub(crate) fn sealed(field_path: &str, kid: &str, ciphertext: &str) -> SealedSecret {
    SealedSecret {
        field_path: field_path.to_owned(),
        version: SecretVersion::from_ulid(Ulid::generate()),
        envelope: Envelope {
            kid: kid.to_owned(),
            ciphertext: ciphertext.to_owned(),
        },
    }
}

fn sorted(mut found: Vec<(RevisionId, SealedSecret)>) -> Vec<(RevisionId, SealedSecret)> {
    found.sort_by(|a, b| (a.0, &a.1.field_path).cmp(&(b.0, &b.1.field_path)));
    found
}

fn sealed_values_are_written_with_their_revision_and_read_per_org(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let mut first =
        new_revision(json!({ "access_token": "enc:v2:x", "headers": { "A/b": "enc:v2:y" } }));
    first.secrets = vec![
        sealed("/access_token", "kid1", "c1"),
        sealed("/headers/A~1b", "kid1", "c2"),
    ];
    let mut second = new_revision(json!({ "access_token": "enc:v2:z" }));
    second.secrets = vec![sealed("/access_token", "kid2", "c3")];
    let expected_first = first.secrets.clone();
    let expected_second = second.secrets.clone();
    let r1 = store
        .create_revision(&a, t.id, first, audit().into())
        .expect("revised");
    let r2 = store
        .create_revision(&a, t.id, second, audit().into())
        .expect("revised");
    let mut expected: Vec<(RevisionId, SealedSecret)> = expected_first
        .into_iter()
        .map(|s| (r1.id, s))
        .chain(expected_second.into_iter().map(|s| (r2.id, s)))
        .collect();
    expected = sorted(expected);
    let both = store.revision_secrets(&a, &[r1.id, r2.id]).expect("read");
    assert_eq!(sorted(both), expected);
    let only_second = store.revision_secrets(&a, &[r2.id]).expect("read");
    let of_second: Vec<_> = expected
        .iter()
        .filter(|(id, _)| *id == r2.id)
        .cloned()
        .collect();
    assert_eq!(only_second, of_second);
    assert_eq!(of_second.len(), 1);
    // Another org, an unknown revision and no revision at all see nothing.
    let none = |found: Vec<(RevisionId, SealedSecret)>| assert!(found.is_empty(), "{found:?}");
    none(
        store
            .revision_secrets(&org("org_b"), &[r1.id, r2.id])
            .expect("read"),
    );
    let unknown = RevisionId::from_ulid(Ulid::generate());
    none(store.revision_secrets(&a, &[unknown]).expect("read"));
    none(store.revision_secrets(&a, &[]).expect("read"));
    let mut raw = Raw::connect(db);
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) AS n FROM sealed_values WHERE org_id = 'org_a' AND owner_kind = 'revision' \
             AND owner_id = '{}' AND kid = 'kid1'",
            r1.id
        )),
        2
    );
}

fn a_refused_revision_leaves_no_sealed_value(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let mut stale = new_revision(json!({ "access_token": "enc:v2:x" }));
    stale.expected_latest = Some(3);
    stale.secrets = vec![sealed("/access_token", "kid1", "c1")];
    assert!(matches!(
        store.create_revision(&a, t.id, stale, audit().into()),
        Err(StoreError::StaleRevision { latest: 0 })
    ));
    let mut raw = Raw::connect(db);
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM sealed_values"), 0);
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM revisions"), 0);
}

fn sealed_values_change_only_their_envelope(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let mut new = new_revision(json!({ "access_token": "enc:v2:x" }));
    new.secrets = vec![sealed("/access_token", "kid1", "c1")];
    let revision = store
        .create_revision(&a, t.id, new, audit().into())
        .expect("revised");
    let mut raw = Raw::connect(db);
    // What re-sealing under another key does: allowed.
    raw.execute("UPDATE sealed_values SET kid = 'kid2', ciphertext = 'c9'")
        .expect("the envelope may change");
    let read = store.revision_secrets(&a, &[revision.id]).expect("read");
    assert_eq!(read[0].1.envelope.kid, "kid2");
    assert_eq!(read[0].1.envelope.ciphertext, "c9");
    for statement in [
        "UPDATE sealed_values SET owner_id = 'rev_other'",
        "UPDATE sealed_values SET field_path = '/other'",
        "UPDATE sealed_values SET version_id = 'other'",
        "UPDATE sealed_values SET org_id = 'org_b'",
        "UPDATE sealed_values SET owner_kind = 'pipeline'",
    ] {
        let err = raw.execute(statement).expect_err(statement);
        assert!(
            err.to_string().contains("keeps its place and version"),
            "{statement}: {err}"
        );
    }
    let err = raw
        .execute("DELETE FROM sealed_values")
        .expect_err("delete");
    assert!(err.to_string().contains("immutable"), "{err}");
    if db.backend() == Backend::Postgres {
        let err = raw.execute("TRUNCATE sealed_values").expect_err("truncate");
        assert!(err.to_string().contains("immutable"), "{err}");
    }
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM sealed_values"), 1);
    // Values of a pipeline (secret parameters) may be replaced.
    raw.execute(
        "INSERT INTO sealed_values (org_id, owner_kind, owner_id, field_path, version_id, kid, ciphertext, created_at) \
         VALUES ('org_a', 'pipeline', 'pip_x', '/token', 'v', 'kid1', 'c', '2026-01-01 00:00:00')",
    )
    .expect("a pipeline's value");
    raw.execute("DELETE FROM sealed_values WHERE owner_kind = 'pipeline'")
        .expect("a pipeline's value may go");
    let err = raw
        .execute(
            "INSERT INTO sealed_values (org_id, owner_kind, owner_id, field_path, version_id, kid, ciphertext, created_at) \
             VALUES ('org_a', 'template', 'x', '/token', 'v', 'kid1', 'c', '2026-01-01 00:00:00')",
        )
        .expect_err("an unknown owner kind");
    assert!(err.to_string().to_lowercase().contains("check"), "{err}");
}

integrations_testing::backend_tests!(
    sealed_values_are_written_with_their_revision_and_read_per_org,
    a_refused_revision_leaves_no_sealed_value,
    sealed_values_change_only_their_envelope,
);
