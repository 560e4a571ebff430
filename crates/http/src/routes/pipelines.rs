//! `/v1/admin/pipelines` (docs/api.md, "Pipelines").

use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, StoredResponse};
use integrations_domain::{Pipeline, PipelineId};

use super::method_not_allowed;
use crate::body::Body;
use crate::dto::pipelines::{
    CreatePipelineBody, PipelineListResponse, PipelineResponse, PipelineSearchQuery,
    UpdatePipelineBody,
};
use crate::dto::{DeletedResponse, Shown};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{
    JsonBody, Permitted, ToAdminister, ToEdit, ToRead, blocking, blocking_api, query,
};
use crate::idempotency::{IdempotencyKey, answer, created, fingerprint};
use crate::openapi::params::{IdempotencyHeader, PageParams, PipelinePath, PipelineSearchParams};
use crate::openapi::{AdminErrors, BadRequest, BodyErrors, NotFound};
use crate::paging::PageQuery;

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

#[utoipa::path(
    get,
    path = "/v1/admin/pipelines",
    tag = "pipelines",
    operation_id = "listPipelines",
    summary = "List the pipelines",
    description = "One page, newest first (ties by id), optionally only the pipelines whose \
        name holds `q`; follow `next_cursor` to page through them all. Viewer or above.",
    params(PipelineSearchParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of pipelines; `total` counts those the search keeps.", body = PipelineListResponse),
        (status = 400, response = BadRequest),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, a bad \
            `cursor`, or a `q` too long or with control characters.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let window = query::<PageQuery>(&req)?.window::<PipelineId>()?;
    let PipelineSearchQuery { q } = query::<PipelineSearchQuery>(&req)?;
    let shown = Shown::of(&window);
    let app = app.get_ref().clone();
    let page = blocking(move || app.list_pipelines(&caller, q.as_deref(), window)).await?;
    Ok(HttpResponse::Ok().json(PipelineListResponse::from(shown.page(page))))
}

#[utoipa::path(
    post,
    path = "/v1/admin/pipelines",
    tag = "pipelines",
    operation_id = "createPipeline",
    summary = "Create a pipeline",
    description = "Names follow the template name rules. Editor or above.",
    params(IdempotencyHeader),
    request_body(content = CreatePipelineBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new pipeline.", body = PipelineResponse, headers(
            ("Location" = String, description = "The pipeline's URL."),
        )),
        BodyErrors,
        (status = 409, description = "`NAME_TAKEN`, or `IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (a bad name, description, parameter \
            key or value), or `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn create(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    key: IdempotencyKey,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = fingerprint(&req, &bytes);
    let body = JsonBody::new(&req, bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond_created);
        let input = || Ok(body.parse::<CreatePipelineBody>()?.into());
        app.create_pipeline(&caller, input, request)
    })
    .await?;
    Ok(answer(outcome, respond_created))
}

/// 201 with the pipeline and its `Location`.
fn respond_created(pipeline: &Pipeline) -> StoredResponse {
    created(
        format!("/v1/admin/pipelines/{}", pipeline.id),
        &PipelineResponse::from(pipeline.clone()),
    )
}

#[utoipa::path(
    get,
    path = "/v1/admin/pipelines/{pid}",
    tag = "pipelines",
    operation_id = "getPipeline",
    summary = "Read a pipeline",
    description = "Viewer or above.",
    params(PipelinePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pipeline.", body = PipelineResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn get(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let pipeline = blocking(move || app.pipeline(&caller, &id)).await?;
    Ok(HttpResponse::Ok().json(PipelineResponse::from(pipeline)))
}

#[utoipa::path(
    put,
    path = "/v1/admin/pipelines/{pid}",
    tag = "pipelines",
    operation_id = "updatePipeline",
    summary = "Change a pipeline",
    description = "`parameters` replace the old ones whole. Editor or above.",
    params(PipelinePath),
    request_body(content = UpdatePipelineBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed pipeline.", body = PipelineResponse),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`NAME_TAKEN`.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: nothing to change, or a bad value.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn update(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    id: web::Path<String>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let body = JsonBody::new(&req, bytes);
    let pipeline = blocking_api(move || {
        app.update_pipeline(&caller, &id, || {
            body.parse::<UpdatePipelineBody>()?.try_into()
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(PipelineResponse::from(pipeline)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/pipelines/{pid}",
    tag = "pipelines",
    operation_id = "deletePipeline",
    summary = "Delete a pipeline",
    description = "A soft delete; its pipeline integrations go with it. Admin or above.",
    params(PipelinePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted.", body = DeletedResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn delete(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToAdminister>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    blocking(move || app.delete_pipeline(&caller, &id)).await?;
    Ok(HttpResponse::Ok().json(DeletedResponse::default()))
}
