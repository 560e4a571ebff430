//! Path, query and header parameters as the routes read them. The handlers
//! take raw strings (so that a malformed id is a 404, never a 400): these
//! types only describe what a well-formed request holds.

use utoipa::{IntoParams, ToSchema};

use super::schemas::CatalogCategory;

/// `{id}`: a template.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TemplatePath {
    /// The template id (`tmpl_` + ULID); any other id is 404.
    #[param(
        pattern = "^tmpl_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "tmpl_01JN3Z5K8V6W0XQ4R2T7YB9CDE"
    )]
    pub id: String,
}

/// `{id}/revisions/{rev}`: one revision of a template.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RevisionPath {
    /// The template id (`tmpl_` + ULID).
    #[param(
        pattern = "^tmpl_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "tmpl_01JN3Z5K8V6W0XQ4R2T7YB9CDE"
    )]
    pub id: String,
    /// The revision number (1, 2, 3…); a number the template does not have is 404.
    #[param(minimum = 1, maximum = 4_294_967_295_i64, example = 1)]
    pub rev: u32,
}

/// `{id}/rollouts/{ro}`: one rollout of a template.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RolloutPath {
    /// The template id (`tmpl_` + ULID).
    #[param(
        pattern = "^tmpl_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "tmpl_01JN3Z5K8V6W0XQ4R2T7YB9CDE"
    )]
    pub id: String,
    /// The rollout id (`ro_` + ULID); a rollout of another template is 404.
    #[param(
        pattern = "^ro_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "ro_01JN3ZA4B5C6D7E8F9G0H1J2K3"
    )]
    pub ro: String,
}

/// The filter of `GET /v1/admin/rollouts`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RolloutParams {
    /// Only the rollouts of this template (an unknown id matches none;
    /// over 128 characters or with control characters, 422).
    #[param(
        nullable = false,
        max_length = 128,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub template_id: Option<String>,
}

/// `?q&vendor` on the template list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateSearchParams {
    /// Only the templates whose name holds this text: a literal,
    /// case-insensitive substring (`%` and `_` are plain characters),
    /// compared in Unicode lower case as names are. Empty keeps every
    /// template; over 200 characters or with control characters, 422.
    #[param(
        nullable = false,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub q: Option<String>,
    /// Only the templates of this catalog vendor; a key that is not in the
    /// catalog is 422 (`unknown_vendor`).
    #[param(nullable = false, schema_with = super::schemas::vendor_key)]
    pub vendor: Option<String>,
}

/// `?q` on the pipeline list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PipelineSearchParams {
    /// Only the pipelines whose name holds this text: a literal,
    /// case-insensitive substring (`%` and `_` are plain characters),
    /// compared in Unicode lower case as names are. Empty keeps every
    /// pipeline; over 200 characters or with control characters, 422.
    #[param(
        nullable = false,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub q: Option<String>,
}

/// `{id}/revisions/{from}/diff/{to}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DiffPath {
    /// The template id (`tmpl_` + ULID).
    #[param(
        pattern = "^tmpl_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "tmpl_01JN3Z5K8V6W0XQ4R2T7YB9CDE"
    )]
    pub id: String,
    /// The revision number to diff from.
    #[param(minimum = 1, maximum = 4_294_967_295_i64, example = 1)]
    pub from: u32,
    /// The revision number to diff to.
    #[param(minimum = 1, maximum = 4_294_967_295_i64, example = 2)]
    pub to: u32,
}

/// `{pid}`: a pipeline.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PipelinePath {
    /// The pipeline id (`pip_` + ULID); any other id is 404.
    #[param(
        pattern = "^pip_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "pip_01JN3Z7M4N5P6Q7R8S9T0V1W2X"
    )]
    pub pid: String,
}

/// `{pid}/integrations/{pi}`: one pipeline integration.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AttachmentPath {
    /// The pipeline id (`pip_` + ULID).
    #[param(
        pattern = "^pip_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "pip_01JN3Z7M4N5P6Q7R8S9T0V1W2X"
    )]
    pub pid: String,
    /// The pipeline-integration id (`pi_` + ULID); any other id is 404.
    #[param(
        pattern = "^pi_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
        example = "pi_01JN3Z8Y3Z4A5B6C7D8E9F0G1H"
    )]
    pub pi: String,
}

/// `{vendor_key}`: a catalog vendor.
///
/// Written by hand: the derive drops `required` (and the description) from a
/// parameter whose schema comes from `schema_with`, and a path parameter that
/// is not required makes the document invalid.
#[derive(Debug)]
pub struct VendorPath;

impl IntoParams for VendorPath {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            utoipa::openapi::path::ParameterBuilder::new()
                .name("vendor_key")
                .parameter_in(utoipa::openapi::path::ParameterIn::Path)
                .required(utoipa::openapi::Required::True)
                .description(Some("A vendor key of the catalog; any other key is 404."))
                .schema(Some(super::schemas::vendor_key()))
                .build(),
        ]
    }
}

