//! The one error shape of every response (docs/api.md, "Conventions" and "Errors"), and its mapping from
//! [`AppError`]. Framework-made errors (unknown route, wrong method, payload
//! too large, unreadable path) are rewritten into the same shape by
//! [`rewrite_framework_errors`].

use std::fmt;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use integrations_app::{AppError, FieldProblem, NamedKind, error_chain as chain};
use integrations_domain::MAX_PROBLEMS;
use integrations_ports::AuthError;
use serde::Serialize;
use utoipa::ToSchema;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "2";

/// One entry of `error.details`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Detail {
    /// A JSON path into the request (`name`, `config.pixel_id`).
    pub field: String,
    /// A short machine-readable code.
    pub problem: String,
    /// What is wrong, for humans.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
    /// For `TEMPLATE_IN_USE`: the pipeline that pins the template; for
    /// `ROLLOUT_BLOCKED`: the pipeline the problem is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pipeline_id: Option<String>,
    /// For `TEMPLATE_IN_USE`: that pipeline's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pipeline_name: Option<String>,
    /// For `LIMIT_REACHED`: the limit that is reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub limit: Option<u32>,
    /// For `CURSOR_EXPIRED`: the lowest `seq` the feed still serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub oldest: Option<u64>,
    /// For the `truncated` entry that ends a list of 100 problems: how many
    /// more problems were found but are not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub more: Option<usize>,
}

impl Detail {
    fn new(field: impl Into<String>, problem: impl Into<String>, message: Option<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
            message,
            pipeline_id: None,
            pipeline_name: None,
            limit: None,
            oldest: None,
            more: None,
        }
    }
}

/// The details of a 422: the first [`MAX_PROBLEMS`] problems, then, when there
/// were more, one `truncated` entry saying how many. Every `VALIDATION_FAILED`
/// response goes through here, so none lists more than that; `truncated`
/// entries a use case added (for problems a check counted without listing)
/// are folded into the one at the end. Returns the details and the number of
/// problems found in all.
fn validation_details(problems: &[FieldProblem]) -> (Vec<Detail>, usize) {
    let mut details = Vec::new();
    let mut more = 0;
    // The field of the `truncated` entry: the top-level field all the
    // problems it stands for are under, or `body` when they differ.
    let mut truncated_field: Option<&str> = None;
    for problem in problems {
        let listed = !problem.is_truncated() && details.len() < MAX_PROBLEMS;
        if listed {
            details.push(Detail::new(
                &problem.field,
                problem.problem,
                Some(problem.message.clone()),
            ));
            continue;
        }
        more += if problem.is_truncated() {
            problem.more
        } else {
            1
        };
        let top = top_level(&problem.field);
        truncated_field = match truncated_field {
            None => Some(top),
            Some(field) if field == top => Some(field),
            Some(_) => Some("body"),
        };
    }
    let total = details.len() + more;
    if more > 0 {
        details.push(Detail {
            more: Some(more),
            ..Detail::new(
                truncated_field.unwrap_or("body"),
                FieldProblem::TRUNCATED,
                Some(format!(
                    "{more} more problem(s) not listed: fix these and retry to see them"
                )),
            )
        });
    }
    (details, total)
}

/// The details of `ROLLOUT_BLOCKED`: one per pipeline and problem, then a
/// `truncated` entry counting those not listed.
fn blocked_details(
    problems: &[(
        integrations_domain::PipelineId,
        integrations_ports::RolloutProblem,
    )],
    more: usize,
) -> Vec<Detail> {
    let mut details: Vec<Detail> = problems
        .iter()
        .map(|(pipeline, found)| Detail {
            pipeline_id: Some(pipeline.to_string()),
            ..Detail::new(&found.field, &found.problem, Some(found.message.clone()))
        })
        .collect();
    if more > 0 {
        details.push(Detail {
            more: Some(more),
            ..Detail::new(
                "pipelines",
                FieldProblem::TRUNCATED,
                Some(format!("{more} more problem(s) not listed")),
            )
        });
    }
    details
}

/// The top-level field of a path: `config` for `config.a[0]`.
fn top_level(field: &str) -> &str {
    field.find(['.', '[']).map_or(field, |end| &field[..end])
}

/// An error response: status, code, message, details.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<Detail>,
    /// `Retry-After` in seconds, for an error that says when to retry.
    retry_after: Option<u64>,
}

/// The body of every error response: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope<'a> {
    /// What went wrong.
    pub error: ErrorBody<'a>,
}

