//! Wire types: request bodies (`*Body`) and responses (`*Response`), separate
//! from the domain types they carry.

use integrations_app::{ListPage, Window};
use integrations_domain::{Revision, Template};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::openapi::schemas;
use crate::paging::{newest_cursor, next_cursor, offset_of};

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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplateBody {
    #[schema(schema_with = schemas::name)]
    pub name: String,
    /// The catalog vendor whose `config_fields` the revisions must satisfy.
    #[schema(schema_with = schemas::vendor_key)]
    pub vendor: String,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    pub description: Option<String>,
}

/// `PUT /v1/admin/integration-templates/{id}`: a new name, a new description
/// (`null` clears it), or both; an empty object is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplateBody {
    /// The new name (not `null`).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::name)]
    pub name: Option<Option<String>>,
    /// The new description, at most 2,000 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::nullable_text)]
    pub description: Option<Option<String>>,
}

/// `POST /v1/admin/integration-templates/{id}/revisions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRevisionBody {
    #[schema(schema_with = schemas::config)]
    pub config: Map<String, Value>,
    #[schema(value_type = schemas::DeliveryMode)]
    pub delivery_mode: String,
    /// What changed, for humans: at most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    pub change_summary: Option<String>,
}

/// RFC 3339 in UTC with `Z`.
mod rfc3339 {
    pub use time::serde::rfc3339::serialize;
}

/// An integration template as every route shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateResponse {
    #[schema(schema_with = schemas::template_id)]
    pub id: String,
    /// The organisation (the token's `org_id`).
    pub org_id: String,
    pub name: String,
    /// The catalog vendor key.
    pub vendor: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The vendor it was installed from (`null` when created by hand).
    #[schema(required = true)]
    pub catalog_vendor_key: Option<String>,
    /// The variant it was installed from (`null` when created by hand).
    #[schema(required = true)]
    pub catalog_variant_key: Option<String>,
    /// The number of the newest revision; 0 when there is none.
    pub latest_revision: u32,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// Moves on every change, including a new revision.
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

/// `GET /v1/admin/integration-templates`: one page, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateListResponse {
    pub integrations: Vec<TemplateResponse>,
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

/// A revision as every route shows it (secrets already masked by the app).
/// Revisions are immutable.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionResponse {
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
            restored_from: r
                .restored_from
                .map(integrations_domain::RevisionNumber::get),
        }
    }
}

/// `GET /v1/admin/integration-templates/{id}/revisions`, newest first;
/// `limit` appears when the request paginated, `offset` when it paginated
/// without a cursor, `next_cursor` when a paginated answer is not the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionListResponse {
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

/// `DELETE` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedResponse {
    #[schema(value_type = schemas::DeletedStatus)]
    pub status: &'static str,
}

impl Default for DeletedResponse {
    fn default() -> Self {
        Self { status: "deleted" }
    }
}

/// `POST /v1/admin/integration-catalog/{vendor_key}/install`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// The new template's name.
    #[schema(schema_with = schemas::name)]
    pub name: String,
    /// A variant key of the vendor (default `default`; 422 when the vendor has no such variant).
    #[serde(default)]
    pub variant: Option<String>,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    pub description: Option<String>,
    /// Overlaid on the variant's `default_config`, top-level key by key (the request wins);
    /// the result must pass the vendor's `config_fields`.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_config)]
    pub config: Option<Map<String, Value>>,
    /// Default `server_side`.
    #[serde(default)]
    #[schema(value_type = Option<schemas::DeliveryMode>)]
    pub delivery_mode: Option<String>,
    /// Revision 1's change summary: at most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    pub change_summary: Option<String>,
}

/// The answer to an install: the template and its revision 1.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallResponse {
    pub template: TemplateResponse,
    pub revision: RevisionResponse,
}

/// `GET /v1/admin/integration-catalog`. Vendors are static, serialisable
/// catalog data, shown as they are.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogResponse {
    #[schema(value_type = Vec<schemas::CatalogVendor>)]
    pub vendors: Vec<&'static integrations_domain::catalog::Vendor>,
}

/// `POST /v1/admin/pipelines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePipelineBody {
    #[schema(schema_with = schemas::name)]
    pub name: String,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_text)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_parameters)]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_secret_parameters)]
    pub secret_parameters: Option<Map<String, Value>>,
}

/// `PUT /v1/admin/pipelines/{id}`: any of the four; an empty object is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineBody {
    /// The new name (not `null`).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::name)]
    pub name: Option<Option<String>>,
    /// The new description, at most 2,000 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::nullable_text)]
    pub description: Option<Option<String>>,
    /// The new parameters, replacing the old ones whole (not `null`).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::parameters)]
    pub parameters: Option<Option<Map<String, Value>>>,
    /// The new secret parameters, replacing the old ones whole (not `null`);
    /// a value `"***"` keeps the stored one.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::secret_parameters)]
    pub secret_parameters: Option<Option<Map<String, Value>>>,
}

