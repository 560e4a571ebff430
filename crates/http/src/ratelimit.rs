//! Rate limits, each counted per process (N replicas admit up to N times as
//! much):
//!
//! - **per user**: `RATE_LIMIT_PER_MINUTE` requests per human user (org, `sub`)
//!   and minute;
//! - **per service user**: `SERVICE_RATE_LIMIT_PER_MINUTE` for `service` tokens
//!   (the event processor polls, so its budget is larger, but not unlimited);
//! - **failed authentications per client address**: `AUTH_FAILURES_PER_MINUTE`
//!   401s per address and minute; past that, further *failing* requests from
//!   the address get 429, while requests with a valid token still pass. The
//!   address is the TCP peer's (`X-Forwarded-For` is not trusted: any client
//!   can write it); IPv6 addresses count per /64, the block one host usually
//!   holds.
//!
//! Every limit answers 429 `RATE_LIMITED` with `Retry-After`; `0` turns a limit
//! off. Memory is bounded: each limiter forgets keys whose state has expired
//! every [`PRUNE_EVERY`] checks, and tracks at most [`MAX_KEYS`] at once.
//!
//! The middleware also authenticates the request once and leaves the caller
//! in the request's extensions for the extractor.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError as _, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use integrations_app::App;
use integrations_domain::Role;

use crate::error::ApiError;
use crate::extract::{Authenticated, bearer_token};

/// How often (in checks) a limiter forgets the keys whose state has expired.
pub const PRUNE_EVERY: u64 = 1024;
/// The most keys a limiter tracks at once.
pub const MAX_KEYS: usize = 100_000;

/// The limits, per minute; `0` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per human user (`RATE_LIMIT_PER_MINUTE`).
    pub per_user: u32,
    /// Requests per `service` user (`SERVICE_RATE_LIMIT_PER_MINUTE`).
    pub per_service: u32,
    /// Failed authentications per client address (`AUTH_FAILURES_PER_MINUTE`).
    pub auth_failures: u32,
}

/// A user of an organisation: what the per-user limits count by.
type UserKey = (String, String);

/// The limiters, shared by the workers of one process.
#[derive(Clone)]
pub struct RateLimit {
    users: Option<Arc<Keyed<UserKey>>>,
    services: Option<Arc<Keyed<UserKey>>>,
    failures: Option<Arc<Keyed<IpAddr>>>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |limiter: bool| if limiter { "on" } else { "off" };
        f.debug_struct("RateLimit")
            .field("users", &on(self.users.is_some()))
            .field("services", &on(self.services.is_some()))
            .field("failures", &on(self.failures.is_some()))
            .finish()
    }
}

impl RateLimit {
    /// The limiters for `limits` (bursts up to a minute's worth).
    pub fn new(limits: Limits) -> Self {
        Self {
            users: Keyed::per_minute(limits.per_user, MAX_KEYS).map(Arc::new),
            services: Keyed::per_minute(limits.per_service, MAX_KEYS).map(Arc::new),
            failures: Keyed::per_minute(limits.auth_failures, MAX_KEYS).map(Arc::new),
        }
    }
}

/// What a limiter says about one more event for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Within the limit (and counted).
    Allowed,
    /// Over the limit until this much time has passed.
    Limited(Duration),
    /// The key is new and the limiter tracks [`MAX_KEYS`] already.
    Full,
}

/// A keyed limiter with bounded memory.
struct Keyed<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    checks: AtomicU64,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn per_minute(per_minute: u32, max_keys: usize) -> Option<Self> {
        NonZeroU32::new(per_minute)
            .map(|n| Self::with_clock(Quota::per_minute(n), DefaultClock::default(), max_keys))
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> Keyed<K, C> {
    fn with_clock(quota: Quota, clock: C, max_keys: usize) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
            max_keys,
        }
    }

    /// Counts one event for `key`. Every [`PRUNE_EVERY`] checks the keys
    /// whose state has expired are forgotten; a new key is not tracked (the
    /// answer is [`Verdict::Full`]) while `max_keys` are.
    fn check(&self, key: &K) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        if self.limiter.len() >= self.max_keys {
            return Verdict::Full;
        }
        match self.limiter.check_key(key) {
            Ok(()) => Verdict::Allowed,
            Err(not_until) => Verdict::Limited(not_until.wait_time_from(self.clock.now())),
        }
    }
}

