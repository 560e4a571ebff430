//! Ports: what the application needs from the outside world, as traits.
//!
//! Adapters implement them (`integrations-store` for storage, the server for
//! the clock and ids); the application depends on nothing else. No adapter
//! type (Diesel, actix, r2d2) appears here.
//!
//! # Error policy
//!
//! Each port method documents, under `# Errors`, which [`StoreError`] variant
//! an adapter must return in which case; the store's contract tests check
//! exactly that on every backend. Anything an adapter did not expect becomes
//! [`StoreError::Unexpected`] carrying the cause chain, and a database that
//! cannot be reached now becomes [`StoreError::Unavailable`], quickly, never a
//! hang.

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod audit;
mod auth;
mod cipher;
mod error;
mod events;
mod history;
mod idempotency;
mod list;
mod rekey;
mod rollouts;
mod sealed;
mod store;
mod system;

pub use audit::{AuditAction, AuditEntry, ResourceType, UnknownValue};
pub use auth::{AuthError, TOKEN_LEEWAY, TokenVerifier, VerifiedToken};
pub use cipher::{Binding, CipherError, Envelope, SecretCipher};
pub use error::{MAX_PIPELINES_NAMED, PipelineRef, StoreError, StoreResult};
pub use events::{
    Affected, Announcement, ChangeChannel, ChangeChannels, Event, EventResource, EventStore,
    EventType, NewEvent, OnCommit,
};
pub use history::{HistoryAnswer, HistoryStore, PipelineAt};
pub use idempotency::{
    Change, Claim, ClaimedKey, IdempotencyScope, IdempotencyStore, Respond, StoredResponse,
};
pub use list::{ListPage, Newest, Start, Window};
pub use rekey::{KeyCount, KeyRotationStore, LegacyRevision, SealPlace, StoredSeal};
pub use rollouts::{
    ApplyRollout, Decide, FoundPin, PinStatus, Rollout, RolloutPipeline, RolloutProblem,
    RolloutStatus, RolloutStore, RolloutWrite,
};
pub use sealed::{
    PIPELINE_OWNER, REVISION_OWNER, SealedSecret, SealedValueStore, secret_parameter_path,
};
pub use store::{
    AttachmentChanges, AttachmentStore, AuditStore, NewAttachment, NewPipeline, NewRevision,
    NewTemplate, PipelineChanges, PipelineFilter, PipelineStore, Store, StoreSession,
    TemplateChanges, TemplateFilter, TemplateStore,
};
pub use system::{Clock, IdGenerator, SystemClock, UlidGenerator};
