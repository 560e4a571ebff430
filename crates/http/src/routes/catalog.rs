//! `/v1/admin/integration-catalog` (docs/api.md, "Integration catalog").

use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, StoredResponse};
use integrations_domain::{Revision, Template};
use serde::Deserialize;

use super::method_not_allowed;
use crate::body::Body;
use crate::dto::catalog::{CatalogResponse, InstallBody, InstallResponse};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{JsonBody, Permitted, ToBrowse, ToEdit, blocking_api, query};
use crate::idempotency::{IdempotencyKey, answer, created, fingerprint};
use crate::openapi::params::{CatalogParams, IdempotencyHeader, VendorPath};
use crate::openapi::schemas::CatalogVendor;
use crate::openapi::{
    AdminErrors, BadRequest, BodyErrors, Forbidden, Internal, NotFound, RateLimited, Unauthorized,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/integration-catalog")
            .route(web::get().to(list))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/integration-catalog/{vendor}")
            .route(web::get().to(get))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/integration-catalog/{vendor}/install")
            .route(web::post().to(install))
            .default_service(method_not_allowed("POST")),
    );
}

#[derive(Debug, Deserialize)]
struct CategoryQuery {
    category: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-catalog",
    tag = "catalog",
    operation_id = "listCatalog",
    summary = "List the catalog's vendors",
    description = "Static data compiled into the service. Viewer or above (not the `service` role).",
    params(CatalogParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The vendors, in catalog order.", body = CatalogResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, description = "`VALIDATION_FAILED`: an unknown `category`.", body = ErrorEnvelope),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = query::<CategoryQuery>(&req)?;
    let vendors = app.catalog(&caller, filter.category.as_deref())?;
    Ok(HttpResponse::Ok().json(CatalogResponse::from(vendors)))
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-catalog/{vendor_key}",
    tag = "catalog",
    operation_id = "getCatalogVendor",
    summary = "Read a vendor",
    description = "Its config fields and variants. Viewer or above (not the `service` role).",
    params(VendorPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The vendor.", body = CatalogVendor),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn get(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    vendor: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let vendor = app.catalog_vendor(&caller, &vendor)?;
    Ok(HttpResponse::Ok().json(vendor))
}

#[utoipa::path(
    post,
    path = "/v1/admin/integration-catalog/{vendor_key}/install",
    tag = "catalog",
    operation_id = "installFromCatalog",
    summary = "Install a template from the catalog",
    description = "Creates the template (with `catalog_vendor_key` and `catalog_variant_key`) and \
        its revision 1 in one transaction. Revision 1's config is the variant's `default_config` \
        overlaid by `config`; the result must pass the vendor's fields. Editor or above.",
    params(VendorPath, IdempotencyHeader),
    request_body(content = InstallBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The template and its revision 1.", body = InstallResponse, headers(
            ("Location" = String, description = "The template's URL."),
        )),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`NAME_TAKEN`, or `IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (an unknown variant, a merged config \
            that fails the vendor's fields, a bad name…), or `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn install(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    key: IdempotencyKey,
    vendor: web::Path<String>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = fingerprint(&req, &bytes);
    let body = JsonBody::new(&req, bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond_installed);
        let input = || Ok(body.parse::<InstallBody>()?.into());
        app.install(&caller, &vendor, input, request)
    })
    .await?;
    Ok(answer(outcome, respond_installed))
}

/// 201 with the template, its revision 1, and the template's `Location`.
fn respond_installed((template, revision): &(Template, Revision)) -> StoredResponse {
    created(
        format!("/v1/admin/integration-templates/{}", template.id),
        &InstallResponse::from((template.clone(), revision.clone())),
    )
}
