//! `/v1/admin/integration-templates/{id}/revisions` (docs/api.md, "Revisions").

use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, RevisionList, StoredResponse};
use integrations_domain::{AttachmentId, Revision};

use super::method_not_allowed;
use super::revision_stream::streamed_list;
use crate::body::Body;
use crate::dto::Shown;
use crate::dto::revisions::{
    CreateRevisionBody, DiffResponse, PinsResponse, RestoreBody, RevisionListResponse,
    RevisionResponse,
};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{
    JsonBody, Permitted, ToBrowse, ToEdit, ToRead, blocking, blocking_api, if_match, parse_query,
};
use crate::idempotency::{IdempotencyKey, answer, created, fingerprint};
use crate::openapi::params::{
    DiffPath, IdempotencyHeader, PageParams, RevisionPageParams, RevisionPath, TemplatePath,
};
use crate::openapi::{AdminErrors, BadRequest, BodyErrors, NotFound};
use crate::paging::PageQuery;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/integration-templates/{id}/revisions")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/integration-templates/{id}/revisions/{rev}/restore")
            .route(web::post().to(restore))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/integration-templates/{id}/revisions/{from}/diff/{to}")
            .route(web::get().to(diff))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/integration-templates/{id}/pipelines")
            .route(web::get().to(pins))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/integration-templates/{id}/revisions/{rev}")
            .route(web::get().to(get))
            // Revisions are immutable: no PUT, PATCH or DELETE.
            .default_service(method_not_allowed("GET")),
    );
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}/revisions",
    tag = "revisions",
    operation_id = "listRevisions",
    summary = "List a template's revisions",
    description = "Newest first; every revision unless `limit`, `offset` or `cursor` is given. \
        Without them the answer is streamed a few revisions at a time (chunked), so a long history \
        never sits in the server's memory; it lists the revisions up to the latest one when \
        the request arrived. Secret fields read `\"***\"`. Viewer or above.",
    params(TemplatePath, RevisionPageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The revisions. Should the database fail after the \
            first bytes of a streamed answer, the connection is closed before the JSON is \
            complete (never a shorter list that looks whole).", body = RevisionListResponse),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, or a bad `cursor`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    // The query string is read once the template is found (404 before 400).
    let raw_query = req.query_string().to_owned();
    let (list, shown) = blocking_api(move || {
        let mut shown = None;
        let list = app.list_revisions(&caller, &id, || -> Result<_, ApiError> {
            let page_query = parse_query::<PageQuery>(&raw_query)?;
            if page_query.is_empty() {
                return Ok(None);
            }
            let window = page_query.revision_window()?;
            shown = Some(Shown::of(&window));
            Ok(Some(window))
        })?;
        Ok((list, shown))
    })
    .await?;
    let page = match list {
        RevisionList::All(batches) => {
            return Ok(HttpResponse::Ok()
                .content_type("application/json")
                .streaming(streamed_list(batches)));
        }
        RevisionList::Page(page) => page,
    };
    let shown = shown.unwrap_or_default();
    Ok(HttpResponse::Ok().json(RevisionListResponse::from(shown.page(page))))
}

#[utoipa::path(
    post,
    path = "/v1/admin/integration-templates/{id}/revisions",
    tag = "revisions",
    operation_id = "createRevision",
    summary = "Add a revision",
    description = "The next number, without gaps under any concurrency. The config is checked \
        against the vendor's `config_fields`; a secret field sent as `\"***\"` keeps the latest \
        revision's value. No pipeline changes what it uses. Editor or above.",
    params(
        TemplatePath,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The latest revision number the \
            change is based on, quoted (`\"3\"`), or `*`: 412 naming the current latest when \
            another revision came first."),
        IdempotencyHeader,
    ),
    request_body(content = CreateRevisionBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new revision.", body = RevisionResponse, headers(
            ("Location" = String, description = "The revision's URL."),
        )),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 412, description = "`PRECONDITION_FAILED`: `If-Match` is not the latest \
            revision number.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (the config fails the vendor's \
            fields or is nested too deep, a bad `delivery_mode`, `\"***\"` with no earlier \
            value…), or `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn create(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    key: IdempotencyKey,
    id: web::Path<String>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = fingerprint(&req, &bytes);
    let if_match = if_match(&req);
    let body = JsonBody::new(&req, bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond_created);
        let input = || Ok(body.parse::<CreateRevisionBody>()?.into());
        app.create_revision(&caller, &id, if_match.as_deref(), input, request)
    })
    .await?;
    Ok(answer(outcome, respond_created))
}

