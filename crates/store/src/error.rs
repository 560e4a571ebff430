//! Translating Diesel's errors into the port's [`StoreError`] at the edge.
//!
//! Inside the adapter, a step fails with [`Failure`]: either an outcome the
//! port names (`NotFound`, `NameTaken`…) or a raw Diesel error. Each port
//! method maps the Diesel errors it expects (a unique violation that means
//! "name taken") itself; [`Failure::into_store`] turns the rest into
//! `Unavailable` (the database cannot be reached or is overloaded now) or
//! `Unexpected` (anything else, cause kept).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use integrations_ports::StoreError;

/// Why a step inside the adapter failed.
#[derive(Debug)]
pub enum Failure {
    /// An outcome the port names.
    Store(StoreError),
    /// A Diesel error not yet classified.
    Diesel(DieselError),
}

impl From<DieselError> for Failure {
    fn from(err: DieselError) -> Self {
        Self::Diesel(err)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl Failure {
    /// A unique-constraint violation becomes `outcome`; everything else stays as it is.
    pub(crate) fn unique_means(self, outcome: impl FnOnce() -> StoreError) -> Self {
        match self {
            Self::Diesel(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Self::Store(outcome())
            }
            other => other,
        }
    }

    /// The port's error.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Self::Store(err) => err,
            Self::Diesel(err) if is_unavailable(&err) => StoreError::Unavailable(Box::new(err)),
            Self::Diesel(DieselError::NotFound) => StoreError::NotFound,
            Self::Diesel(err) => StoreError::Unexpected(Box::new(err)),
        }
    }
}

/// Whether an error means "the database cannot serve this now" rather than a bug.
fn is_unavailable(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            [
                // SQLite: the busy timeout ran out waiting for the writer slot.
                "database is locked",
                // PostgreSQL: statement_timeout, lock waits, shutdown, lost server.
                "canceling statement due to statement timeout",
                "canceling statement due to lock timeout",
                "terminating connection",
                "server closed the connection",
                "could not receive data from server",
                "could not send data to server",
                "the database system is shutting down",
                "the database system is starting up",
                "no connection to the server",
                "connection timed out",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        _ => false,
    }
}

/// A pool checkout that timed out: the database is unreachable or saturated.
pub(crate) fn pool_unavailable(err: diesel::r2d2::PoolError) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}

/// A row that does not convert into a domain value: a broken invariant.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Failure {
    Failure::Store(StoreError::Unexpected(
        format!("stored {what} is invalid: {detail}").into(),
    ))
}
