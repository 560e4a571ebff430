//! Where a store call gets its connection, and the one retry a broken pooled
//! connection earns.
//!
//! [`crate::DieselStore`] runs every call on a connection of its own
//! ([`PerCall`]); a [`crate::DieselSession`] (what `Store::session` hands a
//! use case) runs all its calls on one connection ([`Session`]), checked out
//! at its first call and given back when it is dropped.
//!
//! # No ping on checkout; one retry instead
//!
//! The pool does not test a connection when it hands it out (that ping was a
//! quarter of a `GET`, docs/performance.md). A connection that broke while
//! idle — its PostgreSQL backend terminated, the server restarted — is found
//! out by the first statement sent on it. Then, and only then, the call is
//! run once more on a live connection:
//!
//! - only when **no statement of the call, nor of the session before it, got
//!   an answer** from the database (each connection keeps a [`Tally`] of the
//!   statements answered, fed by Diesel's instrumentation), and the failure
//!   is a lost connection;
//! - the first statement of any call is a read or the `BEGIN` of its write
//!   transaction (every change runs in one), so the statement that failed
//!   changed nothing, and a committed change is never repeated;
//! - the broken connection is discarded (the pool's `has_broken` sees the
//!   tally's `lost` flag), and the retry's connection is pinged first — the
//!   one case where a ping pays, since the other idle connections may have
//!   broken in the same event.
//!
//! When the database is down, the retry finds no live connection and the
//! call fails with `Unavailable` after the checkout timeout, as before.

use std::cell::{Cell, RefCell};

use diesel::connection::{Connection, Instrumentation, InstrumentationEvent};
use diesel::r2d2::{PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use integrations_ports::{StoreError, StoreResult};

use crate::connection::{DbConnection, Manager, Pool};
use crate::error::{Failure, pool_unavailable};

/// A connection as the pool lends it.
pub(crate) type Pooled = PooledConnection<Manager>;

/// What a connection has sent and heard since it was opened; installed on
/// every connection as its Diesel instrumentation. Events are passed on to
/// the process's default instrumentation, if one is set.
#[derive(Default)]
pub(crate) struct Tally {
    /// The default instrumentation this one stands in front of.
    inner: Option<Box<dyn Instrumentation>>,
    counts: Counts,
}

/// A connection's counts.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    /// Statements sent (round trips).
    pub sent: u64,
    /// Statements the database answered (with rows, a count or an error of its own).
    pub answered: u64,
    /// A statement failed because the connection is gone: never reuse it.
    pub lost: bool,
}

impl Tally {
    /// A zero tally in front of the default instrumentation.
    pub(crate) fn new() -> Self {
        Self {
            inner: diesel::connection::get_default_instrumentation(),
            ..Self::default()
        }
    }
}

impl Instrumentation for Tally {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match &event {
            InstrumentationEvent::StartQuery { .. } => self.counts.sent += 1,
            InstrumentationEvent::FinishQuery { error: None, .. } => self.counts.answered += 1,
            InstrumentationEvent::FinishQuery {
                error: Some(error), ..
            } => {
                if connection_lost(error) {
                    self.counts.lost = true;
                } else {
                    self.counts.answered += 1;
                }
            }
            _ => {}
        }
        if let Some(inner) = &mut self.inner {
            inner.on_connection_event(event);
        }
    }
}

/// The counts of `conn` (zero if another instrumentation replaced its tally).
pub(crate) fn tally(conn: &mut DbConnection) -> Counts {
    conn.instrumentation()
        .downcast_ref::<Tally>()
        .map(|tally| tally.counts)
        .unwrap_or_default()
}

/// Whether a Diesel error means the connection itself is gone (rather than
/// the statement failing on a working connection).
pub(crate) fn connection_lost(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            [
                "server closed the connection",
                "connection has been closed unexpectedly",
                "terminating connection",
                "no connection to the server",
                "could not send data to server",
                "could not receive data from server",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        _ => false,
    }
}

fn lost(failure: &Failure) -> bool {
    matches!(failure, Failure::Diesel(err) if connection_lost(err))
}

