//! The history of what shapes a pipeline's configs: recorded by every change
//! of a pipeline's parameters or of an attachment, resolved by the events'
//! order, pruned keeping each subject's newest state.

use integrations_domain::secrets::SecretVersion;
use integrations_domain::{Attachment, OrgId, ParamKey, PipelineId, RevisionId, SecretParameters};
use integrations_ports::{
    AttachmentChanges, AttachmentStore, AuditAction, AuditEntry, Envelope, EventStore,
    HistoryAnswer, HistoryStore, KeyRotationStore, PipelineAt, PipelineChanges, PipelineStore,
    ResourceType, SealedSecret, TemplateStore, secret_parameter_path,
};
use integrations_store::DieselStore;
use integrations_testing::TestDb;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::attachments::attach_new;
use crate::support::{audit, new_pipeline, new_revision, new_template, org, store, tick};

/// The audit entry an application writes for a change of `kind`.
fn entry(
    action: AuditAction,
    kind: ResourceType,
    resource: &str,
    old: Option<Value>,
    new: Option<Value>,
) -> AuditEntry {
    AuditEntry {
        action,
        resource_type: kind,
        resource_id: resource.to_owned(),
        old_value: old,
        new_value: new,
        ..audit()
    }
}

fn pipeline_value(p: PipelineId, name: &str, parameters: &Value) -> Value {
    json!({ "id": p.to_string(), "name": name, "parameters": parameters, "secret_parameters": {} })
}

fn pin_value(a: &Attachment, revision: RevisionId, enabled: bool) -> Value {
    json!({
        "id": a.id.to_string(), "pipeline_id": a.pipeline_id.to_string(),
        "integration_id": a.template_id.to_string(), "revision_id": revision.to_string(),
        "enabled": enabled,
    })
}

fn last_seq(store: &DieselStore, org: &OrgId) -> u64 {
    store.last_seqs(std::slice::from_ref(org)).expect("read")[0].1
}

fn found(answer: HistoryAnswer) -> PipelineAt {
    match answer {
        HistoryAnswer::Found(then) => *then,
        other => panic!("not found: {other:?}"),
    }
}

