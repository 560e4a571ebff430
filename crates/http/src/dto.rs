//! Wire types: request bodies (`*Body`) and responses (`*Response`), separate
//! from the domain types they carry.

use integrations_domain::{Revision, Template};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Distinguishes `"field": null` (`Some(None)`) from an absent field (`None`).
#[expect(
    clippy::option_option,
    reason = "absent, null and a value are three different requests"
)]
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /v1/admin/integration-templates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplateBody {
    pub name: String,
    pub vendor: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PUT /v1/admin/integration-templates/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplateBody {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
}

/// `POST /v1/admin/integration-templates/{id}/revisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRevisionBody {
    pub config: Map<String, Value>,
    pub delivery_mode: String,
    #[serde(default)]
    pub change_summary: Option<String>,
}

/// RFC 3339 in UTC with `Z`.
mod rfc3339 {
    pub use time::serde::rfc3339::serialize;
}

/// An integration template as every route shows it.
#[derive(Debug, Serialize)]
pub struct TemplateResponse {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub vendor: String,
    pub description: Option<String>,
    pub catalog_vendor_key: Option<String>,
    pub catalog_variant_key: Option<String>,
    pub latest_revision: u32,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Template> for TemplateResponse {
    fn from(t: Template) -> Self {
        Self {
            id: t.id.to_string(),
            org_id: t.org_id.to_string(),
            name: t.name.to_string(),
            vendor: t.vendor,
            description: t.description.map(|d| d.as_str().to_owned()),
            catalog_vendor_key: t.catalog_vendor_key,
            catalog_variant_key: t.catalog_variant_key,
            latest_revision: t.latest_revision,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `GET /v1/admin/integration-templates`.
#[derive(Debug, Serialize)]
pub struct TemplateListResponse {
    pub integrations: Vec<TemplateResponse>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// A revision as every route shows it (secrets already masked by the app).
#[derive(Debug, Serialize)]
pub struct RevisionResponse {
    pub id: String,
    pub integration_id: String,
    pub org_id: String,
    pub revision_number: u32,
    pub config: Map<String, Value>,
    pub delivery_mode: &'static str,
    pub change_summary: Option<String>,
    pub created_by: String,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
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
            restored_from: r
                .restored_from
                .map(integrations_domain::RevisionNumber::get),
        }
    }
}

/// `GET /v1/admin/integration-templates/{id}/revisions`; `limit` and
/// `offset` appear when the request paginated.
#[derive(Debug, Serialize)]
pub struct RevisionListResponse {
    pub revisions: Vec<RevisionResponse>,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// `DELETE` answers.
#[derive(Debug, Serialize)]
pub struct DeletedResponse {
    pub status: &'static str,
}

impl Default for DeletedResponse {
    fn default() -> Self {
        Self { status: "deleted" }
    }
}

/// `POST /v1/admin/integration-catalog/{vendor_key}/install`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    pub name: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: Option<Map<String, Value>>,
    #[serde(default)]
    pub delivery_mode: Option<String>,
    #[serde(default)]
    pub change_summary: Option<String>,
}

/// The answer to an install: the template and its revision 1.
#[derive(Debug, Serialize)]
pub struct InstallResponse {
    pub template: TemplateResponse,
    pub revision: RevisionResponse,
}

/// `GET /v1/admin/integration-catalog`. Vendors are static, serialisable
/// catalog data, shown as they are.
#[derive(Debug, Serialize)]
pub struct CatalogResponse {
    pub vendors: Vec<&'static integrations_domain::catalog::Vendor>,
}

/// `POST /v1/admin/pipelines`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePipelineBody {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// `PUT /v1/admin/pipelines/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineBody {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Option<Map<String, Value>>>,
}

/// A pipeline as every route shows it.
#[derive(Debug, Serialize)]
pub struct PipelineResponse {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub parameters: integrations_domain::Parameters,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<integrations_domain::Pipeline> for PipelineResponse {
    fn from(p: integrations_domain::Pipeline) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: p.org_id.to_string(),
            name: p.name.to_string(),
            description: p.description.map(|d| d.as_str().to_owned()),
            parameters: p.parameters,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `GET /v1/admin/pipelines`.
#[derive(Debug, Serialize)]
pub struct PipelineListResponse {
    pub pipelines: Vec<PipelineResponse>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// `POST /v1/admin/pipelines/{pid}/integrations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    pub integration_id: String,
    pub revision_id: String,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PUT /v1/admin/pipelines/{pid}/integrations/{pi}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAttachmentBody {
    #[serde(default)]
    pub revision_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A pipeline integration as every route shows it.
#[derive(Debug, Serialize)]
pub struct AttachmentResponse {
    pub id: String,
    pub pipeline_id: String,
    pub integration_id: String,
    pub integration_name: String,
    pub vendor: String,
    pub revision_id: String,
    pub revision_number: u32,
    pub latest_revision: u32,
    pub enabled: bool,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<integrations_domain::Attachment> for AttachmentResponse {
    fn from(a: integrations_domain::Attachment) -> Self {
        Self {
            id: a.id.to_string(),
            pipeline_id: a.pipeline_id.to_string(),
            integration_id: a.template_id.to_string(),
            integration_name: a.template_name.to_string(),
            vendor: a.vendor,
            revision_id: a.revision_id.to_string(),
            revision_number: a.revision_number.get(),
            latest_revision: a.latest_revision,
            enabled: a.enabled,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// `GET /v1/admin/pipelines/{pid}/integrations`.
#[derive(Debug, Serialize)]
pub struct AttachmentListResponse {
    pub integrations: Vec<AttachmentResponse>,
}

/// One attachment's rendered config. Holds only what the event processor
/// needs, so the pipeline route's `ETag` moves when a pin, an enabled flag
/// or a parameter changes — and not when, say, a template is renamed.
#[derive(Debug, Serialize)]
pub struct RenderedConfigResponse {
    pub id: String,
    pub integration_id: String,
    pub vendor: String,
    pub revision_id: String,
    pub revision_number: u32,
    pub delivery_mode: &'static str,
    pub config: Option<Map<String, Value>>,
    pub missing_parameters: Vec<String>,
    pub unused_parameters: Vec<String>,
}

impl From<integrations_app::RenderedConfig> for RenderedConfigResponse {
    fn from(r: integrations_app::RenderedConfig) -> Self {
        Self {
            id: r.attachment.id.to_string(),
            integration_id: r.attachment.template_id.to_string(),
            vendor: r.attachment.vendor,
            revision_id: r.attachment.revision_id.to_string(),
            revision_number: r.attachment.revision_number.get(),
            delivery_mode: r.delivery_mode.as_str(),
            config: r.config,
            missing_parameters: r.missing_parameters,
            unused_parameters: r.unused_parameters,
        }
    }
}

/// `GET /v1/admin/pipelines/{pid}/config`: every enabled attachment, rendered.
#[derive(Debug, Serialize)]
pub struct PipelineConfigResponse {
    pub pipeline_id: String,
    pub integrations: Vec<RenderedConfigResponse>,
}

/// `GET …/revisions/{a}/diff/{b}`.
#[derive(Debug, Serialize)]
pub struct DiffResponse {
    pub from: u32,
    pub to: u32,
    /// `{"from": …, "to": …}` when the delivery mode changed, else null.
    pub delivery_mode: Option<DeliveryModeChange>,
    /// RFC 6902 operations from `from`'s config to `to`'s; secrets as `"***"`.
    pub patch: json_patch::Patch,
}

/// A delivery-mode change.
#[derive(Debug, Serialize)]
pub struct DeliveryModeChange {
    pub from: &'static str,
    pub to: &'static str,
}

impl From<integrations_app::RevisionDiff> for DiffResponse {
    fn from(d: integrations_app::RevisionDiff) -> Self {
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
#[derive(Debug, Serialize)]
pub struct PinResponse {
    pub pipeline_id: String,
    pub pipeline_name: String,
    pub attachment_id: String,
    pub revision_id: String,
    pub revision_number: u32,
    pub latest_revision: u32,
    pub enabled: bool,
}

/// `GET /v1/admin/integration-templates/{id}/pipelines`.
#[derive(Debug, Serialize)]
pub struct PinsResponse {
    pub pipelines: Vec<PinResponse>,
}

impl From<Vec<integrations_app::Pin>> for PinsResponse {
    fn from(pins: Vec<integrations_app::Pin>) -> Self {
        Self {
            pipelines: pins
                .into_iter()
                .map(|pin| PinResponse {
                    pipeline_id: pin.pipeline.id.to_string(),
                    pipeline_name: pin.pipeline.name.to_string(),
                    attachment_id: pin.attachment.id.to_string(),
                    revision_id: pin.attachment.revision_id.to_string(),
                    revision_number: pin.attachment.revision_number.get(),
                    latest_revision: pin.attachment.latest_revision,
                    enabled: pin.attachment.enabled,
                })
                .collect(),
        }
    }
}

/// One audit-log entry.
#[derive(Debug, Serialize)]
pub struct AuditResponse {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<integrations_app::AuditEntry> for AuditResponse {
    fn from(e: integrations_app::AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            actor: e.actor.to_string(),
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            old_value: e.old_value,
            new_value: e.new_value,
            created_at: e.at,
        }
    }
}

/// `GET /v1/admin/audit-log`.
#[derive(Debug, Serialize)]
pub struct AuditListResponse {
    pub entries: Vec<AuditResponse>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}