/// `?limit&offset&cursor` on the template, pipeline, pin, rollout and audit lists.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 50); outside that range 422.
    #[param(minimum = 1, maximum = 100, default = 50, nullable = false)]
    pub limit: Option<i64>,
    /// Items to skip (default 0); negative 422. A deep offset costs as much as the items it skips.
    #[param(
        minimum = 0,
        maximum = 9_223_372_036_854_775_807_i64,
        default = 0,
        nullable = false
    )]
    pub offset: Option<i64>,
    /// Start right after the item a previous page's `next_cursor` names
    /// (keyset pagination: a page costs the same however deep it is).
    /// Opaque; a malformed cursor, one of another list, or one given with
    /// `offset` is 422 naming `cursor`.
    #[param(nullable = false, max_length = 256, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// `?limit&offset&cursor` on the revisions of a template: without any of them, every revision.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionPageParams {
    /// Items per page, 1 to 100 (default 50 when `offset` or `cursor` is given); outside that range 422.
    #[param(minimum = 1, maximum = 100, nullable = false)]
    pub limit: Option<i64>,
    /// Items to skip (default 0); negative 422. A deep offset costs as much as the items it skips.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64, nullable = false)]
    pub offset: Option<i64>,
    /// Start right after the item a previous page's `next_cursor` names
    /// (keyset pagination: a page costs the same however deep it is).
    /// Opaque; a malformed cursor, one of another list, or one given with
    /// `offset` is 422 naming `cursor`.
    #[param(nullable = false, max_length = 256, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// `?category` on the catalog.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogParams {
    /// Only the vendors of this category (another value is 422).
    #[param(inline, nullable = false)]
    pub category: Option<CatalogCategory>,
}

/// `?resource_id` on the audit log.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only the entries about this object (any id: template, pipeline, pipeline integration).
    #[param(
        nullable = false,
        max_length = 128,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub resource_id: Option<String>,
}

/// `Idempotency-Key` on every `POST` (docs/api.md, "Idempotency").
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    /// 1 to 255 visible ASCII characters. A retry with the same key and body
    /// replays the first response (with `Idempotent-Replayed: true`) and
    /// creates nothing; the same key with another body is 422
    /// `IDEMPOTENCY_KEY_REUSED`; while the first is in flight, 409
    /// `IDEMPOTENCY_IN_PROGRESS`. Keys are kept at least 24 hours, per user.
    #[param(
        rename = "Idempotency-Key",
        pattern = "^[!-~]{1,255}$",
        nullable = false
    )]
    pub idempotency_key: Option<String>,
}

/// The change feed's query (`GET /v1/admin/events`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Events with a `seq` above this (a previous answer's `next`, or a
    /// snapshot's `Event-Seq`). Absent: from the oldest kept.
    #[param(nullable = false, minimum = 0)]
    pub after: Option<i64>,
    /// At most this many events (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only these types, comma-separated (`revision.created,pipeline.updated`).
    #[param(nullable = false, style = Form, explode = false, inline)]
    pub types: Option<Vec<EventTypeName>>,
    /// Only the events listing this pipeline in `pipeline_ids` (a deleted
    /// pipeline's events included: never 404).
    #[param(
        nullable = false,
        pattern = "^pip_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"
    )]
    pub pipeline_id: Option<String>,
    /// Seconds to hold an empty answer until a matching event commits (default 0).
    #[param(nullable = false, minimum = 0, maximum = 60)]
    pub wait: Option<i64>,
}

/// The type of an event (the same list as `integrations_ports::EventType`;
/// a test keeps the two equal).
#[derive(Debug, ToSchema)]
pub enum EventTypeName {
    #[schema(rename = "template.created")]
    TemplateCreated,
    #[schema(rename = "template.updated")]
    TemplateUpdated,
    #[schema(rename = "template.deleted")]
    TemplateDeleted,
    #[schema(rename = "revision.created")]
    RevisionCreated,
    #[schema(rename = "pipeline.created")]
    PipelineCreated,
    #[schema(rename = "pipeline.updated")]
    PipelineUpdated,
    #[schema(rename = "pipeline.deleted")]
    PipelineDeleted,
    #[schema(rename = "pipeline_integration.attached")]
    IntegrationAttached,
    #[schema(rename = "pipeline_integration.updated")]
    IntegrationUpdated,
    #[schema(rename = "pipeline_integration.detached")]
    IntegrationDetached,
    #[schema(rename = "rollout.applied")]
    RolloutApplied,
    #[schema(rename = "rollout.rolled_back")]
    RolloutRolledBack,
}

/// `Last-Event-ID` on the change feed's stream.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct LastEventIdHeader {
    /// With `Accept: text/event-stream`: resume the stream after this `seq`
    /// (wins over `after`).
    #[param(rename = "Last-Event-ID", nullable = false, pattern = "^[0-9]{1,19}$")]
    pub last_event_id: Option<String>,
}

/// `?wait` on a pipeline's rendered configs.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WatchParams {
    /// With `If-None-Match` naming the current ETag: hold the request until
    /// the rendered configs change (then 200) or this many seconds pass
    /// (then 304). Ignored without `If-None-Match`.
    #[param(nullable = false, minimum = 0, maximum = 60)]
    pub wait: Option<i64>,
}

/// `?at=` on the pipeline-config route.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtParams {
    /// An RFC 3339 instant (`2026-12-01T10:00:00Z`; a `+` of an offset may be
    /// sent as `%2B`, or as `+`, which decodes to a space and is read back as
    /// `+`): answer with the configs as they were then, resolved to the last
    /// change committed by then. Not with `wait`.
    #[param(nullable = false, format = DateTime)]
    pub at: Option<String>,
}
