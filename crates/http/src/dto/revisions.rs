//! `/v1/admin/integration-templates/{id}/revisions` and `…/pipelines`: the
//! revision bodies and responses, diffs and pins.

use integrations_app::{CreateRevision, Pin, Restore, RevisionDiff};
use integrations_domain::{Revision, RevisionNumber};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Paged, rfc3339};
use crate::openapi::schemas;
use crate::paging::{newest_cursor, next_cursor, revision_cursor};

/// `POST /v1/admin/integration-templates/{id}/revisions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRevisionBody {
    #[schema(schema_with = schemas::config)]
    pub config: Map<String, Value>,
    #[schema(value_type = schemas::DeliveryMode)]
    pub delivery_mode: String,
    /// What changed, for humans: at most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    pub change_summary: Option<String>,
}

impl From<CreateRevisionBody> for CreateRevision {
    fn from(body: CreateRevisionBody) -> Self {
        Self {
            config: body.config,
            delivery_mode: body.delivery_mode,
            change_summary: body.change_summary,
        }
    }
}

/// `POST …/revisions/{n}/restore`: an optional `change_summary`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreBody {
    /// Default "Restored from revision N"; at most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    change_summary: Option<String>,
}

impl From<RestoreBody> for Restore {
    fn from(body: RestoreBody) -> Self {
        Self {
            change_summary: body.change_summary,
        }
    }
}

/// A revision as every route shows it (secrets already masked by the app).
/// Revisions are immutable.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevisionResponse {
    #[schema(schema_with = schemas::revision_id)]
    pub id: String,
    /// The template.
    #[schema(schema_with = schemas::template_id)]
    pub integration_id: String,
    pub org_id: String,
    /// 1, 2, 3… per template, without gaps.
    #[schema(minimum = 1)]
    pub revision_number: u32,
    /// The config; secret fields read `"***"`.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    #[schema(value_type = schemas::DeliveryMode)]
    pub delivery_mode: &'static str,
    #[schema(required = true)]
    pub change_summary: Option<String>,
    /// The token subject that created it.
    pub created_by: String,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The revision this one restored, if it is a restore.
    #[schema(required = true, minimum = 1)]
    pub restored_from: Option<u32>,
}

impl From<Revision> for RevisionResponse {
    fn from(r: Revision) -> Self {
        Self {
            id: r.id.to_string(),
            integration_id: r.template_id.to_string(),
            org_id: r.org_id.to_string(),
            revision_number: r.number.get(),
            config: r.config,
            delivery_mode: r.delivery_mode.as_str(),
            change_summary: r.change_summary.map(|s| s.as_str().to_owned()),
            created_by: r.created_by.to_string(),
            created_at: r.created_at,
            restored_from: r.restored_from.map(RevisionNumber::get),
        }
    }
}

/// `GET /v1/admin/integration-templates/{id}/revisions`, newest first;
/// `limit` appears when the request paginated, `offset` when it paginated
/// without a cursor, `next_cursor` when a paginated answer is not the last page.
// Without pagination the list is streamed in the same shape, without `limit`
// (`routes/revision_stream.rs`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevisionListResponse {
    pub revisions: Vec<RevisionResponse>,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub offset: Option<u64>,
    /// Pass it as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_cursor: Option<String>,
}

impl From<Paged<Revision>> for RevisionListResponse {
    fn from(Paged { page, shown }: Paged<Revision>) -> Self {
        let next_cursor = next_cursor(&page, |r| revision_cursor(r.number.get()));
        Self {
            revisions: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: Some(shown.limit),
            offset: shown.offset,
            next_cursor,
        }
    }
}

/// `GET …/revisions/{a}/diff/{b}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DiffResponse {
    #[schema(minimum = 1)]
    pub from: u32,
    #[schema(minimum = 1)]
    pub to: u32,
    /// `{"from": …, "to": …}` when the delivery mode changed, else null.
    #[schema(required = true)]
    pub delivery_mode: Option<DeliveryModeChange>,
    /// RFC 6902 operations from `from`'s config to `to`'s; secrets as `"***"`.
    #[schema(schema_with = schemas::json_patch)]
    pub patch: json_patch::Patch,
}

/// A delivery-mode change.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryModeChange {
    #[schema(value_type = schemas::DeliveryMode)]
    pub from: &'static str,
    #[schema(value_type = schemas::DeliveryMode)]
    pub to: &'static str,
}

impl From<RevisionDiff> for DiffResponse {
    fn from(d: RevisionDiff) -> Self {
        Self {
            from: d.from.get(),
            to: d.to.get(),
            delivery_mode: d.delivery_mode.map(|(from, to)| DeliveryModeChange {
                from: from.as_str(),
                to: to.as_str(),
            }),
            patch: d.patch,
        }
    }
}

/// One pipeline that pins a template.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PinResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub pipeline_id: String,
    pub pipeline_name: String,
    #[schema(schema_with = schemas::attachment_id)]
    pub attachment_id: String,
    #[schema(schema_with = schemas::revision_id)]
    pub revision_id: String,
    #[schema(minimum = 1)]
    pub revision_number: u32,
    pub latest_revision: u32,
    pub enabled: bool,
}

impl From<Pin> for PinResponse {
    fn from(pin: Pin) -> Self {
        Self {
            pipeline_id: pin.pipeline.id.to_string(),
            pipeline_name: pin.pipeline.name.to_string(),
            attachment_id: pin.attachment.id.to_string(),
            revision_id: pin.attachment.revision_id.to_string(),
            revision_number: pin.attachment.revision_number.get(),
            latest_revision: pin.attachment.latest_revision,
            enabled: pin.attachment.enabled,
        }
    }
}

/// `GET /v1/admin/integration-templates/{id}/pipelines`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PinsResponse {
    pub pipelines: Vec<PinResponse>,
    pub total: u64,
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

impl From<Paged<Pin>> for PinsResponse {
    fn from(Paged { page, shown }: Paged<Pin>) -> Self {
        let next_cursor = next_cursor(&page, |pin| {
            newest_cursor(pin.attachment.created_at, &pin.attachment.id)
        });
        Self {
            pipelines: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: shown.limit,
            offset: shown.offset,
            next_cursor,
        }
    }
}