fn changes() -> PipelineChanges {
    PipelineChanges {
        name: None,
        description: None,
        parameters: None,
        secret_parameters: None,
        updated_at: tick(),
    }
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn each_change_is_recorded_and_an_instant_resolves_by_the_events_order(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let r1 = store
        .create_revision(&a, t.id, new_revision(json!({ "n": 1 })), audit().into())
        .expect("revised");
    let r2 = store
        .create_revision(&a, t.id, new_revision(json!({ "n": 2 })), audit().into())
        .expect("revised");
    let before = tick();
    let new = new_pipeline(&a, "P", json!({ "k": "v1" }));
    let p = new.id;
    let made = entry(
        AuditAction::PipelineCreate,
        ResourceType::Pipeline,
        &p.to_string(),
        None,
        Some(pipeline_value(p, "P", &json!({ "k": "v1" }))),
    );
    let created_at = made.at;
    store.create_pipeline(new, made.into()).expect("created");
    let created_seq = last_seq(&store, &a);

    // Attached at r1.
    let mut pin = attach_new(t.id, r1.id);
    pin.enabled = true;
    let pin_id = pin.id;
    let attach_entry = entry(
        AuditAction::AttachmentCreate,
        ResourceType::Attachment,
        &pin_id.to_string(),
        None,
        Some(json!({
            "id": pin_id.to_string(), "pipeline_id": p.to_string(),
            "integration_id": t.id.to_string(), "revision_id": r1.id.to_string(), "enabled": true,
        })),
    );
    let attached_at = attach_entry.at;
    let attached = store
        .attach(&a, p, pin, attach_entry.into())
        .expect("attached");
    let attached_seq = last_seq(&store, &a);

    // New parameters.
    let updated = entry(
        AuditAction::PipelineUpdate,
        ResourceType::Pipeline,
        &p.to_string(),
        Some(pipeline_value(p, "P", &json!({ "k": "v1" }))),
        Some(pipeline_value(p, "P", &json!({ "k": "v2" }))),
    );
    let updated_at = updated.at;
    let params = serde_json::from_value(json!({ "k": "v2" })).expect("parameters");
    store
        .update_pipeline(
            &a,
            p,
            PipelineChanges {
                parameters: Some(params),
                ..changes()
            },
            updated,
        )
        .expect("updated");
    let updated_seq = last_seq(&store, &a);

    // Re-pinned at r2.
    let repin = entry(
        AuditAction::AttachmentRepin,
        ResourceType::Attachment,
        &pin_id.to_string(),
        Some(pin_value(&attached, r1.id, true)),
        Some(pin_value(&attached, r2.id, true)),
    );
    let repinned_at = repin.at;
    store
        .update_attachment(
            &a,
            p,
            pin_id,
            AttachmentChanges {
                revision_id: Some(r2.id),
                enabled: None,
                updated_at: tick(),
            },
            repin,
        )
        .expect("re-pinned");
    let repinned_seq = last_seq(&store, &a);

    // Renamed: no history row, but the instant resolves to its event.
    let renamed = entry(
        AuditAction::PipelineUpdate,
        ResourceType::Pipeline,
        &p.to_string(),
        Some(pipeline_value(p, "P", &json!({ "k": "v2" }))),
        Some(pipeline_value(p, "Q", &json!({ "k": "v2" }))),
    );
    let renamed_at = renamed.at;
    store
        .update_pipeline(
            &a,
            p,
            PipelineChanges {
                name: Some(crate::support::name("Q")),
                ..changes()
            },
            renamed,
        )
        .expect("renamed");
    let renamed_seq = last_seq(&store, &a);

    // Detached, then deleted.
    let detach = entry(
        AuditAction::AttachmentDelete,
        ResourceType::Attachment,
        &pin_id.to_string(),
        Some(pin_value(&attached, r2.id, true)),
        None,
    );
    let detached_at = detach.at;
    store.detach(&a, p, pin_id, detach).expect("detached");
    let gone = entry(
        AuditAction::PipelineDelete,
        ResourceType::Pipeline,
        &p.to_string(),
        Some(pipeline_value(p, "Q", &json!({ "k": "v2" }))),
        None,
    );
    let deleted_at = gone.at;
    store
        .delete_pipeline(&a, p, tick(), gone, &|_: &Attachment| audit())
        .expect("deleted");

    let at = |when: OffsetDateTime| store.pipeline_at(&a, p, when).expect("read");
    assert_eq!(at(before), HistoryAnswer::NotThen, "before it existed");
    let then = found(at(created_at));
    assert_eq!(then.seq, created_seq);
    assert_eq!(then.parameters_seq, created_seq);
    assert_eq!(
        serde_json::to_value(&then.pipeline.parameters).expect("json"),
        json!({ "k": "v1" })
    );
    assert!(then.attachments.is_empty());

    let then = found(at(attached_at + Duration::milliseconds(10)));
    assert_eq!(then.seq, attached_seq);
    assert_eq!(then.attachments.len(), 1);
    let (pinned, seq) = &then.attachments[0];
    assert_eq!(
        (pinned.id, pinned.revision_id, pinned.revision_number, *seq),
        (pin_id, r1.id, r1.number, attached_seq)
    );
    assert_eq!(pinned.created_at, attached.created_at);

    let then = found(at(updated_at));
    assert_eq!((then.seq, then.parameters_seq), (updated_seq, updated_seq));
    assert_eq!(
        serde_json::to_value(&then.pipeline.parameters).expect("json"),
        json!({ "k": "v2" })
    );
    assert_eq!(then.attachments[0].0.revision_id, r1.id);

    let then = found(at(repinned_at));
    assert_eq!(then.attachments[0].0.revision_id, r2.id);
    assert_eq!(then.attachments[0].0.revision_number, r2.number);
    assert_eq!(then.attachments[0].1, repinned_seq);

    let then = found(at(renamed_at));
    assert_eq!(then.seq, renamed_seq, "the rename's event");
    assert_eq!(then.parameters_seq, updated_seq, "a rename shapes nothing");
    assert_eq!(then.attachments[0].1, repinned_seq);

    assert!(found(at(detached_at)).attachments.is_empty());
    assert_eq!(
        at(deleted_at),
        HistoryAnswer::NotThen,
        "after it was deleted"
    );
    assert_eq!(at(OffsetDateTime::now_utc()), HistoryAnswer::NotThen);
    let stranger = PipelineId::from_ulid(ulid::Ulid::generate());
    assert_eq!(
        store.pipeline_at(&a, stranger, created_at).expect("read"),
        HistoryAnswer::Unknown
    );
    assert_eq!(
        store
            .pipeline_at(&org("org_b"), p, created_at)
            .expect("read"),
        HistoryAnswer::Unknown,
        "another org's pipeline"
    );
    // The revision a past pin names stays readable.
    assert_eq!(store.revision_by_id(&a, r1.id).expect("read").id, r1.id);
}

fn sealed(key: &ParamKey, version: &SecretVersion, ciphertext: &str) -> SealedSecret {
    SealedSecret {
        field_path: secret_parameter_path(key),
        version: version.clone(),
        envelope: Envelope {
            kid: "k1".into(),
            ciphertext: ciphertext.into(),
        },
    }
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn pruning_keeps_each_newest_state_and_records_how_far_back_history_is_complete(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let key = ParamKey::parse("token").expect("key");
    let (v1, v2) = (
        SecretVersion::from_ulid(ulid::Ulid::generate()),
        SecretVersion::from_ulid(ulid::Ulid::generate()),
    );
    let mut new = new_pipeline(&a, "P", json!({ "k": "v1" }));
    let p = new.id;
    let mut secret = SecretParameters::new();
    secret.insert(key.clone(), v1.clone());
    new.secret_parameters = secret;
    new.secrets = vec![sealed(&key, &v1, "sealed-1")];
    let made = entry(
        AuditAction::PipelineCreate,
        ResourceType::Pipeline,
        &p.to_string(),
        None,
        Some(pipeline_value(p, "P", &json!({ "k": "v1" }))),
    );
    let first = made.at;
    store.create_pipeline(new, made.into()).expect("created");
    // A new secret value.
    let mut secret = SecretParameters::new();
    secret.insert(key.clone(), v2.clone());
    let mut updated = entry(
        AuditAction::PipelineUpdate,
        ResourceType::Pipeline,
        &p.to_string(),
        Some(pipeline_value(p, "P", &json!({ "k": "v1" }))),
        Some(pipeline_value(p, "P", &json!({ "k": "v1" }))),
    );
    updated.new_value.as_mut().expect("value")["secret_parameters_changed"] = json!(["token"]);
    let second = updated.at;
    store
        .update_pipeline(
            &a,
            p,
            PipelineChanges {
                secret_parameters: Some((secret, vec![sealed(&key, &v2, "sealed-2")])),
                ..changes()
            },
            updated,
        )
        .expect("updated");
    let then = found(store.pipeline_at(&a, p, first).expect("read"));
    assert_eq!(then.pipeline.secret_parameters.get("token"), Some(&v1));
    let then = found(store.pipeline_at(&a, p, second).expect("read"));
    assert_eq!(then.pipeline.secret_parameters.get("token"), Some(&v2));
    let mut copies: Vec<String> = store
        .history_secrets(&a, p)
        .expect("read")
        .into_iter()
        .map(|s| s.envelope.ciphertext)
        .collect();
    copies.sort();
    assert_eq!(copies, ["sealed-1", "sealed-2"], "both values, as sealed");

    // Another pipeline, created and deleted before the cutoff.
    let short = new_pipeline(&a, "Short", json!({}));
    let q = short.id;
    let made = entry(
        AuditAction::PipelineCreate,
        ResourceType::Pipeline,
        &q.to_string(),
        None,
        Some(pipeline_value(q, "Short", &json!({}))),
    );
    store.create_pipeline(short, made.into()).expect("created");
    let gone = entry(
        AuditAction::PipelineDelete,
        ResourceType::Pipeline,
        &q.to_string(),
        Some(pipeline_value(q, "Short", &json!({}))),
        None,
    );
    store
        .delete_pipeline(&a, q, tick(), gone, &|_: &Attachment| audit())
        .expect("deleted");
    let cutoff = tick();
    let later = tick();
    while store.prune_events(cutoff, 2).expect("pruned") > 0 {}

    // Everything from the cutoff on still answers; before it, expired.
    let then = found(store.pipeline_at(&a, p, later).expect("read"));
    assert_eq!(then.pipeline.secret_parameters.get("token"), Some(&v2));
    assert_eq!(
        store.pipeline_at(&a, p, first).expect("read"),
        HistoryAnswer::Expired {
            complete_from: cutoff
        }
    );
    assert_eq!(
        store.pipeline_at(&a, q, later).expect("read"),
        HistoryAnswer::NotThen,
        "a pipeline that ended before the cutoff did not exist later"
    );
    assert_eq!(
        store.pipeline_at(&a, q, first).expect("read"),
        HistoryAnswer::Expired {
            complete_from: cutoff
        },
        "and its lifetime is older than the history kept"
    );
    let copies: Vec<String> = store
        .history_secrets(&a, p)
        .expect("read")
        .into_iter()
        .map(|s| s.envelope.ciphertext)
        .collect();
    assert_eq!(copies, ["sealed-2"], "the copy no kept state names went");
    // A pipeline is never without its newest state: a second round keeps it.
    assert_eq!(store.prune_events(later, 10).expect("pruned"), 0);
    assert!(matches!(
        store.pipeline_at(&a, p, later).expect("read"),
        HistoryAnswer::Found(_)
    ));
}

fn a_rotation_reseals_the_history_copies_and_the_counts_show_them(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let key = ParamKey::parse("token").expect("key");
    let (v1, v2) = (
        SecretVersion::from_ulid(ulid::Ulid::generate()),
        SecretVersion::from_ulid(ulid::Ulid::generate()),
    );
    let mut new = new_pipeline(&a, "P", json!({}));
    let p = new.id;
    let mut secret = SecretParameters::new();
    secret.insert(key.clone(), v1.clone());
    new.secret_parameters = secret;
    new.secrets = vec![sealed(&key, &v1, "sealed-1")];
    let made = entry(
        AuditAction::PipelineCreate,
        ResourceType::Pipeline,
        &p.to_string(),
        None,
        Some(pipeline_value(p, "P", &json!({}))),
    );
    store.create_pipeline(new, made.into()).expect("created");
    let mut secret = SecretParameters::new();
    secret.insert(key.clone(), v2.clone());
    store
        .update_pipeline(
            &a,
            p,
            PipelineChanges {
                secret_parameters: Some((secret, vec![sealed(&key, &v2, "sealed-2")])),
                ..changes()
            },
            audit(),
        )
        .expect("updated");
    let counts = |store: &DieselStore| -> Vec<(String, u64)> {
        store
            .sealed_counts(Some(&a))
            .expect("counted")
            .into_iter()
            .map(|c| (c.kid, c.sealed_values))
            .collect()
    };
    // The live value once, and the replaced one the history keeps.
    assert_eq!(counts(&store), [("k1".to_owned(), 2)]);
    // A copy that is a live value's envelope is re-sealed with it: only
    // the replaced value is visited on its own.
    let copies = store
        .history_sealed_not_under("k2", None, 10)
        .expect("read");
    assert_eq!(copies.len(), 1);
    assert_eq!(
        (
            copies[0].place.owner_kind.as_str(),
            copies[0].place.owner_id.clone(),
            copies[0].place.field_path.as_str(),
            copies[0].version.as_str()
        ),
        (
            "pipeline",
            p.to_string(),
            "/secret_parameters/token",
            v1.as_str()
        )
    );
    // Re-sealing the live value re-seals its copy too.
    let live = store.sealed_not_under("k2", None, 10).expect("read");
    let new_envelope = |c: &str| Envelope {
        kid: "k2".into(),
        ciphertext: c.into(),
    };
    assert_eq!(
        store
            .reseal(&[(live[0].clone(), new_envelope("resealed-2"))])
            .expect("resealed"),
        1
    );
    let left = store
        .history_sealed_not_under("k2", None, 10)
        .expect("read");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].version, v1.as_str());
    assert_eq!(
        store
            .reseal_history(&[(left[0].clone(), new_envelope("resealed-1"))])
            .expect("resealed"),
        1
    );
    assert!(
        store
            .history_sealed_not_under("k2", None, 10)
            .expect("read")
            .is_empty()
    );
    assert_eq!(counts(&store), [("k2".to_owned(), 2)]);
    let mut kept: Vec<String> = store
        .history_secrets(&a, p)
        .expect("read")
        .into_iter()
        .map(|s| s.envelope.ciphertext)
        .collect();
    kept.sort();
    assert_eq!(kept, ["resealed-1", "resealed-2"]);
}

