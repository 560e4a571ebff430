//! Rollouts: re-pin many pipelines of a template in one step.

use integrations_app::StartRollout;
use integrations_ports::{Rollout, RolloutPipeline, RolloutProblem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Paged, rfc3339};
use crate::openapi::schemas;
use crate::paging::{newest_cursor, next_cursor};

/// `POST /v1/admin/integration-templates/{id}/rollouts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRolloutBody {
    /// The revision of this template to move pipelines to.
    #[schema(schema_with = schemas::revision_reference)]
    pub revision_id: String,
    /// The pipelines to move (any direction; each must pin this template).
    /// By default every pipeline pinning the template at a lower revision.
    #[serde(default)]
    #[schema(nullable = false, min_items = 1, max_items = 500)]
    pub pipeline_ids: Option<Vec<String>>,
    /// Preview only: nothing is stored or moved (viewer or above). Default
    /// `false`: apply (editor or above).
    #[serde(default)]
    pub dry_run: bool,
    /// Why, for the record (at most 2,000 characters).
    #[serde(default)]
    #[schema(nullable = false)]
    pub note: Option<String>,
}

impl From<StartRolloutBody> for StartRollout {
    fn from(body: StartRolloutBody) -> Self {
        Self {
            revision_id: body.revision_id,
            pipeline_ids: body.pipeline_ids,
            dry_run: body.dry_run,
            note: body.note,
        }
    }
}

/// A problem of a pipeline's rendered config at the target revision.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolloutProblemResponse {
    /// Where (`config.batch_size`).
    pub field: String,
    /// `invalid_type`, `not_an_option`, `required`, `too_large`…
    pub problem: String,
    /// In words; never a value.
    pub message: String,
}

impl From<RolloutProblem> for RolloutProblemResponse {
    fn from(p: RolloutProblem) -> Self {
        Self {
            field: p.field,
            problem: p.problem,
            message: p.message,
        }
    }
}

/// What a skipped pipeline of a rollout shows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Skipped {
    /// The revision it is at (`null` when it no longer pins the template).
    pub current_revision: Option<u32>,
}

/// One pipeline of a rollout.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolloutPipelineResponse {
    #[schema(schema_with = schemas::pipeline_id)]
    pub pipeline_id: String,
    pub pipeline_name: String,
    /// The revision it was at (for an applied rollout: when it moved).
    #[schema(minimum = 1)]
    pub from_revision: u32,
    #[schema(minimum = 1)]
    pub to_revision: u32,
    /// `ready` or `blocked` in a preview; `moved` or `skipped` once applied.
    #[schema(pattern = "^(ready|blocked|moved|skipped)$")]
    pub status: &'static str,
    /// For a skipped pipeline: `current_revision`.
    #[serde(flatten)]
    pub skipped: Option<Skipped>,
    /// Parameters the target revision references that the pipeline lacks.
    pub missing_parameters: Vec<String>,
    /// The rendered config's problems at the target revision.
    pub problems: Vec<RolloutProblemResponse>,
    /// RFC 6902 operations from the rendered config now to the one at
    /// `to_revision`; a changed secret is an operation with `"***"`. `null`
    /// when either side cannot render, for a rollback, past the rollout's
    /// 8 MiB of diffs, for a pipeline re-pinned since the preview, and in
    /// lists (read the rollout for its diffs).
    #[schema(value_type = Option<Vec<Object>>)]
    pub config_diff: Option<Value>,
}

impl From<RolloutPipeline> for RolloutPipelineResponse {
    fn from(p: RolloutPipeline) -> Self {
        let skipped = p.status == integrations_ports::PinStatus::Skipped;
        Self {
            pipeline_id: p.pipeline_id.to_string(),
            pipeline_name: p.pipeline_name,
            from_revision: p.from_revision,
            to_revision: p.to_revision,
            status: p.status.as_str(),
            skipped: skipped.then_some(Skipped {
                current_revision: p.current_revision,
            }),
            missing_parameters: p.missing_parameters,
            problems: p.problems.into_iter().map(Into::into).collect(),
            config_diff: p.config_diff,
        }
    }
}

/// A rollout: a preview (`dry_run`), or one applied (stored).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolloutResponse {
    #[schema(schema_with = schemas::rollout_id)]
    pub id: String,
    #[schema(schema_with = schemas::template_id)]
    pub template_id: String,
    /// The revision it moves pipelines to; `null` for a rollback.
    pub to_revision: Option<u32>,
    /// `preview` or `applied`.
    #[schema(pattern = "^(preview|applied)$")]
    pub status: &'static str,
    pub dry_run: bool,
    pub note: Option<String>,
    /// For a rollback: the rollout it undoes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rolled_back_from: Option<String>,
    /// The token subject that made it.
    pub created_by: String,
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// Its pipelines, by id.
    pub pipelines: Vec<RolloutPipelineResponse>,
}

impl From<Rollout> for RolloutResponse {
    fn from(r: Rollout) -> Self {
        let dry_run = r.status == integrations_ports::RolloutStatus::Preview;
        Self {
            id: r.id.to_string(),
            template_id: r.template_id.to_string(),
            to_revision: r.to_revision,
            status: r.status.as_str(),
            dry_run,
            note: r.note,
            rolled_back_from: r.rolled_back_from.map(|id| id.to_string()),
            created_by: r.created_by.to_string(),
            created_at: r.created_at,
            pipelines: r.pipelines.into_iter().map(Into::into).collect(),
        }
    }
}

/// One page of rollouts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolloutListResponse {
    pub rollouts: Vec<RolloutResponse>,
    /// How many there are in all.
    pub total: u64,
    /// The effective page size.
    #[schema(minimum = 1, maximum = 100)]
    pub limit: u32,
    /// Items skipped before this page; absent on a page that started at a `cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub offset: Option<u64>,
    /// Pass it as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_cursor: Option<String>,
}

impl From<Paged<Rollout>> for RolloutListResponse {
    fn from(Paged { page, shown }: Paged<Rollout>) -> Self {
        let next_cursor = next_cursor(&page, |r| newest_cursor(r.created_at, &r.id));
        Self {
            rollouts: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            limit: shown.limit,
            offset: shown.offset,
            next_cursor,
        }
    }
}