/// A pipeline as every route shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(schema_with = schemas::parameters)]
    pub parameters: integrations_domain::Parameters,
    #[schema(schema_with = schemas::masked_secret_parameters)]
    pub secret_parameters: Map<String, Value>,
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
            // Write-only: the keys, never a value, for every role.
            secret_parameters: p
                .secret_parameters
                .keys()
                .map(|key| {
                    (
                        key.as_str().to_owned(),
                        Value::from(integrations_domain::secrets::MASK),
                    )
                })
                .collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `GET /v1/admin/pipelines`: one page, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineListResponse {
    pub pipelines: Vec<PipelineResponse>,
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

/// `POST /v1/admin/pipelines/{pid}/integrations`: pin a template at one revision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    #[schema(schema_with = schemas::template_reference)]
    pub integration_id: String,
    #[schema(schema_with = schemas::revision_reference)]
    pub revision_id: String,
    /// Default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PUT /v1/admin/pipelines/{pid}/integrations/{pi}`: re-pin, enable or
/// disable; with neither field set (or both `null`) it is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAttachmentBody {
    /// A revision of the attached template to pin instead.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_revision_reference)]
    pub revision_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A pipeline integration as every route shows it. When `revision_number <
/// latest_revision` a newer revision exists; nothing upgrades automatically.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentResponse {
    #[schema(schema_with = schemas::attachment_id)]
    pub id: String,
    #[schema(schema_with = schemas::pipeline_id)]
    pub pipeline_id: String,
    /// The template.
    #[schema(schema_with = schemas::template_id)]
    pub integration_id: String,
    /// The template's name.
    pub integration_name: String,
    pub vendor: String,
    /// The pinned revision.
    #[schema(schema_with = schemas::revision_id)]
    pub revision_id: String,
    #[schema(minimum = 1)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentListResponse {
    pub integrations: Vec<AttachmentResponse>,
}

/// One attachment's rendered config. Holds only what the event processor
/// needs, so the pipeline route's `ETag` moves when a pin, an enabled flag
/// or a parameter changes — and not when, say, a template is renamed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenderedConfigResponse {
    /// The pipeline integration.
    #[schema(schema_with = schemas::attachment_id)]
    pub id: String,
    #[schema(schema_with = schemas::template_id)]
    pub integration_id: String,
    pub vendor: String,
    #[schema(schema_with = schemas::revision_id)]
    pub revision_id: String,
    #[schema(minimum = 1)]
    pub revision_number: u32,
    /// The pinned revision's delivery mode (null only when the revision
    /// itself could not be read: see `error`).
    #[schema(value_type = Option<schemas::DeliveryMode>, required = true)]
    pub delivery_mode: Option<&'static str>,
    /// The config with every `{{pipeline_param.KEY}}` substituted; `null` when
    /// it could not render (see `error` on the pipeline route). Secrets read
    /// `"***"` except for `service` tokens.
    #[schema(value_type = Option<Object>, required = true)]
    pub config: Option<Box<serde_json::value::RawValue>>,
    /// Keys the config references that the pipeline does not define.
    pub missing_parameters: Vec<String>,
    /// Keys the pipeline defines (plain or secret) that the config does not reference.
    pub unused_parameters: Vec<String>,
    /// Secret fields filled from a plain parameter (`SECRET_IN_PLAIN_PARAMETER`):
    /// move that value into the pipeline's `secret_parameters`. The value is
    /// masked like a secret for every role but `service`.
    pub warnings: Vec<RenderWarningResponse>,
    /// Why the config could not render (pipeline route only; absent when it rendered).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<RenderErrorResponse>,
}

/// A warning about a rendered config.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenderWarningResponse {
    /// `SECRET_IN_PLAIN_PARAMETER`.
    #[schema(examples("SECRET_IN_PLAIN_PARAMETER"))]
    pub code: &'static str,
    /// The secret field (`config.access_token`).
    #[schema(examples("config.access_token"))]
    pub field: String,
    /// The plain parameter that fills it.
    #[schema(examples("meta_access_token"))]
    pub parameter: String,
}

impl From<integrations_app::RenderWarning> for RenderWarningResponse {
    fn from(warning: integrations_app::RenderWarning) -> Self {
        Self {
            code: warning.code,
            field: warning.field,
            parameter: warning.parameter,
        }
    }
}

