//! `GET /v1/admin/me` (docs/api.md, "Who am I"): whom the bearer token
//! speaks for and until when, for every role. It reads nothing but the
//! token, so a client knows what to show without decoding it.

use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, AppError};

use super::method_not_allowed;
use crate::dto::me::MeResponse;
use crate::error::ApiError;
use crate::extract::bearer_token;
use crate::openapi::{Internal, RateLimited, Unauthorized};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/me")
            .route(web::get().to(me))
            .default_service(method_not_allowed("GET")),
    );
}

#[utoipa::path(
    get,
    path = "/v1/admin/me",
    tag = "session",
    operation_id = "getMe",
    summary = "Whom the token speaks for",
    description = "The organisation, user, role and expiry of the bearer token, for every role \
        (`service` included). Reads nothing but the token.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller.", body = MeResponse),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn me(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // HMAC verification takes microseconds: no need to leave the executor.
    let token = bearer_token(&req).map_err(AppError::from)?;
    let me = app.authenticate(token)?;
    Ok(HttpResponse::Ok().json(MeResponse::from(me)))
}
