//! `GET /v1/admin/events`: the change feed.

use integrations_ports::Event;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::rfc3339;

/// One committed change.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventResponse {
    /// `evt_` and the ULID of the change's audit entry.
    #[schema(example = "evt_01JD8X8Z5Q0C7Y1KD0J9R7W3VN")]
    pub id: String,
    /// Its place in the org's feed: increasing in commit order.
    #[schema(minimum = 1)]
    pub seq: u64,
    pub org_id: String,
    /// `template.created`, `revision.created`, `pipeline_integration.updated`…
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// `template`, `revision`, `pipeline`, `pipeline_integration` or `rollout`.
    pub resource_type: &'static str,
    pub resource_id: String,
    /// Every pipeline whose rendered config the change may alter.
    pub pipeline_ids: Vec<String>,
    /// The token subject that made the change.
    pub actor: String,
    #[serde(with = "rfc3339")]
    pub at: OffsetDateTime,
    /// Ids, numbers and names; never a config, a parameter value or a secret.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl From<Event> for EventResponse {
    fn from(e: Event) -> Self {
        Self {
            id: e.id.to_string(),
            seq: e.seq,
            org_id: e.org.to_string(),
            event_type: e.event_type.as_str(),
            resource_type: e.resource_type.as_str(),
            resource_id: e.resource_id,
            pipeline_ids: e.pipeline_ids.iter().map(ToString::to_string).collect(),
            actor: e.actor.to_string(),
            at: e.at,
            data: e.data,
        }
    }
}

/// `GET /v1/admin/events`: events lowest `seq` first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventListResponse {
    pub events: Vec<EventResponse>,
    /// Where to continue (`after=next`): the highest `seq` examined for this
    /// answer, or `after` when none was, or 0 when neither.
    pub next: u64,
}
