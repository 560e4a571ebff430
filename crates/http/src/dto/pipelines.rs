//! `/v1/admin/pipelines`: the pipeline bodies and responses.

use integrations_app::{CreatePipeline, UpdatePipeline};
use integrations_domain::{Parameters, Pipeline};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Paged, not_null, present, rfc3339};
use crate::error::ApiError;
use crate::openapi::schemas;
use crate::paging::{newest_cursor, next_cursor};

/// `POST /v1/admin/pipelines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePipelineBody {
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

impl From<CreatePipelineBody> for CreatePipeline {
    fn from(body: CreatePipelineBody) -> Self {
        Self {
            name: body.name,
            description: body.description,
            parameters: body.parameters,
            secret_parameters: body.secret_parameters,
        }
    }
}

/// `PUT /v1/admin/pipelines/{id}`: any of the four; an empty object is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    clippy::option_option,
    reason = "absent, null and a value are three different requests"
)]
pub(crate) struct UpdatePipelineBody {
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

impl TryFrom<UpdatePipelineBody> for UpdatePipeline {
    type Error = ApiError;

    /// # Errors
    /// 400 naming `name`, `parameters` or `secret_parameters` when it is `null`.
    fn try_from(body: UpdatePipelineBody) -> Result<Self, ApiError> {
        Ok(Self {
            name: not_null("name", body.name)?,
            description: body.description,
            parameters: not_null("parameters", body.parameters)?,
            secret_parameters: not_null("secret_parameters", body.secret_parameters)?,
        })
    }
}

/// A pipeline as every route shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PipelineResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(schema_with = schemas::parameters)]
    pub parameters: Parameters,
    #[schema(schema_with = schemas::masked_secret_parameters)]
    pub secret_parameters: Map<String, Value>,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Pipeline> for PipelineResponse {
    fn from(p: Pipeline) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: p.org_id.to_string(),
            name: p.name.to_string(),
            description: p.description.map(|d| d.as_str().to_owned()),
            parameters: p.parameters,
            // Write-only: the keys, never a value, for every role.
            secret_parameters: p.secret_parameters.masked(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `GET /v1/admin/pipelines`: one page, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PipelineListResponse {
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

impl From<Paged<Pipeline>> for PipelineListResponse {
    fn from(Paged { page, shown }: Paged<Pipeline>) -> Self {
        let next_cursor = next_cursor(&page, |p| newest_cursor(p.created_at, &p.id));
        Self {
            pipelines: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: shown.limit,
            offset: shown.offset,
            next_cursor,
        }
    }
}

/// `?q` on the pipeline list (the paging parameters are read apart); other
/// parameters are ignored.
#[derive(Debug, Deserialize)]
pub struct PipelineSearchQuery {
    /// The name search, as sent.
    pub q: Option<String>,
}
