//! `/v1/admin/pipelines/{pid}/integrations` and the rendered-config routes (docs/api.md, "Pipeline integrations and rendered configs").

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, PipelineConfigAnswer, StoredResponse, Woken};
use integrations_domain::Attachment;
use tokio::time::Instant;

use super::method_not_allowed;
use crate::body::Body;
use crate::dto::DeletedResponse;
use crate::dto::attachments::{
    AttachBody, AttachmentListResponse, AttachmentResponse, PipelineConfigAtResponse,
    PipelineConfigBody, PipelineConfigResponse, RenderedConfigResponse, UpdateAttachmentBody,
};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{
    JsonBody, Permitted, ToAdminister, ToEdit, ToRead, blocking, blocking_api, query,
};
use crate::idempotency::{IdempotencyKey, answer, created, fingerprint};
use crate::openapi::params::{
    AtParams, AttachmentPath, IdempotencyHeader, PipelinePath, WatchParams,
};
use crate::openapi::{AdminErrors, BodyErrors, NotFound};
use crate::routes::events::{event_seq_header, wait_seconds};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/pipelines/{pid}/integrations")
            .route(web::get().to(list))
            .route(web::post().to(attach))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/pipelines/{pid}/integrations/{pi}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::delete().to(detach))
            .default_service(method_not_allowed("GET, PUT, DELETE")),
    )
    .service(
        web::resource("/pipelines/{pid}/integrations/{pi}/config")
            .route(web::get().to(attachment_config))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/pipelines/{pid}/config")
            .route(web::get().to(pipeline_config))
            .default_service(method_not_allowed("GET")),
    );
}

#[utoipa::path(
    get,
    path = "/v1/admin/pipelines/{pid}/integrations",
    tag = "attachments",
    operation_id = "listAttachments",
    summary = "List a pipeline's integrations",
    description = "Every template the pipeline pins, at which revision. Viewer or above.",
    params(PipelinePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pipeline integrations.", body = AttachmentListResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    pid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    let attachments = blocking(move || app.list_attachments(&caller, &pid)).await?;
    Ok(HttpResponse::Ok().json(AttachmentListResponse::from(attachments)))
}

#[utoipa::path(
    post,
    path = "/v1/admin/pipelines/{pid}/integrations",
    tag = "attachments",
    operation_id = "attachTemplate",
    summary = "Attach a template to a pipeline",
    description = "Pins `integration_id` at `revision_id`; one attachment per pipeline and \
        template. Editor or above.",
    params(PipelinePath, IdempotencyHeader),
    request_body(content = AttachBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new pipeline integration.", body = AttachmentResponse, headers(
            ("Location" = String, description = "The pipeline integration's URL."),
        )),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`ALREADY_ATTACHED`; `LIMIT_REACHED` when the pipeline \
            has 100 integrations already (`details[0].limit` is the limit); or \
            `IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (no such template, or a revision that \
            is not one of it), or `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn attach(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    key: IdempotencyKey,
    pid: web::Path<String>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = fingerprint(&req, &bytes);
    let body = JsonBody::new(&req, bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond_attached);
        let input = || Ok(body.parse::<AttachBody>()?.into());
        app.attach(&caller, &pid, input, request)
    })
    .await?;
    Ok(answer(outcome, respond_attached))
}

/// 201 with the attachment and its `Location`.
fn respond_attached(attachment: &Attachment) -> StoredResponse {
    created(
        format!(
            "/v1/admin/pipelines/{}/integrations/{}",
            attachment.pipeline_id, attachment.id
        ),
        &AttachmentResponse::from(attachment.clone()),
    )
}

