//! `Idempotency-Key` on every `POST` (SPEC §11): a retry with the same key
//! and body replays the first response (status and body) and does nothing
//! again; the same key with another body is 422; a retry while the first is
//! still running is 409. The records live in the database, so this holds
//! across server processes.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError as _, web};
use integrations_app::{App, Claim, StoredResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::blocking;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Marks a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// Whether a key is 1 to 255 visible ASCII characters.
fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

fn fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
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

fn replay(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response
        .content_type("application/json")
        .insert_header((REPLAYED, "true"));
    if let Some(location) = &stored.location {
        response.insert_header((header::LOCATION, location.as_str()));
    }
    response.body(stored.body.clone())
}

/// The answer to a request whose key was used before, if any: a replay, or a refusal.
fn answer_without_running(claim: Claim) -> Option<HttpResponse> {
    let refuse =
        |status, code, message: &str| ApiError::new(status, code, message).error_response();
    match claim {
        Claim::Fresh => None,
        Claim::Done(stored) => Some(replay(&stored)),
        Claim::InFlight => Some(refuse(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_IN_PROGRESS",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )),
        Claim::Mismatch => Some(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different request",
        )),
    }
}

/// Reads the whole body (what the route would have read), refusing in the
/// error shape when it is too large or broken.
async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    req.extract::<web::Bytes>().await.map_err(|error| {
        let status = error.as_response_error().status_code();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "PAYLOAD_TOO_LARGE",
                "the request body is larger than 1 MiB",
            )
        } else {
            ApiError::invalid_request(
                None,
                "unreadable_body",
                "the request body could not be read",
            )
        }
    })
}

/// The middleware: a no-op for anything but a `POST` with the header.
///
/// # Errors
/// Only what the wrapped service or reading the body returns.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    let (true, Some(key)) = (req.method() == Method::POST, key) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(key) = key
        .ok()
        .map(|k| k.trim().to_owned())
        .filter(|k| valid_key(k))
    else {
        let error = ApiError::invalid_request(
            Some("Idempotency-Key"),
            "invalid_header",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        );
        return Ok(req.into_response(error.error_response()));
    };
    let Some(app) = req
        .app_data::<web::Data<App>>()
        .map(|a| a.get_ref().clone())
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    // Unauthenticated requests are refused by the route itself; nothing to remember.
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(caller) = token.and_then(|t| app.authenticate(&t).ok()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let body = match read_body(&mut req).await {
        Ok(body) => body,
        Err(refusal) => return Ok(req.into_response(refusal.error_response())),
    };
    let fingerprint = fingerprint(&req, &body);
    let claim = {
        let (app, caller, key) = (app.clone(), caller.clone(), key.clone());
        blocking(move || app.claim_idempotency_key(&caller, &key, &fingerprint)).await
    };
    let claim = match claim {
        Ok(claim) => claim,
        Err(error) => return Ok(req.into_response(error.error_response())),
    };
    if let Some(answer) = answer_without_running(claim) {
        return Ok(req.into_response(answer));
    }
    req.set_payload(Payload::from(body));
    let response = next.call(req).await?;
    let (request, response) = response.into_parts();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body)
        .await
        .map_err(|err| actix_web::error::ErrorInternalServerError(err.into().to_string()))?;
    // Server-side failures may succeed on retry, and a 403 may not once the
    // caller's role is raised: forget the claim for those instead of replaying.
    let replayable = !status.is_server_error() && status != StatusCode::FORBIDDEN;
    let stored = replayable.then(|| StoredResponse {
        status: status.as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        location,
    });
    if let Err(error) =
        blocking(move || app.finish_idempotency_key(&caller, &key, stored.as_ref())).await
    {
        tracing::warn!(error = %error, "could not record an idempotent response");
    }
    Ok(ServiceResponse::new(
        request,
        head.set_body(BoxBody::new(bytes)),
    ))
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
