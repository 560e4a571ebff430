//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use integrations_app::App;
use serde_json::json;

use crate::extract::blocking;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is alive.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers (503 `UNAVAILABLE` otherwise).
async fn readyz(app: web::Data<App>) -> Result<HttpResponse, crate::error::ApiError> {
    let app = app.get_ref().clone();
    blocking(move || app.ready()).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