/// Why one attachment's config could not render, in its place on the
/// pipeline route; the other attachments render.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenderErrorResponse {
    /// `VALIDATION_FAILED` (missing parameters, or a render too large),
    /// `KEY_UNAVAILABLE` (a secret sealed under a key this server lacks) or
    /// `INTERNAL` (a fault the server log explains).
    #[schema(examples("VALIDATION_FAILED"))]
    pub code: &'static str,
    /// `missing_parameters` or `too_large` for `VALIDATION_FAILED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, examples("too_large"))]
    pub problem: Option<&'static str>,
    /// What is wrong, for humans (never a secret; for a key, its id only).
    pub message: String,
}

impl From<integrations_app::RenderFailure> for RenderErrorResponse {
    fn from(failure: integrations_app::RenderFailure) -> Self {
        use integrations_app::RenderFailure;
        match failure {
            RenderFailure::MissingParameters { count } => Self {
                code: "VALIDATION_FAILED",
                problem: Some("missing_parameters"),
                message: format!(
                    "the pipeline does not define {count} parameter(s) the config references \
                     (see missing_parameters; at most 100 are listed)"
                ),
            },
            RenderFailure::TooLarge { size, limit } => Self {
                code: "VALIDATION_FAILED",
                problem: Some("too_large"),
                message: if size == u64::MAX {
                    format!("the rendered config would exceed the room of {limit} bytes")
                } else {
                    format!(
                        "the rendered config would be {size} bytes, over the room of {limit} \
                         bytes (1 MiB per integration, 8 MiB per pipeline)"
                    )
                },
            },
            RenderFailure::Internal => Self {
                code: "INTERNAL",
                problem: None,
                message: "this integration could not be rendered; the server log has the cause"
                    .to_owned(),
            },
            RenderFailure::KeyUnavailable { kid } => Self {
                code: "KEY_UNAVAILABLE",
                problem: None,
                message: format!(
                    "a stored secret was sealed under the key '{kid}', which this server does not have"
                ),
            },
        }
    }
}

impl From<integrations_app::RenderedConfig> for RenderedConfigResponse {
    fn from(r: integrations_app::RenderedConfig) -> Self {
        Self {
            id: r.attachment.id.to_string(),
            integration_id: r.attachment.template_id.to_string(),
            vendor: r.attachment.vendor,
            revision_id: r.attachment.revision_id.to_string(),
            revision_number: r.attachment.revision_number.get(),
            delivery_mode: r
                .delivery_mode
                .map(integrations_domain::DeliveryMode::as_str),
            config: r.config,
            missing_parameters: r.missing_parameters,
            unused_parameters: r.unused_parameters,
            warnings: r.warnings.into_iter().map(Into::into).collect(),
            error: r.failure.map(Into::into),
        }
    }
}

/// `GET /v1/admin/pipelines/{pid}/config`: every enabled attachment, rendered.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineConfigResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub pipeline_id: String,
    pub integrations: Vec<RenderedConfigResponse>,
}

/// `GET …/revisions/{a}/diff/{b}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiffResponse {
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
pub struct DeliveryModeChange {
    #[schema(value_type = schemas::DeliveryMode)]
    pub from: &'static str,
    #[schema(value_type = schemas::DeliveryMode)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct PinResponse {
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

/// `GET /v1/admin/integration-templates/{id}/pipelines`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PinsResponse {
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

impl PinsResponse {
    /// The response for one page of pins.
    pub fn page(pins: ListPage<integrations_app::Pin>, window: &Window) -> Self {
        let next_cursor = next_cursor(&pins, |pin| {
            newest_cursor(pin.attachment.created_at, &pin.attachment.id)
        });
        Self {
            pipelines: pins
                .items
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
            total: pins.total,
            limit: window.limit,
            offset: offset_of(window),
            next_cursor,
        }
    }
}

/// One audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
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

impl From<integrations_app::AuditEntry> for AuditResponse {
    fn from(e: integrations_app::AuditEntry) -> Self {
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
pub struct AuditListResponse {
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

/// One encryption key id, as `GET /v1/admin/keys` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    /// The key id every value it seals carries.
    pub kid: String,
    /// Whether it seals new values (the first configured key).
    pub active: bool,
    /// Whether the server holds this key. `false` for a key id that stored
    /// values carry but no configured key has: those values cannot be opened.
    pub configured: bool,
    /// How many of the org's stored secrets it seals.
    pub sealed_values: u64,
}

impl From<integrations_app::KeyStatus> for KeyResponse {
    fn from(key: integrations_app::KeyStatus) -> Self {
        Self {
            kid: key.kid,
            active: key.active,
            configured: key.configured,
            sealed_values: key.sealed_values,
        }
    }
}

/// `GET /v1/admin/keys`: the configured keys (the active one first), then any
/// other key id the org's stored secrets carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeysResponse {
    pub keys: Vec<KeyResponse>,
}
