//! The one error shape of every response (SPEC §2), and its mapping from
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
use integrations_app::{AppError, NamedKind};
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
    /// For `TEMPLATE_IN_USE`: the pipeline that pins the template.
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
        }
    }
}

/// An error response: status, code, message, details.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<Detail>,
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
    /// A stable, machine-readable code (`NAME_TAKEN`, `VALIDATION_FAILED`…; SPEC §2).
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
        }
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

/// "outer: inner: innermost", for logs.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
                let message = match problems.as_slice() {
                    [one] => one.message.clone(),
                    many => format!("{} invalid values: see details", many.len()),
                };
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    message,
                )
                .with_details(
                    problems
                        .iter()
                        .map(|p| Detail::new(&p.field, p.problem, Some(p.message.clone())))
                        .collect(),
                )
            }
            AppError::NameTaken { kind, .. } => {
                let field = match kind {
                    NamedKind::Template | NamedKind::Pipeline => "name",
                };
                status(StatusCode::CONFLICT, "NAME_TAKEN")
                    .with_details(vec![Detail::new(field, "taken", None)])
            }
            AppError::TemplateInUse(pipelines) => status(StatusCode::CONFLICT, "TEMPLATE_IN_USE")
                .with_details(
                    pipelines
                        .iter()
                        .map(|p| Detail {
                            pipeline_id: Some(p.id.to_string()),
                            pipeline_name: Some(p.name.to_string()),
                            ..Detail::new("pipelines", "attached", None)
                        })
                        .collect(),
                ),
            AppError::AlreadyAttached => status(StatusCode::CONFLICT, "ALREADY_ATTACHED"),
            AppError::LimitReached { field, limit, .. } => {
                status(StatusCode::CONFLICT, "LIMIT_REACHED").with_details(vec![Detail {
                    limit: Some(*limit),
                    ..Detail::new(*field, "limit_reached", Some(err.to_string()))
                }])
            }
            AppError::StaleRevision { latest } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PRECONDITION_FAILED",
                format!("the latest revision is {latest}: re-read it and base your change on it"),
            ),
            AppError::PreconditionFailed => {
                status(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED")
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(error = %chain(cause.as_ref()), "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the database is unavailable; retry shortly",
                )
            }
            AppError::Internal(cause) => Self::internal(cause.as_ref()),
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
