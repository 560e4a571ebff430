//! One connection type over both backends, the pool that hands it out, and
//! write transactions that take the write lock up front.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::error::Failure;
use crate::session::{Tally, tally};
use crate::url::{DatabaseUrl, scrub};

/// A connection to either backend; Diesel generates the shared query support.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// A PostgreSQL server.
    Postgres(PgConnection),
    /// The embedded SQLite database.
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres(_) => "DbConnection::Postgres",
            Self::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

/// Per-connection settings. SQLite: enforce foreign keys, write-ahead logging
/// (readers never block the writer), and wait up to 5 s for the write lock.
/// `synchronous = NORMAL` in WAL mode survives a process crash; only an OS
/// crash may lose the last commits.
const SQLITE_SETUP: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";

/// PostgreSQL: no statement or idle transaction may hold the service up.
const POSTGRES_SETUP: &str = "SET statement_timeout = '5s'; \
     SET idle_in_transaction_session_timeout = '10s'; SET TIME ZONE 'UTC';";

/// Opens one connection to the backend the URL names, with the settings above.
pub(crate) fn establish(url: &DatabaseUrl) -> Result<DbConnection, ConnectionError> {
    let setup_failed = |err: diesel::result::Error| {
        ConnectionError::BadConnection(format!("connection setup failed: {err}"))
    };
    match url {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
            conn.batch_execute(SQLITE_SETUP).map_err(setup_failed)?;
            conn.set_instrumentation(Tally::new());
            Ok(DbConnection::Sqlite(conn))
        }
        DatabaseUrl::Postgres(raw) => {
            // libpq quotes the part of a URL it cannot parse, password included.
            let hide = |err: ConnectionError| match err {
                ConnectionError::InvalidConnectionUrl(text) => {
                    ConnectionError::InvalidConnectionUrl(scrub(&text, raw))
                }
                ConnectionError::BadConnection(text) => {
                    ConnectionError::BadConnection(scrub(&text, raw))
                }
                other => other,
            };
            let mut conn =
                PgConnection::establish(&DatabaseUrl::postgres_with_defaults(raw)).map_err(hide)?;
            conn.batch_execute(POSTGRES_SETUP).map_err(setup_failed)?;
            conn.set_instrumentation(Tally::new());
            Ok(DbConnection::Postgres(conn))
        }
    }
}

/// Hands r2d2 connections of the backend the URL names.
#[derive(Debug)]
pub(crate) struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        establish(&self.url).map_err(r2d2::Error::ConnectionError)
    }

    /// Only called by the retry path (`session::live_connection` pings by
    /// itself); the pool does not test connections on checkout.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    /// A connection whose transaction manager broke, or on which a
    /// statement found the connection gone, is never lent again.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken() || tally(conn).lost
    }
}

/// The pool.
pub(crate) type Pool = r2d2::Pool<Manager>;

/// How the pool behaves.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// The most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub checkout_timeout: Duration,
}

impl PoolOptions {
    /// Sizes that suit the backend and the machine: two connections per CPU
    /// the process may use, at least 4, at most 16 for PostgreSQL and 8 for
    /// SQLite (one writer: a handful of readers is plenty).
    ///
    /// Every busy connection is a runnable thread here (and, on PostgreSQL,
    /// a backend process): more of them than the CPUs can run adds no
    /// throughput, and they preempt the HTTP workers. Measured with
    /// PostgreSQL on the same 2-CPU machine (docs/performance.md): 16
    /// connections served GET template at the same rate as 4 (about
    /// 15,000/s) but, with 32 clients, a p99 of 0.8–1.9 s instead of 6–9 ms.
    pub fn for_url(url: &DatabaseUrl) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let per_cpu = u32::try_from(cpus.saturating_mul(2)).unwrap_or(u32::MAX);
        Self {
            max_size: per_cpu.clamp(4, if url.is_sqlite() { 8 } else { 16 }),
            checkout_timeout: Duration::from_secs(2),
        }
    }
}

pub(crate) fn pool(url: &DatabaseUrl, options: PoolOptions) -> Result<Pool, r2d2::PoolError> {
    r2d2::Pool::builder()
        .max_size(options.max_size)
        // No idle connection is kept for its own sake, and one opened for a
        // burst closes after a minute unused: a process that mostly holds
        // waiting requests keeps only what its feed's periodic check uses.
        // (r2d2 would otherwise open a new idle connection whenever the one
        // idle connection is lent.)
        .min_idle(Some(0))
        .idle_timeout(Some(Duration::from_secs(60)))
        // No ping per checkout: a broken connection is found by the first
        // statement and the call retried once (see the `session` module).
        .test_on_check_out(false)
        .connection_timeout(options.checkout_timeout)
        .build(Manager { url: url.clone() })
}

/// Runs `work` in a transaction that holds the database's write lock from its
/// first statement on. On SQLite that is `BEGIN IMMEDIATE`: the transaction
/// waits (up to the busy timeout) for the single writer slot instead of
/// failing with "database is locked" when it later tries to write. On
/// PostgreSQL, row locks taken by the first `UPDATE` do the same per row.
pub(crate) fn write<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    type Manager = <DbConnection as Connection>::TransactionManager;
    if let DbConnection::Sqlite(sqlite) = conn {
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        return match work(conn) {
            Ok(value) => {
                Manager::commit_transaction(conn)?;
                Ok(value)
            }
            Err(failure) => match Manager::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(failure),
                Err(rollback) => Err(rollback.into()),
            },
        };
    }
    conn.transaction(work)
}
