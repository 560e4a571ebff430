//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use integrations_app::App;
use serde_json::json;

use super::method_not_allowed;
use crate::extract::blocking;
use crate::openapi::schemas::ProbeResponse;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(readyz))
            .default_service(method_not_allowed("GET")),
    );
}

/// The process is alive.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    summary = "Liveness",
    responses(
        (status = 200, description = "`{\"status\": \"ok\"}`.", body = ProbeResponse),
    ),
)]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers (503 `UNAVAILABLE` otherwise). One ping answers
/// for a second: a known answer is given on the executor, without the pool
/// or a blocking thread.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    summary = "Readiness",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`: the database answered its last \
            check (at most a second ago: one check answers every probe for a second).", body = ProbeResponse),
        (status = 500, response = crate::openapi::Internal),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn readyz(app: web::Data<App>) -> Result<HttpResponse, crate::error::ApiError> {
    if let Some(known) = app.known_readiness() {
        known?;
    } else {
        let app = app.get_ref().clone();
        blocking(move || app.ready()).await?;
    }
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
