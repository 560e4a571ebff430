//! The OpenAPI 3.1 document of the API, generated from the code: the wire
//! types derive their schemas (`dto`, `error`), every handler carries a
//! `#[utoipa::path]` with its parameters and every status it can answer, and
//! [`document`] puts them together. It is served at `/openapi.json`, printed
//! by `integrations openapi` and rendered at `/docs`.

pub mod params;
pub mod schemas;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};
use utoipa::{IntoResponses, Modify, OpenApi, ToResponse};

use crate::{error, routes};

/// The name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";

const DESCRIPTION: &str = "\
Org-level integration templates with immutable, numbered revisions; pipelines \
that pin a template at one revision; the rendered configs the event processor \
loads.

**Authentication.** Every `/v1/admin` route wants `Authorization: Bearer <JWT>` \
(HS256; claims `sub`, `org_id`, `role`, `exp`, `iat`; `exp - iat` at most \
`MAX_TOKEN_TTL`, one day by default). Roles, most to least privileged: `owner` > \
`admin` > `editor` > `viewer`, plus `service` (the event processor: reads templates, \
revisions, pipelines, attachments and rendered configs, where it alone sees secrets; \
not the catalog, diffs, pins or the audit log). Every query is scoped to the token's org.

**Errors.** Every error has one shape, the `ErrorEnvelope` schema: \
`{\"error\": {\"code\": \"NAME_TAKEN\", \"message\": \"…\", \"details\": [{\"field\": \"name\", \
\"problem\": \"taken\"}]}}`. `code` is stable and machine-readable; `details` \
(one entry per problem, `field` a JSON path such as `config.pixel_id`) is present \
when there is something to list. Ids of another org, deleted objects and malformed \
ids all answer 404. An unknown JSON field in a body is 400 naming it; a body over \
1 MiB is 413; a body that is not `application/json` is 415; a method a route does \
not have is 405 `METHOD_NOT_ALLOWED` with `Allow`.

**Lists** take `limit` (1–100, default 50) and `offset` (≥ 0) and answer \
`total`, `limit`, `offset`, newest first. **Concurrency**: templates carry an \
`ETag` that `PUT` and `DELETE` check against `If-Match`; `POST …/revisions` \
checks `If-Match: \"<latest revision number>\"`. **Idempotency**: every `POST` \
accepts `Idempotency-Key`.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Integrations Management API",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::docs::openapi_json,
        routes::docs::docs_page,
        routes::docs::docs_script,
        routes::catalog::list,
        routes::catalog::get,
        routes::catalog::install,
        routes::templates::list,
        routes::templates::create,
        routes::templates::get,
        routes::templates::update,
        routes::templates::delete,
        routes::revisions::list,
        routes::revisions::create,
        routes::revisions::get,
        routes::revisions::restore,
        routes::revisions::diff,
        routes::revisions::pins,
        routes::rollouts::start,
        routes::rollouts::list_of_template,
        routes::rollouts::get,
        routes::rollouts::rollback,
        routes::rollouts::list,
        routes::pipelines::list,
        routes::pipelines::create,
        routes::pipelines::get,
        routes::pipelines::update,
        routes::pipelines::delete,
        routes::attachments::list,
        routes::attachments::attach,
        routes::attachments::get,
        routes::attachments::update,
        routes::attachments::detach,
        routes::attachments::attachment_config,
        routes::attachments::pipeline_config,
        routes::events::list,
        routes::audit::list,
        routes::keys::list,
        routes::me::me,
    ),
    components(
        schemas(error::ErrorEnvelope, error::ErrorBody, error::Detail),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            PayloadTooLarge,
            RequestTimeout,
            UnsupportedMediaType,
            RateLimited,
            Internal,
            Unavailable,
        ),
    ),
    modifiers(&SecurityAndExtras, &Refinements),
    tags(
        (name = "catalog", description = "The integration catalog: vendors, their config fields and variants; install a template from one."),
        (name = "templates", description = "Integration templates: org-level, reusable destination definitions."),
        (name = "revisions", description = "Immutable, numbered revisions of a template's config; diffs, restores, and which pipelines pin a template."),
        (name = "rollouts", description = "Re-pin many pipelines of a template in one step: previewed with each rendered config checked and diffed, applied all or nothing, rolled back."),
        (name = "pipelines", description = "Pipelines and their parameters."),
        (name = "attachments", description = "Pipeline integrations: a template pinned at one revision in a pipeline, and the rendered configs."),
        (name = "events", description = "The change feed: every committed change, in commit order; long polls and Server-Sent Events."),
        (name = "audit", description = "The audit log (admin or above)."),
        (name = "keys", description = "The encryption keys that seal stored secrets, and what each seals (admin or above)."),
        (name = "session", description = "Whom the bearer token speaks for (every role)."),
        (name = "operations", description = "Probes, metrics and this reference; no authentication."),
    ),
)]
struct ApiDoc;

/// The OpenAPI document (version 3.1) of every route.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    env!("CARGO_PKG_VERSION").clone_into(&mut doc.info.version);
    doc
}

/// Adds the bearer scheme, and the `/metrics` route (its handler lives with
/// the metrics).
struct SecurityAndExtras;

