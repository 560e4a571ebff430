//! `Idempotency-Key` on every `POST`: the HTTP half. A handler reads the key
//! with [`IdempotencyKey`] (after its role check, so a malformed key is
//! reported only to an authenticated caller), describes its request with
//! [`IdempotencyKey::request`], and hands that to
//! [`App::idempotently`](integrations_app::App::idempotently), which claims
//! the key, runs the work and records the response in the change's own
//! transaction. [`answer`] turns the outcome into the response.
//!
//! A fresh answer and a replay are made by the same function from the same
//! [`StoredResponse`], so a retry gets exactly the first response (status,
//! `Location` and body), plus `Idempotent-Replayed: true`.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use integrations_app::{Idempotent, Outcome, StoredResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Marks a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// Whether a key is 1 to 255 visible ASCII characters.
fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// A request's `Idempotency-Key`, if it sent one (400 when it is malformed).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(raw) = req.headers().get(HEADER) else {
            return ready(Ok(Self(None)));
        };
        let key = raw
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|key| valid_key(key));
        ready(match key {
            Some(key) => Ok(Self(Some(key.to_owned()))),
            None => Err(ApiError::invalid_request(
                Some("Idempotency-Key"),
                "invalid_header",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )),
        })
    }
}

impl IdempotencyKey {
    /// What the application needs to run this request idempotently, or
    /// `None` without a key. `fingerprint` is [`fingerprint`] of the request.
    pub fn request<'a, T>(
        &'a self,
        fingerprint: &'a str,
        respond: &'a dyn Fn(&T) -> StoredResponse,
    ) -> Option<Idempotent<'a, T, ApiError>> {
        self.0.as_deref().map(|key| Idempotent {
            key,
            fingerprint,
            respond,
            refuse: &refusal,
        })
    }
}

/// A digest of what makes two requests "the same": method, path, query and body.
pub fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(req.method().as_str());
    digest.update(b" ");
    digest.update(req.path());
    digest.update(b"?");
    digest.update(req.query_string());
    digest.update(b"\n");
    digest.update(body);
    digest
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            hex.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
            hex
        })
}

/// A `201 Created` response with `Location`, as recorded and as sent.
pub fn created<B: Serialize>(location: String, body: &B) -> StoredResponse {
    StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        // Serialising a wire type to a string cannot fail.
        body: serde_json::to_string(body).unwrap_or_default(),
        location: Some(location),
    }
}

/// The error response to record for a failure the request itself caused
/// (a bad body, an unknown object, a name taken…); `None` for one a retry
/// may cure — a server-side failure, a 401/403 that a new token or a
/// raised role would change, or a 429 that waiting cures — and for the
/// refusals about the key itself.
fn refusal(err: &ApiError) -> Option<StoredResponse> {
    let status = err.status();
    let transient = status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || status == StatusCode::TOO_MANY_REQUESTS
        || matches!(
            err.code(),
            "IDEMPOTENCY_IN_PROGRESS" | "IDEMPOTENCY_KEY_REUSED"
        );
    (!transient).then(|| StoredResponse {
        status: status.as_u16(),
        body: err.body_json(),
        location: None,
    })
}

fn send(stored: StoredResponse, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if replayed {
        response.insert_header((REPLAYED, "true"));
    }
    if let Some(location) = &stored.location {
        response.insert_header((header::LOCATION, location.as_str()));
    }
    response.body(stored.body)
}

/// The response to an idempotent `POST`: made by `respond` from a fresh
/// result, or the recorded first response for a retry.
pub fn answer<T>(outcome: Outcome<T>, respond: impl Fn(&T) -> StoredResponse) -> HttpResponse {
    answer_then(outcome, respond, |_, _| {})
}

/// [`answer`], letting `then` add to a fresh response what is not recorded
/// (such as a template's `ETag`, which a retry re-reads with a `GET`).
pub fn answer_then<T>(
    outcome: Outcome<T>,
    respond: impl Fn(&T) -> StoredResponse,
    then: impl FnOnce(&T, &mut HttpResponse),
) -> HttpResponse {
    match outcome {
        Outcome::Done(done) => {
            let mut response = send(respond(&done), false);
            then(&done, &mut response);
            response
        }
        Outcome::Replayed(stored) => send(stored, true),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(valid_key("a") && valid_key("550e8400-e29b-41d4-a716-446655440000"));
        assert!(valid_key(&"k".repeat(255)));
        for bad in ["", "a b", "é", "a\tb", &"k".repeat(256)] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }
}