/// 201 with the revision and its `Location`.
fn respond_created(revision: &Revision) -> StoredResponse {
    created(
        format!(
            "/v1/admin/integration-templates/{}/revisions/{}",
            revision.template_id, revision.number
        ),
        &RevisionResponse::from(revision.clone()),
    )
}

#[utoipa::path(
    post,
    path = "/v1/admin/integration-templates/{id}/revisions/{rev}/restore",
    tag = "revisions",
    operation_id = "restoreRevision",
    summary = "Restore a revision",
    description = "A new revision copying revision `rev`'s config and delivery mode, with \
        `restored_from`; history only grows. The body is optional. Editor or above.",
    params(
        RevisionPath,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The latest revision number, \
            quoted (`\"3\"`), or `*`."),
        IdempotencyHeader,
    ),
    request_body(
        content = RestoreBody,
        content_type = "application/json",
        description = "Optional: an empty body restores with the default summary.",
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new revision.", body = RevisionResponse, headers(
            ("Location" = String, description = "The revision's URL."),
        )),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 412, description = "`PRECONDITION_FAILED`: `If-Match` is not the latest \
            revision number.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (a bad `change_summary`), or \
            `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn restore(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    key: IdempotencyKey,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    let fingerprint = fingerprint(&req, &bytes);
    let if_match = if_match(&req);
    let body = JsonBody::new(&req, bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond_created);
        // Read once revision n is found (find, then validate).
        let input = || {
            let body: RestoreBody = if body.is_empty() {
                RestoreBody::default()
            } else {
                body.parse()?
            };
            Ok(body.into())
        };
        app.restore(&caller, &id, &number, if_match.as_deref(), input, request)
    })
    .await?;
    Ok(answer(outcome, respond_created))
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}/revisions/{from}/diff/{to}",
    tag = "revisions",
    operation_id = "diffRevisions",
    summary = "Diff two revisions",
    description = "An RFC 6902 JSON Patch from `from`'s config to `to`'s, plus the delivery-mode \
        change; a changed secret shows as a `replace` with `\"***\"`. Secrets are compared by \
        version, never by value: a secret entered again (even with the same text) is changed, one \
        kept by an echoed `\"***\"` or a restore is not. Viewer or above (not the `service` role).",
    params(DiffPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The difference.", body = DiffResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn diff(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, from, to) = path.into_inner();
    let app = app.get_ref().clone();
    let diff = blocking(move || app.diff(&caller, &id, &from, &to)).await?;
    Ok(HttpResponse::Ok().json(DiffResponse::from(diff)))
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}/pipelines",
    tag = "revisions",
    operation_id = "listTemplatePins",
    summary = "Which pipelines pin a template",
    description = "One page of the template's pipeline integrations, newest first, with the \
        pinned and the latest revision. Viewer or above (not the `service` role).",
    params(TemplatePath, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of pins.", body = PinsResponse),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, or a bad `cursor`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn pins(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    // The query string is read once the template is found (404 before 400).
    let raw_query = req.query_string().to_owned();
    let (pins, shown) = blocking_api(move || {
        let mut shown = None;
        let pins = app.pins(&caller, &id, || -> Result<_, ApiError> {
            let window = parse_query::<PageQuery>(&raw_query)?.window::<AttachmentId>()?;
            shown = Some(Shown::of(&window));
            Ok(window)
        })?;
        Ok((pins, shown))
    })
    .await?;
    let Some(shown) = shown else {
        return Err(ApiError::internal(&integrations_app::AppError::Internal(
            "a page of pins without its window".into(),
        )));
    };
    Ok(HttpResponse::Ok().json(PinsResponse::from(shown.page(pins))))
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}/revisions/{rev}",
    tag = "revisions",
    operation_id = "getRevision",
    summary = "Read a revision",
    description = "Secret fields read `\"***\"`. Revisions are immutable: `PUT`, `PATCH` and \
        `DELETE` answer 405. Viewer or above.",
    params(RevisionPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The revision.", body = RevisionResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn get(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToRead>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    let app = app.get_ref().clone();
    let revision = blocking(move || app.revision(&caller, &id, &number)).await?;
    Ok(HttpResponse::Ok().json(RevisionResponse::from(revision)))
}
