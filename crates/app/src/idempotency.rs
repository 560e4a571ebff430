//! Idempotency keys (SPEC §11): the policy; the HTTP adapter calls it around
//! every `POST` that carries an `Idempotency-Key`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use integrations_domain::Caller;
use integrations_ports::{Claim, IdempotencyScope, StoredResponse};

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

impl App {
    /// Claims an idempotency key for a request with `fingerprint` (a digest
    /// of its method, path and body).
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    pub fn claim_idempotency_key(
        &self,
        caller: &Caller,
        key: &str,
        fingerprint: &str,
    ) -> Result<Claim, AppError> {
        let now = self.clock.now();
        self.purge_expired_keys(now);
        Ok(self.store.claim_key(
            &scope(caller, key),
            fingerprint,
            now,
            now - KEEP_KEYS,
            now - ABANDONED_AFTER,
        )?)
    }

    /// Records the response to replay for `key`, or — when `response` is
    /// `None` (a server-side failure a retry may fix) — forgets the claim.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    pub fn finish_idempotency_key(
        &self,
        caller: &Caller,
        key: &str,
        response: Option<&StoredResponse>,
    ) -> Result<(), AppError> {
        let scope = scope(caller, key);
        match response {
            Some(response) => self.store.complete_key(&scope, response)?,
            None => self.store.release_key(&scope)?,
        }
        Ok(())
    }

    /// Deletes expired keys, at most once per `PURGE_EVERY` per process.
    fn purge_expired_keys(&self, now: time::OffsetDateTime) {
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
            let _ = self.store.purge_keys(now - KEEP_KEYS);
        }
    }
}
