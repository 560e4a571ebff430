//! `/v1/admin/pipelines/{pid}/integrations` and the rendered configs: the
//! pipeline-integration (attachment) bodies and responses.

use integrations_app::{
    Attach, PipelineConfig, PipelineConfigAt, RenderFailure, RenderWarning, RenderedConfig,
    UpdateAttachment,
};
use integrations_domain::{Attachment, DeliveryMode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::rfc3339;
use crate::openapi::schemas;

/// `POST /v1/admin/pipelines/{pid}/integrations`: pin a template at one revision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttachBody {
    #[schema(schema_with = schemas::template_reference)]
    pub integration_id: String,
    #[schema(schema_with = schemas::revision_reference)]
    pub revision_id: String,
    /// Default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl From<AttachBody> for Attach {
    fn from(body: AttachBody) -> Self {
        Self {
            integration_id: body.integration_id,
            revision_id: body.revision_id,
            enabled: body.enabled,
        }
    }
}

/// `PUT /v1/admin/pipelines/{pid}/integrations/{pi}`: re-pin, enable or
/// disable; with neither field set (or both `null`) it is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateAttachmentBody {
    /// A revision of the attached template to pin instead.
    #[serde(default)]
    #[schema(schema_with = schemas::nullable_revision_reference)]
    pub revision_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl From<UpdateAttachmentBody> for UpdateAttachment {
    fn from(body: UpdateAttachmentBody) -> Self {
        Self {
            revision_id: body.revision_id,
            enabled: body.enabled,
        }
    }
}

/// A pipeline integration as every route shows it. When `revision_number <
/// latest_revision` a newer revision exists; nothing upgrades automatically.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttachmentResponse {
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

impl From<Attachment> for AttachmentResponse {
    fn from(a: Attachment) -> Self {
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
pub(crate) struct AttachmentListResponse {
    pub integrations: Vec<AttachmentResponse>,
}

impl From<Vec<Attachment>> for AttachmentListResponse {
    fn from(attachments: Vec<Attachment>) -> Self {
        Self {
            integrations: attachments.into_iter().map(Into::into).collect(),
        }
    }
}

/// One attachment's rendered config. Holds only what the event processor
/// needs, so the pipeline route's `ETag` moves when a pin, an enabled flag
/// or a parameter changes — and not when, say, a template is renamed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RenderedConfigResponse {
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
pub(crate) struct RenderWarningResponse {
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

impl From<RenderWarning> for RenderWarningResponse {
    fn from(warning: RenderWarning) -> Self {
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
pub(crate) struct RenderErrorResponse {
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

impl From<RenderFailure> for RenderErrorResponse {
    fn from(failure: RenderFailure) -> Self {
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

impl From<RenderedConfig> for RenderedConfigResponse {
    fn from(r: RenderedConfig) -> Self {
        Self {
            id: r.attachment.id.to_string(),
            integration_id: r.attachment.template_id.to_string(),
            vendor: r.attachment.vendor,
            revision_id: r.attachment.revision_id.to_string(),
            revision_number: r.attachment.revision_number.get(),
            delivery_mode: r.delivery_mode.map(DeliveryMode::as_str),
            config: r.config,
            missing_parameters: r.missing_parameters,
            unused_parameters: r.unused_parameters,
            warnings: r.warnings.into_iter().map(Into::into).collect(),
            error: r.failure.map(Into::into),
        }
    }
}

/// `GET /v1/admin/pipelines/{pid}/config`: every enabled attachment, rendered.
/// (No other member: `at` and `seq` mark an answer for a past instant.)
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelineConfigResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub pipeline_id: String,
    pub integrations: Vec<RenderedConfigResponse>,
}

/// The body of the answer; the `ETag` goes in a header.
impl From<PipelineConfig> for PipelineConfigResponse {
    fn from(rendered: PipelineConfig) -> Self {
        Self {
            pipeline_id: rendered.pipeline_id.to_string(),
            integrations: rendered.configs.into_iter().map(Into::into).collect(),
        }
    }
}

/// The body of `GET /v1/admin/pipelines/{pid}/config`, for the reference:
/// the live configs, or (with `at`) those of a past instant. One media type
/// has one schema, so the two answers are its two alternatives.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PipelineConfigBody {
    /// Without `at`.
    Live(PipelineConfigResponse),
    /// With `at`.
    Then(PipelineConfigAtResponse),
}

/// One attachment's config as it was at a past instant.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RenderedConfigAtResponse {
    #[serde(flatten)]
    pub rendered: RenderedConfigResponse,
    /// The event `seq` of the last change that shaped this config then: the
    /// later of the integration's own last change (attach, re-pin, enable)
    /// and the pipeline's last change of parameters.
    pub seq: u64,
}

/// `GET /v1/admin/pipelines/{pid}/config?at=`: the enabled attachments as
/// they were at that instant, rendered.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelineConfigAtResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub pipeline_id: String,
    /// The instant asked for.
    #[serde(with = "rfc3339")]
    pub at: OffsetDateTime,
    /// The change `at` resolved to: the highest event `seq` of the org
    /// recorded at or before it.
    pub seq: u64,
    pub integrations: Vec<RenderedConfigAtResponse>,
}

impl From<PipelineConfigAt> for PipelineConfigAtResponse {
    fn from(then: PipelineConfigAt) -> Self {
        Self {
            pipeline_id: then.pipeline_id.to_string(),
            at: then.at,
            seq: then.seq,
            integrations: then
                .configs
                .into_iter()
                .map(|(rendered, seq)| RenderedConfigAtResponse {
                    rendered: rendered.into(),
                    seq,
                })
                .collect(),
        }
    }
}
