//! `/v1/admin/integration-templates/{id}/revisions` (SPEC §5).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, CreateRevision};
use integrations_domain::Action;

use super::method_not_allowed;
use crate::dto::{CreateRevisionBody, RevisionListResponse, RevisionResponse};
use crate::error::ApiError;
use crate::extract::{Authenticated, PageQuery, blocking, json_body, query};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/integration-templates/{id}/revisions")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/integration-templates/{id}/revisions/{rev}")
            .route(web::get().to(get))
            // Revisions are immutable: no PUT, PATCH or DELETE.
            .default_service(method_not_allowed("GET")),
    );
}

async fn list(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    app.authorize(&caller, Action::Read)?;
    let page_query = query::<PageQuery>(&req)?;
    let page = if page_query.limit.is_some() || page_query.offset.is_some() {
        Some(page_query.page()?)
    } else {
        None
    };
    let app = app.get_ref().clone();
    let paged = blocking(move || {
        let template = app.find_template(&caller, Action::Read, &id)?;
        app.list_revisions(&caller, &template, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RevisionListResponse {
        revisions: paged.items.into_iter().map(Into::into).collect(),
        total: paged.total,
        limit: page.map(integrations_domain::Page::limit),
        offset: page.map(integrations_domain::Page::offset),
    }))
}

async fn create(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let template = {
        let (app, caller) = (app.get_ref().clone(), caller.clone());
        blocking(move || app.find_template(&caller, Action::Edit, &id)).await?
    };
    let body: CreateRevisionBody = json_body(&req, &body)?;
    let input = CreateRevision {
        config: body.config,
        delivery_mode: body.delivery_mode,
        change_summary: body.change_summary,
        expected_latest: None,
    };
    let app = app.get_ref().clone();
    let revision = blocking(move || app.create_revision(&caller, &template, input)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!(
                "/v1/admin/integration-templates/{}/revisions/{}",
                revision.template_id, revision.number
            ),
        ))
        .json(RevisionResponse::from(revision)))
}

async fn get(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    let app = app.get_ref().clone();
    let revision = blocking(move || {
        let template = app.find_template(&caller, Action::Read, &id)?;
        app.find_revision(&caller, &template, &number)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RevisionResponse::from(revision)))
}
