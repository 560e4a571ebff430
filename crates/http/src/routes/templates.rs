//! `/v1/admin/integration-templates` (SPEC §4).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, CreateTemplate, UpdateTemplate, template_etag};
use integrations_domain::Action;

use super::method_not_allowed;
use crate::dto::{
    CreateTemplateBody, DeletedResponse, TemplateListResponse, TemplateResponse, UpdateTemplateBody,
};
use crate::error::ApiError;
use crate::extract::{Authenticated, PageQuery, blocking, if_match, json_body, query};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/integration-templates")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/integration-templates/{id}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::delete().to(delete))
            .default_service(method_not_allowed("GET, PUT, DELETE")),
    );
}

async fn list(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    app.authorize(&caller, Action::Read)?;
    let page = query::<PageQuery>(&req)?.page()?;
    let app = app.get_ref().clone();
    let paged = blocking(move || app.list_templates(&caller, page)).await?;
    Ok(HttpResponse::Ok().json(TemplateListResponse {
        integrations: paged.items.into_iter().map(Into::into).collect(),
        total: paged.total,
        limit: page.limit(),
        offset: page.offset(),
    }))
}

async fn create(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    app.authorize(&caller, Action::Edit)?;
    let body: CreateTemplateBody = json_body(&req, &body)?;
    let input = CreateTemplate {
        name: body.name,
        vendor: body.vendor,
        description: body.description,
    };
    let app = app.get_ref().clone();
    let template = blocking(move || app.create_template(&caller, input)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/integration-templates/{}", template.id),
        ))
        .insert_header((header::ETAG, template_etag(&template)))
        .json(TemplateResponse::from(template)))
}

async fn get(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let template = blocking(move || app.find_template(&caller, Action::Read, &id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, template_etag(&template)))
        .json(TemplateResponse::from(template)))
}

async fn update(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let found = {
        let (app, caller) = (app.get_ref().clone(), caller.clone());
        blocking(move || app.find_template(&caller, Action::Edit, &id)).await?
    };
    let body: UpdateTemplateBody = json_body(&req, &body)?;
    let name = match body.name {
        Some(None) => {
            return Err(ApiError::invalid_request(
                Some("name"),
                "invalid_type",
                "'name' cannot be null",
            ));
        }
        Some(Some(name)) => Some(name),
        None => None,
    };
    let input = UpdateTemplate {
        name,
        description: body.description,
        if_match: if_match(&req),
    };
    let app = app.get_ref().clone();
    let template = blocking(move || app.update_template(&caller, &found, input)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, template_etag(&template)))
        .json(TemplateResponse::from(template)))
}

async fn delete(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let if_match = if_match(&req);
    blocking(move || {
        let found = app.find_template(&caller, Action::Administer, &id)?;
        app.delete_template(&caller, &found, if_match.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeletedResponse::default()))
}
