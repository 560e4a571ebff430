//! The one error type of the storage ports.

use integrations_domain::{Name, PipelineId};

/// The most pipelines a [`StoreError::TemplateInUse`] names; the rest are
/// only counted (see `docs/decisions.md`).
pub const MAX_PIPELINES_NAMED: usize = 100;

/// A pipeline named in a [`StoreError::TemplateInUse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRef {
    /// Its id.
    pub id: PipelineId,
    /// Its name.
    pub name: Name,
}

/// What a storage port method can fail with. Each method says which variants
/// it returns when; every other failure is `Unavailable` or `Unexpected`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed object does not exist in the caller's org (or is deleted).
    #[error("not found")]
    NotFound,
    /// An object named in the request body (not the path) does not exist in
    /// the caller's org; `field` is the body field that named it.
    #[error("{field} does not name an object of this organisation")]
    UnknownReference {
        /// The request field (`integration_id`, `revision_id`).
        field: &'static str,
    },
    /// Another live object of the same kind in the org has this name (case-insensitively).
    #[error("the name is already taken")]
    NameTaken,
    /// The template is pinned by pipelines and cannot be deleted.
    #[error("the template is attached to {} pipeline(s)", .pipelines.len() + .more)]
    TemplateInUse {
        /// The first [`MAX_PIPELINES_NAMED`] of them, by name.
        pipelines: Vec<PipelineRef>,
        /// How many more pin it.
        more: usize,
    },
    /// The change's idempotency claim is no longer the key's (another request
    /// took the key over as abandoned): the change was rolled back.
    #[error("the idempotency key's claim was taken over by another request")]
    ClaimLost,
    /// The template is already attached to the pipeline.
    #[error("the template is already attached to this pipeline")]
    AlreadyAttached,
    /// The revision does not belong to the template it was given with.
    #[error("the revision belongs to another template")]
    RevisionOfAnotherTemplate,
    /// A per-object quota is full: the object already has `limit` of what the
    /// change would add one more of.
    #[error("the limit of {limit} is reached")]
    LimitReached {
        /// The quota.
        limit: u32,
    },
    /// The template's latest revision is not the one the caller based its change on.
    #[error("the latest revision is {latest}")]
    StaleRevision {
        /// The template's current latest revision number (0 when none).
        latest: u32,
    },
    /// The object changed since the version the caller based its change on.
    #[error("the object changed since the given version")]
    PreconditionFailed,
    /// The database cannot be reached now; retrying later may succeed.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: a bug or a broken invariant. The source chain says what.
    #[error("unexpected storage failure")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The result of a storage port method.
pub type StoreResult<T> = Result<T, StoreError>;
