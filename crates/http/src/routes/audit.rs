//! `GET /v1/admin/audit-log` (docs/api.md, "Audit log"), admin or above.

use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::App;
use integrations_domain::AuditId;
use serde::Deserialize;

use super::method_not_allowed;
use crate::dto::Shown;
use crate::dto::audit::AuditListResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{Permitted, ToAdminister, blocking, query};
use crate::openapi::params::{AuditParams, PageParams};
use crate::openapi::{AdminErrors, BadRequest};
use crate::paging::PageQuery;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/audit-log")
            .route(web::get().to(list))
            .default_service(method_not_allowed("GET")),
    );
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    resource_id: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/audit-log",
    tag = "audit",
    operation_id = "listAuditLog",
    summary = "Read the audit log",
    description = "Every create, update, delete, attach and re-pin, with actor, time, resource and \
        old/new values (secrets masked); newest first. Admin or above.",
    params(AuditParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of entries.", body = AuditListResponse),
        (status = 400, response = BadRequest),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, or a bad `cursor`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToAdminister>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = query::<AuditQuery>(&req)?;
    let window = PageQuery {
        limit: filter.limit,
        offset: filter.offset,
        cursor: filter.cursor,
    }
    .window::<AuditId>()?;
    let shown = Shown::of(&window);
    let app = app.get_ref().clone();
    let resource = filter.resource_id;
    let page = blocking(move || app.audit_log(&caller, resource.as_deref(), window)).await?;
    Ok(HttpResponse::Ok().json(AuditListResponse::from(shown.page(page))))
}