/// How the store's calls get a connection.
pub trait Connections {
    /// Runs `work` on a connection, translating every failure at the edge.
    /// `work` may run twice, but only as the module's documentation says.
    ///
    /// # Errors
    /// What `work` fails with, translated; `Unavailable` without a connection.
    #[doc(hidden)]
    fn with<T>(&self, work: impl FnMut(&mut DbConnection) -> Result<T, Failure>) -> StoreResult<T>;
}

/// Every call on a connection of its own.
#[derive(Clone)]
pub struct PerCall {
    pub(crate) pool: Pool,
}

impl std::fmt::Debug for PerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerCall").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("may_retry", &self.may_retry.get())
            .finish_non_exhaustive()
    }
}

impl Connections for PerCall {
    fn with<T>(&self, work: impl FnMut(&mut DbConnection) -> Result<T, Failure>) -> StoreResult<T> {
        let mut held = None;
        run(&self.pool, &mut held, &mut Counts::default(), true, work)
    }
}

/// Every call of one unit of work on one connection.
pub struct Session {
    pool: Pool,
    held: RefCell<Option<Pooled>>,
    /// The connection's counts when the session took it.
    baseline: Cell<Counts>,
    /// Whether the session may still retry (it does at most once).
    may_retry: Cell<bool>,
}

impl Session {
    pub(crate) fn new(pool: Pool) -> Self {
        Self {
            pool,
            held: RefCell::new(None),
            baseline: Cell::new(Counts::default()),
            may_retry: Cell::new(true),
        }
    }

    /// Statements the session has sent (round trips), for tests and
    /// measurements; `None` before the first call.
    pub fn statements_sent(&self) -> Option<u64> {
        let mut held = self.held.try_borrow_mut().ok()?;
        let start = self.baseline.get().sent;
        held.as_mut().map(|conn| tally(conn).sent - start)
    }
}

impl Connections for Session {
    fn with<T>(&self, work: impl FnMut(&mut DbConnection) -> Result<T, Failure>) -> StoreResult<T> {
        // A store method never calls another through the session, so the
        // connection is never borrowed twice; refuse rather than panic.
        let Ok(mut held) = self.held.try_borrow_mut() else {
            return Err(StoreError::Unexpected(
                "a session's connection was borrowed twice".into(),
            ));
        };
        let mut baseline = self.baseline.get();
        let may_retry = self.may_retry.get();
        let result = run(&self.pool, &mut held, &mut baseline, may_retry, work);
        self.baseline.set(baseline);
        // Once a statement got an answer, the session never retries again.
        if let Some(conn) = held.as_mut() {
            if tally(conn).answered != baseline.answered {
                self.may_retry.set(false);
            }
        }
        result
    }
}

/// Runs `work` on `held` (checking one out if empty), retrying once on a
/// live connection when the module's rules allow it.
fn run<T>(
    pool: &Pool,
    held: &mut Option<Pooled>,
    baseline: &mut Counts,
    may_retry: bool,
    mut work: impl FnMut(&mut DbConnection) -> Result<T, Failure>,
) -> StoreResult<T> {
    let conn = if let Some(conn) = held {
        conn
    } else {
        let mut conn = pool.get().map_err(pool_unavailable)?;
        *baseline = tally(&mut conn);
        held.insert(conn)
    };
    let failure = match work(conn) {
        Ok(value) => return Ok(value),
        Err(failure) => failure,
    };
    let untouched = tally(conn).answered == baseline.answered;
    if !(may_retry && untouched && lost(&failure)) {
        return Err(failure.into_store());
    }
    // Dropping the broken connection discards it (its tally says `lost`).
    *held = None;
    let mut fresh = live_connection(pool).map_err(|()| failure.into_store())?;
    *baseline = tally(&mut fresh);
    let conn = held.insert(fresh);
    work(conn).map_err(Failure::into_store)
}

/// A pooled connection that answers a ping: idle connections broken in the
/// same event are discarded on the way. `Err` when none can be had.
fn live_connection(pool: &Pool) -> Result<Pooled, ()> {
    // Each failed ping discards one connection; the pool then opens new ones.
    for _ in 0..=pool.max_size() {
        let Ok(mut conn) = pool.get() else {
            return Err(());
        };
        if conn.ping().is_ok() && !tally(&mut conn).lost {
            return Ok(conn);
        }
    }
    Err(())
}
