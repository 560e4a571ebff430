//! `/v1/admin/integration-templates`: the template bodies and responses.

use integrations_app::{CreateTemplate, TemplateSearch, UpdateTemplate};
use integrations_domain::Template;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Paged, not_null, present, rfc3339};
use crate::error::ApiError;
use crate::openapi::schemas;
use crate::paging::{newest_cursor, next_cursor};

/// `POST /v1/admin/integration-templates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTemplateBody {
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

impl From<CreateTemplateBody> for CreateTemplate {
    fn from(body: CreateTemplateBody) -> Self {
        Self {
            name: body.name,
            vendor: body.vendor,
            description: body.description,
        }
    }
}

/// `PUT /v1/admin/integration-templates/{id}`: a new name, a new description
/// (`null` clears it), or both; an empty object is 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    clippy::option_option,
    reason = "absent, null and a value are three different requests"
)]
pub(crate) struct UpdateTemplateBody {
    /// The new name (not `null`).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::name)]
    pub name: Option<Option<String>>,
    /// The new description, at most 2,000 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schemas::nullable_text)]
    pub description: Option<Option<String>>,
}

impl TryFrom<UpdateTemplateBody> for UpdateTemplate {
    type Error = ApiError;

    /// # Errors
    /// 400 naming `name` when it is `null`.
    fn try_from(body: UpdateTemplateBody) -> Result<Self, ApiError> {
        Ok(Self {
            name: not_null("name", body.name)?,
            description: body.description,
        })
    }
}

/// An integration template as every route shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateResponse {
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
pub(crate) struct TemplateListResponse {
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

impl From<Paged<Template>> for TemplateListResponse {
    fn from(Paged { page, shown }: Paged<Template>) -> Self {
        let next_cursor = next_cursor(&page, |t| newest_cursor(t.created_at, &t.id));
        Self {
            integrations: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: shown.limit,
            offset: shown.offset,
            next_cursor,
        }
    }
}

/// `?q&vendor` on the template list (the paging parameters are read apart);
/// other parameters are ignored.
#[derive(Debug, Deserialize)]
pub struct TemplateSearchQuery {
    q: Option<String>,
    vendor: Option<String>,
}

impl From<TemplateSearchQuery> for TemplateSearch {
    fn from(query: TemplateSearchQuery) -> Self {
        Self {
            q: query.q,
            vendor: query.vendor,
        }
    }
}
