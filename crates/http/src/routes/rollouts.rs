//! `/v1/admin/integration-templates/{id}/rollouts` and `/v1/admin/rollouts`
//! (docs/api.md, "Rollouts").

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use integrations_app::{App, Outcome, StoredResponse};
use integrations_domain::RolloutId;
use integrations_ports::{Rollout, RolloutStatus};
use serde::Deserialize;

use super::method_not_allowed;
use crate::body::Body;
use crate::dto::Shown;
use crate::dto::rollouts::{RolloutListResponse, RolloutResponse, StartRolloutBody};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{JsonBody, Permitted, ToBrowse, ToEdit, blocking_api, if_match, parse_query};
use crate::idempotency::{IdempotencyKey, answer, created, fingerprint};
use crate::openapi::params::{
    IdempotencyHeader, PageParams, RolloutParams, RolloutPath, TemplatePath,
};
use crate::openapi::{AdminErrors, BadRequest, BodyErrors, NotFound};
use crate::paging::PageQuery;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/integration-templates/{id}/rollouts")
            .route(web::get().to(list_of_template))
            .route(web::post().to(start))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/integration-templates/{id}/rollouts/{ro}")
            .route(web::get().to(get))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/integration-templates/{id}/rollouts/{ro}/rollback")
            .route(web::post().to(rollback))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/rollouts")
            .route(web::get().to(list))
            .default_service(method_not_allowed("GET")),
    );
}

/// 201 with an applied rollout and its `Location`; 200 with a preview.
fn respond(rollout: &Rollout) -> StoredResponse {
    let location = format!(
        "/v1/admin/integration-templates/{}/rollouts/{}",
        rollout.template_id, rollout.id
    );
    created(location, &RolloutResponse::from(rollout.clone()))
}

fn answered(outcome: Outcome<Rollout>) -> HttpResponse {
    match outcome {
        Outcome::Done(rollout) if rollout.status == RolloutStatus::Preview => {
            HttpResponse::Ok().json(RolloutResponse::from(rollout))
        }
        outcome => answer(outcome, respond),
    }
}

