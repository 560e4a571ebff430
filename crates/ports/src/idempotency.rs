//! The idempotency-key port (docs/api.md, "Idempotency"): a retried POST replays the first
//! response instead of doing the work again.

use integrations_domain::{OrgId, UserId};
use time::OffsetDateTime;

use crate::StoreResult;
use crate::audit::AuditEntry;

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

/// A key this request holds: its scope and the token of the claim that
/// [`Claim::Fresh`] gave it. Only the holder of the current claim can record
/// the key's response or release it; a claim taken over after
/// `abandoned_before` loses that right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKey {
    /// Whose key it is.
    pub scope: IdempotencyScope,
    /// The claim's token (a ULID).
    pub token: String,
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
    /// The key is new (or expired, or abandoned): this request runs, holding
    /// the claim `token`.
    Fresh {
        /// A token drawn for this claim (a ULID), stored with the key.
        token: String,
    },
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
    /// flight since before `abandoned_before` is taken over: it gets a new
    /// token, and the claim it replaces can no longer record or release.
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

    /// Records the response of the request that holds `claimed`.
    ///
    /// # Errors
    /// `ClaimLost` when `claimed` is no longer the key's claim (taken over,
    /// or already settled); otherwise only `Unavailable` and `Unexpected`.
    fn complete_key(&self, claimed: &ClaimedKey, response: &StoredResponse) -> StoreResult<()>;

    /// Forgets an in-flight claim (the request failed in a way a retry may
    /// fix); does nothing when `claimed` is no longer the key's claim.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn release_key(&self, claimed: &ClaimedKey) -> StoreResult<()>;

    /// Deletes every record created before `before`; returns how many.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn purge_keys(&self, before: OffsetDateTime) -> StoreResult<u64>;
}

/// The response to record for an idempotent request, made from the change's
/// outcome inside the change's own transaction.
pub type Respond<'a, T> = &'a dyn Fn(&T) -> StoredResponse;

/// What a change writes besides itself, in its own transaction: its audit
/// entry and, for a request with an `Idempotency-Key`, the response a retry
/// will replay. Both commit with the change or not at all, so a crash
/// between the commit and the reply never lets a retry do the work twice.
/// Recording the response needs the key's current claim: a change whose claim
/// was taken over fails with `ClaimLost` and rolls back, so two requests with
/// one key never both commit.
pub struct Change<'a, T> {
    /// The audit entry.
    pub audit: AuditEntry,
    /// The claimed key and how to make its response from the outcome.
    pub replay: Option<(&'a ClaimedKey, Respond<'a, T>)>,
}

impl<T> Change<'_, T> {
    /// A change recorded in the audit log only.
    pub fn audited(audit: AuditEntry) -> Self {
        Self {
            audit,
            replay: None,
        }
    }

    /// The response to record for `outcome`, with the key it is for, if the
    /// request carried one.
    pub fn response(&self, outcome: &T) -> Option<(&ClaimedKey, StoredResponse)> {
        self.replay
            .map(|(claimed, respond)| (claimed, respond(outcome)))
    }
}

impl<T> std::fmt::Debug for Change<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("audit", &self.audit)
            .field("replay", &self.replay.map(|(claimed, _)| claimed))
            .finish()
    }
}

impl<T> From<AuditEntry> for Change<'_, T> {
    fn from(audit: AuditEntry) -> Self {
        Self::audited(audit)
    }
}