/// The `error` member of an error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable code (`NAME_TAKEN`, `VALIDATION_FAILED`…; see docs/api.md).
    #[schema(pattern = "^[A-Z][A-Z_]*$", examples("NAME_TAKEN"))]
    pub code: &'a str,
    /// A short explanation for humans; never holds a secret.
    #[schema(examples("an integration template named 'GA4' already exists"))]
    pub message: &'a str,
    /// One entry per problem (validation errors, the pipelines of `TEMPLATE_IN_USE`…);
    /// absent when there is nothing to list.
    #[serde(skip_serializing_if = "<[Detail]>::is_empty")]
    #[schema(min_items = 1)]
    pub details: &'a [Detail],
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds `Retry-After` (whole seconds).
    #[must_use]
    pub const fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds details.
    #[must_use]
    pub fn with_details(mut self, details: Vec<Detail>) -> Self {
        self.details = details;
        self
    }

    /// 400 `INVALID_REQUEST` about one field.
    pub fn invalid_request(field: Option<&str>, problem: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let details = field
            .map(|f| vec![Detail::new(f, problem, Some(message.clone()))])
            .unwrap_or_default();
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message).with_details(details)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such object in your organisation",
        )
    }

    /// 500 `INTERNAL`, logging the cause chain (the response says nothing more).
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %chain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )
    }

    /// The error code (`NAME_TAKEN`, `VALIDATION_FAILED`…).
    pub const fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub const fn status(&self) -> StatusCode {
        self.status
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    /// The error body as JSON text (what [`ResponseError::error_response`] sends).
    pub fn body_json(&self) -> String {
        serde_json::to_string(&ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        })
        .unwrap_or_default()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status);
        match self.code {
            "MISSING_TOKEN" => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            "INVALID_TOKEN" | "EXPIRED_TOKEN" => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            "UNAVAILABLE" => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        })
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self::from(&err)
    }
}

impl From<&AppError> for ApiError {
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per AppError variant: the one mapping to status and code"
    )]
    fn from(err: &AppError) -> Self {
        let status = |s: StatusCode, code: &'static str| Self::new(s, code, err.to_string());
        match err {
            AppError::Unauthenticated(auth) => {
                let code = match auth {
                    AuthError::Missing => "MISSING_TOKEN",
                    AuthError::Invalid(_) => "INVALID_TOKEN",
                    AuthError::Expired => "EXPIRED_TOKEN",
                };
                status(StatusCode::UNAUTHORIZED, code)
            }
            AppError::Forbidden(_) => status(StatusCode::FORBIDDEN, "FORBIDDEN"),
            AppError::NotFound => Self::not_found(),
            AppError::Invalid(problems) => {
                let (details, total) = validation_details(problems);
                let message = match problems.as_slice() {
                    [one] if !one.is_truncated() => one.message.clone(),
                    _ => format!("{total} invalid values: see details"),
                };
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    message,
                )
                .with_details(details)
            }
            AppError::NameTaken { kind, .. } => {
                let field = match kind {
                    NamedKind::Template | NamedKind::Pipeline | NamedKind::Object => "name",
                };
                status(StatusCode::CONFLICT, "NAME_TAKEN")
                    .with_details(vec![Detail::new(field, "taken", None)])
            }
            AppError::TemplateInUse { pipelines, more } => {
                let mut details: Vec<Detail> = pipelines
                    .iter()
                    .map(|p| Detail {
                        pipeline_id: Some(p.id.to_string()),
                        pipeline_name: Some(p.name.to_string()),
                        ..Detail::new("pipelines", "attached", None)
                    })
                    .collect();
                if *more > 0 {
                    details.push(Detail {
                        more: Some(*more),
                        ..Detail::new(
                            "pipelines",
                            FieldProblem::TRUNCATED,
                            Some(format!("{more} more pipeline(s) not listed")),
                        )
                    });
                }
                status(StatusCode::CONFLICT, "TEMPLATE_IN_USE").with_details(details)
            }
            AppError::AlreadyAttached => status(StatusCode::CONFLICT, "ALREADY_ATTACHED"),
            AppError::LimitReached { field, limit, .. } => {
                status(StatusCode::CONFLICT, "LIMIT_REACHED").with_details(vec![Detail {
                    limit: Some(*limit),
                    ..Detail::new(*field, "limit_reached", Some(err.to_string()))
                }])
            }
            AppError::CursorExpired { oldest, .. } => status(StatusCode::GONE, "CURSOR_EXPIRED")
                .with_details(vec![Detail {
                    oldest: Some(*oldest),
                    ..Detail::new("after", "expired", None)
                }]),
            AppError::RolloutBlocked { problems, more } => {
                status(StatusCode::UNPROCESSABLE_ENTITY, "ROLLOUT_BLOCKED")
                    .with_details(blocked_details(problems, *more))
            }
            AppError::HistoryExpired { .. } => status(StatusCode::GONE, "HISTORY_EXPIRED")
                .with_details(vec![Detail::new("at", "expired", Some(err.to_string()))]),
            AppError::StaleRevision { latest } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PRECONDITION_FAILED",
                format!("the latest revision is {latest}: re-read it and base your change on it"),
            ),
            AppError::PreconditionFailed => {
                status(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED")
            }
            AppError::Busy {
                retry_after_seconds,
                ..
            } => status(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
                .with_retry_after(*retry_after_seconds),
            AppError::Unavailable(cause) => {
                tracing::warn!(error = %chain(cause.as_ref()), "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the database is unavailable; retry shortly",
                )
            }
            AppError::Internal(cause) => Self::internal(cause.as_ref()),
            AppError::KeyUnavailable { .. } => {
                status(StatusCode::INTERNAL_SERVER_ERROR, "KEY_UNAVAILABLE")
            }
            AppError::IdempotencyInProgress => {
                status(StatusCode::CONFLICT, "IDEMPOTENCY_IN_PROGRESS")
            }
            AppError::IdempotencyKeyReused => {
                status(StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED")
            }
        }
    }
}