/// A change's audit value is read before its transaction; history is read
/// from the rows the change leaves. Two changes racing (an enable built on a
/// read from before a concurrent re-pin) record what really holds.
fn history_records_the_rows_a_change_leaves_not_its_audit_value(db: &TestDb) {
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
    let new = new_pipeline(&a, "P", json!({ "k": "v1" }));
    let made = entry(
        AuditAction::PipelineCreate,
        ResourceType::Pipeline,
        &new.id.to_string(),
        None,
        Some(pipeline_value(new.id, "P", &json!({ "k": "v1" }))),
    );
    let p = store.create_pipeline(new, made.into()).expect("created");
    let mut pin = attach_new(t.id, r2.id);
    pin.enabled = false;
    let attach = entry(
        AuditAction::AttachmentCreate,
        ResourceType::Attachment,
        &pin.id.to_string(),
        None,
        Some(json!({
            "id": pin.id.to_string(), "pipeline_id": p.id.to_string(),
            "integration_id": t.id.to_string(), "revision_id": r2.id.to_string(), "enabled": false,
        })),
    );
    let attached = store
        .attach(&a, p.id, pin, attach.into())
        .expect("attached");
    // An enable whose audit value was built when the pin was still at r1.
    let stale = entry(
        AuditAction::AttachmentEnable,
        ResourceType::Attachment,
        &attached.id.to_string(),
        Some(pin_value(&attached, r1.id, false)),
        Some(pin_value(&attached, r1.id, true)),
    );
    let enabled_at = stale.at;
    store
        .update_attachment(
            &a,
            p.id,
            attached.id,
            AttachmentChanges {
                revision_id: None,
                enabled: Some(true),
                updated_at: tick(),
            },
            stale,
        )
        .expect("enabled");
    // A parameters change whose audit value is out of date too.
    let stale = entry(
        AuditAction::PipelineUpdate,
        ResourceType::Pipeline,
        &p.id.to_string(),
        Some(pipeline_value(p.id, "P", &json!({ "k": "v0" }))),
        Some(pipeline_value(p.id, "P", &json!({ "k": "stale" }))),
    );
    let updated_at = stale.at;
    store
        .update_pipeline(
            &a,
            p.id,
            PipelineChanges {
                parameters: Some(serde_json::from_value(json!({ "k": "v2" })).expect("params")),
                ..changes()
            },
            stale,
        )
        .expect("updated");
    let then = found(store.pipeline_at(&a, p.id, enabled_at).expect("read"));
    let (pinned, _) = &then.attachments[0];
    assert_eq!((pinned.revision_id, pinned.enabled), (r2.id, true));
    let then = found(store.pipeline_at(&a, p.id, updated_at).expect("read"));
    assert_eq!(
        serde_json::to_value(&then.pipeline.parameters).expect("json"),
        json!({ "k": "v2" })
    );
}

