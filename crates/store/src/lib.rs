//! The storage adapter: Diesel over the embedded SQLite default or a
//! PostgreSQL server, behind the `integrations-ports` store traits.
//!
//! One `DbConnection` type covers both backends, chosen by the URL's scheme.
//! [`DieselStore::open`] runs the embedded migrations of that backend before
//! the pool serves anything. Every atomic step of the ports is one
//! transaction; write transactions take the write lock up front. No Diesel
//! type leaves this crate: errors become [`integrations_ports::StoreError`]
//! here (see the `error` module for the policy).

mod attachments;
mod audit;
mod connection;
mod counts;
mod error;
mod events;
mod history;
mod idempotency;
mod lookup;
pub mod migrations;
mod pipelines;
mod rekey;
mod revision_statement;
mod rollouts;
mod rows;
mod schema;
mod sealed;
mod session;
mod templates;
mod url;

use std::sync::Arc;

use diesel::RunQueryDsl;
use integrations_domain::OrgId;
use integrations_ports::{Clock, OnCommit, Store, StoreResult, StoreSession};

pub use connection::PoolOptions;
pub use events::{CHANNEL, Channels};
pub use session::{Connections, PerCall, Session};
pub use url::{DatabaseUrl, UrlError, redact, scrub};

use connection::DbConnection;
use error::Failure;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The first connection failed (server down, bad credentials, unwritable file…).
    #[error("cannot connect to {url}")]
    Connect {
        /// The database (password hidden).
        url: DatabaseUrl,
        /// Why.
        #[source]
        source: diesel::ConnectionError,
    },
    /// A migration failed.
    #[error("cannot migrate {url}")]
    Migrate {
        /// The database (password hidden).
        url: DatabaseUrl,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The pool could not be built.
    #[error("cannot build the connection pool for {url}")]
    Pool {
        /// The database (password hidden).
        url: DatabaseUrl,
        /// Why.
        #[source]
        source: diesel::r2d2::PoolError,
    },
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder of {url}")]
    Folder {
        /// The database.
        url: DatabaseUrl,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The store: a connection pool over one database. `DieselStore` (the
/// default `C`) runs each call on a connection of its own; a
/// [`DieselSession`] runs all of a unit of work's calls on one.
pub struct DieselStore<C: Connections = PerCall> {
    conns: C,
    url: DatabaseUrl,
    /// Told of each committed change.
    on_commit: Option<OnCommit>,
    /// Dates each change's events when it closes (see [`DieselStore::with_clock`]).
    clock: Option<Arc<dyn Clock>>,
}

/// The store a use case gets from `Store::session`: one connection for all its calls.
pub type DieselSession = DieselStore<Session>;

impl Clone for DieselStore {
    fn clone(&self) -> Self {
        Self {
            conns: self.conns.clone(),
            url: self.url.clone(),
            on_commit: self.on_commit.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<C: Connections> std::fmt::Debug for DieselStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl<C: Connections> DieselStore<C> {
    /// Runs `work` on the connection `C` gives, translating every failure at the edge.
    fn with<T>(&self, work: impl FnMut(&mut DbConnection) -> Result<T, Failure>) -> StoreResult<T> {
        self.conns.with(work)
    }

    /// The time a change closing now records for its events and history:
    /// read inside its transaction, after the locks it waited for.
    fn stamp(&self) -> Option<time::OffsetDateTime> {
        self.clock.as_ref().map(|clock| clock.now())
    }

    /// Tells the commit hook, if any, that a change of `org` committed.
    fn committed(&self, org: &OrgId) {
        if let Some(hook) = &self.on_commit {
            hook(org);
        }
    }
}

impl DieselSession {
    /// Statements this session has sent so far (round trips), for tests and
    /// measurements; `None` before its first call.
    pub fn statements_sent(&self) -> Option<u64> {
        self.conns.statements_sent()
    }
}

impl DieselStore {
    /// Connects, runs pending migrations, and builds the pool.
    ///
    /// # Errors
    /// [`OpenError`] saying which step failed and why.
    pub fn open(url: &DatabaseUrl, options: PoolOptions) -> Result<Self, OpenError> {
        migrations::run_pending(url)?;
        let pool = connection::pool(url, options).map_err(|source| OpenError::Pool {
            url: url.clone(),
            source,
        })?;
        Ok(Self {
            conns: PerCall { pool },
            url: url.clone(),
            on_commit: None,
            clock: None,
        })
    }

    /// This store, calling `hook` after each change it commits (and so
    /// do its sessions).
    #[must_use]
    pub fn with_on_commit(mut self, hook: OnCommit) -> Self {
        self.on_commit = Some(hook);
        self
    }

    /// This store, dating each change's events (and history) by `clock` as
    /// the change closes, inside its transaction, rather than by its audit
    /// entry's time, which the application read before the transaction
    /// began: a change that waited for a lock is then recorded when it
    /// committed, not when it was asked for. Without a clock (the storage
    /// contract tests, which set their own instants) the audit entry's time
    /// is kept.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The database this store uses (password hidden when displayed).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Connections open now and how many of them are idle, for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.conns.pool.state();
        (state.connections, state.idle_connections)
    }

    /// A session of this store as its concrete type (`Store::session` boxes it).
    pub fn open_session(&self) -> DieselSession {
        DieselStore {
            conns: Session::new(self.conns.pool.clone()),
            url: self.url.clone(),
            on_commit: self.on_commit.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<C: Connections> StoreSession for DieselStore<C> {}

impl Store for DieselStore {
    fn session(&self) -> Box<dyn StoreSession + '_> {
        Box::new(self.open_session())
    }

    fn ping(&self) -> StoreResult<()> {
        self.with(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
    }
}
