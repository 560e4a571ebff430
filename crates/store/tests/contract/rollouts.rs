//! Rollouts: the pins handed to `decide` under lock, all-or-nothing writes,
//! `If-Match`, reads and lists.

use integrations_domain::{OrgId, RolloutId, TemplateId};
use integrations_ports::{
    ApplyRollout, AttachmentStore, AuditAction, AuditEntry, AuditStore, EventStore, FoundPin,
    PinStatus, PipelineStore, ResourceType, Rollout, RolloutPipeline, RolloutStatus, RolloutStore,
    RolloutWrite, StoreError, TemplateStore, Window,
};
use integrations_store::DieselStore;
use integrations_testing::TestDb;
use serde_json::json;
use ulid::Ulid;

use crate::attachments::attach_new;
use crate::support::{audit, new_pipeline, new_revision, new_template, org, store, tick, user};

fn rollout(template: TemplateId, rows: Vec<RolloutPipeline>) -> Rollout {
    Rollout {
        id: RolloutId::from_ulid(Ulid::generate()),
        template_id: template,
        to_revision: Some(2),
        status: RolloutStatus::Applied,
        note: Some("why".to_owned()),
        created_by: user(),
        created_at: tick(),
        rolled_back_from: None,
        pipelines: rows,
    }
}

fn entry(action: AuditAction, kind: ResourceType, id: String) -> AuditEntry {
    AuditEntry {
        action,
        resource_type: kind,
        resource_id: id,
        new_value: Some(json!({})),
        ..audit()
    }
}

