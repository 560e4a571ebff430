//! `/v1/admin/integration-templates` (docs/api.md, "Integration templates").

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, StoredResponse, TemplateSearch, template_etag};
use integrations_domain::{Template, TemplateId};

use super::method_not_allowed;
use crate::body::Body;
use crate::dto::templates::{
    CreateTemplateBody, TemplateListResponse, TemplateResponse, TemplateSearchQuery,
    UpdateTemplateBody,
};
use crate::dto::{DeletedResponse, Shown};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{
    JsonBody, Permitted, ToAdminister, ToEdit, ToRead, blocking, blocking_api, if_match, query,
};
use crate::idempotency::{IdempotencyKey, answer_then, created, fingerprint};
use crate::openapi::params::{IdempotencyHeader, PageParams, TemplatePath, TemplateSearchParams};
use crate::openapi::{AdminErrors, BadRequest, BodyErrors, NotFound};
use crate::paging::PageQuery;

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

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates",
    tag = "templates",
    operation_id = "listTemplates",
    summary = "List the templates",
    description = "One page of the organisation's templates, newest first (ties by id), \
        optionally only those whose name holds `q` and of one `vendor`; follow `next_cursor` to \
        page through them all. Viewer or above.",
    params(TemplateSearchParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of templates; `total` counts those the search keeps.", body = TemplateListResponse),
        (status = 400, response = BadRequest),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, a bad \
            `cursor`, a `q` too long or with control characters, or a `vendor` not in the catalog.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let window = query::<PageQuery>(&req)?.window::<TemplateId>()?;
    let search = TemplateSearch::from(query::<TemplateSearchQuery>(&req)?);
    let shown = Shown::of(&window);
    let app = app.get_ref().clone();
    let page = blocking(move || app.list_templates(&caller, &search, window)).await?;
    Ok(HttpResponse::Ok().json(TemplateListResponse::from(shown.page(page))))
}

#[utoipa::path(
    post,
    path = "/v1/admin/integration-templates",
    tag = "templates",
    operation_id = "createTemplate",
    summary = "Create a template",
    description = "A template without revisions (`latest_revision` 0); add revisions with \
        `POST …/revisions`, or install from the catalog to get revision 1 at once. Editor or above.",
    params(IdempotencyHeader),
    request_body(content = CreateTemplateBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new template.", body = TemplateResponse, headers(
            ("Location" = String, description = "The template's URL."),
            ("ETag" = String, description = "The template's strong ETag, for `If-Match`."),
        )),
        BodyErrors,
        (status = 409, description = "`NAME_TAKEN` (a live template has that name), or \
            `IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (a bad name or description, a vendor \
            not in the catalog), or `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
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
        let input = || Ok(body.parse::<CreateTemplateBody>()?.into());
        app.create_template(&caller, input, request)
    })
    .await?;
    Ok(answer_then(
        outcome,
        respond_created,
        |template, response| {
            if let Ok(etag) = HeaderValue::from_str(&template_etag(template)) {
                response.headers_mut().insert(header::ETAG, etag);
            }
        },
    ))
}

/// 201 with the template and its `Location`.
fn respond_created(template: &Template) -> StoredResponse {
    created(
        format!("/v1/admin/integration-templates/{}", template.id),
        &TemplateResponse::from(template.clone()),
    )
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}",
    tag = "templates",
    operation_id = "getTemplate",
    summary = "Read a template",
    description = "Viewer or above.",
    params(TemplatePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The template.", body = TemplateResponse, headers(
            ("ETag" = String, description = "The template's strong ETag, for `If-Match`."),
        )),
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
    let template = blocking(move || app.template(&caller, &id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, template_etag(&template)))
        .json(TemplateResponse::from(template)))
}

#[utoipa::path(
    put,
    path = "/v1/admin/integration-templates/{id}",
    tag = "templates",
    operation_id = "updateTemplate",
    summary = "Rename a template or change its description",
    description = "Only `name` and `description`; `updated_at` moves. Honours `If-Match`. \
        Editor or above.",
    params(
        TemplatePath,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag read last (or `*`): \
            412 when the template changed since."),
    ),
    request_body(content = UpdateTemplateBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed template.", body = TemplateResponse, headers(
            ("ETag" = String, description = "The template's new ETag."),
        )),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`NAME_TAKEN`.", body = ErrorEnvelope),
        (status = 412, description = "`PRECONDITION_FAILED`: `If-Match` does not match the \
            current ETag.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: neither field given, or a bad value.", body = ErrorEnvelope),
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
    let if_match = if_match(&req);
    let body = JsonBody::new(&req, bytes);
    let template = blocking_api(move || {
        app.update_template(&caller, &id, if_match.as_deref(), || {
            body.parse::<UpdateTemplateBody>()?.try_into()
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, template_etag(&template)))
        .json(TemplateResponse::from(template)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/integration-templates/{id}",
    tag = "templates",
    operation_id = "deleteTemplate",
    summary = "Delete a template",
    description = "A soft delete: afterwards the template and its revisions answer 404 and its \
        name is free again. Refused while a pipeline pins it. Honours `If-Match`. Admin or above.",
    params(
        TemplatePath,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag read last (or `*`): \
            412 when the template changed since."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted.", body = DeletedResponse),
        (status = 404, response = NotFound),
        (status = 409, description = "`TEMPLATE_IN_USE`: pipelines still pin it; `details` \
            lists them (`pipeline_id`, `pipeline_name`).", body = ErrorEnvelope),
        (status = 412, description = "`PRECONDITION_FAILED`: `If-Match` does not match the \
            current ETag.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn delete(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToAdminister>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let if_match = if_match(&req);
    blocking(move || app.delete_template(&caller, &id, if_match.as_deref())).await?;
    Ok(HttpResponse::Ok().json(DeletedResponse::default()))
}
