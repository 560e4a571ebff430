//! Test support: every test gets its own database.
//!
//! - [`TestDb::sqlite`]: a fresh SQLite file in a temporary folder, removed afterwards.
//! - [`TestDb::postgres`]: a fresh database on the server at `TEST_DATABASE_URL`
//!   (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped afterwards.
//!   When that server cannot be reached, the PostgreSQL half of the suite is
//!   skipped with a loud warning on the terminal — and under `CI=true` the
//!   test fails instead, so CI can never pass without PostgreSQL.
//!
//! [`backend_tests!`] turns one test function into a test per backend.

#![expect(
    clippy::expect_used,
    reason = "test support: a broken test environment must fail the test at once"
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};

/// The server the PostgreSQL half runs against when `TEST_DATABASE_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which backend a test database is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite default.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A database of its own for one test; removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    /// Keeps the SQLite folder alive until the test ends.
    folder: Option<tempfile::TempDir>,
    /// The PostgreSQL database to drop, and the admin URL to drop it through.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite database file.
    ///
    /// # Panics
    /// When no temporary folder can be created.
    pub fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder for the test database");
        let path: PathBuf = folder.path().join("integrations.db");
        Self {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            folder: Some(folder),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after a loud warning) when the
    /// server is unreachable outside CI.
    ///
    /// # Panics
    /// Under `CI=true` when the server is unreachable, or when the database
    /// cannot be created on a reachable server.
    pub fn postgres() -> Option<Self> {
        let admin_url = admin_url();
        if !postgres_reachable(&admin_url) {
            return None;
        }
        let name = format!(
            "integrations_test_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let mut admin = PgConnection::establish(&admin_url).expect("the admin connection");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE for the test");
        Some(Self {
            backend: Backend::Postgres,
            url: with_database(&admin_url, &name),
            folder: None,
            postgres: Some((name, admin_url)),
        })
    }

    /// A fresh database on `backend` (`None` as for [`TestDb::postgres`]).
    pub fn on(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(),
        }
    }

    /// Its backend.
    pub const fn backend(&self) -> Backend {
        self.backend
    }

    /// Its `DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the PostgreSQL database now, terminating its connections: the
    /// server vanishing, as far as a client of that database can tell.
    ///
    /// # Panics
    /// When the admin connection or the drop fails.
    pub fn destroy(&self) {
        if let Some((name, admin_url)) = &self.postgres {
            let mut admin = PgConnection::establish(admin_url).expect("the admin connection");
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .expect("DROP DATABASE");
        }
    }

    /// Runs `sql` on a direct connection and returns its single text column,
    /// for tests that must look at what the database itself holds.
    ///
    /// # Panics
    /// When the connection or the query fails.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let query = diesel::sql_query(sql);
        let rows: Vec<Row> = match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn =
                    SqliteConnection::establish(path).expect("a direct SQLite connection");
                query.load(&mut conn)
            }
            Backend::Postgres => {
                let mut conn =
                    PgConnection::establish(&self.url).expect("a direct PostgreSQL connection");
                query.load(&mut conn)
            }
        }
        .expect("the query runs");
        rows.into_iter().map(|r| r.value).collect()
    }

    /// Runs `sql` (one or more statements) on a direct connection: what a
    /// test does behind the service's back, such as writing a row in an
    /// older format or tampering with one.
    ///
    /// # Errors
    /// The database's refusal (a trigger, a constraint…).
    ///
    /// # Panics
    /// When the connection cannot be made.
    pub fn execute(&self, sql: &str) -> Result<(), diesel::result::Error> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn =
                    SqliteConnection::establish(path).expect("a direct SQLite connection");
                conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")?;
                conn.batch_execute(sql)
            }
            Backend::Postgres => PgConnection::establish(&self.url)
                .expect("a direct PostgreSQL connection")
                .batch_execute(sql),
        }
    }

    /// Takes SQLite's write lock from another connection and holds it until
    /// the guard is dropped (SQLite only): the database "busy", as a stuck
    /// writer elsewhere would leave it.
    ///
    /// # Panics
    /// On PostgreSQL, or when the lock cannot be taken.
    pub fn hold_write_lock(&self) -> WriteLock {
        assert_eq!(
            self.backend,
            Backend::Sqlite,
            "only SQLite has a database-wide write lock"
        );
        let path = self.url.trim_start_matches("sqlite://");
        let mut conn = SqliteConnection::establish(path).expect("a direct SQLite connection");
        conn.batch_execute("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE")
            .expect("the write lock");
        WriteLock(conn)
    }

    /// The folder holding the SQLite file (SQLite only).
    pub fn folder(&self) -> Option<&std::path::Path> {
        self.folder.as_ref().map(tempfile::TempDir::path)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((name, admin_url)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// SQLite's write lock, held until dropped.
pub struct WriteLock(SqliteConnection);

impl std::fmt::Debug for WriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteLock")
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("COMMIT");
    }
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `url` with its database path replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Checks the server once per test process; warns loudly or fails under CI.
fn postgres_reachable(admin_url: &str) -> bool {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = REACHABLE.get_or_init(|| {
        PgConnection::establish(admin_url)
            .map(drop)
            .map_err(|err| err.to_string())
    });
    match result {
        Ok(()) => true,
        Err(err) => {
            let message = format!(
                "PostgreSQL at {} is unreachable ({}): the PostgreSQL half of the suite was SKIPPED. \
                 Start a server or set TEST_DATABASE_URL.",
                redact(admin_url),
                err.trim()
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: {message}"
            );
            warn_once(&message);
            false
        }
    }
}

/// Writes straight to the terminal's stderr, past the test harness's output
/// capture, once per test process.
fn warn_once(message: &str) {
    static WARNED: OnceLock<()> = OnceLock::new();
    WARNED.get_or_init(|| {
        let banner = "!".repeat(100);
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n!! WARNING: {message}\n{banner}\n"
        );
    });
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Turns test functions taking `&TestDb` into one test per backend, in modules
/// `sqlite` and `postgres`.
///
/// ```ignore
/// fn creates_a_template(db: &TestDb) { /* … */ }
/// integrations_testing::backend_tests!(creates_a_template);
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = $crate::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path_and_keep_the_query() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/p?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
