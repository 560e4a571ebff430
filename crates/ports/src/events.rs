//! The change feed: one event per committed change, numbered per org in
//! commit order, so an event processor can tail what changed and resume
//! after a restart without missing anything.
//!
//! An event is the public face of an audit entry: the store derives it from
//! the entry ([`NewEvent::of`]) and appends it in the same transaction, as the
//! change's last statement. It shares the entry's ULID (`evt_…` / `log_…`).
//! Unlike the entry it never holds a config, a parameter value or a secret:
//! its `data` keeps ids, numbers and names only.

use std::time::Duration;

use integrations_domain::{EventId, OrgId, PipelineId, TemplateId, UserId};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::audit::{AuditAction, AuditEntry, wire_enum};
use crate::error::StoreResult;

wire_enum! {
    /// What an event says happened: `template.created`, `revision.created`…
    EventType, "event type" {
        /// A template was created (from scratch or from the catalog).
        TemplateCreated => "template.created",
        /// A template's name or description changed.
        TemplateUpdated => "template.updated",
        /// A template was deleted.
        TemplateDeleted => "template.deleted",
        /// A template has a new revision (a restore makes one too).
        RevisionCreated => "revision.created",
        /// A pipeline was created.
        PipelineCreated => "pipeline.created",
        /// A pipeline's name, description, parameters or secret parameters changed.
        PipelineUpdated => "pipeline.updated",
        /// A pipeline was deleted (each attachment it had is detached first).
        PipelineDeleted => "pipeline.deleted",
        /// A template was pinned on a pipeline.
        IntegrationAttached => "pipeline_integration.attached",
        /// A pin was moved to another revision, enabled or disabled.
        IntegrationUpdated => "pipeline_integration.updated",
        /// A pin was removed.
        IntegrationDetached => "pipeline_integration.detached",
        /// A rollout re-pinned pipelines of a template (each pin it moved
        /// has its own `pipeline_integration.updated` event too).
        RolloutApplied => "rollout.applied",
        /// A rollout was rolled back: the pins it moved that were still where
        /// it left them went back.
        RolloutRolledBack => "rollout.rolled_back",
    }
}

wire_enum! {
    /// The kind of object an event is about.
    EventResource, "event resource type" {
        /// A template.
        Template => "template",
        /// A revision of a template.
        Revision => "revision",
        /// A pipeline.
        Pipeline => "pipeline",
        /// A pipeline integration (a template pinned on a pipeline).
        PipelineIntegration => "pipeline_integration",
        /// A rollout.
        Rollout => "rollout",
    }
}

/// Which pipelines' rendered configs a change may alter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affected {
    /// None (a new template, which no pipeline pins yet).
    Nothing,
    /// This pipeline.
    Pipeline(PipelineId),
    /// Every pipeline pinning this template when the change commits: the
    /// store reads them in the change's transaction.
    PinsOf(TemplateId),
    /// These pipelines (sorted): the pins a rollout moved.
    Pipelines(Vec<PipelineId>),
}

/// An event to append; the store numbers it and lists its pipelines.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Its id: the audit entry's ULID.
    pub id: EventId,
    /// What happened.
    pub event_type: EventType,
    /// The kind of object it is about.
    pub resource_type: EventResource,
    /// The id of that object.
    pub resource_id: String,
    /// The pipelines it may alter.
    pub affected: Affected,
    /// Who made the change.
    pub actor: UserId,
    /// When.
    pub at: OffsetDateTime,
    /// Ids, numbers and names.
    pub data: Map<String, Value>,
}

/// Which fields of an audit value an event keeps: (its key there, its key
/// in the event's `data`).
type Picks = &'static [(&'static str, &'static str)];

