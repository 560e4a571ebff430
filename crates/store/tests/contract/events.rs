//! The change feed: numbering in commit order, what an event lists and
//! keeps, pruning.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use integrations_domain::{OrgId, PipelineId};
use integrations_ports::ChangeChannels;
use integrations_ports::{
    AttachmentStore, AuditAction, AuditEntry, EventResource, EventStore, EventType,
    PipelineChanges, PipelineStore, ResourceType, StoreError, TemplateStore,
};
use integrations_store::{Channels, DieselStore};
use integrations_testing::{Backend, TestDb};
use serde_json::json;

use crate::attachments::attach_new;
use crate::support::{Raw, audit, new_pipeline, new_revision, new_template, org, store, tick};

/// An audit entry about `resource` (of `kind`) with `action` and the value a
/// change of that kind records.
fn entry(
    action: AuditAction,
    kind: ResourceType,
    resource: &str,
    new: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        action,
        resource_type: kind,
        resource_id: resource.to_owned(),
        new_value: Some(new),
        ..audit()
    }
}

fn seqs(store: &DieselStore, org: &OrgId, after: u64) -> Vec<u64> {
    store
        .events_after(org, after, 1_000)
        .expect("read")
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn events_are_numbered_per_org_without_gaps_and_roll_back_with_their_change(db: &TestDb) {
    let store = store(db);
    let (a, b) = (org("org_a"), org("org_b"));
    assert_eq!(store.last_seqs(&[a.clone(), b.clone()]).expect("read"), []);
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    // Refused: no event, and its number is not used up.
    let clash = store.create_template(new_template(&a, "t"), audit().into());
    assert!(matches!(clash, Err(StoreError::NameTaken)));
    let revision = store
        .create_revision(
            &a,
            t.id,
            new_revision(json!({ "pixel_id": "1" })),
            entry(
                AuditAction::RevisionCreate,
                ResourceType::Template,
                &t.id.to_string(),
                json!({ "id": "rev_x", "config": { "pixel_id": "1" } }),
            )
            .into(),
        )
        .expect("revised");
    store
        .create_template(new_template(&b, "T"), audit().into())
        .expect("created");
    assert_eq!(seqs(&store, &a, 0), [1, 2]);
    assert_eq!(seqs(&store, &a, 1), [2]);
    assert_eq!(seqs(&store, &b, 0), [1], "each org numbers its own events");
    let mut last = store.last_seqs(&[a.clone(), b.clone()]).expect("read");
    last.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
    assert_eq!(last, [(a.clone(), 2), (b, 1)]);

    let events = store.events_after(&a, 0, 10).expect("read");
    let created = &events[0];
    assert_eq!(created.event_type, EventType::TemplateCreated);
    assert_eq!(created.org, a);
    assert_eq!(created.actor.as_str(), "user_123");
    let revised = &events[1];
    assert_eq!(
        (revised.event_type, revised.resource_type),
        (EventType::RevisionCreated, EventResource::Revision)
    );
    // The number only the store knew, and nothing of the config.
    assert_eq!(
        revised.data["revision_number"],
        json!(revision.number.get())
    );
    assert_eq!(revised.data["template_id"], json!(t.id.to_string()));
    assert!(!revised.data.contains_key("config"));
    assert_eq!(revised.pipeline_ids, [] as [PipelineId; 0]);
    // The event shares the audit entry's ULID.
    assert!(revised.id.to_string().starts_with("evt_"));
    assert_eq!(
        store.events_after(&a, 0, 1).expect("read").len(),
        1,
        "limit"
    );
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn a_template_change_lists_the_pipelines_pinning_it_and_a_pipeline_change_its_pipeline(
    db: &TestDb,
) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let other = store
        .create_template(new_template(&a, "Other"), audit().into())
        .expect("created");
    let r1 = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let ro = store
        .create_revision(&a, other.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let mut pins = Vec::new();
    for name in ["P1", "P2", "P3"] {
        let p = store
            .create_pipeline(new_pipeline(&a, name, json!({})), audit().into())
            .expect("created");
        pins.push(p.id);
    }
    for p in &pins[..2] {
        store
            .attach(&a, *p, attach_new(t.id, r1.id), audit().into())
            .expect("attached");
    }
    store
        .attach(&a, pins[2], attach_new(other.id, ro.id), audit().into())
        .expect("attached");
    let before = store.last_seqs(std::slice::from_ref(&a)).expect("read")[0].1;
    let revised = entry(
        AuditAction::RevisionCreate,
        ResourceType::Template,
        &t.id.to_string(),
        json!({ "id": "rev_y" }),
    );
    store
        .create_revision(&a, t.id, new_revision(json!({})), revised.into())
        .expect("revised");
    let renamed = entry(
        AuditAction::TemplateUpdate,
        ResourceType::Template,
        &t.id.to_string(),
        json!({ "id": t.id.to_string(), "name": "T2", "description": "not copied" }),
    );
    store
        .update_template(
            &a,
            t.id,
            integrations_ports::TemplateChanges {
                name: Some(crate::support::name("T2")),
                description: None,
                updated_at: tick(),
                expected_updated_at: None,
            },
            renamed,
        )
        .expect("renamed");
    let p = pins[0];
    let updated = entry(
        AuditAction::PipelineUpdate,
        ResourceType::Pipeline,
        &p.to_string(),
        json!({ "id": p.to_string(), "name": "P1", "parameters": { "PIXEL": "private" } }),
    );
    store
        .update_pipeline(
            &a,
            p,
            PipelineChanges {
                name: None,
                description: None,
                parameters: None,
                secret_parameters: None,
                updated_at: tick(),
            },
            updated,
        )
        .expect("updated");
    let events = store.events_after(&a, before, 10).expect("read");
    let mut pinning = pins[..2].to_vec();
    pinning.sort();
    assert_eq!(
        events[0].pipeline_ids, pinning,
        "the revision: T's pins, sorted"
    );
    assert_eq!(events[1].event_type, EventType::TemplateUpdated);
    assert_eq!(events[1].pipeline_ids, pinning);
    assert_eq!(
        events[1].data,
        *json!({ "template_id": t.id.to_string(), "name": "T2" })
            .as_object()
            .expect("object")
    );
    assert_eq!(events[2].event_type, EventType::PipelineUpdated);
    assert_eq!(events[2].pipeline_ids, [p]);
    assert!(
        !events[2].data.contains_key("parameters"),
        "{:?}",
        events[2].data
    );
    let mut raw = Raw::connect(db);
    assert_eq!(
        raw.count("SELECT COUNT(*) AS n FROM events WHERE data LIKE '%private%'"),
        0,
        "no parameter value is stored in an event"
    );
}

fn deleting_a_pipeline_detaches_each_pin_then_deletes_it(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let r = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let p = store
        .create_pipeline(new_pipeline(&a, "P", json!({})), audit().into())
        .expect("created");
    let pin = store
        .attach(&a, p.id, attach_new(t.id, r.id), audit().into())
        .expect("attached");
    let before = store.last_seqs(std::slice::from_ref(&a)).expect("read")[0].1;
    let deleted = entry(
        AuditAction::PipelineDelete,
        ResourceType::Pipeline,
        &p.id.to_string(),
        json!({ "id": p.id.to_string(), "name": "P" }),
    );
    store
        .delete_pipeline(&a, p.id, tick(), deleted, &|removed| {
            entry(
                AuditAction::AttachmentDelete,
                ResourceType::Attachment,
                &removed.id.to_string(),
                json!({ "id": removed.id.to_string(), "pipeline_id": removed.pipeline_id.to_string() }),
            )
        })
        .expect("deleted");
    let events = store.events_after(&a, before, 10).expect("read");
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        kinds,
        [EventType::IntegrationDetached, EventType::PipelineDeleted]
    );
    assert_eq!(events[0].resource_id, pin.id.to_string());
    assert_eq!(
        (
            events[0].pipeline_ids.clone(),
            events[1].pipeline_ids.clone()
        ),
        (vec![p.id], vec![p.id])
    );
    assert_eq!(events[1].seq, events[0].seq + 1);
}

fn pruning_deletes_from_the_lowest_number_up_in_small_batches(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut ats = Vec::new();
    for n in 0..6 {
        let mut made = audit();
        made.at = tick();
        ats.push(made.at);
        store
            .create_template(new_template(&a, &format!("T{n}")), made.into())
            .expect("created");
    }
    // Event 4 is older than the cutoff; 3 is not (clocks disagree): both go,
    // so that what is kept stays an unbroken run.
    let mut raw = Raw::connect(db);
    raw.execute("UPDATE events SET at = '2020-01-01 00:00:00' WHERE seq = 4")
        .expect("aged");
    let cutoff = ats[1] + time::Duration::milliseconds(500);
    assert_eq!(
        store.prune_events(cutoff, 2).expect("pruned"),
        2,
        "a batch at most"
    );
    assert_eq!(seqs(&store, &a, 0), [3, 4, 5, 6]);
    assert_eq!(store.prune_events(cutoff, 2).expect("pruned"), 2);
    assert_eq!(seqs(&store, &a, 0), [5, 6]);
    assert_eq!(
        store.prune_events(cutoff, 2).expect("pruned"),
        0,
        "nothing older left"
    );
    // The numbers go on: pruning never touches them.
    store
        .create_template(new_template(&a, "T6"), audit().into())
        .expect("created");
    assert_eq!(seqs(&store, &a, 0), [5, 6, 7]);
}

/// Writers of one org commit while a reader tails: every answer starts just
/// above what the reader has seen, with no gap — a number is never served
/// before a lower one has committed.
fn a_tailing_reader_never_sees_a_gap_under_concurrent_writers(db: &TestDb) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let store = store(db);
    let a = org("org_a");
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, a, done) = (store.clone(), a.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut seen = 0_u64;
            loop {
                let finished = done.load(Ordering::SeqCst);
                for event in store.events_after(&a, seen, 1_000).expect("read") {
                    assert_eq!(event.seq, seen + 1, "served in commit order, no gap");
                    seen = event.seq;
                }
                if finished {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, a) = (store.clone(), a.clone());
            std::thread::spawn(move || {
                for n in 0..EACH {
                    store
                        .create_template(new_template(&a, &format!("W{w}-{n}")), audit().into())
                        .expect("created");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer");
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.join().expect("the reader");
    assert_eq!(seen, (WRITERS * EACH) as u64);
}

/// The listening channel answers the pump's periodic check and prunes over
/// its own connection, so a process that only waits needs none of the
/// pool's; SQLite offers no channel (one process serves a file).
fn the_channel_checks_and_prunes_over_its_own_connection(db: &TestDb) {
    let store = store(db);
    let channel = Channels::new(store.url()).open_channel().expect("opens");
    let Some(mut channel) = channel else {
        assert_eq!(db.backend(), Backend::Sqlite, "PostgreSQL has a channel");
        return;
    };
    let (a, b, quiet) = (org("org_a"), org("org_b"), org("org_quiet"));
    for (org, n) in [(&a, 3), (&b, 1)] {
        for i in 0..n {
            let mut made = audit();
            made.at = tick() - time::Duration::days(30);
            store
                .create_template(new_template(org, &format!("T{i}")), made.into())
                .expect("created");
        }
    }
    let asked = [a.clone(), b.clone(), quiet];
    let mut over_channel = channel.last_seqs(&asked).expect("checked");
    let mut over_pool = store.last_seqs(&asked).expect("checked");
    over_channel.sort();
    over_pool.sort();
    assert_eq!(over_channel, vec![(a.clone(), 3), (b, 1)]);
    assert_eq!(over_channel, over_pool, "the same answer either way");

    assert_eq!(
        channel.prune_events(tick(), 2).expect("pruned"),
        2,
        "a batch"
    );
    assert_eq!(seqs(&store, &a, 0), [3], "from the bottom");
    assert_eq!(channel.prune_events(tick(), 2).expect("pruned"), 2);
    assert_eq!(seqs(&store, &a, 0), Vec::<u64>::new());
    assert_eq!(
        channel
            .last_seqs(std::slice::from_ref(&a))
            .expect("checked"),
        [(a.clone(), 3)],
        "pruning keeps the numbers"
    );

    // A lost connection is an outage the pump reconnects after.
    let mut raw = Raw::connect(db);
    raw.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'integrations-listener' AND datname = current_database()",
    )
    .expect("terminated");
    assert!(matches!(
        channel.last_seqs(&[a]),
        Err(StoreError::Unavailable(_))
    ));
}

integrations_testing::backend_tests!(
    the_channel_checks_and_prunes_over_its_own_connection,
    events_are_numbered_per_org_without_gaps_and_roll_back_with_their_change,
    a_template_change_lists_the_pipelines_pinning_it_and_a_pipeline_change_its_pipeline,
    deleting_a_pipeline_detaches_each_pin_then_deletes_it,
    pruning_deletes_from_the_lowest_number_up_in_small_batches,
    a_tailing_reader_never_sees_a_gap_under_concurrent_writers,
);
