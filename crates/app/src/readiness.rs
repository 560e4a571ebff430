//! `/readyz`'s answer, kept for a moment: readiness probes are
//! unauthenticated, so a flood of them must not compete with real requests
//! for the database pool. One ping answers every probe for
//! [`READINESS_CACHE`]; a probe that finds the answer older asks again.
//! While one probe pings, the others answer with the last known answer.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

use crate::App;
use crate::error::AppError;

/// How long one database ping answers readiness probes (see
/// docs/decisions.md, "Readiness probes").
pub const READINESS_CACHE: Duration = Duration::from_secs(1);

/// The last answer, when it was had, and whether a probe is asking now.
#[derive(Debug, Default)]
struct Known {
    at: Option<OffsetDateTime>,
    ready: bool,
    asking: bool,
}

/// The readiness answer of this process.
#[derive(Debug)]
pub(crate) struct Readiness {
    window: Duration,
    known: Mutex<Known>,
}

impl Readiness {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            known: Mutex::new(Known::default()),
        }
    }

    /// The answer known at `now` without asking: a fresh one, or the last
    /// one while another probe is asking. `None`: a ping is due.
    fn peek(&self, known: &Known, now: OffsetDateTime) -> Option<bool> {
        let at = known.at?;
        // A clock that went back makes the answer stale, not fresh.
        let fresh = now >= at && now - at < self.window;
        (fresh || known.asking).then_some(known.ready)
    }

    /// [`Readiness::peek`] under the lock.
    pub(crate) fn known(&self, now: OffsetDateTime) -> Option<bool> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        self.peek(&known, now)
    }

    /// Records the answer of a ping made at `now`.
    fn record(&self, now: OffsetDateTime, ready: bool) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        *known = Known {
            at: Some(now),
            ready,
            asking: false,
        };
    }

    /// The answer at `now`: known, or asked with `ping` (called at most once).
    pub(crate) fn check(&self, now: OffsetDateTime, ping: impl FnOnce() -> bool) -> bool {
        {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(ready) = self.peek(&known, now) {
                return ready;
            }
            known.asking = true;
        }
        // The lock is not held while the database is asked.
        let ready = ping();
        self.record(now, ready);
        ready
    }
}

fn answer(ready: bool) -> Result<(), AppError> {
    if ready {
        Ok(())
    } else {
        Err(AppError::Unavailable(
            "the database did not answer the last readiness check".into(),
        ))
    }
}

impl App {
    /// Whether the database answers, for readiness probes. One ping
    /// answers for [`READINESS_CACHE`]; an outage therefore shows within
    /// that time (and a recovery too).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the database did not answer.
    pub fn ready(&self) -> Result<(), AppError> {
        let now = self.clock.now();
        let mut failure = None;
        let ready = self.readiness.check(now, || match self.store.ping() {
            Ok(()) => true,
            Err(err) => {
                failure = Some(err);
                false
            }
        });
        match failure {
            // Any failure to answer a ping means "not ready", never a 500.
            Some(err) => Err(AppError::Unavailable(Box::new(err))),
            None => answer(ready),
        }
    }

    /// The readiness answer already known (see [`App::ready`]), without
    /// touching the database; `None` when a ping is due — then call
    /// [`App::ready`] off the async executor.
    pub fn known_readiness(&self) -> Option<Result<(), AppError>> {
        self.readiness.known(self.clock.now()).map(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    #[test]
    fn one_ping_answers_for_the_window_and_an_outage_shows_after_it() {
        let readiness = Readiness::new(Duration::from_secs(1));
        let pings = Cell::new(0);
        let up = Cell::new(true);
        let ping = || {
            pings.set(pings.get() + 1);
            up.get()
        };
        assert!(readiness.check(T0, ping));
        let later = T0 + time::Duration::milliseconds(999);
        assert!(readiness.check(later, ping), "within the window");
        assert_eq!(pings.get(), 1, "two probes, one ping");
        // The database goes away: still ready within the window…
        up.set(false);
        assert!(readiness.check(later, ping));
        assert_eq!(pings.get(), 1);
        // …and not ready from its end on.
        let after = T0 + time::Duration::seconds(1);
        assert!(!readiness.check(after, ping));
        assert_eq!(pings.get(), 2);
        // An outage is kept for the window too, then asked again.
        assert!(!readiness.check(after, ping));
        assert_eq!(pings.get(), 2);
        up.set(true);
        assert!(readiness.check(after + time::Duration::seconds(1), ping));
        assert_eq!(pings.get(), 3);
    }

    #[test]
    fn a_clock_gone_back_asks_again() {
        let readiness = Readiness::new(Duration::from_secs(1));
        let pings = Cell::new(0);
        let ping = || {
            pings.set(pings.get() + 1);
            true
        };
        readiness.check(T0, ping);
        readiness.check(T0 - time::Duration::seconds(5), ping);
        assert_eq!(pings.get(), 2);
    }

    #[test]
    fn while_one_probe_asks_the_others_answer_the_last_answer() {
        let readiness = Readiness::new(Duration::from_secs(1));
        assert!(readiness.check(T0, || true));
        let stale = T0 + time::Duration::seconds(2);
        assert_eq!(readiness.known(stale), None, "a ping is due");
        let ready = readiness.check(stale, || {
            // Another probe meanwhile: the last answer, no second ping.
            assert_eq!(readiness.known(stale), Some(true));
            assert!(readiness.check(stale, || panic!("a second ping")));
            false
        });
        assert!(!ready);
        assert_eq!(readiness.known(stale), Some(false));
    }
}
