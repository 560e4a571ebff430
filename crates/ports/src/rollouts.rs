//! Rollouts: one step that re-pins many pipelines of a template, previewed
//! first, applied in one transaction, and rolled back as a rollout of its own.
//!
//! The application decides what a rollout does (which pins move, what each
//! row reports, the audit entries); the store gives it the pins as they are
//! inside the transaction, under lock, and writes what it decided — so a pin
//! re-pinned by someone else since the preview is recorded with the revision
//! it really had.

use integrations_domain::{
    Attachment, AttachmentId, OrgId, PipelineId, RevisionId, RolloutId, TemplateId, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::{AuditEntry, wire_enum};
use crate::error::StoreResult;
use crate::idempotency::{ClaimedKey, Respond};
use crate::list::{ListPage, Window};

wire_enum! {
    /// Whether a rollout was only previewed or applied.
    RolloutStatus, "rollout status" {
        /// A dry run: computed, answered, never stored.
        Preview => "preview",
        /// Applied: its pins moved in one transaction.
        Applied => "applied",
    }
}

wire_enum! {
    /// What a rollout does, or did, to one pipeline.
    PinStatus, "rollout pipeline status" {
        /// A preview's pipeline that would move.
        Ready => "ready",
        /// A preview's pipeline that cannot move: missing parameters or
        /// problems in its rendered config.
        Blocked => "blocked",
        /// Re-pinned.
        Moved => "moved",
        /// Left alone (a rollback's pipeline no longer where the rollout
        /// left it, or a pin removed meanwhile).
        Skipped => "skipped",
    }
}

impl Serialize for PinStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PinStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// One problem of a pipeline's rendered config: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutProblem {
    /// The value at fault (`config.batch_size`).
    pub field: String,
    /// A short machine-readable code (`invalid_type`, `not_an_option`…).
    pub problem: String,
    /// What is wrong with it, in words (`must be an integer`); never a value.
    pub message: String,
}

/// One pipeline of a rollout. Its stored form is this structure as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutPipeline {
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// Its name when the rollout was made.
    pub pipeline_name: String,
    /// The revision number it was pinned at (for an applied rollout: inside
    /// the transaction that moved it).
    pub from_revision: u32,
    /// The revision number it moves (or moved) to.
    pub to_revision: u32,
    /// What happens to it.
    pub status: PinStatus,
    /// For a skipped pipeline: the revision number it is at (`None` when
    /// the pin is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u32>,
    /// Keys the target revision references that the pipeline does not define.
    pub missing_parameters: Vec<String>,
    /// The rendered config's problems at the target revision.
    pub problems: Vec<RolloutProblem>,
    /// RFC 6902 operations from the rendered config at `from_revision` to
    /// the one at `to_revision`, secret values never shown; `None` when the
    /// rollout's budget for diffs was spent, or a side could not render.
    pub config_diff: Option<Value>,
}

/// A rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// Its id.
    pub id: RolloutId,
    /// The template whose pins it moves.
    pub template_id: TemplateId,
    /// The revision number it moves pins to; `None` for a rollback (each
    /// pin returns to its own earlier revision).
    pub to_revision: Option<u32>,
    /// Preview or applied.
    pub status: RolloutStatus,
    /// The caller's note.
    pub note: Option<String>,
    /// Who made it.
    pub created_by: UserId,
    /// When.
    pub created_at: OffsetDateTime,
    /// For a rollback: the rollout it undoes.
    pub rolled_back_from: Option<RolloutId>,
    /// Its pipelines, in the order of their ids.
    pub pipelines: Vec<RolloutPipeline>,
}

/// One target of a rollout as the store found it inside the transaction.
#[derive(Debug, Clone)]
pub struct FoundPin {
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// Its pin of the template, locked; `None` when the pipeline no longer
    /// pins it (detached, or the pipeline deleted, since the preview).
    pub attachment: Option<Attachment>,
    /// The pipeline's `updated_at` as the transaction reads it (`None`
    /// when it is gone): a use case that checked the pipeline's parameters
    /// earlier tells whether they may have changed since.
    pub pipeline_updated_at: Option<OffsetDateTime>,
}

/// What the application decided, to be written in the rollout's transaction.
#[derive(Debug, Clone)]
pub struct RolloutWrite {
    /// The rollout to store (status applied).
    pub rollout: Rollout,
    /// The pins to move: each attachment to its new revision.
    pub moves: Vec<(AttachmentId, RevisionId)>,
    /// The audit entries: the rollout's own first, then one per moved pin.
    pub audit: Vec<AuditEntry>,
}

/// What an apply needs besides the decision.
#[derive(Debug, Clone)]
pub struct ApplyRollout {
    /// The template.
    pub template_id: TemplateId,
    /// The pipelines targeted.
    pub pipelines: Vec<PipelineId>,
    /// `If-Match`: the template's latest revision number the caller saw;
    /// `StaleRevision` when it is not the latest any more.
    pub expected_latest: Option<u32>,
}

/// Turns the pins found into what to write; an error rolls everything back.
pub type Decide<'a> = dyn FnMut(Vec<FoundPin>) -> StoreResult<RolloutWrite> + 'a;

/// Stored rollouts.
pub trait RolloutStore {
    /// Applies a rollout in one transaction: locks the live template (and
    /// checks `expected_latest`), locks the targets' pins of it in pipeline
    /// order, hands them to `decide`, then writes its audit entries, moves
    /// the pins it chose, stores the rollout and appends the events, or
    /// nothing at all. With `replay`, the response a retry with the same
    /// `Idempotency-Key` replays is recorded in the same transaction.
    ///
    /// # Errors
    /// `NotFound` when the template is not live; `StaleRevision` when
    /// `expected_latest` is given and not the latest; what `decide` returns.
    fn apply_rollout(
        &self,
        org: &OrgId,
        apply: &ApplyRollout,
        decide: &mut Decide<'_>,
        replay: Option<(&ClaimedKey, Respond<'_, Rollout>)>,
    ) -> StoreResult<Rollout>;

    /// The pins of `template` on those of `pipelines` that are live and pin
    /// it (any order): the targets a rollout names, read by their ids.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn pins_on(
        &self,
        org: &OrgId,
        template: TemplateId,
        pipelines: &[PipelineId],
    ) -> StoreResult<Vec<Attachment>>;

    /// One stored rollout of the org.
    ///
    /// # Errors
    /// `NotFound` when the org has no such rollout.
    fn rollout(&self, org: &OrgId, id: RolloutId) -> StoreResult<Rollout>;

    /// A page of the org's rollouts (of one template when given), newest
    /// first, ties by id descending; `total` costs as much as the matches.
    /// Their pipelines come without `config_diff` (a rollout's diffs may
    /// reach megabytes; [`RolloutStore::rollout`] reads them).
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn rollouts(
        &self,
        org: &OrgId,
        template: Option<TemplateId>,
        window: Window,
    ) -> StoreResult<ListPage<Rollout>>;
}
