//! The per-user rate limit (SPEC §12): `RATE_LIMIT_PER_MINUTE` requests per
//! user and minute, counted per process (N replicas admit up to N times as
//! much). `service` tokens are exempt: event processors poll.
//!
//! The middleware also authenticates the request once and leaves the caller
//! in the request's extensions for the extractor.

use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, ResponseError as _, web};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use integrations_app::App;
use integrations_domain::Role;

use crate::error::ApiError;
use crate::extract::{Authenticated, bearer_token};

/// The limiter, shared by the workers of one process.
#[derive(Clone)]
pub struct RateLimit(Option<Arc<DefaultKeyedRateLimiter<(String, String)>>>);

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RateLimit(on)"
        } else {
            "RateLimit(off)"
        })
    }
}

impl RateLimit {
    /// `per_minute` requests per user and minute (bursts up to as many); 0 turns it off.
    pub fn per_minute(per_minute: u32) -> Self {
        Self(
            NonZeroU32::new(per_minute)
                .map(|n| Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)))),
        )
    }
}

/// The middleware.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let caller = req.app_data::<web::Data<App>>().and_then(|app| {
        let token = bearer_token(req.request()).ok()?;
        app.authenticate(token).ok()
    });
    let Some(caller) = caller else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let limiter = req
        .app_data::<web::Data<RateLimit>>()
        .and_then(|l| l.0.clone());
    req.extensions_mut().insert(Authenticated(caller.clone()));
    if let (Some(limiter), false) = (limiter, caller.role == Role::Service) {
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        let key = (
            caller.org.as_str().to_owned(),
            caller.user.as_str().to_owned(),
        );
        if let Err(not_until) = limiter.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("too many requests; retry in {seconds} s"),
            )
            .error_response();
            if let Ok(value) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
