//! `GET /v1/admin/audit-log`: audit entries.

use integrations_app::AuditEntry;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Paged, rfc3339};
use crate::openapi::schemas;
use crate::paging::{newest_cursor, next_cursor};

/// One audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditResponse {
    #[schema(schema_with = schemas::audit_id)]
    pub id: String,
    /// The token subject that made the change.
    pub actor: String,
    /// What happened (`template.create`, `attachment.repin`…).
    pub action: String,
    /// What kind of object changed (`template`, `pipeline`…).
    pub resource_type: String,
    pub resource_id: String,
    /// The object before the change (secrets masked); `null` for a creation.
    #[schema(value_type = Value, required = true)]
    pub old_value: Option<Value>,
    /// The object after the change (secrets masked); `null` for a deletion.
    #[schema(value_type = Value, required = true)]
    pub new_value: Option<Value>,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<AuditEntry> for AuditResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            actor: e.actor.to_string(),
            action: e.action.as_str().to_owned(),
            resource_type: e.resource_type.as_str().to_owned(),
            resource_id: e.resource_id,
            old_value: e.old_value,
            new_value: e.new_value,
            created_at: e.at,
        }
    }
}

/// `GET /v1/admin/audit-log`: one page, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditListResponse {
    pub entries: Vec<AuditResponse>,
    /// How many there are in all.
    pub total: u64,
    /// The effective page size.
    #[schema(minimum = 1, maximum = 100)]
    pub limit: u32,
    /// Items skipped before this page; absent on a page that started at a `cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub offset: Option<u64>,
    /// Pass it as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_cursor: Option<String>,
}

impl From<Paged<AuditEntry>> for AuditListResponse {
    fn from(Paged { page, shown }: Paged<AuditEntry>) -> Self {
        let next_cursor = next_cursor(&page, |e| newest_cursor(e.at, &e.id));
        Self {
            entries: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: shown.limit,
            offset: shown.offset,
            next_cursor,
        }
    }
}