fn events(store: &DieselStore, org: &OrgId) -> u64 {
    store
        .last_seqs(std::slice::from_ref(org))
        .expect("read")
        .first()
        .map_or(0, |(_, seq)| *seq)
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn an_apply_decides_on_the_pins_under_lock_and_writes_all_or_nothing(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let r1 = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let r2 = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let pinned = store
        .create_pipeline(new_pipeline(&a, "Pinned", json!({})), audit().into())
        .expect("created");
    let loose = store
        .create_pipeline(new_pipeline(&a, "Loose", json!({})), audit().into())
        .expect("created");
    let pin = store
        .attach(&a, pinned.id, attach_new(t.id, r1.id), audit().into())
        .expect("attached");
    let apply = ApplyRollout {
        template_id: t.id,
        pipelines: vec![pinned.id, loose.id],
        expected_latest: Some(2),
    };
    let row = |pipeline, status| RolloutPipeline {
        pipeline_id: pipeline,
        pipeline_name: "P".to_owned(),
        from_revision: 1,
        to_revision: 2,
        status,
        current_revision: None,
        missing_parameters: Vec::new(),
        problems: Vec::new(),
        config_diff: Some(json!([])),
    };
    let before = events(&store, &a);

    // A failing decision writes nothing.
    let mut seen: Vec<FoundPin> = Vec::new();
    let failed = store.apply_rollout(
        &a,
        &apply,
        &mut |found| {
            seen = found;
            Err(StoreError::NotFound)
        },
        None,
    );
    assert!(matches!(failed, Err(StoreError::NotFound)));
    assert_eq!(seen.len(), 2, "one per target, in order");
    assert_eq!(seen[0].pipeline_id, pinned.id);
    assert_eq!(seen[0].attachment.as_ref().map(|p| p.id), Some(pin.id));
    assert_eq!(
        seen[0].attachment.as_ref().map(|p| p.revision_number.get()),
        Some(1)
    );
    assert!(
        seen[1].attachment.is_none(),
        "a pipeline that does not pin it"
    );
    assert_eq!(
        seen.iter()
            .map(|pin| pin.pipeline_updated_at)
            .collect::<Vec<_>>(),
        [Some(pinned.updated_at), Some(loose.updated_at)],
        "each pipeline's version, to tell whether it changed since a check"
    );
    assert_eq!(events(&store, &a), before);

    // A stale If-Match never reaches the decision.
    let stale = ApplyRollout {
        expected_latest: Some(1),
        ..apply.clone()
    };
    let refused = store.apply_rollout(&a, &stale, &mut |_| panic!("not asked"), None);
    assert!(matches!(
        refused,
        Err(StoreError::StaleRevision { latest: 2 })
    ));

    // The decision is written: the move, the rollout, its audit entries and events.
    let stored = store
        .apply_rollout(
            &a,
            &apply,
            &mut |found| {
                let attachment = found[0].attachment.clone().expect("pinned");
                let made = rollout(
                    t.id,
                    vec![
                        row(pinned.id, PinStatus::Moved),
                        row(loose.id, PinStatus::Skipped),
                    ],
                );
                Ok(RolloutWrite {
                    audit: vec![
                        entry(
                            AuditAction::RolloutApply,
                            ResourceType::Rollout,
                            made.id.to_string(),
                        ),
                        entry(
                            AuditAction::AttachmentRepin,
                            ResourceType::Attachment,
                            attachment.id.to_string(),
                        ),
                    ],
                    moves: vec![(attachment.id, r2.id)],
                    rollout: made,
                })
            },
            None,
        )
        .expect("applied");
    let now = store
        .attachment(&a, pinned.id, pin.id)
        .expect("read")
        .revision_number
        .get();
    assert_eq!(now, 2);
    assert_eq!(events(&store, &a), before + 2, "two events");
    assert_eq!(store.rollout(&a, stored.id).expect("read"), stored);
    let logged = store
        .audit_log(
            &a,
            Some(&stored.id.to_string()),
            Window::from(integrations_domain::Page::default()),
        )
        .expect("read");
    assert_eq!(logged.total, 1);

    // Unknown templates, other orgs.
    let gone = ApplyRollout {
        template_id: TemplateId::from_ulid(Ulid::generate()),
        ..apply
    };
    assert!(matches!(
        store.apply_rollout(&a, &gone, &mut |_| panic!("not asked"), None),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.rollout(&org("org_b"), stored.id),
        Err(StoreError::NotFound)
    ));
}

fn rollouts_list_newest_first_per_template_and_org(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut templates = Vec::new();
    for name in ["T1", "T2"] {
        let t = store
            .create_template(new_template(&a, name), audit().into())
            .expect("created");
        store
            .create_revision(&a, t.id, new_revision(json!({})), audit().into())
            .expect("revised");
        templates.push(t.id);
    }
    let mut made = Vec::new();
    for i in 0..5 {
        let template = templates[i % 2];
        let apply = ApplyRollout {
            template_id: template,
            pipelines: Vec::new(),
            expected_latest: None,
        };
        let stored = store
            .apply_rollout(
                &a,
                &apply,
                &mut |_| {
                    let made = rollout(template, Vec::new());
                    Ok(RolloutWrite {
                        audit: vec![entry(
                            AuditAction::RolloutApply,
                            ResourceType::Rollout,
                            made.id.to_string(),
                        )],
                        moves: Vec::new(),
                        rollout: made,
                    })
                },
                None,
            )
            .expect("applied");
        made.push(stored.id);
    }
    let page = |template, offset| {
        store
            .rollouts(
                &a,
                template,
                Window::from(integrations_domain::Page::new(Some(2), Some(offset)).expect("page")),
            )
            .expect("listed")
    };
    let all = page(None, 0);
    assert_eq!((all.total, all.more), (5, true));
    assert_eq!(
        all.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [made[4], made[3]]
    );
    let first = page(Some(templates[0]), 2);
    assert_eq!((first.total, first.more), (3, false));
    assert_eq!(
        first.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [made[0]]
    );
    assert_eq!(
        store
            .rollouts(
                &org("org_b"),
                None,
                Window::from(integrations_domain::Page::default())
            )
            .expect("listed")
            .total,
        0
    );
}

/// While an apply decides, the targets' pins are locked: a re-pin of one
/// waits for the apply's commit (PostgreSQL shows it waiting on a lock),
/// then lands on top of it. SQLite serialises every write transaction.
#[test]
fn a_re_pin_waits_for_the_apply_that_holds_its_pin() {
    let Some(db) = TestDb::postgres() else { return };
    let store = store(&db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let revisions: Vec<_> = (1..=3)
        .map(|_| {
            store
                .create_revision(&a, t.id, new_revision(json!({})), audit().into())
                .expect("revised")
        })
        .collect();
    let p = store
        .create_pipeline(new_pipeline(&a, "P", json!({})), audit().into())
        .expect("created");
    let pin = store
        .attach(&a, p.id, attach_new(t.id, revisions[0].id), audit().into())
        .expect("attached");
    let apply = ApplyRollout {
        template_id: t.id,
        pipelines: vec![p.id],
        expected_latest: None,
    };
    let mut repin = None;
    store
        .apply_rollout(
            &a,
            &apply,
            &mut |found| {
                let attachment = found[0].attachment.clone().expect("pinned");
                assert_eq!(attachment.revision_number.get(), 1);
                // Another writer re-pins the same pin meanwhile.
                let other = crate::support::store(&db);
                let (org, pipeline, to) = (a.clone(), p.id, revisions[2].id);
                repin = Some(std::thread::spawn(move || {
                    let changes = integrations_ports::AttachmentChanges {
                        revision_id: Some(to),
                        enabled: None,
                        updated_at: tick(),
                    };
                    other
                        .update_attachment(&org, pipeline, pin.id, changes, audit())
                        .expect("re-pinned");
                }));
                let mut raw = crate::support::Raw::connect(&db);
                let waiting = (0..500).any(|_| {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    raw.count(
                        "SELECT count(*) AS n FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    ) > 0
                });
                assert!(waiting, "the re-pin waits for the apply's lock");
                let made = rollout(t.id, Vec::new());
                Ok(RolloutWrite {
                    audit: vec![entry(
                        AuditAction::RolloutApply,
                        ResourceType::Rollout,
                        made.id.to_string(),
                    )],
                    moves: vec![(attachment.id, revisions[1].id)],
                    rollout: made,
                })
            },
            None,
        )
        .expect("applied");
    repin.expect("started").join().expect("the re-pin");
    let now = store.attachment(&a, p.id, pin.id).expect("read");
    assert_eq!(
        now.revision_number.get(),
        3,
        "the re-pin landed after the apply"
    );
}

integrations_testing::backend_tests!(
    an_apply_decides_on_the_pins_under_lock_and_writes_all_or_nothing,
    rollouts_list_newest_first_per_template_and_org,
);