/// The keys an event's `data` may take from an audit entry's value, under
/// their name in the event. Nothing else is copied: no config, no
/// parameter, no description.
const TEMPLATE_DATA: Picks = &[
    ("id", "template_id"),
    ("name", "name"),
    ("vendor", "vendor"),
];
const REVISION_DATA: Picks = &[
    ("id", "revision_id"),
    ("revision_number", "revision_number"),
    ("restored_from", "restored_from"),
    ("delivery_mode", "delivery_mode"),
];
const PIPELINE_DATA: Picks = &[("id", "pipeline_id"), ("name", "name")];
const ATTACHMENT_DATA: Picks = &[
    ("id", "pipeline_integration_id"),
    ("pipeline_id", "pipeline_id"),
    ("integration_id", "integration_id"),
    ("revision_id", "revision_id"),
    ("revision_number", "revision_number"),
    ("enabled", "enabled"),
];

const ROLLOUT_DATA: Picks = &[
    ("id", "rollout_id"),
    ("template_id", "template_id"),
    ("to_revision", "to_revision"),
    ("rolled_back_from", "rolled_back_from"),
    ("moved", "moved"),
];

/// The scalar fields `keys` names in `value`, renamed; anything that is not
/// a string, a number, a boolean or null is left out.
fn pick(value: Option<&Value>, keys: &[(&str, &str)]) -> Map<String, Value> {
    let mut data = Map::new();
    let Some(Value::Object(object)) = value else {
        return data;
    };
    for (from, to) in keys {
        if let Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null)) =
            object.get(*from)
        {
            data.insert((*to).to_owned(), v.clone());
        }
    }
    data
}

/// An audit action's event type, resource type and the data it keeps.
fn kind_of(action: AuditAction) -> (EventType, EventResource, Picks) {
    use AuditAction as A;
    match action {
        A::TemplateCreate | A::TemplateInstall => (
            EventType::TemplateCreated,
            EventResource::Template,
            TEMPLATE_DATA,
        ),
        A::TemplateUpdate => (
            EventType::TemplateUpdated,
            EventResource::Template,
            TEMPLATE_DATA,
        ),
        A::TemplateDelete => (
            EventType::TemplateDeleted,
            EventResource::Template,
            TEMPLATE_DATA,
        ),
        A::RevisionCreate | A::RevisionRestore => (
            EventType::RevisionCreated,
            EventResource::Revision,
            REVISION_DATA,
        ),
        A::PipelineCreate => (
            EventType::PipelineCreated,
            EventResource::Pipeline,
            PIPELINE_DATA,
        ),
        A::PipelineUpdate => (
            EventType::PipelineUpdated,
            EventResource::Pipeline,
            PIPELINE_DATA,
        ),
        A::PipelineDelete => (
            EventType::PipelineDeleted,
            EventResource::Pipeline,
            PIPELINE_DATA,
        ),
        A::AttachmentCreate => (
            EventType::IntegrationAttached,
            EventResource::PipelineIntegration,
            ATTACHMENT_DATA,
        ),
        A::AttachmentRepin | A::AttachmentEnable | A::AttachmentDisable => (
            EventType::IntegrationUpdated,
            EventResource::PipelineIntegration,
            ATTACHMENT_DATA,
        ),
        A::AttachmentDelete => (
            EventType::IntegrationDetached,
            EventResource::PipelineIntegration,
            ATTACHMENT_DATA,
        ),
        A::RolloutApply => (
            EventType::RolloutApplied,
            EventResource::Rollout,
            ROLLOUT_DATA,
        ),
        A::RolloutRollback => (
            EventType::RolloutRolledBack,
            EventResource::Rollout,
            ROLLOUT_DATA,
        ),
    }
}

