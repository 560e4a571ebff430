//! Reading requests: the caller, JSON bodies, query strings; and running use
//! cases off the async executor.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use integrations_app::{App, AppError};
use integrations_domain::{Action, Caller};
use integrations_ports::{AuthError, VerifiedToken};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The verified token of a request: its caller and when it expires (401
/// otherwise). Verified once per request: the rate-limit middleware keeps it
/// in the request's extensions for the extractors.
#[derive(Debug, Clone)]
pub struct Authenticated(pub VerifiedToken);

/// The bearer token of a request.
///
/// # Errors
/// `Missing` without an `Authorization` header; `Invalid` for another scheme.
pub fn bearer_token(req: &HttpRequest) -> Result<&str, AuthError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Invalid("the Authorization header is not text".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| AuthError::Invalid("expected 'Authorization: Bearer <token>'".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid(
            "expected 'Authorization: Bearer <token>'".into(),
        ));
    }
    Ok(token.trim())
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The rate-limit middleware may have authenticated the request already.
        if let Some(found) = req.extensions().get::<Self>() {
            return ready(Ok(found.clone()));
        }
        let Some(app) = req.app_data::<web::Data<App>>() else {
            return ready(Err(ApiError::internal(&AppError::Internal(
                "the application state is not registered".into(),
            ))));
        };
        // HMAC verification takes microseconds: no need to leave the executor.
        let caller = bearer_token(req)
            .map_err(AppError::from)
            .and_then(|token| app.authenticate(token))
            .map(Authenticated)
            .map_err(ApiError::from);
        ready(caller)
    }
}

/// What a route needs of its caller's role, checked from the verified token
/// before the request body is read. The use case still enforces the whole
/// rule; this only keeps a caller without the role from making the server
/// read, buffer or parse its body.
pub trait Requirement {
    /// The action the route performs.
    const ACTION: Action;
}

/// Routes that read.
#[derive(Debug)]
pub struct ToRead;
/// Routes that show the views meant for people (the catalog, diffs, pins).
#[derive(Debug)]
pub struct ToBrowse;
/// Routes that create or change templates, revisions, pipelines and attachments.
#[derive(Debug)]
pub struct ToEdit;
/// Routes that delete, detach, or read the audit log.
#[derive(Debug)]
pub struct ToAdminister;

impl Requirement for ToRead {
    const ACTION: Action = Action::Read;
}
impl Requirement for ToBrowse {
    const ACTION: Action = Action::Browse;
}
impl Requirement for ToEdit {
    const ACTION: Action = Action::Edit;
}
impl Requirement for ToAdminister {
    const ACTION: Action = Action::Administer;
}

/// The authenticated caller of a request whose role permits `R`'s action
/// (401, then 403 otherwise). Put it before the body in a handler's
/// arguments: extractors run in order, and the first failure answers.
#[derive(Debug, Clone)]
pub struct Permitted<R>(pub Caller, pub PhantomData<R>);

impl<R: Requirement> FromRequest for Permitted<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = match Authenticated::from_request(req, payload).into_inner() {
            Ok(Authenticated(verified)) => verified.caller,
            Err(err) => return ready(Err(err)),
        };
        ready(if caller.can(R::ACTION) {
            Ok(Self(caller, PhantomData))
        } else {
            Err(ApiError::from(AppError::Forbidden(R::ACTION)))
        })
    }
}

/// Runs a use case on the blocking thread pool: the one place where blocking
/// database work leaves the async executor.
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    blocking_api(move || work().map_err(ApiError::from)).await
}

/// [`blocking`] for work that may also fail with an error of the HTTP
/// adapter's own, such as a body that does not parse.
pub async fn blocking_api<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    match web::block(work).await {
        Ok(result) => result,
        Err(err) => Err(ApiError::internal(&err)),
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The name between the first pair of backticks of a serde message.
fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

/// A request body with what is known of its content type: it can be sent to
/// the blocking pool and parsed there, after the objects the route addresses
/// are found (404 before 400).
#[derive(Debug, Clone)]
pub struct JsonBody {
    is_json: bool,
    bytes: web::Bytes,
}

impl JsonBody {
    /// The body of `req`.
    pub fn new(req: &HttpRequest, bytes: web::Bytes) -> Self {
        Self {
            is_json: is_json(req),
            bytes,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Parses the body as `T`.
    ///
    /// # Errors
    /// 415 when it is not JSON; 400 naming the field for malformed JSON,
    /// wrong types, missing or unknown fields.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(self.is_json, &self.bytes)
    }
}

fn parse_json<T: DeserializeOwned>(is_json: bool, body: &[u8]) -> Result<T, ApiError> {
    if !is_json {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    // Serde would also read a JSON array into a struct, by position: only objects are bodies.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid_request(
            None,
            "not_an_object",
            "the request body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        body_error(&path, err.inner())
    })?;
    deserializer.end().map_err(|err| body_error(".", &err))?;
    Ok(value)
}

fn body_error(path: &str, err: &serde_json::Error) -> ApiError {
    let message = err.to_string();
    if message.starts_with("recursion limit exceeded") {
        return ApiError::from(AppError::invalid(
            "config",
            "too_deep",
            "config must not nest deeper than 64 levels",
        ));
    }
    if !err.is_data() {
        return ApiError::invalid_request(
            None,
            "malformed_json",
            format!("the body is not valid JSON: {message}"),
        );
    }
    let prefix = if path == "." {
        String::new()
    } else {
        format!("{path}.")
    };
    let (field, problem) = if message.starts_with("unknown field") {
        // The path already ends at the unknown field.
        let field = if path == "." {
            quoted_name(&message).unwrap_or("?").to_owned()
        } else {
            path.to_owned()
        };
        (field, "unknown_field")
    } else if message.starts_with("missing field") {
        (
            format!("{prefix}{}", quoted_name(&message).unwrap_or("?")),
            "missing_field",
        )
    } else {
        (path.to_owned(), "invalid_type")
    };
    let message = match problem {
        "unknown_field" => format!(
            "'{field}' is not a field of this request (server-assigned fields cannot be set)"
        ),
        "missing_field" => format!("'{field}' is required"),
        _ => format!(
            "'{field}': {}",
            message.split(" at line ").next().unwrap_or(&message)
        ),
    };
    ApiError::invalid_request(Some(&field), problem, message)
}

/// Parses the query string (400 for wrong types).
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    parse_query(req.query_string())
}

/// Parses a query string (400 for wrong types), for a use case that reads it
/// once the objects the route addresses are found.
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    web::Query::<T>::from_query(raw)
        .map(web::Query::into_inner)
        .map_err(|err| {
            ApiError::invalid_request(
                None,
                "invalid_query",
                format!("the query string is invalid: {err}"),
            )
        })
}

/// The `If-Match` header, if any (as text).
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|value| value.to_str().unwrap_or("\u{0}").to_owned())
}
