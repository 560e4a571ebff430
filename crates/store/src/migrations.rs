//! The embedded migrations: one tree per backend (`migrations/sqlite`,
//! `migrations/postgres`) with identical names, run on a direct connection
//! before the pool serves. Several processes starting at once are safe: the
//! run holds the SQLite write lock or a PostgreSQL advisory lock.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::OpenError;
use crate::connection::{DbConnection, establish};
use crate::url::DatabaseUrl;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The advisory lock key that serialises migrations across processes.
const POSTGRES_MIGRATION_LOCK: i64 = 0x696e_7465_6772_6174;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a migration step did: the versions it applied or reverted, oldest first.
pub type Versions = Vec<String>;

fn versions(applied: &[diesel::migration::MigrationVersion<'_>]) -> Versions {
    applied.iter().map(ToString::to_string).collect()
}

/// Runs `step` under the migration lock of the URL's backend.
fn locked(
    url: &DatabaseUrl,
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
        DbConnection::Sqlite(sqlite) => sqlite
            .immediate_transaction(|sqlite| step(&mut (sqlite, sqlite_migrations as fn() -> _))),
        DbConnection::Postgres(pg) => {
            let lock = format!("SELECT pg_advisory_lock({POSTGRES_MIGRATION_LOCK})");
            let unlock = format!("SELECT pg_advisory_unlock({POSTGRES_MIGRATION_LOCK})");
            diesel::sql_query(lock)
                .execute(pg)
                .map_err(BoxError::from)
                .and_then(|_| {
                    let result = step(&mut (&mut *pg, postgres_migrations as fn() -> _));
                    // Closing the connection releases the lock too; this is only tidiness.
                    let _ = pg.batch_execute(&unlock);
                    result
                })
        }
    };
    result.map_err(|source| OpenError::Migrate {
        url: url.clone(),
        source,
    })
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

/// Applies every pending migration.
///
/// # Errors
/// [`OpenError::Connect`] or [`OpenError::Migrate`].
pub fn run_pending(url: &DatabaseUrl) -> Result<Versions, OpenError> {
    locked(url, |step| step.run_pending())
}

/// Reverts every applied migration, newest first (for round-trip tests and
/// tearing a database down; never run by the service).
///
/// # Errors
/// [`OpenError::Connect`] or [`OpenError::Migrate`].
pub fn revert_all(url: &DatabaseUrl) -> Result<Versions, OpenError> {
    locked(url, |step| step.revert_all())
}
