//! Wire types: request bodies (`*Body`) and responses (`*Response`), separate
//! from the domain types they carry.

use integrations_domain::{Revision, Template};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Distinguishes `"field": null` (`Some(None)`) from an absent field (`None`).
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
            restored_from: r.restored_from.map(integrations_domain::RevisionNumber::get),
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

impl DeletedResponse {
    pub const fn new() -> Self {
        Self { status: "deleted" }
    }
}