#[utoipa::path(
    post,
    path = "/v1/admin/integration-templates/{id}/rollouts",
    tag = "rollouts",
    operation_id = "startRollout",
    summary = "Preview or apply a rollout",
    description = "Re-pins many pipelines of the template at `revision_id` in one step. Each \
        target's config is rendered with its own parameters at both revisions: \
        `missing_parameters`, `problems` (the **rendered** config checked against the vendor's \
        fields: a number field filled with `\"abc\"` is a problem) and a secret-safe \
        `config_diff`. Targets: `pipeline_ids` (any direction; each must pin the template), \
        or by default every pipeline pinning it at a lower revision. `dry_run: true` previews \
        (viewer or above; nothing is stored, 200). Otherwise the rollout is applied (editor or \
        above, 201): every target moves in one transaction, or none does — refused with \
        `ROLLOUT_BLOCKED` when any target is blocked. A pipeline re-pinned by someone else \
        meanwhile still moves, and the stored rollout records the revision it really had. \
        `config_diff` is `null` from the first row whose diff would take the rollout's diffs \
        past 8 MiB on. At most two previews and applies run at once per process: a third is \
        refused with 429 `RATE_LIMITED` and `Retry-After`.",
    params(
        TemplatePath,
        ("If-Match" = Option<String>, Header, nullable = false, description = "The latest \
            revision number the rollout is based on, quoted (`\"3\"`), or `*`: 412 when \
            another revision came first."),
        IdempotencyHeader,
    ),
    request_body(content = StartRolloutBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The preview (`dry_run`).", body = RolloutResponse),
        (status = 201, description = "The applied rollout.", body = RolloutResponse, headers(
            ("Location" = String, description = "The rollout's URL."),
        )),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 409, description = "`IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 412, description = "`PRECONDITION_FAILED`: `If-Match` is not the latest \
            revision number.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (a bad `revision_id`, a pipeline \
            that does not pin the template, no target, more than 500); `ROLLOUT_BLOCKED` (one \
            detail per blocking pipeline and problem: `pipeline_id`, `field`, `problem`); or \
            `IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn start(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    key: IdempotencyKey,
    id: web::Path<String>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = fingerprint(&req, &bytes);
    let if_match = if_match(&req);
    let body = JsonBody::new(&req, bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond);
        let input = || Ok(body.parse::<StartRolloutBody>()?.into());
        app.start_rollout(&caller, &id, if_match.as_deref(), input, request)
    })
    .await?;
    Ok(answered(outcome))
}

#[utoipa::path(
    post,
    path = "/v1/admin/integration-templates/{id}/rollouts/{ro}/rollback",
    tag = "rollouts",
    operation_id = "rollBackRollout",
    summary = "Roll a rollout back",
    description = "Re-pins each pipeline the rollout moved back to the revision it came from — \
        only where the pipeline is still at the revision the rollout left it at; the others are \
        left alone and reported as `skipped` with their `current_revision`. Never blocked by \
        problems (it returns to what ran before). Recorded as a rollout of its own, with \
        `rolled_back_from` and `to_revision: null`. No body. Editor or above.",
    params(RolloutPath, IdempotencyHeader),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The rollback.", body = RolloutResponse, headers(
            ("Location" = String, description = "The rollback's URL."),
        )),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, description = "`IDEMPOTENCY_IN_PROGRESS`.", body = ErrorEnvelope),
        (status = 422, description = "`IDEMPOTENCY_KEY_REUSED`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn rollback(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToEdit>,
    key: IdempotencyKey,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    Body(bytes): Body,
) -> Result<HttpResponse, ApiError> {
    let (id, ro) = path.into_inner();
    let fingerprint = fingerprint(&req, &bytes);
    let outcome = blocking_api(move || {
        let request = key.request(&fingerprint, &respond);
        app.roll_back(&caller, &id, &ro, request)
    })
    .await?;
    Ok(answered(outcome))
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}/rollouts/{ro}",
    tag = "rollouts",
    operation_id = "getRollout",
    summary = "Read a rollout",
    description = "An applied rollout (or rollback) as stored: each pipeline with the revision it \
        moved from and to. Viewer or above (not the `service` role).",
    params(RolloutPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rollout.", body = RolloutResponse),
        (status = 404, response = NotFound),
        AdminErrors,
    ),
)]
pub(crate) async fn get(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, ro) = path.into_inner();
    let rollout = blocking_api(move || Ok(app.rollout(&caller, &id, &ro)?)).await?;
    Ok(HttpResponse::Ok().json(RolloutResponse::from(rollout)))
}

#[derive(Debug, Deserialize)]
struct RolloutQuery {
    template_id: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    cursor: Option<String>,
}

impl RolloutQuery {
    fn window(self) -> Result<(integrations_app::Window, Option<String>), ApiError> {
        let window = PageQuery {
            limit: self.limit,
            offset: self.offset,
            cursor: self.cursor,
        }
        .window::<RolloutId>()?;
        Ok((window, self.template_id))
    }
}

/// The page of `template`'s rollouts (or the org's) the query asks for.
async fn page(
    app: web::Data<App>,
    caller: integrations_domain::Caller,
    template: Option<String>,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app.get_ref().clone();
    // Read once the template is found (404 before 400).
    let raw_query = req.query_string().to_owned();
    let (page, shown) = blocking_api(move || {
        let mut shown = None;
        let page = app.rollouts(&caller, template.as_deref(), || {
            let query = parse_query::<RolloutQuery>(&raw_query)?;
            if template.is_some() && query.template_id.is_some() {
                return Err(ApiError::invalid_request(
                    Some("template_id"),
                    "unexpected",
                    "the template is already in the path",
                ));
            }
            let (window, filter) = query.window()?;
            shown = Some(Shown::of(&window));
            Ok((window, filter))
        })?;
        Ok((page, shown))
    })
    .await?;
    let Some(shown) = shown else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "a page of rollouts without its window",
        ));
    };
    Ok(HttpResponse::Ok().json(RolloutListResponse::from(shown.page(page))))
}

#[utoipa::path(
    get,
    path = "/v1/admin/integration-templates/{id}/rollouts",
    tag = "rollouts",
    operation_id = "listTemplateRollouts",
    summary = "List a template's rollouts",
    description = "Applied rollouts and rollbacks of the template, newest first. Viewer or above \
        (not the `service` role).",
    params(TemplatePath, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of rollouts.", body = RolloutListResponse),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, or a bad `cursor`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list_of_template(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    page(app, caller, Some(id.into_inner()), &req).await
}

#[utoipa::path(
    get,
    path = "/v1/admin/rollouts",
    tag = "rollouts",
    operation_id = "listRollouts",
    summary = "List the organisation's rollouts",
    description = "Applied rollouts and rollbacks of every template (or of `template_id`), newest \
        first. Viewer or above (not the `service` role).",
    params(RolloutParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of rollouts.", body = RolloutListResponse),
        (status = 400, response = BadRequest),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` or `offset` out of range, or a bad `cursor`.", body = ErrorEnvelope),
        AdminErrors,
    ),
)]
pub(crate) async fn list(
    app: web::Data<App>,
    Permitted(caller, _): Permitted<ToBrowse>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    page(app, caller, None, &req).await
}
