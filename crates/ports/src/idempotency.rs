//! The idempotency-key port (SPEC §11): a retried POST replays the first
//! response instead of doing the work again.

use integrations_domain::{OrgId, UserId};
use time::OffsetDateTime;

use crate::StoreResult;

/// Whose key it is: keys are scoped per org and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    /// The caller's org.
    pub org: OrgId,
    /// The caller.
    pub user: UserId,
    /// The `Idempotency-Key` header.
    pub key: String,
}

/// The response a completed request gave, as replayed to retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or expired, or abandoned): this request runs.
    Fresh,
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
    /// The first request finished: replay its response.
    Done(StoredResponse),
}

/// Idempotency records.
pub trait IdempotencyStore {
    /// Claims `scope` for a request with `fingerprint`, atomically: of
    /// concurrent claims of one key exactly one gets `Fresh`. A record
    /// created before `expired_before` counts as absent; one still in
    /// flight since before `abandoned_before` is taken over.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn claim_key(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        now: OffsetDateTime,
        expired_before: OffsetDateTime,
        abandoned_before: OffsetDateTime,
    ) -> StoreResult<Claim>;

    /// Records the response of the request that claimed `scope`.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn complete_key(&self, scope: &IdempotencyScope, response: &StoredResponse) -> StoreResult<()>;

    /// Forgets an in-flight claim (the request failed in a way a retry may fix).
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn release_key(&self, scope: &IdempotencyScope) -> StoreResult<()>;

    /// Deletes every record created before `before`; returns how many.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn purge_keys(&self, before: OffsetDateTime) -> StoreResult<u64>;
}
