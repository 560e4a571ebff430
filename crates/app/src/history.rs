//! A pipeline's rendered config at a past instant (docs/api.md, "A
//! pipeline's config at a past instant"): the pins and parameters the
//! history kept, rendered again as the live route renders them.

use integrations_domain::{Action, Caller, PipelineId};
use integrations_ports::HistoryAnswer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::AppError;
use crate::pipelines::parse_pipeline_id;
use crate::render::{MAX_PIPELINE_CONFIG_BYTES, Pinned, RenderedConfig};
use crate::{App, authorize};

/// Every attachment a pipeline had enabled at an instant, rendered with the
/// revisions and parameters it had then.
#[derive(Debug, Clone)]
pub struct PipelineConfigAt {
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The instant asked for.
    pub at: OffsetDateTime,
    /// The change it resolved to: the highest event `seq` of the org
    /// recorded at or before it.
    pub seq: u64,
    /// One entry per attachment enabled then, in attachment order, each with
    /// the `seq` of the last change that shaped it (its own, or the
    /// pipeline's parameters', whichever is later).
    pub configs: Vec<(RenderedConfig, u64)>,
}

fn invalid_at(problem: &'static str, message: impl Into<String>) -> AppError {
    AppError::invalid("at", problem, message)
}

impl App {
    /// The pipeline's rendered configs as they were at `at` (RFC 3339): which
    /// templates were attached and enabled, at which revisions, with the
    /// parameters and secret parameters it had then (secrets masked for all
    /// but `service`, as on the live route). A deleted pipeline answers for
    /// the time it existed.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown pipeline, or an instant before
    /// it existed or after it was deleted; `Invalid` naming `at` when it is
    /// not an RFC 3339 instant or is in the future; `HistoryExpired` when it
    /// is older than the history kept; `Unavailable`.
    pub fn pipeline_config_at(
        &self,
        caller: &Caller,
        pipeline: &str,
        at: &str,
    ) -> Result<PipelineConfigAt, AppError> {
        authorize(caller, Action::Read)?;
        let id = parse_pipeline_id(pipeline)?;
        let org = &caller.org;
        let store = self.store.session();
        let now = self.clock.now();
        // A `+` of the offset, decoded from a query string as a space, is read back.
        let parsed = OffsetDateTime::parse(&at.replace(' ', "+"), &Rfc3339).map_err(|err| {
            invalid_at(
                "invalid_value",
                format!("at must be an RFC 3339 instant (2026-12-01T10:00:00Z): {err}"),
            )
        });
        let when = match parsed {
            Ok(when) if when <= now => when,
            refused => {
                // An unknown pipeline is 404 whatever the instant.
                if store.pipeline_at(org, id, now)? == HistoryAnswer::Unknown {
                    return Err(AppError::NotFound);
                }
                refused?;
                return Err(invalid_at("in_future", "at is in the future"));
            }
        };
        let then = match store.pipeline_at(org, id, when)? {
            HistoryAnswer::Found(then) => then,
            HistoryAnswer::Unknown | HistoryAnswer::NotThen => return Err(AppError::NotFound),
            HistoryAnswer::Expired { complete_from } => {
                return Err(AppError::HistoryExpired { complete_from });
            }
        };
        let then = *then;
        let pipeline = &then.pipeline;
        let secret = if pipeline.secret_parameters.is_empty() {
            crate::secret_parameters::OpenedSecrets::default()
        } else {
            let sealed = store.history_secrets(org, pipeline.id)?;
            self.open_sealed_parameters(pipeline, &sealed)?
        };
        let mut room = MAX_PIPELINE_CONFIG_BYTES;
        let mut configs = Vec::new();
        for (attachment, seq) in then.attachments {
            if !attachment.enabled {
                continue;
            }
            let shaped = seq.max(then.parameters_seq);
            let entry = self.render_in_place(
                &*store,
                caller,
                pipeline,
                &secret,
                attachment,
                &mut room,
                Pinned::Past,
            )?;
            configs.push((entry, shaped));
        }
        Ok(PipelineConfigAt {
            pipeline_id: pipeline.id,
            at: when,
            seq: then.seq,
            configs,
        })
    }
}