impl NewEvent {
    /// The event of the change `entry` records.
    ///
    /// `entry` carries what the store learnt while making the change (a new
    /// revision's number is added to its `new_value`), so build the event
    /// after that, just before appending it.
    pub fn of(entry: &AuditEntry) -> Self {
        use AuditAction as A;
        let value = entry.new_value.as_ref().or(entry.old_value.as_ref());
        let template = || entry.resource_id.parse::<TemplateId>().ok();
        let (event_type, resource_type, keys) = kind_of(entry.action);
        let mut data = pick(value, keys);
        let (resource_id, affected) = match resource_type {
            EventResource::Template => (
                entry.resource_id.clone(),
                match (entry.action, template()) {
                    (A::TemplateCreate | A::TemplateInstall, _) | (_, None) => Affected::Nothing,
                    (_, Some(id)) => Affected::PinsOf(id),
                },
            ),
            EventResource::Revision => {
                // The audit entry of a revision is about its template.
                data.insert("template_id".into(), entry.resource_id.clone().into());
                let revision = data
                    .get("revision_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (
                    revision,
                    template().map_or(Affected::Nothing, Affected::PinsOf),
                )
            }
            EventResource::Pipeline => (
                entry.resource_id.clone(),
                entry
                    .resource_id
                    .parse()
                    .map_or(Affected::Nothing, Affected::Pipeline),
            ),
            EventResource::PipelineIntegration => (
                entry.resource_id.clone(),
                data.get("pipeline_id")
                    .and_then(Value::as_str)
                    .and_then(|id| id.parse().ok())
                    .map_or(Affected::Nothing, Affected::Pipeline),
            ),
            EventResource::Rollout => {
                (entry.resource_id.clone(), Affected::Pipelines(moved(value)))
            }
        };
        Self {
            id: EventId::from_ulid(entry.id.ulid()),
            event_type,
            resource_type,
            resource_id,
            affected,
            actor: entry.actor.clone(),
            at: entry.at,
            data,
        }
    }
}

/// The pipelines a rollout's audit value lists as moved, sorted.
fn moved(value: Option<&Value>) -> Vec<PipelineId> {
    let rows = value
        .and_then(|v| v.get("pipelines"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut moved: Vec<PipelineId> = rows
        .iter()
        .filter(|row| row.get("status").and_then(Value::as_str) == Some("moved"))
        .filter_map(|row| row.get("pipeline_id")?.as_str()?.parse().ok())
        .collect();
    moved.sort_unstable();
    moved
}

/// An event as the feed serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// Its place in the org's feed: increasing in commit order, without gaps.
    pub seq: u64,
    /// The org.
    pub org: OrgId,
    /// What happened.
    pub event_type: EventType,
    /// The kind of object it is about.
    pub resource_type: EventResource,
    /// The id of that object.
    pub resource_id: String,
    /// Every pipeline whose rendered config the change may alter, by id.
    pub pipeline_ids: Vec<PipelineId>,
    /// Who made the change.
    pub actor: UserId,
    /// When.
    pub at: OffsetDateTime,
    /// Ids, numbers and names.
    pub data: Map<String, Value>,
}

/// The change feed in storage. Events are appended by the change methods of
/// the other store traits, never through this one.
pub trait EventStore {
    /// Up to `limit` of the org's events numbered above `after`, lowest
    /// first. An org's kept events are an unbroken run of numbers ending at
    /// its newest: when the first one returned is not `after + 1`, the
    /// events in between were pruned.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn events_after(&self, org: &OrgId, after: u64, limit: u32) -> StoreResult<Vec<Event>>;

    /// The newest event number of each of `orgs` that has any events (an
    /// org without is left out).
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn last_seqs(&self, orgs: &[OrgId]) -> StoreResult<Vec<(OrgId, u64)>>;

    /// Deletes at most about `batch` events older than `before`, each org's
    /// from its lowest number up (so what is kept stays unbroken), in a
    /// short transaction that never waits for a writer. Returns how many
    /// went.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn prune_events(&self, before: OffsetDateTime, batch: u32) -> StoreResult<u64>;
}

/// Called by a store after each change it commits, with the change's org:
/// how the process's own feed learns of a change at once.
pub type OnCommit = std::sync::Arc<dyn Fn(&OrgId) + Send + Sync>;

/// That an org's feed reached a number, as one process tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The org.
    pub org: OrgId,
    /// Its newest event number, as far as the announcing process knows.
    pub seq: u64,
}

