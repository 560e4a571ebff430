//! Request bodies: read only after the route's role check, within a size
//! limit checked before anything is buffered, and within a deadline.
//!
//! Two pieces work together:
//!
//! - [`track_bodies`], the outermost middleware, notes when a request arrived
//!   and watches whether its body was read to the end. A response sent while
//!   part of the body is still unread (a 401 or 403 answered before the body
//!   was wanted, a 408, a 413) carries `Connection: close`: the server is
//!   going to drop the connection rather than read the rest, and a client
//!   that pools connections must hear that instead of finding the socket
//!   closed under its next request.
//! - [`Body`], the extractor handlers take in place of `web::Bytes`: it
//!   refuses a declared `Content-Length` above [`MAX_BODY_BYTES`] before
//!   reading (413), stops reading as soon as the limit is passed, and answers
//!   408 when the body has not arrived [`BODY_DEADLINE`] after the request
//!   head. Handlers put it after their role extractor
//!   ([`crate::extract::Permitted`]), so a caller without the role never
//!   makes the server read its body.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use futures_util::{Stream, StreamExt as _};
use tokio::time::Instant;

use crate::MAX_BODY_BYTES;
use crate::error::ApiError;

/// How long a request body may take to arrive, counted from its head.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// When the request head was read, and whether the body has been read to its end.
#[derive(Debug, Clone)]
struct BodyState {
    arrived: Instant,
    finished: Arc<AtomicBool>,
}

/// The request's payload, noting when it reaches its end.
struct Tracked {
    inner: Payload,
    finished: Arc<AtomicBool>,
}

impl Stream for Tracked {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(None) = next {
            self.finished.store(true, Ordering::Relaxed);
        }
        next
    }
}

/// Whether the request head announces a body.
fn has_body(headers: &HeaderMap) -> bool {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) => length > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// The middleware: see the module documentation.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn track_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = BodyState {
        arrived: Instant::now(),
        finished: Arc::new(AtomicBool::new(false)),
    };
    let with_body = has_body(req.headers());
    if with_body {
        let inner = req.take_payload();
        let tracked = Tracked {
            inner,
            finished: Arc::clone(&state.finished),
        };
        req.set_payload(Payload::from(
            Box::pin(tracked) as Pin<Box<dyn Stream<Item = _>>>
        ));
    }
    req.extensions_mut().insert(state.clone());
    let mut response = next.call(req).await?;
    if with_body && !state.finished.load(Ordering::Relaxed) {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}

/// A request body, read whole within the size limit and the deadline.
#[derive(Debug, Clone)]
pub struct Body(pub web::Bytes);

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "the request body is larger than 1 MiB",
    )
}

fn too_slow() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        format!(
            "the request body did not arrive within {} s of the request head",
            BODY_DEADLINE.as_secs()
        ),
    )
}

fn unreadable() -> ApiError {
    ApiError::invalid_request(
        None,
        "unreadable_body",
        "the request body could not be read",
    )
}

/// Reads the whole payload, refusing a body over [`MAX_BODY_BYTES`] before
/// buffering past the limit, and one slower than [`BODY_DEADLINE`].
///
/// # Errors
/// 413 `PAYLOAD_TOO_LARGE`, 408 `REQUEST_TIMEOUT`, or 400 for a broken body.
pub async fn read(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let arrived = req
        .extensions()
        .get::<BodyState>()
        .map_or_else(Instant::now, |state| state.arrived);
    let capacity = declared
        .and_then(|length| usize::try_from(length).ok())
        .unwrap_or(0);
    let mut body = web::BytesMut::with_capacity(capacity);
    let deadline = arrived + BODY_DEADLINE;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, payload.next()).await {
            Err(_elapsed) => return Err(too_slow()),
            Ok(None) => break,
            Ok(Some(Err(PayloadError::Overflow))) => return Err(too_large()),
            Ok(Some(Err(_))) => return Err(unreadable()),
            Ok(Some(Ok(chunk))) => chunk,
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl FromRequest for Body {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move { read(&req, &mut payload).await.map(Body) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn a_body_is_announced_by_its_length_or_chunking() {
        let mut headers = HeaderMap::new();
        assert!(!has_body(&headers));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        assert!(!has_body(&headers));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert!(has_body(&headers));
        let mut chunked = HeaderMap::new();
        chunked.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        assert!(has_body(&chunked));
    }
}
