//! `GET /v1/admin/audit-log` (SPEC §11), admin or above.

use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::App;
use integrations_domain::{Action, Page};
use serde::Deserialize;

use super::method_not_allowed;
use crate::dto::{AuditListResponse, AuditResponse};
use crate::error::ApiError;
use crate::extract::{Authenticated, PageQuery, blocking, query};

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
}

async fn list(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    app.authorize(&caller, Action::Administer)?;
    let filter = query::<AuditQuery>(&req)?;
    let page: Page = PageQuery {
        limit: filter.limit,
        offset: filter.offset,
    }
    .page()?;
    let app = app.get_ref().clone();
    let resource = filter.resource_id;
    let paged = blocking(move || app.audit_log(&caller, resource.as_deref(), page)).await?;
    Ok(HttpResponse::Ok().json(AuditListResponse {
        entries: paged.items.into_iter().map(AuditResponse::from).collect(),
        total: paged.total,
        limit: page.limit(),
        offset: page.offset(),
    }))
}