/// A clock the test sets.
#[derive(Debug)]
struct SetClock(std::sync::Mutex<OffsetDateTime>);

impl integrations_ports::Clock for SetClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("the clock")
    }
}

/// With a clock, a change is dated as it closes, inside its transaction —
/// not by its audit entry, which was made before the transaction began
/// (and before any lock it waited for): an instant between the two does
/// not see the change yet.
fn a_change_is_dated_when_it_closes_not_when_it_was_asked_for(db: &TestDb) {
    let clock = std::sync::Arc::new(SetClock(std::sync::Mutex::new(tick())));
    let store = store(db).with_clock(clock.clone());
    let a = org("org_a");
    let new = new_pipeline(&a, "P", json!({ "k": "v1" }));
    let made = entry(
        AuditAction::PipelineCreate,
        ResourceType::Pipeline,
        &new.id.to_string(),
        None,
        Some(pipeline_value(new.id, "P", &json!({ "k": "v1" }))),
    );
    let p = store.create_pipeline(new, made.into()).expect("created");
    // Asked for at `asked`; it closes (say, after a lock wait) at `closed`.
    let update = entry(
        AuditAction::PipelineUpdate,
        ResourceType::Pipeline,
        &p.id.to_string(),
        Some(pipeline_value(p.id, "P", &json!({ "k": "v1" }))),
        Some(pipeline_value(p.id, "P", &json!({ "k": "v2" }))),
    );
    let asked = update.at;
    let closed = asked + Duration::seconds(5);
    *clock.0.lock().expect("the clock") = closed;
    store
        .update_pipeline(
            &a,
            p.id,
            PipelineChanges {
                parameters: Some(serde_json::from_value(json!({ "k": "v2" })).expect("params")),
                ..changes()
            },
            update,
        )
        .expect("updated");
    let params = |at| {
        let then = found(store.pipeline_at(&a, p.id, at).expect("read"));
        serde_json::to_value(&then.pipeline.parameters).expect("json")
    };
    assert_eq!(params(asked + Duration::seconds(1)), json!({ "k": "v1" }));
    assert_eq!(params(closed), json!({ "k": "v2" }));
    let events = store.events_after(&a, 0, 10).expect("read");
    assert_eq!(
        events.last().map(|e| e.at),
        Some(closed),
        "the event's time too"
    );
}

integrations_testing::backend_tests!(
    a_change_is_dated_when_it_closes_not_when_it_was_asked_for,
    history_records_the_rows_a_change_leaves_not_its_audit_value,
    each_change_is_recorded_and_an_instant_resolves_by_the_events_order,
    pruning_keeps_each_newest_state_and_records_how_far_back_history_is_complete,
    a_rotation_reseals_the_history_copies_and_the_counts_show_them,
);
