//! `/v1/admin/pipelines` (SPEC §7).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, CreatePipeline, UpdatePipeline};
use integrations_domain::Action;

use super::method_not_allowed;
use crate::dto::{
    CreatePipelineBody, DeletedResponse, PipelineListResponse, PipelineResponse, UpdatePipelineBody,
};
use crate::error::ApiError;
use crate::extract::{Authenticated, PageQuery, blocking, json_body, query};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/pipelines")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/pipelines/{pid}")
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
    let paged = blocking(move || app.list_pipelines(&caller, page)).await?;
    Ok(HttpResponse::Ok().json(PipelineListResponse {
        pipelines: paged.items.into_iter().map(Into::into).collect(),
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
    let body: CreatePipelineBody = json_body(&req, &body)?;
    let input = CreatePipeline {
        name: body.name,
        description: body.description,
        parameters: body.parameters,
    };
    let app = app.get_ref().clone();
    let pipeline = blocking(move || app.create_pipeline(&caller, input)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/pipelines/{}", pipeline.id),
        ))
        .json(PipelineResponse::from(pipeline)))
}

async fn get(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let pipeline = blocking(move || app.find_pipeline(&caller, Action::Read, &id)).await?;
    Ok(HttpResponse::Ok().json(PipelineResponse::from(pipeline)))
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
        blocking(move || app.find_pipeline(&caller, Action::Edit, &id)).await?
    };
    let body: UpdatePipelineBody = json_body(&req, &body)?;
    let not_null = |field: &str| {
        ApiError::invalid_request(
            Some(field),
            "invalid_type",
            format!("'{field}' cannot be null"),
        )
    };
    let input = UpdatePipeline {
        name: match body.name {
            Some(None) => return Err(not_null("name")),
            other => other.flatten(),
        },
        description: body.description,
        parameters: match body.parameters {
            Some(None) => return Err(not_null("parameters")),
            other => other.flatten(),
        },
    };
    let app = app.get_ref().clone();
    let pipeline = blocking(move || app.update_pipeline(&caller, &found, input)).await?;
    Ok(HttpResponse::Ok().json(PipelineResponse::from(pipeline)))
}

async fn delete(
    app: web::Data<App>,
    Authenticated(caller): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    blocking(move || {
        let found = app.find_pipeline(&caller, Action::Administer, &id)?;
        app.delete_pipeline(&caller, &found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeletedResponse::default()))
}