/// A channel between the processes sharing a database (PostgreSQL's
/// `LISTEN`/`NOTIFY`), on one connection of its own outside the pool.
pub trait ChangeChannel: Send {
    /// The announcements that arrived, waiting at most `timeout` for the
    /// first.
    ///
    /// # Errors
    /// `Unavailable` when the connection is lost; the caller opens a new
    /// channel.
    fn receive(&mut self, timeout: Duration) -> StoreResult<Vec<Announcement>>;

    /// Tells every listening process (this one included) about `changes`.
    ///
    /// # Errors
    /// `Unavailable` when the connection is lost.
    fn announce(&mut self, changes: &[Announcement]) -> StoreResult<()>;

    /// The newest event number of each of `orgs` that has any, read over
    /// the channel's own connection: the periodic check that backs the
    /// announcements up needs no connection of the pool.
    ///
    /// # Errors
    /// `Unavailable` when the connection is lost.
    fn last_seqs(&mut self, orgs: &[OrgId]) -> StoreResult<Vec<(OrgId, u64)>>;

    /// [`EventStore::prune_events`] over the channel's own connection.
    ///
    /// # Errors
    /// `Unavailable` when the connection is lost.
    fn prune_events(&mut self, before: OffsetDateTime, batch: u32) -> StoreResult<u64>;
}

/// Opens [`ChangeChannel`]s.
pub trait ChangeChannels: Send + Sync {
    /// A new channel, listening; `None` when the database has no channel
    /// between processes (SQLite: one process serves a database file).
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    fn open_channel(&self) -> StoreResult<Option<Box<dyn ChangeChannel>>>;
}

#[cfg(test)]
mod tests {
    use integrations_domain::AuditId;
    use serde_json::json;

    use super::*;
    use crate::ResourceType;