/// Rewrites an error response the framework made by itself (no route, wrong
/// method, payload too large, unreadable path or query) into the error shape.
///
/// # Errors
/// Never; the signature is the one `ErrorHandlers` wants.
#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature is the one ErrorHandlers wants"
)]
pub fn rewrite_framework_errors<B>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Our own errors (and replayed ones) are JSON already; the framework's are plain text.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "METHOD_NOT_ALLOWED",
            "this method is not allowed on this route",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("PAYLOAD_TOO_LARGE", "the request body is larger than 1 MiB")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UNSUPPORTED_MEDIA_TYPE",
            "the request body must be application/json",
        ),
        s if s.is_server_error() => ("INTERNAL", "internal error"),
        _ => ("INVALID_REQUEST", "the request could not be read"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let (request, _) = response.into_parts();
    let mut rewritten = ApiError::new(status, code, message).error_response();
    if let Some(allow) = allow {
        rewritten.headers_mut().insert(header::ALLOW, allow);
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is not read, so the connection cannot be reused: say so.
        rewritten
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, rewritten).map_into_right_body(),
    ))
}

/// The `Allow` header value for a 405.
pub(crate) fn allow(methods: &'static str) -> HeaderValue {
    HeaderValue::from_static(methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_problems(n: usize) -> Vec<FieldProblem> {
        (0..n)
            .map(|i| FieldProblem::new(format!("config.a[{i}]"), "malformed_placeholder", "bad"))
            .collect()
    }

    fn details_of(problems: Vec<FieldProblem>) -> (String, Vec<serde_json::Value>) {
        let err = ApiError::from(AppError::Invalid(problems));
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let details = err
            .details
            .iter()
            .map(|d| serde_json::to_value(d).unwrap_or_default())
            .collect();
        (err.message, details)
    }

    #[test]
    fn a_hundred_problems_are_listed_whole() {
        let (message, details) = details_of(config_problems(MAX_PROBLEMS));
        assert_eq!(details.len(), 100);
        assert_eq!(message, "100 invalid values: see details");
        assert!(details.iter().all(|d| d.get("more").is_none()));
    }

    #[test]
    fn past_a_hundred_the_rest_is_one_truncated_entry() {
        let (message, details) = details_of(config_problems(250));
        assert_eq!(details.len(), 101);
        assert_eq!(details[99]["field"], "config.a[99]");
        assert_eq!(details[100]["field"], "config");
        assert_eq!(details[100]["problem"], "truncated");
        assert_eq!(details[100]["more"], 150);
        assert_eq!(message, "250 invalid values: see details");
    }

    #[test]
    fn counted_problems_join_the_truncated_entry() {
        // A name problem, the 100 config problems a validation lists, and the
        // 5,000 it only counted.
        let mut problems = vec![FieldProblem::new("name", "empty", "name must not be empty")];
        problems.extend(config_problems(MAX_PROBLEMS));
        problems.push(FieldProblem::truncated("config", 5_000));
        let (message, details) = details_of(problems);
        assert_eq!(details.len(), 101);
        assert_eq!(details[0]["field"], "name");
        assert_eq!(details[100]["problem"], "truncated");
        assert_eq!(details[100]["field"], "config");
        assert_eq!(details[100]["more"], 5_001);
        assert_eq!(message, "5101 invalid values: see details");

        // Under the cap, a counted remainder still ends the list.
        let mut problems = config_problems(3);
        problems.push(FieldProblem::truncated("config", 7));
        let (_, details) = details_of(problems);
        assert_eq!(details.len(), 4);
        assert_eq!(details[3]["more"], 7);
    }

    #[test]
    fn a_truncated_entry_over_several_fields_names_the_body() {
        let mut problems = config_problems(MAX_PROBLEMS);
        problems.push(FieldProblem::new("config.x", "required", "x"));
        problems.push(FieldProblem::new("parameters.k", "too_long", "k"));
        let (_, details) = details_of(problems);
        assert_eq!(details[100]["field"], "body");
        assert_eq!(details[100]["more"], 2);
    }

    #[test]
    fn a_busy_process_answers_429_with_retry_after() {
        let err = ApiError::from(AppError::Busy {
            what: "rollout previews and applies",
            retry_after_seconds: 1,
        });
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.code(), "RATE_LIMITED");
        let response = err.error_response();
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
    }

    #[test]
    fn one_problem_keeps_its_own_message() {
        let (message, details) = details_of(vec![FieldProblem::new(
            "config",
            "too_large",
            "the rendered config would be 2000000 bytes",
        )]);
        assert_eq!(message, "the rendered config would be 2000000 bytes");
        assert_eq!(details.len(), 1);
    }
}