impl Modify for SecurityAndExtras {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An HS256 JWT signed with the service's `JWT_SECRET` (mint one with \
                         `integrations token --org ORG --sub USER --role ROLE`).",
                    ))
                    .build(),
            ),
        );
        let metrics = OperationBuilder::new()
            .tag("operations")
            .operation_id(Some("metrics"))
            .summary(Some("Prometheus metrics"))
            .description(Some(
                "Request counts and latencies per route and status, and the database pool, \
                 in the Prometheus text format.",
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The metrics.")
                    .content("text/plain", ContentBuilder::new().build()),
            );
        openapi
            .paths
            .add_path_operation("/metrics", vec![HttpMethod::Get], metrics);
    }
}

/// What the derives cannot say: an update body must change something (and
/// `#[schema(min_properties = 1)]` cannot say it: utoipa-gen 5.5 writes it as
/// `maxProperties`); a restore's body is optional.
struct Refinements;

impl Modify for Refinements {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let restore = openapi
            .paths
            .paths
            .get_mut("/v1/admin/integration-templates/{id}/revisions/{rev}/restore")
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.request_body.as_mut());
        if let Some(body) = restore {
            body.required = Some(Required::False);
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        // `null` clears a description, so any one field is a change.
        for name in ["UpdateTemplateBody", "UpdatePipelineBody"] {
            if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(name) {
                body.min_properties = Some(1);
            }
        }
        // `null` leaves a pin or a flag as it is: one of them must have a value.
        if let Some(body) = components.schemas.get_mut("UpdateAttachmentBody") {
            let given = |field: &str, kind: Type| {
                ObjectBuilder::new()
                    .property(field, ObjectBuilder::new().schema_type(kind))
                    .required(field)
            };
            let fields = std::mem::replace(body, RefOr::T(Schema::default()));
            *body = RefOr::T(Schema::AllOf(
                AllOfBuilder::new()
                    .item(fields)
                    .item(
                        AnyOfBuilder::new()
                            .item(given("revision_id", Type::String))
                            .item(given("enabled", Type::Boolean)),
                    )
                    .build(),
            ));
        }
    }
}

/// An error response whose body is the [`error::ErrorEnvelope`].
fn error_response(description: &str, headers: &[(&str, &str)]) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
            .build(),
    );
    for (name, about) in headers {
        response = response.header(
            *name,
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(*about))
                .build(),
        );
    }
    response.build()
}

/// Declares the reusable error responses (`#/components/responses/…`).
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $description:literal $(, $header:literal : $about:literal)*;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (
                        stringify!($name),
                        error_response($description, &[$(($header, $about)),*]).into(),
                    )
                }
            }
        )*
    };
}

error_responses! {
    /// 400.
    BadRequest => "`INVALID_REQUEST`: malformed JSON, a wrong JSON type, a missing or unknown \
        field (named in `details`), an unreadable query string, or an invalid `Idempotency-Key`.";
    /// 401.
    Unauthorized => "`MISSING_TOKEN`, `INVALID_TOKEN` or `EXPIRED_TOKEN`: no bearer token, or \
        one that is garbled, badly signed, expired or over 8 KiB.",
        "WWW-Authenticate": "`Bearer`, or `Bearer error=\"invalid_token\"`";
    /// 403.
    Forbidden => "`FORBIDDEN`: the token's role is below what the route needs \
        (reads: viewer; changes: editor; deletes, detaching and the audit log: admin).";
    /// 404.
    NotFound => "`NOT_FOUND`: no such object in the caller's organisation (or deleted, or a \
        malformed id).";
    /// 413.
    PayloadTooLarge => "`PAYLOAD_TOO_LARGE`: the body is over 1 MiB (a declared \
        `Content-Length` over 1 MiB is refused before the body is read).";
    /// 408.
    RequestTimeout => "`REQUEST_TIMEOUT`: the body did not arrive within 10 s of the request \
        head. The connection is closed (`Connection: close`).";
    /// 415.
    UnsupportedMediaType => "`UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.";
    /// 429.
    RateLimited => "`RATE_LIMITED`: over the rate limit of the user (`service` users have their own), \
        or too many failed authentications from this address, or (long polls, config watches, \
        streams) the user holds as many requests open as allowed, or (rollout previews and \
        applies) the process runs as many of them at once as it allows.",
        "Retry-After": "Seconds to wait before retrying.";
    /// 500.
    Internal => "`INTERNAL`: a bug; the body says nothing more, the server log has the cause. \
        Or `KEY_UNAVAILABLE` where a stored secret must be opened: it was sealed under a key this \
        server does not have (the message names the key id only).";
    /// 503.
    Unavailable => "`UNAVAILABLE`: the database cannot be reached now; never a hang.",
        "Retry-After": "Seconds to wait before retrying.";
}

/// Builds a responses map of references to `#/components/responses/…`.
fn references(entries: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    entries
        .iter()
        .map(|(status, name)| {
            (
                (*status).to_owned(),
                RefOr::Ref(Ref::from_response_name(*name)),
            )
        })
        .collect()
}

/// What every `/v1/admin` route that reads the database can answer besides
/// its own statuses: 401, 403, 429, 500, 503.
#[derive(Debug)]
pub struct AdminErrors;

impl IntoResponses for AdminErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        references(&[
            ("401", "Unauthorized"),
            ("403", "Forbidden"),
            ("429", "RateLimited"),
            ("500", "Internal"),
            ("503", "Unavailable"),
        ])
    }
}

/// What a request body can fail with: 400, 413, 415.
#[derive(Debug)]
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        references(&[
            ("400", "BadRequest"),
            ("408", "RequestTimeout"),
            ("413", "PayloadTooLarge"),
            ("415", "UnsupportedMediaType"),
        ])
    }
}