/// The address failed authentications are counted by: the peer's IP, IPv6
/// reduced to its /64 (IPv4-mapped IPv6 addresses count as IPv4).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(
            || {
                IpAddr::V6(std::net::Ipv6Addr::from_bits(
                    v6.to_bits() & !u128::from(u64::MAX),
                ))
            },
            IpAddr::V4,
        ),
    }
}

/// 429 `RATE_LIMITED` with `Retry-After` (whole seconds, at least 1).
fn too_many(wait: Duration, what: &str) -> HttpResponse {
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        format!("{what}; retry in {seconds} s"),
    )
    .error_response();
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The middleware.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limits = req.app_data::<web::Data<RateLimit>>().cloned();
    let verified = req.app_data::<web::Data<App>>().and_then(|app| {
        let token = bearer_token(req.request()).ok()?;
        app.authenticate(token).ok()
    });
    let Some(verified) = verified else {
        // Not authenticated: the route answers 401 (or 404 for no route).
        // Only a 401 counts as a failed authentication of the peer.
        let failures = limits.and_then(|l| l.failures.clone());
        let peer = req.peer_addr().map(|addr| client_key(addr.ip()));
        let response = next.call(req).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response.map_into_left_body());
        }
        let (Some(failures), Some(peer)) = (failures, peer) else {
            return Ok(response.map_into_left_body());
        };
        let wait = match failures.check(&peer) {
            Verdict::Allowed => return Ok(response.map_into_left_body()),
            Verdict::Limited(wait) => wait,
            Verdict::Full => Duration::from_secs(60),
        };
        let (request, _) = response.into_parts();
        let limited = too_many(wait, "too many failed authentications from this address");
        return Ok(ServiceResponse::new(request, limited).map_into_right_body());
    };
    let caller = verified.caller.clone();
    req.extensions_mut().insert(Authenticated(verified));
    let limiter = limits.and_then(|l| {
        if caller.role == Role::Service {
            l.services.clone()
        } else {
            l.users.clone()
        }
    });
    if let Some(limiter) = limiter {
        let key = (
            caller.org.as_str().to_owned(),
            caller.user.as_str().to_owned(),
        );
        // A full table does not lock out valid users: only failing requests
        // are refused when their limiter is full.
        if let Verdict::Limited(wait) = limiter.check(&key) {
            let response = too_many(wait, "too many requests");
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter(
        per_minute: u32,
        max_keys: usize,
    ) -> (Keyed<u32, FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        (Keyed::with_clock(quota, clock.clone(), max_keys), clock)
    }

    #[test]
    fn a_key_is_limited_after_its_quota_and_recovers() {
        let (keyed, clock) = limiter(3, 10);
        for _ in 0..3 {
            assert_eq!(keyed.check(&1), Verdict::Allowed);
        }
        assert_eq!(keyed.check(&1), Verdict::Limited(Duration::from_secs(20)));
        assert_eq!(
            keyed.check(&2),
            Verdict::Allowed,
            "other keys are not affected"
        );
        clock.advance(Duration::from_secs(20));
        assert_eq!(keyed.check(&1), Verdict::Allowed);
    }

    #[test]
    fn expired_keys_are_forgotten_and_the_table_is_bounded() {
        let (keyed, clock) = limiter(30, 100);
        for key in 0..100 {
            assert_eq!(keyed.check(&key), Verdict::Allowed);
        }
        assert_eq!(keyed.limiter.len(), 100);
        // Full: no key is counted any more until the table is pruned.
        assert_eq!(keyed.check(&1_000), Verdict::Full);
        assert_eq!(keyed.limiter.len(), 100);
        // Once their state is as good as fresh (one event at 30 per minute
        // weighs 2 s, and governor keeps a key one interval longer), the next
        // pruning forgets them all.
        clock.advance(Duration::from_secs(5));
        let checks = keyed.checks.load(Ordering::Relaxed);
        let until_prune = PRUNE_EVERY - 1 - checks % PRUNE_EVERY;
        for _ in 0..until_prune {
            keyed.checks.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(keyed.check(&1_000), Verdict::Allowed);
        assert_eq!(keyed.limiter.len(), 1);
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let b: Ipv6Addr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert_eq!(client_key(a.into()), client_key(b.into()));
        assert_ne!(client_key(a.into()), client_key(c.into()));
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(client_key(v4.to_ipv6_mapped().into()), IpAddr::V4(v4));
        assert_eq!(client_key(v4.into()), IpAddr::V4(v4));
    }
}
