//! `/v1/admin/integration-catalog` (SPEC §6).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, Install};
use integrations_domain::Action;
use serde::Deserialize;

use super::method_not_allowed;
use crate::dto::{CatalogResponse, InstallBody, InstallResponse};
use crate::error::ApiError;
use crate::extract::{Authenticated, blocking, json_body, query};

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

async fn list(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    app.authorize(&caller, Action::Read)?;
    let filter = query::<CategoryQuery>(&req)?;
    let vendors = app.catalog(&caller, filter.category.as_deref())?;
    Ok(HttpResponse::Ok().json(CatalogResponse { vendors }))
}

async fn get(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    vendor: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let vendor = app.catalog_vendor(&caller, Action::Read, &vendor)?;
    Ok(HttpResponse::Ok().json(vendor))
}

async fn install(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    vendor: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let vendor = app.catalog_vendor(&caller, Action::Edit, &vendor)?;
    let body: InstallBody = json_body(&req, &body)?;
    let input = Install {
        name: body.name,
        variant: body.variant,
        description: body.description,
        config: body.config,
        delivery_mode: body.delivery_mode,
        change_summary: body.change_summary,
    };
    let app = app.get_ref().clone();
    let (template, revision) = blocking(move || app.install(&caller, vendor, input)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/integration-templates/{}", template.id),
        ))
        .json(InstallResponse {
            template: template.into(),
            revision: revision.into(),
        }))
}
