//! Idempotency keys: a `POST` that carries an `Idempotency-Key` runs at most
//! once; a retry with the same key and request replays the first response.
//!
//! [`App::idempotently`] runs a `POST`'s work in three steps:
//!
//! 1. **Claim** the key in a short transaction of its own: of concurrent
//!    requests with one key exactly one runs; the others are told it is in
//!    flight (409), that the key belongs to another request (422), or get
//!    the recorded response.
//! 2. **Run** the work. A change it makes records the response to replay in
//!    the change's own transaction (see [`integrations_ports::Change`]), so a
//!    crash after the commit cannot let a retry make the change again.
//! 3. **Settle** a failure: an answer the request itself caused (404, 409,
//!    422…) is recorded and replayed; one a retry may cure (403, 503, 500) is
//!    forgotten. The HTTP adapter, which words the answers, says which is which.
//!
//! A request whose process died before its change committed leaves an
//! in-flight claim; a retry is refused with 409 until [`ABANDONED_AFTER`],
//! then runs under a new claim token. A change records its response only
//! under its own claim's token: a request still running when its claim was
//! taken over fails with 409 `IDEMPOTENCY_IN_PROGRESS` and its change rolls
//! back, so the two never both commit.

use std::sync::atomic::Ordering;
use std::time::Duration;

use integrations_domain::Caller;
use integrations_ports::{
    AuditEntry, Change, Claim, ClaimedKey, IdempotencyScope, Respond, StoreSession, StoredResponse,
};

use crate::App;
use crate::error::AppError;

/// How long a key is remembered (at least 24 h, as the spec asks).
pub const KEEP_KEYS: Duration = Duration::from_secs(24 * 60 * 60);
/// A request still "in flight" after this long has died (every request is
/// bounded by the pool and statement timeouts); its key may be reused.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// How often a process purges expired keys.
const PURGE_EVERY: Duration = Duration::from_secs(600);

fn scope(caller: &Caller, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        org: caller.org.clone(),
        user: caller.user.clone(),
        key: key.to_owned(),
    }
}

/// A `POST`'s `Idempotency-Key`, with what the HTTP adapter needs recorded.
/// `E` is the adapter's error type: the work may fail with errors of the
/// adapter's own (a body that does not parse) as well as [`AppError`]s.
pub struct Idempotent<'a, T, E> {
    /// The `Idempotency-Key` header (already checked: 1 to 255 visible ASCII characters).
    pub key: &'a str,
    /// A digest of the request (method, path, query and body): a retry must match it.
    pub fingerprint: &'a str,
    /// The response to record for the work's result.
    pub respond: Respond<'a, T>,
    /// The response to record for a failure: `None` for one a retry may cure
    /// (an outage, a role since raised), which is forgotten rather than replayed.
    pub refuse: &'a dyn Fn(&E) -> Option<StoredResponse>,
}

impl<T, E> std::fmt::Debug for Idempotent<'_, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotent")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// What an idempotent `POST` answered: its own result, or the recorded
/// response of the first request with its key.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The work ran now.
    Done(T),
    /// A retry: the first response, as recorded.
    Replayed(StoredResponse),
}

/// The key a change records its response under, and how, when the request has one.
pub type Replay<'a, T> = Option<(&'a ClaimedKey, Respond<'a, T>)>;

/// A responder for the store's raw outcome of a change: the use case's
/// `present`ation of it, worded by the HTTP adapter's responder.
pub(crate) type Presented<'a, R> = Option<(&'a ClaimedKey, Box<dyn Fn(&R) -> StoredResponse + 'a>)>;

/// Adapts `replay` (which words the use case's answer) to the store's raw
/// outcome `R`, which the use case turns into its answer with `present`.
pub(crate) fn presenting<'a, R, T: 'a>(
    replay: Replay<'a, T>,
    present: impl Fn(&R) -> T + 'a,
) -> Presented<'a, R> {
    replay.map(|(claimed, respond)| {
        let respond: Box<dyn Fn(&R) -> StoredResponse + 'a> =
            Box::new(move |raw: &R| respond(&present(raw)));
        (claimed, respond)
    })
}

