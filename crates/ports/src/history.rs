//! The history of what shaped a pipeline's rendered config: its parameters
//! and the pins of its attachments, recorded by the store with each change's
//! event and numbered by that event's `seq`, so that the config a pipeline
//! had at a past instant can be rendered again.

use integrations_domain::{Attachment, OrgId, Pipeline, PipelineId, Revision, RevisionId};
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::sealed::SealedSecret;

/// A pipeline as it was after one change of its org.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineAt {
    /// The change the instant resolved to: the highest event `seq` of the
    /// org recorded at or before it.
    pub seq: u64,
    /// The pipeline with the parameters and secret parameters (version ids)
    /// it had then; its name and description are today's.
    pub pipeline: Pipeline,
    /// The `seq` of the last change of its parameters or secret parameters
    /// at or before [`PipelineAt::seq`].
    pub parameters_seq: u64,
    /// Its attachments then (enabled or not), newest first as the live
    /// list orders them, each with the `seq` of its own last change. An
    /// attachment's `latest_revision` is its template's today.
    pub attachments: Vec<(Attachment, u64)>,
}

/// What the history says about a pipeline at an instant.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryAnswer {
    /// The pipeline as it was.
    Found(Box<PipelineAt>),
    /// The org has no history of this pipeline at all.
    Unknown,
    /// The pipeline did not exist then: not yet created, or deleted.
    NotThen,
    /// The instant is older than the history kept for the org, complete from
    /// `complete_from` on.
    Expired {
        /// The oldest instant the org's history answers for.
        complete_from: OffsetDateTime,
    },
}

/// Reading the history. It is written by the change methods of the other
/// store traits, in the change's transaction, and pruned with the events.
pub trait HistoryStore {
    /// The pipeline `pipeline` of the org as it was at `at`: `at` resolves to
    /// the highest event `seq` of the org recorded at or before it (the
    /// events' order, not a clock's), and each part of the pipeline to its
    /// newest state at or below that `seq`.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn pipeline_at(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        at: OffsetDateTime,
    ) -> StoreResult<HistoryAnswer>;

    /// A revision of the org by id, whether or not its template was deleted
    /// since (history pins revisions of deleted templates).
    ///
    /// # Errors
    /// `NotFound` for a revision that is not the org's.
    fn revision_by_id(&self, org: &OrgId, revision: RevisionId) -> StoreResult<Revision>;

    /// The history's copies of the sealed values of the pipeline's secret
    /// parameters: every value the kept history references, each bound to
    /// the pipeline's place and its version like the original.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn history_secrets(&self, org: &OrgId, pipeline: PipelineId) -> StoreResult<Vec<SealedSecret>>;
}
