//! `/v1/admin/integration-catalog`: the catalog, and installing from it.

use integrations_app::Install;
use integrations_domain::catalog::Vendor;
use integrations_domain::{Revision, Template};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::revisions::RevisionResponse;
use super::templates::TemplateResponse;
use crate::openapi::schemas;

/// `POST /v1/admin/integration-catalog/{vendor_key}/install`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstallBody {
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

impl From<InstallBody> for Install {
    fn from(body: InstallBody) -> Self {
        Self {
            name: body.name,
            variant: body.variant,
            description: body.description,
            config: body.config,
            delivery_mode: body.delivery_mode,
            change_summary: body.change_summary,
        }
    }
}

/// The answer to an install: the template and its revision 1.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InstallResponse {
    pub template: TemplateResponse,
    pub revision: RevisionResponse,
}

impl From<(Template, Revision)> for InstallResponse {
    fn from((template, revision): (Template, Revision)) -> Self {
        Self {
            template: template.into(),
            revision: revision.into(),
        }
    }
}

/// `GET /v1/admin/integration-catalog`. Vendors are static, serialisable
/// catalog data, shown as they are.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogResponse {
    #[schema(value_type = Vec<schemas::CatalogVendor>)]
    pub vendors: Vec<&'static Vendor>,
}

impl From<Vec<&'static Vendor>> for CatalogResponse {
    fn from(vendors: Vec<&'static Vendor>) -> Self {
        Self { vendors }
    }
}