/// The change to hand the store: `audit`, and the response to record, if any.
pub(crate) fn change<'a, R>(audit: AuditEntry, respond: &'a Presented<'a, R>) -> Change<'a, R> {
    Change {
        audit,
        replay: respond
            .as_ref()
            .map(|(claimed, respond)| (*claimed, respond.as_ref())),
    }
}

impl App {
    /// Runs a `POST`'s `work` at most once per idempotency key (see the
    /// steps in `crates/app/src/idempotency.rs`: claim, run, settle); without a
    /// key, simply runs it. The claim and the settling run on `store`, the
    /// use case's unit of work, so an idempotent request still takes one
    /// connection.
    /// `work` gets the key to record its response under, for the change it
    /// makes.
    ///
    /// # Errors
    /// `IdempotencyInProgress` while the first request with the key runs;
    /// `IdempotencyKeyReused` when the key was used for another request;
    /// `Unavailable` when the key cannot be claimed; and whatever `work` fails with.
    pub(crate) fn idempotently<T, E: From<AppError>>(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        request: Option<Idempotent<'_, T, E>>,
        work: impl FnOnce(Replay<'_, T>) -> Result<T, E>,
    ) -> Result<Outcome<T>, E> {
        let Some(request) = request else {
            return work(None).map(Outcome::Done);
        };
        let scope = scope(caller, request.key);
        let now = self.clock.now();
        self.purge_expired_keys(store, now);
        let claim = store
            .claim_key(
                &scope,
                request.fingerprint,
                now,
                now - KEEP_KEYS,
                now - ABANDONED_AFTER,
            )
            .map_err(AppError::from)?;
        let claimed = match claim {
            Claim::Fresh { token } => ClaimedKey { scope, token },
            Claim::Done(stored) => return Ok(Outcome::Replayed(stored)),
            Claim::InFlight => return Err(AppError::IdempotencyInProgress.into()),
            Claim::Mismatch => return Err(AppError::IdempotencyKeyReused.into()),
        };
        match work(Some((&claimed, request.respond))) {
            Ok(done) => {
                fault::pause_after_commit();
                Ok(Outcome::Done(done))
            }
            Err(err) => {
                // Best effort: a failure to settle leaves an in-flight claim
                // that expires after `ABANDONED_AFTER`.
                let settled = match (request.refuse)(&err) {
                    Some(refusal) => store.complete_key(&claimed, &refusal),
                    None => store.release_key(&claimed),
                };
                if let Err(cause) = settled {
                    tracing::warn!(error = %cause, "could not settle an idempotency key");
                }
                Err(err)
            }
        }
    }

    /// Deletes expired keys, at most once per `PURGE_EVERY` per process.
    fn purge_expired_keys(&self, store: &dyn StoreSession, now: time::OffsetDateTime) {
        let seconds = now.unix_timestamp();
        let last = self.last_purge.load(Ordering::Relaxed);
        let due = seconds.saturating_sub(last)
            >= i64::try_from(PURGE_EVERY.as_secs()).unwrap_or(i64::MAX);
        if due
            && self
                .last_purge
                .compare_exchange(last, seconds, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // Best effort: a failed purge is retried after the next interval.
            let _ = store.purge_keys(now - KEEP_KEYS);
        }
    }
}

/// A test-only fault: with `INTEGRATIONS_FAULT_PAUSE_AFTER_COMMIT_MS` set,
/// a debug build sleeps that long after an idempotent change committed and
/// before it answers, so a test can kill the process in exactly that gap.
/// Release builds have no such hook.
mod fault {
    #[cfg(debug_assertions)]
    pub(super) fn pause_after_commit() {
        use std::sync::OnceLock;
        static PAUSE: OnceLock<Option<u64>> = OnceLock::new();
        let pause = PAUSE.get_or_init(|| {
            std::env::var("INTEGRATIONS_FAULT_PAUSE_AFTER_COMMIT_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
        });
        if let Some(ms) = pause {
            tracing::warn!(pause_ms = ms, "fault injection: pausing after a commit");
            std::thread::sleep(std::time::Duration::from_millis(*ms));
        }
    }

    #[cfg(not(debug_assertions))]
    pub(super) fn pause_after_commit() {}
}