    fn entry(action: AuditAction, kind: ResourceType, id: &str, new: Value) -> AuditEntry {
        AuditEntry {
            id: AuditId::from_ulid(ulid::Ulid::nil()),
            org: OrgId::parse("acme").unwrap(),
            actor: UserId::parse("ada").unwrap(),
            action,
            resource_type: kind,
            resource_id: id.to_owned(),
            old_value: None,
            new_value: Some(new),
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    const TEMPLATE: &str = "tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const PIPELINE: &str = "pip_01ARZ3NDEKTSV4RRFFQ69G5FAV";

    #[test]
    fn a_rollout_event_lists_the_pipelines_it_moved_and_keeps_no_note() {
        const OTHER: &str = "pip_01ARZ3NDEKTSV4RRFFQ69G5FAW";
        const SKIPPED: &str = "pip_01ARZ3NDEKTSV4RRFFQ69G5FAX";
        let new = json!({
            "id": "ro_01ARZ3NDEKTSV4RRFFQ69G5FAV", "template_id": TEMPLATE, "to_revision": 3,
            "note": "rotating the Q4 token", "rolled_back_from": null, "moved": 2,
            "pipelines": [
                { "pipeline_id": OTHER, "status": "moved", "from_revision": 2, "to_revision": 3 },
                { "pipeline_id": SKIPPED, "status": "skipped", "from_revision": 2, "to_revision": 3 },
                { "pipeline_id": PIPELINE, "status": "moved", "from_revision": 1, "to_revision": 3 },
            ],
        });
        let event = NewEvent::of(&entry(
            AuditAction::RolloutApply,
            ResourceType::Rollout,
            "ro_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            new,
        ));
        assert_eq!(event.event_type, EventType::RolloutApplied);
        assert_eq!(event.resource_type, EventResource::Rollout);
        assert_eq!(
            event.affected,
            Affected::Pipelines(vec![PIPELINE.parse().unwrap(), OTHER.parse().unwrap()]),
            "the moved ones, sorted"
        );
        assert_eq!(
            Value::Object(event.data),
            json!({
                "rollout_id": "ro_01ARZ3NDEKTSV4RRFFQ69G5FAV", "template_id": TEMPLATE,
                "to_revision": 3, "rolled_back_from": null, "moved": 2,
            })
        );
    }

    #[test]
    fn a_revision_event_keeps_numbers_and_ids_and_never_the_config() {
        let new = json!({
            "id": "rev_01ARZ3NDEKTSV4RRFFQ69G5FAV", "revision_number": 4, "restored_from": 2,
            "delivery_mode": "server_side", "change_summary": "rotate",
            "config": { "access_token": "***", "pixel_id": "123" },
        });
        let event = NewEvent::of(&entry(
            AuditAction::RevisionRestore,
            ResourceType::Template,
            TEMPLATE,
            new,
        ));
        assert_eq!(event.event_type, EventType::RevisionCreated);
        assert_eq!(event.resource_type, EventResource::Revision);
        assert_eq!(event.resource_id, "rev_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(event.affected, Affected::PinsOf(TEMPLATE.parse().unwrap()));
        assert_eq!(event.id.to_string(), "evt_00000000000000000000000000");
        assert_eq!(
            Value::Object(event.data),
            json!({
                "revision_id": "rev_01ARZ3NDEKTSV4RRFFQ69G5FAV", "revision_number": 4,
                "restored_from": 2, "delivery_mode": "server_side", "template_id": TEMPLATE,
            })
        );
    }

    #[test]
    fn a_pipeline_event_names_its_pipeline_and_leaves_out_its_parameters() {
        let new = json!({
            "id": PIPELINE, "name": "web", "description": "d",
            "parameters": { "PIXEL": "1" }, "secret_parameters": { "TOKEN": "***" },
        });
        let event = NewEvent::of(&entry(
            AuditAction::PipelineUpdate,
            ResourceType::Pipeline,
            PIPELINE,
            new,
        ));
        assert_eq!(event.event_type, EventType::PipelineUpdated);
        assert_eq!(
            event.affected,
            Affected::Pipeline(PIPELINE.parse().unwrap())
        );
        assert_eq!(
            Value::Object(event.data),
            json!({ "pipeline_id": PIPELINE, "name": "web" })
        );
    }

    #[test]
    fn an_attachment_event_affects_its_pipeline() {
        let new = json!({
            "id": "pi_01ARZ3NDEKTSV4RRFFQ69G5FAV", "pipeline_id": PIPELINE,
            "integration_id": TEMPLATE, "revision_id": "rev_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "revision_number": 3, "enabled": false,
        });
        let event = NewEvent::of(&entry(
            AuditAction::AttachmentDisable,
            ResourceType::Attachment,
            "pi_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            new,
        ));
        assert_eq!(event.event_type, EventType::IntegrationUpdated);
        assert_eq!(event.resource_type.as_str(), "pipeline_integration");
        assert_eq!(
            event.affected,
            Affected::Pipeline(PIPELINE.parse().unwrap())
        );
        assert_eq!(event.data["enabled"], json!(false));
    }

    #[test]
    fn a_new_template_affects_nothing_and_an_update_its_pins() {
        let new =
            json!({ "id": TEMPLATE, "name": "Meta", "vendor": "meta_capi", "description": "x" });
        let created = NewEvent::of(&entry(
            AuditAction::TemplateInstall,
            ResourceType::Template,
            TEMPLATE,
            new.clone(),
        ));
        assert_eq!(created.event_type, EventType::TemplateCreated);
        assert_eq!(created.affected, Affected::Nothing);
        assert!(!created.data.contains_key("description"));
        let updated = NewEvent::of(&entry(
            AuditAction::TemplateUpdate,
            ResourceType::Template,
            TEMPLATE,
            new,
        ));
        assert_eq!(
            updated.affected,
            Affected::PinsOf(TEMPLATE.parse().unwrap())
        );
    }

    #[test]
    fn every_event_type_round_trips_through_its_wire_string() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(*kind));
        }
        assert_eq!(
            "template.create"
                .parse::<EventType>()
                .unwrap_err()
                .to_string(),
            r#"unknown event type "template.create""#
        );
    }
}
