//! The use cases of the Integrations Management API.
//!
//! Each route of the HTTP adapter makes **one** call here. The use case takes
//! the [`Caller`] and the ids as the path gave them, and does, in this order,
//! find → authorize → validate → change, so that a request is answered by the
//! first check it fails: authenticate (401, in the adapter) → role (403) →
//! find (404) → validate (400/422) → conflict or precondition (409/412). A
//! body is handed over as a closure that the use case calls after the find,
//! so the adapter keeps its wire types and the order stays here.
//!
//! All of a use case's store calls go through one
//! [`Store::session`]: one pooled
//! connection per request. Use cases are synchronous: the HTTP adapter runs
//! them off its async executor, in one place.

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod attachments;
mod audit;
mod catalog;
mod diff_budget;
mod error;
mod events;
mod feed;
mod history;
mod idempotency;
mod keys;
mod metrics;
mod pipelines;
mod pump;
mod readiness;
mod render;
mod revisions;
mod rollouts;
mod secret_parameters;
mod secrets;
mod slots;
mod templates;
mod versioning;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use integrations_domain::{Action, Caller};
pub use integrations_ports::VerifiedToken;
use integrations_ports::{Clock, IdGenerator, SecretCipher, Store, TokenVerifier};

pub use attachments::{Attach, MAX_ATTACHMENTS_PER_PIPELINE, UpdateAttachment};
pub use catalog::Install;
pub use error::{AppError, BoxError, FieldProblem, NamedKind, error_chain};
pub use events::{EventFilter, EventPage, EventQuery, MAX_EVENTS, MAX_EXAMINED};
pub use feed::{Feed, FeedStats, Note, Woken};
pub use history::PipelineConfigAt;
pub use idempotency::{ABANDONED_AFTER, Idempotent, KEEP_KEYS, Outcome, Replay};
pub use integrations_ports::AuditEntry;
pub use integrations_ports::{Claim, ListPage, Newest, Start, StoredResponse, Window};
pub use keys::{KeyStatus, MAX_REPORTED_FAILURES, RekeyReport, Unopenable};
pub use metrics::Counters;
pub use pipelines::{CreatePipeline, UpdatePipeline};
pub use pump::{FeedPump, PumpOptions};
pub use readiness::READINESS_CACHE;
pub use render::{
    MAX_PIPELINE_CONFIG_BYTES, PipelineConfig, PipelineConfigAnswer, RenderFailure, RenderWarning,
    RenderedConfig, SECRET_IN_PLAIN_PARAMETER,
};
pub use revisions::{CreateRevision, REVISION_BATCH, RevisionBatches, RevisionList};
pub use rollouts::{MAX_ROLLOUT_DIFF_BYTES, MAX_ROLLOUT_PIPELINES, StartRollout};
pub use slots::{
    DEFAULT_MAX_HELD_PER_USER, HELD_RETRY_AFTER_SECONDS, Held, MAX_ROLLOUTS_AT_ONCE,
    ROLLOUT_RETRY_AFTER_SECONDS, Slot,
};
pub use templates::{CreateTemplate, TemplateSearch, UpdateTemplate};
pub use versioning::{Pin, Restore, RevisionDiff, template_etag};

/// The application: its ports, and the use cases as methods.
#[derive(Debug, Clone)]
pub struct App {
    store: Arc<dyn Store>,
    tokens: Arc<dyn TokenVerifier>,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    /// When this process last purged expired idempotency keys (Unix seconds).
    last_purge: Arc<AtomicI64>,
    /// What the use cases count, for the metrics.
    counters: Arc<Counters>,
    /// The change feed as this process knows it.
    feed: Feed,
    /// The rollout previews and applies running now (at most
    /// [`MAX_ROLLOUTS_AT_ONCE`]).
    rollout_slots: Arc<slots::Slots>,
    /// The requests each user holds open now (long polls, config watches,
    /// event streams).
    holds: Arc<slots::Holds>,
    /// The last readiness answer (`/readyz`), kept for [`READINESS_CACHE`].
    readiness: Arc<readiness::Readiness>,
}

/// Checks the caller's role: the authorize step of every use case.
pub(crate) fn authorize(caller: &Caller, action: Action) -> Result<(), AppError> {
    if caller.can(action) {
        Ok(())
    } else {
        Err(AppError::Forbidden(action))
    }
}

/// The adapters the application runs on.
#[derive(Debug, Clone)]
pub struct Adapters {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Bearer-token verification.
    pub tokens: Arc<dyn TokenVerifier>,
    /// Secrets at rest.
    pub cipher: Arc<dyn SecretCipher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl App {
    /// Wires the application to its adapters.
    pub fn new(adapters: Adapters) -> Self {
        let Adapters {
            store,
            tokens,
            cipher,
            clock,
            ids,
        } = adapters;
        Self {
            store,
            tokens,
            cipher,
            clock,
            ids,
            last_purge: Arc::new(AtomicI64::new(0)),
            counters: Arc::new(Counters::default()),
            feed: Feed::new(),
            rollout_slots: slots::Slots::new(MAX_ROLLOUTS_AT_ONCE),
            holds: slots::Holds::new(DEFAULT_MAX_HELD_PER_USER),
            readiness: Arc::new(readiness::Readiness::new(READINESS_CACHE)),
        }
    }

    /// This application, publishing changes to `feed` (whose
    /// [`Feed::on_commit`] hook the store calls).
    #[must_use]
    pub fn with_feed(mut self, feed: Feed) -> Self {
        self.feed = feed;
        self
    }

    /// What the use cases counted so far (shared by every clone of this
    /// application), for an adapter's metrics to read.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Whom a bearer token speaks for, and until when it is accepted (what
    /// `GET /me` shows, and how long an event stream may last). Reads
    /// nothing but the token.
    ///
    /// # Errors
    /// [`AppError::Unauthenticated`].
    pub fn authenticate(&self, token: &str) -> Result<VerifiedToken, AppError> {
        Ok(self.tokens.verify_token(token)?)
    }
}
