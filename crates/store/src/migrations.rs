//! The embedded migrations: one tree per backend (`migrations/sqlite`,
//! `migrations/postgres`) with identical names, run on a direct connection
//! before the pool serves. Several processes starting at once are safe: the
//! run holds the SQLite write lock or a PostgreSQL advisory lock.
//!
//! A process that finds the lock taken waits for it up to
//! [`MIGRATION_LOCK_WAIT`], whatever the statement timeout of its connections
//! (PostgreSQL: short `pg_try_advisory_lock` polls; SQLite: the migration
//! connection's busy timeout), then fails with
//! [`MigrationLockError`] ("another process holds the migration lock").

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::Bool;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::OpenError;
use crate::connection::{DbConnection, establish};
use crate::url::DatabaseUrl;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The advisory lock key that serialises migrations across processes.
pub const POSTGRES_MIGRATION_LOCK: i64 = 0x696e_7465_6772_6174;

/// How long a start waits for another process's migration lock.
pub const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting PostgreSQL migration asks for the lock again.
const POSTGRES_LOCK_POLL: Duration = Duration::from_millis(200);

/// Another process held the migration lock for longer than this process waits.
#[derive(Debug, thiserror::Error)]
#[error(
    "another process holds the migration lock and did not release it within {} s \
     (a migration still running elsewhere, or a stuck process holding the lock); \
     retry when it has finished",
    .waited.as_secs()
)]
pub struct MigrationLockError {
    /// How long this process waited.
    pub waited: Duration,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a migration step did: the versions it applied or reverted, oldest first.
pub type Versions = Vec<String>;

fn versions(applied: &[diesel::migration::MigrationVersion<'_>]) -> Versions {
    applied.iter().map(ToString::to_string).collect()
}

/// Runs `step` under the migration lock of the URL's backend, waiting for
/// the lock up to `wait`.
fn locked(
    url: &DatabaseUrl,
    wait: Duration,
    step: impl FnOnce(&mut dyn MigrationStep) -> Result<Versions, BoxError>,
) -> Result<Versions, OpenError> {
    if let DatabaseUrl::Sqlite(path) = url {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| OpenError::Folder {
                url: url.clone(),
                source,
            })?;
        }
    }
    let mut conn = establish(url).map_err(|source| OpenError::Connect {
        url: url.clone(),
        source,
    })?;
    let result = match &mut conn {
        DbConnection::Sqlite(sqlite) => sqlite_locked(sqlite, wait, step),
        DbConnection::Postgres(pg) => postgres_locked(pg, wait, step),
    };
    result.map_err(|source| OpenError::Migrate {
        url: url.clone(),
        source,
    })
}

/// SQLite: the write lock of `BEGIN IMMEDIATE`, waited for by the busy
/// handler for up to `wait` on this connection only.
fn sqlite_locked(
    sqlite: &mut diesel::SqliteConnection,
    wait: Duration,
    step: impl FnOnce(&mut dyn MigrationStep) -> Result<Versions, BoxError>,
) -> Result<Versions, BoxError> {
    let millis = wait.as_millis().min(i32::MAX as u128);
    sqlite.batch_execute(&format!("PRAGMA busy_timeout = {millis}"))?;
    let started = Instant::now();
    let mut began = false;
    let result = sqlite.immediate_transaction(|sqlite| {
        began = true;
        step(&mut (sqlite, sqlite_migrations as fn() -> _))
    });
    match result {
        Err(err) if !began && err.to_string().contains("database is locked") => {
            Err(Box::new(MigrationLockError {
                waited: started.elapsed(),
            }))
        }
        other => other,
    }
}

#[derive(QueryableByName)]
struct Acquired {
    #[diesel(sql_type = Bool)]
    acquired: bool,
}

/// PostgreSQL: a session advisory lock, asked for with `pg_try_advisory_lock`
/// until it is granted or `wait` has passed. Each poll returns at once, so
/// the connection's statement timeout never cuts the wait short.
fn postgres_locked(
    pg: &mut diesel::PgConnection,
    wait: Duration,
    step: impl FnOnce(&mut dyn MigrationStep) -> Result<Versions, BoxError>,
) -> Result<Versions, BoxError> {
    let started = Instant::now();
    let try_lock = format!("SELECT pg_try_advisory_lock({POSTGRES_MIGRATION_LOCK}) AS acquired");
    loop {
        let granted: Vec<Acquired> = diesel::sql_query(&try_lock).load(pg)?;
        if granted.first().is_some_and(|row| row.acquired) {
            break;
        }
        if started.elapsed() >= wait {
            return Err(Box::new(MigrationLockError {
                waited: started.elapsed(),
            }));
        }
        std::thread::sleep(POSTGRES_LOCK_POLL.min(wait.saturating_sub(started.elapsed())));
    }
    let result = step(&mut (&mut *pg, postgres_migrations as fn() -> _));
    // Closing the connection releases the lock too; this is only tidiness.
    let unlock = format!("SELECT pg_advisory_unlock({POSTGRES_MIGRATION_LOCK})");
    let _ = pg.batch_execute(&unlock);
    result
}

/// A connection of a concrete backend with that backend's migrations.
trait MigrationStep {
    fn run_pending(&mut self) -> Result<Versions, BoxError>;
    fn revert_all(&mut self) -> Result<Versions, BoxError>;
}

fn sqlite_migrations() -> EmbeddedMigrations {
    SQLITE
}

fn postgres_migrations() -> EmbeddedMigrations {
    POSTGRES
}

impl<C> MigrationStep for (&mut C, fn() -> EmbeddedMigrations)
where
    C: MigrationHarness<C::Backend> + Connection,
    EmbeddedMigrations: diesel::migration::MigrationSource<C::Backend>,
{
    fn run_pending(&mut self) -> Result<Versions, BoxError> {
        self.0
            .run_pending_migrations((self.1)())
            .map(|v| versions(&v))
    }

    fn revert_all(&mut self) -> Result<Versions, BoxError> {
        self.0
            .revert_all_migrations((self.1)())
            .map(|v| versions(&v))
    }
}

/// Applies every pending migration, waiting up to [`MIGRATION_LOCK_WAIT`]
/// for another process's migration lock.
///
/// # Errors
/// [`OpenError::Connect`] or [`OpenError::Migrate`] (whose source is a
/// [`MigrationLockError`] when the lock stayed taken).
pub fn run_pending(url: &DatabaseUrl) -> Result<Versions, OpenError> {
    run_pending_waiting(url, MIGRATION_LOCK_WAIT)
}

/// [`run_pending`] with another wait for the lock (tests use a short one).
///
/// # Errors
/// As for [`run_pending`].
pub fn run_pending_waiting(url: &DatabaseUrl, wait: Duration) -> Result<Versions, OpenError> {
    locked(url, wait, |step| step.run_pending())
}

/// Reverts every applied migration, newest first (for round-trip tests and
/// tearing a database down; never run by the service).
///
/// # Errors
/// [`OpenError::Connect`] or [`OpenError::Migrate`].
pub fn revert_all(url: &DatabaseUrl) -> Result<Versions, OpenError> {
    locked(url, MIGRATION_LOCK_WAIT, |step| step.revert_all())
}
