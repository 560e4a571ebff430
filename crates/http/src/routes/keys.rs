//! `GET /v1/admin/keys` (docs/api.md, "Encryption keys"), admin or above:
//! which key seals how many of the org's stored secrets.

use actix_web::{HttpResponse, web};
use integrations_app::App;

use super::method_not_allowed;
use crate::dto::keys::KeysResponse;
use crate::error::ApiError;
use crate::extract::{Permitted, ToAdminister, blocking};
use crate::openapi::AdminErrors;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/keys")
            .route(web::get().to(list))
            .default_service(method_not_allowed("GET")),
    );
}

#[utoipa::path(
    get,
    path = "/v1/admin/keys",
    tag = "keys",
    operation_id = "listKeys",
    summary = "Encryption keys and what they seal",
    description = "Every configured encryption key (the active one, which seals new values, \
        first) and any other key id the org's stored secrets carry, each with how many of the \
        org's stored secrets it seals. During a key rotation this shows when the old key seals \
        nothing any more. Never shows key material. Admin or above.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The keys.", body = KeysResponse),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToAdminister>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let keys = blocking(move || app.keys(&caller)).await?;
    Ok(HttpResponse::Ok().json(KeysResponse::from(keys)))
}