#[utoipa::path(
    get,
    path = "/v1/admin/pipelines/{pid}/integrations/{pi}",
    tag = "attachments",
    operation_id = "getAttachment",
    summary = "Read a pipeline integration",
    description = "Viewer or above.",
    params(AttachmentPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pipeline integration.", body = AttachmentResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn get(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, pi) = path.into_inner();
    let app = app.get_ref().clone();
    let attachment = blocking(move || app.attachment(&caller, &pid, &pi)).await?;
    Ok(HttpResponse::Ok().json(AttachmentResponse::from(attachment)))
}

#[utoipa::path(
    put,
    path = "/v1/admin/pipelines/{pid}/integrations/{pi}",
    tag = "attachments",
    operation_id = "updateAttachment",
    summary = "Re-pin, enable or disable",
    description = "Editor or above.",
    params(AttachmentPath),
    request_body(content = UpdateAttachmentBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed pipeline integration.", body = AttachmentResponse),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 422, description = "`VALIDATION_FAILED`: nothing to change, or a revision \
            that is not one of the attached template.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn update(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let (pid, pi) = path.into_inner();
    let body = JsonBody::new(&req, bytes);
    let attachment = blocking_api(move || {
        app.update_attachment(&caller, &pid, &pi, || {
            Ok(body.parse::<UpdateAttachmentBody>()?.into())
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(AttachmentResponse::from(attachment)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/pipelines/{pid}/integrations/{pi}",
    tag = "attachments",
    operation_id = "detachTemplate",
    summary = "Detach a template from a pipeline",
    description = "Admin or above.",
    params(AttachmentPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Detached.", body = DeletedResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn detach(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToAdminister>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, pi) = path.into_inner();
    let app = app.get_ref().clone();
    blocking(move || app.detach(&caller, &pid, &pi)).await?;
    Ok(HttpResponse::Ok().json(DeletedResponse::default()))
}

#[utoipa::path(
    get,
    path = "/v1/admin/pipelines/{pid}/integrations/{pi}/config",
    tag = "attachments",
    operation_id = "getAttachmentConfig",
    summary = "Render one pipeline integration's config",
    description = "The pinned revision's config with the pipeline's parameters substituted. \
        Secrets read `\"***\"` except for `service` tokens. Viewer or above.",
    params(AttachmentPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rendered config.", body = RenderedConfigResponse),
        (status = 404, response = NotFound),
        (status = 422, description = "`VALIDATION_FAILED`: the config references parameters \
            the pipeline does not define (listed in `details`).", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn attachment_config(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, pi) = path.into_inner();
    let app = app.get_ref().clone();
    let rendered = blocking(move || app.attachment_config(&caller, &pid, &pi)).await?;
    Ok(HttpResponse::Ok().json(RenderedConfigResponse::from(rendered)))
}

#[utoipa::path(
    get,
    path = "/v1/admin/pipelines/{pid}/config",
    tag = "attachments",
    operation_id = "getPipelineConfig",
    summary = "Render every enabled integration of a pipeline",
    description = "What the event processor loads. An integration that cannot render keeps \
        its place with `config: null` and an `error` (`VALIDATION_FAILED` with problem \
        `missing_parameters` or `too_large`, or `KEY_UNAVAILABLE`); the others render. Each \
        rendered config is at most 1 MiB, the whole answer at most 8 MiB. Carries a strong \
        `ETag` derived from the pins, parameters and role (never from the body); poll with \
        `If-None-Match`, and add `wait=S` to hold the request until the configs change (in any \
        process) or S seconds pass. `Event-Seq` carries the org's newest event number, read \
        before the configs: tail `GET /v1/admin/events?after=` from it. With `at=RFC3339`: \
        the configs as they were at that instant (`PipelineConfigAt`: no `ETag`, no `wait`), \
        each with the `seq` of the last change that shaped it; 404 before the pipeline existed \
        or after it was deleted, 410 `HISTORY_EXPIRED` before the history kept. Viewer or above.",
    params(
        PipelinePath,
        WatchParams,
        AtParams,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag read last: 304 \
            while nothing changed."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rendered configs (with `at`: as they were then).",
            body = PipelineConfigBody, headers(
            ("ETag" = String, description = "A strong ETag of what shaped the answer: the pins, the \
                parameters and whether secrets are shown."),
            ("Event-Seq" = u64, description = "The org's newest event number, read before the configs."),
        )),
        (status = 304, description = "Not modified since the ETag in `If-None-Match` (within `wait`).", headers(
            ("ETag" = String, description = "The current ETag."),
            ("Event-Seq" = u64, description = "The org's newest event number known when answering."),
        )),
        (status = 410, description = "`HISTORY_EXPIRED`: `at` is older than the history kept.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: `wait` out of range; `at` not an RFC 3339 \
            instant, in the future, or given with `wait`.", body = ErrorEnvelope),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn pipeline_config(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    pid: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let watch = query::<WatchQuery>(&req)?;
    if let Some(at) = watch.at {
        // A past config never changes: nothing to watch, no ETag.
        if watch.wait.is_some() {
            return Err(ApiError::from(integrations_app::AppError::invalid(
                "at",
                "conflict",
                "at cannot be combined with wait: a past config never changes",
            )));
        }
        let (app, pid) = (app.get_ref().clone(), pid.into_inner());
        let then = blocking(move || app.pipeline_config_at(&caller, &pid, &at)).await?;
        return Ok(HttpResponse::Ok().json(PipelineConfigBody::Then(
            PipelineConfigAtResponse::from(then),
        )));
    }
    let wait = wait_seconds(watch.wait)?;
    let if_none_match = if_none_match(&req);
    let app = app.get_ref().clone();
    let deadline = Instant::now() + wait;
    let pid = pid.into_inner();
    // A place among the user's held requests, taken before the first wait
    // and given back with the answer.
    let mut held = None;
    loop {
        // From memory when it can be: no thread hand-off, no database.
        let remembered = app.unchanged_config(&caller, &pid, if_none_match.as_deref())?;
        let answer = if let Some(answer) = remembered {
            answer
        } else {
            let (app, caller, pid, tag) = (
                app.clone(),
                caller.clone(),
                pid.clone(),
                if_none_match.clone(),
            );
            blocking(move || app.pipeline_config(&caller, &pid, tag.as_deref())).await?
        };
        match answer {
            PipelineConfigAnswer::NotModified { etag, event_seq } => {
                // Held while nothing changes, within `wait`, unless shutting down.
                let left = deadline
                    .checked_duration_since(Instant::now())
                    .filter(|left| !left.is_zero() && !app.feed().closing());
                let woken = match left {
                    Some(left) => {
                        if held.is_none() {
                            held = Some(app.hold(&caller)?);
                        }
                        tokio::time::timeout(
                            left,
                            app.wait_for_config(&caller.org, &pid, event_seq),
                        )
                        .await
                    }
                    None => Ok(Woken::Closing),
                };
                if !matches!(woken, Ok(Woken::Changed)) {
                    return Ok(HttpResponse::NotModified()
                        .insert_header((header::ETAG, etag))
                        .insert_header(event_seq_header(event_seq))
                        .finish());
                }
            }
            PipelineConfigAnswer::Rendered(mut rendered) => {
                let etag = std::mem::take(&mut rendered.etag);
                return Ok(HttpResponse::Ok()
                    .insert_header((header::ETAG, etag))
                    .insert_header(event_seq_header(rendered.event_seq))
                    .json(PipelineConfigBody::Live(PipelineConfigResponse::from(
                        rendered,
                    ))));
            }
        }
    }
}

/// `?wait=S` or `?at=RFC3339` on the pipeline-config route.
#[derive(Debug, serde::Deserialize)]
struct WatchQuery {
    wait: Option<i64>,
    at: Option<String>,
}

/// Every `If-None-Match` header's value, joined (`None` without one).
fn if_none_match(req: &HttpRequest) -> Option<String> {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}
