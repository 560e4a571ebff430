use std::sync::{Arc, Barrier};

use integrations_domain::{AttachmentId, RevisionId, TemplateId};
use integrations_ports::{
    AttachmentChanges, AttachmentStore, NewAttachment, PipelineStore, StoreError, TemplateStore,
};
use integrations_testing::TestDb;
use serde_json::json;
use ulid::Ulid;

use crate::support::{Raw, audit, new_pipeline, new_revision, new_template, org, store, tick};

pub fn attach_new(template_id: TemplateId, revision_id: RevisionId) -> NewAttachment {
    NewAttachment {
        id: AttachmentId::from_ulid(Ulid::generate()),
        template_id,
        revision_id,
        enabled: true,
        created_at: tick(),
        max_per_pipeline: 100,
    }
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn attaches_reads_repins_and_detaches(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "Meta CAPI"), audit().into())
        .expect("created");
    let r1 = store
        .create_revision(&a, t.id, new_revision(json!({ "v": 1 })), audit().into())
        .expect("revised");
    let r2 = store
        .create_revision(&a, t.id, new_revision(json!({ "v": 2 })), audit().into())
        .expect("revised");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");

    let new = attach_new(t.id, r1.id);
    let attached = store
        .attach(&a, p.id, new.clone(), audit().into())
        .expect("attached");
    assert_eq!(
        (attached.id, attached.pipeline_id, attached.template_id),
        (new.id, p.id, t.id)
    );
    assert_eq!(attached.template_name.as_str(), "Meta CAPI");
    assert_eq!(attached.vendor, "meta_capi");
    assert_eq!(
        (
            attached.revision_id,
            attached.revision_number.get(),
            attached.latest_revision
        ),
        (r1.id, 1, 2)
    );
    assert!(attached.enabled);
    assert_eq!(store.attachment(&a, p.id, new.id).expect("found"), attached);
    assert_eq!(
        store.attachments(&a, p.id).expect("listed"),
        vec![attached.clone()]
    );

    let at = tick();
    let repinned = store
        .update_attachment(
            &a,
            p.id,
            new.id,
            AttachmentChanges {
                revision_id: Some(r2.id),
                enabled: Some(false),
                updated_at: at,
            },
            audit(),
        )
        .expect("updated");
    assert_eq!(
        (
            repinned.revision_number.get(),
            repinned.enabled,
            repinned.updated_at
        ),
        (2, false, at)
    );
    let with_revisions = store.attached_revisions(&a, p.id).expect("listed");
    assert_eq!(with_revisions.len(), 1);
    assert_eq!(with_revisions[0].1.config["v"], json!(2));

    // Another org, another pipeline: nothing is found.
    let b = org("org_b");
    assert!(matches!(
        store.attachment(&b, p.id, new.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.attachments(&b, p.id),
        Err(StoreError::NotFound)
    ));
    let other = store
        .create_pipeline(new_pipeline(&a, "App", json!({})), audit().into())
        .expect("created");
    assert!(matches!(
        store.attachment(&a, other.id, new.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.detach(&a, other.id, new.id, audit()),
        Err(StoreError::NotFound)
    ));
    let noop = AttachmentChanges {
        revision_id: None,
        enabled: Some(true),
        updated_at: tick(),
    };
    assert!(matches!(
        store.update_attachment(&b, p.id, new.id, noop, audit()),
        Err(StoreError::NotFound)
    ));

    store.detach(&a, p.id, new.id, audit()).expect("detached");
    assert!(matches!(
        store.attachment(&a, p.id, new.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.detach(&a, p.id, new.id, audit()),
        Err(StoreError::NotFound)
    ));
    assert!(store.attachments(&a, p.id).expect("listed").is_empty());
}

fn attach_reports_each_bad_reference(db: &TestDb) {
    let store = store(db);
    let (a, b) = (org("org_a"), org("org_b"));
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let u = store
        .create_template(new_template(&a, "U"), audit().into())
        .expect("created");
    let theirs = store
        .create_template(new_template(&b, "T"), audit().into())
        .expect("created");
    let rt = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let ru = store
        .create_revision(&a, u.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let rtheirs = store
        .create_revision(&b, theirs.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");

    let missing_pipeline = store.attach(
        &a,
        new_pipeline(&a, "ghost", json!({})).id,
        attach_new(t.id, rt.id),
        audit().into(),
    );
    assert!(matches!(missing_pipeline, Err(StoreError::NotFound)));
    let cases = [
        (attach_new(theirs.id, rtheirs.id), "integration_id"),
        (
            attach_new(TemplateId::from_ulid(Ulid::generate()), rt.id),
            "integration_id",
        ),
        (attach_new(t.id, rtheirs.id), "revision_id"),
        (
            attach_new(t.id, RevisionId::from_ulid(Ulid::generate())),
            "revision_id",
        ),
    ];
    for (new, field) in cases {
        match store.attach(&a, p.id, new, audit().into()) {
            Err(StoreError::UnknownReference { field: f }) => assert_eq!(f, field),
            other => panic!("expected UnknownReference {{ {field} }}, got {other:?}"),
        }
    }
    assert!(matches!(
        store.attach(&a, p.id, attach_new(t.id, ru.id), audit().into()),
        Err(StoreError::RevisionOfAnotherTemplate)
    ));
    let attached = store
        .attach(&a, p.id, attach_new(t.id, rt.id), audit().into())
        .expect("attached");
    assert!(matches!(
        store.attach(&a, p.id, attach_new(t.id, rt.id), audit().into()),
        Err(StoreError::AlreadyAttached)
    ));
    let repin = AttachmentChanges {
        revision_id: Some(ru.id),
        enabled: None,
        updated_at: tick(),
    };
    assert!(matches!(
        store.update_attachment(&a, p.id, attached.id, repin, audit()),
        Err(StoreError::RevisionOfAnotherTemplate)
    ));
    let repin = AttachmentChanges {
        revision_id: Some(rtheirs.id),
        enabled: None,
        updated_at: tick(),
    };
    assert!(matches!(
        store.update_attachment(&a, p.id, attached.id, repin, audit()),
        Err(StoreError::UnknownReference {
            field: "revision_id"
        })
    ));
    assert_eq!(
        store.attachments(&a, p.id).expect("listed").len(),
        1,
        "failed attempts changed nothing"
    );
    assert_eq!(
        store
            .attachment(&a, p.id, attached.id)
            .expect("found")
            .revision_id,
        rt.id
    );
}

fn a_template_in_use_cannot_be_deleted(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let r = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let web = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    let app = store
        .create_pipeline(new_pipeline(&a, "App", json!({})), audit().into())
        .expect("created");
    let on_web = store
        .attach(&a, web.id, attach_new(t.id, r.id), audit().into())
        .expect("attached");
    store
        .attach(&a, app.id, attach_new(t.id, r.id), audit().into())
        .expect("attached");
    match store.delete_template(&a, t.id, tick(), None, audit()) {
        Err(StoreError::TemplateInUse {
            pipelines: users,
            more: 0,
        }) => {
            let names: Vec<&str> = users.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["App", "Web"]);
            assert!(users.iter().any(|p| p.id == web.id) && users.iter().any(|p| p.id == app.id));
        }
        other => panic!("expected TemplateInUse, got {other:?}"),
    }
    assert!(
        store.template(&a, t.id).is_ok(),
        "the refused delete changed nothing"
    );
    store
        .detach(&a, web.id, on_web.id, audit())
        .expect("detached");
    store
        .delete_pipeline(&a, app.id, tick(), audit(), &|_| audit())
        .expect("deleted");
    store
        .delete_template(&a, t.id, tick(), None, audit())
        .expect("deleted once unused");
}

fn deleting_a_pipeline_removes_its_attachments(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let r = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    store
        .attach(&a, p.id, attach_new(t.id, r.id), audit().into())
        .expect("attached");
    store
        .delete_pipeline(&a, p.id, tick(), audit(), &|_| audit())
        .expect("deleted");
    let mut raw = Raw::connect(db);
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM attachments"), 0);
    assert!(matches!(
        store.attachments(&a, p.id),
        Err(StoreError::NotFound)
    ));
    let late = store.attach(&a, p.id, attach_new(t.id, r.id), audit().into());
    assert!(
        matches!(late, Err(StoreError::NotFound)),
        "a deleted pipeline takes no attachment"
    );
}

fn attach_and_delete_never_leave_a_dangling_attachment(db: &TestDb) {
    const ROUNDS: usize = 20;
    let store = Arc::new(store(db));
    let a = org("org_a");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    let (mut attached, mut deleted) = (0, 0);
    for round in 0..ROUNDS {
        let t = store
            .create_template(new_template(&a, &format!("T{round}")), audit().into())
            .expect("created");
        let r = store
            .create_revision(&a, t.id, new_revision(json!({})), audit().into())
            .expect("revised");
        let start = Arc::new(Barrier::new(2));
        let attach = {
            let (store, a, start) = (Arc::clone(&store), a.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                store.attach(&a, p.id, attach_new(t.id, r.id), audit().into())
            })
        };
        let delete = {
            let (store, a, start) = (Arc::clone(&store), a.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                store.delete_template(&a, t.id, tick(), None, audit())
            })
        };
        let attach = attach.join().expect("no panic");
        let delete = delete.join().expect("no panic");
        // Exactly one of them wins, and the loser fails the documented way.
        match (&attach, &delete) {
            (Ok(_), Err(StoreError::TemplateInUse { .. })) => attached += 1,
            (
                Err(StoreError::UnknownReference {
                    field: "integration_id",
                }),
                Ok(()),
            ) => deleted += 1,
            other => panic!("round {round}: unexpected outcome {other:?}"),
        }
    }
    assert_eq!(attached + deleted, ROUNDS);
    let mut raw = Raw::connect(db);
    let dangling = raw.count(
        "SELECT COUNT(*) AS n FROM attachments JOIN templates ON templates.id = attachments.template_id \
         WHERE templates.deleted_at IS NOT NULL",
    );
    assert_eq!(dangling, 0);
}

integrations_testing::backend_tests!(
    attaches_reads_repins_and_detaches,
    attach_reports_each_bad_reference,
    a_template_in_use_cannot_be_deleted,
    deleting_a_pipeline_removes_its_attachments,
    attach_and_delete_never_leave_a_dangling_attachment,
);
