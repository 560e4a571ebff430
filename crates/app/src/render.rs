//! Rendered configs: a pinned revision's config with the pipeline's
//! parameters substituted by the domain engine — the same code an event
//! processor links. Secrets stay masked for every role but `service`.
//!
//! On the pipeline-wide route one attachment that cannot render (missing
//! parameters, a render over 1 MiB, a secret sealed under a key this process
//! does not have) keeps its place with no config and a [`RenderFailure`];
//! the others render. The whole answer is capped at
//! [`MAX_PIPELINE_CONFIG_BYTES`]: an attachment past the cap is reported as
//! too large the same way, never allocated.

use integrations_domain::catalog::Vendor;
use integrations_domain::secrets;
use integrations_domain::substitution::{MissingParameters, Plan, RenderError, RenderLimits};
use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, MAX_PROBLEMS, Pipeline, Revision, RevisionId,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::App;
use crate::error::{AppError, FieldProblem};
use crate::revisions::vendor_of_key;
use crate::secrets::Envelopes;

/// The most the rendered configs of one pipeline may add up to, in bytes of
/// compact JSON: 8 MiB (see `docs/decisions.md`).
pub const MAX_PIPELINE_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// One attachment's config, rendered for one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedConfig {
    /// The attachment.
    pub attachment: Attachment,
    /// The pinned revision's delivery mode.
    pub delivery_mode: integrations_domain::DeliveryMode,
    /// The config with every parameter substituted; `None` when it could not render.
    pub config: Option<Map<String, Value>>,
    /// Keys the config references that the pipeline does not define (sorted).
    pub missing_parameters: Vec<String>,
    /// Keys the pipeline defines that the config never references (sorted).
    pub unused_parameters: Vec<String>,
    /// Why the config could not render, when it could not.
    pub failure: Option<RenderFailure>,
}

/// Why one attachment's config could not render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderFailure {
    /// The pipeline lacks parameters the config references.
    MissingParameters,
    /// The rendered config would be larger than allowed: over 1 MiB on its
    /// own, or past what is left of the pipeline's 8 MiB.
    TooLarge {
        /// Its size in bytes of compact JSON (`u64::MAX` when larger).
        size: u64,
        /// The room it had.
        limit: u64,
    },
    /// A secret of the revision was sealed under a key this process does not have.
    KeyUnavailable {
        /// The key's id.
        kid: String,
    },
}

/// Every enabled attachment of a pipeline, rendered, and the version of it all.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// One entry per enabled attachment, in attachment order.
    pub configs: Vec<RenderedConfig>,
    /// A strong ETag derived from what shaped the answer — the pipeline's
    /// parameters, each enabled attachment's version and the revision it pins,
    /// and whether secrets are shown — never from the rendered text, so it
    /// reveals nothing about a secret.
    pub etag: String,
}

/// The ETag of a pipeline's rendered configs, from the versions of what
/// shaped them.
fn pipeline_config_etag(
    caller: &Caller,
    pipeline: &Pipeline,
    enabled: &[(Attachment, Revision)],
) -> String {
    let mut digest = Sha256::new();
    let view: &[u8] = if caller.can(Action::ReadSecrets) {
        b"clear"
    } else {
        b"masked"
    };
    digest.update(view);
    digest.update(pipeline.id.to_string());
    // The parameters' values: a viewer reads them on the pipeline itself.
    digest.update(serde_json::to_vec(&pipeline.parameters).unwrap_or_default());
    for (attachment, revision) in enabled {
        digest.update(attachment.id.to_string());
        digest.update(attachment.updated_at.unix_timestamp_nanos().to_le_bytes());
        digest.update(revision.id.to_string());
    }
    let hex = digest
        .finalize()
        .iter()
        .take(16)
        .fold(String::with_capacity(32), |mut out, b| {
            out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
            out
        });
    format!("\"{hex}\"")
}

/// What rendering one attachment gave, before it is told apart for a route.
enum Rendered {
    /// The config, and its size before masking in bytes of compact JSON.
    Config(Map<String, Value>, u64),
    Missing(MissingParameters),
    TooLarge {
        size: u64,
        limit: u64,
    },
}

impl App {
    /// Renders one revision's config for a pipeline, as `caller` may see it,
    /// within `room` bytes of compact JSON.
    ///
    /// The size is checked by the engine before anything is rendered, on the
    /// opened config (before masking), so every role gets the same answer.
    fn render(
        &self,
        caller: &Caller,
        vendor: &Vendor,
        pipeline: &Pipeline,
        revision: &Revision,
        envelopes: &Envelopes,
        room: u64,
    ) -> Result<(Rendered, Vec<String>), AppError> {
        // Render from the opened config for every role, so placeholders inside
        // secret values count alike; mask the output for all but `service`.
        let opened = self.reveal(&caller.org, vendor, revision, envelopes)?;
        let plan = Plan::compile(Value::Object(opened));
        let unused = plan
            .unused_keys(&pipeline.parameters)
            .map(|k| k.as_str().to_owned())
            .collect();
        let limits = RenderLimits::new(room.min(RenderLimits::DEFAULT_MAX_OUTPUT_BYTES));
        let rendered = match plan.render_with(&pipeline.parameters, limits) {
            Ok(rendered) => {
                // The size the engine checked: arithmetic on the plan, no rendering.
                let size = plan.render_size(&pipeline.parameters).unwrap_or(room);
                let Value::Object(mut config) = rendered.into_owned() else {
                    return Err(AppError::Internal(
                        "a rendered config is not an object".into(),
                    ));
                };
                if !caller.can(Action::ReadSecrets) {
                    // Secret fields — and values substituted into them — are masked.
                    secrets::mask(vendor, &mut config);
                }
                Rendered::Config(config, size)
            }
            Err(RenderError::Missing(missing)) => Rendered::Missing(missing),
            Err(RenderError::TooLarge { size, limit }) => Rendered::TooLarge { size, limit },
        };
        Ok((rendered, unused))
    }

    /// One attachment's rendered config.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` naming every missing parameter and
    /// where it is used (at most 100, then one `truncated` entry), or
    /// `config` / `too_large` when the rendered config would exceed 1 MiB;
    /// `KeyUnavailable` when a secret of the revision was sealed under a key
    /// this process does not have.
    pub fn attachment_config(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        id: AttachmentId,
    ) -> Result<RenderedConfig, AppError> {
        self.authorize(caller, Action::Read)?;
        let (attachment, revision) = self
            .store
            .attached_revisions(&caller.org, pipeline.id)?
            .into_iter()
            .find(|(attachment, _)| attachment.id == id)
            .ok_or(AppError::NotFound)?;
        let vendor = vendor_of_key(&attachment.vendor)?;
        let envelopes = self.envelopes(&caller.org, &[revision.id])?;
        let (rendered, unused) = self.render(
            caller,
            vendor,
            pipeline,
            &revision,
            &envelopes,
            RenderLimits::DEFAULT_MAX_OUTPUT_BYTES,
        )?;
        match rendered {
            Rendered::Config(config, _) => Ok(RenderedConfig {
                attachment,
                delivery_mode: revision.delivery_mode,
                config: Some(config),
                missing_parameters: Vec::new(),
                unused_parameters: unused,
                failure: None,
            }),
            Rendered::Missing(missing) => Err(AppError::Invalid(missing_problems(&missing))),
            Rendered::TooLarge { size, limit } => Err(too_large(size, limit)),
        }
    }

    /// Every enabled attachment of the pipeline, rendered: what the event
    /// processor loads. An attachment that cannot render keeps its place with
    /// no config and its [`RenderFailure`]; the others render.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn pipeline_config(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
    ) -> Result<PipelineConfig, AppError> {
        self.authorize(caller, Action::Read)?;
        let enabled: Vec<(Attachment, Revision)> = self
            .store
            .attached_revisions(&caller.org, pipeline.id)?
            .into_iter()
            .filter(|(attachment, _)| attachment.enabled)
            .collect();
        let revisions: Vec<RevisionId> = enabled.iter().map(|(_, r)| r.id).collect();
        let envelopes = self.envelopes(&caller.org, &revisions)?;
        let etag = pipeline_config_etag(caller, pipeline, &enabled);
        let mut room = MAX_PIPELINE_CONFIG_BYTES;
        let mut configs = Vec::with_capacity(enabled.len());
        for (attachment, revision) in enabled {
            let vendor = vendor_of_key(&attachment.vendor)?;
            let mut entry = RenderedConfig {
                attachment,
                delivery_mode: revision.delivery_mode,
                config: None,
                missing_parameters: Vec::new(),
                unused_parameters: Vec::new(),
                failure: None,
            };
            match self.render(caller, vendor, pipeline, &revision, &envelopes, room) {
                Ok((rendered, unused)) => {
                    entry.unused_parameters = unused;
                    match rendered {
                        Rendered::Config(config, size) => {
                            // Sizes before masking, so every role gets the same answer.
                            room = room.saturating_sub(size);
                            entry.config = Some(config);
                        }
                        Rendered::Missing(missing) => {
                            entry.missing_parameters = missing_keys(&missing);
                            entry.failure = Some(RenderFailure::MissingParameters);
                        }
                        Rendered::TooLarge { size, limit } => {
                            entry.failure = Some(RenderFailure::TooLarge { size, limit });
                        }
                    }
                }
                Err(AppError::KeyUnavailable { kid }) => {
                    entry.failure = Some(RenderFailure::KeyUnavailable { kid });
                }
                Err(other) => return Err(other),
            }
            configs.push(entry);
        }
        Ok(PipelineConfig { configs, etag })
    }
}

fn missing_keys(missing: &MissingParameters) -> Vec<String> {
    missing.keys().map(|k| k.as_str().to_owned()).collect()
}

/// A 422 for missing parameters: each reference with its path, at most
/// [`MAX_PROBLEMS`] of them, then one `truncated` entry. Paths are written out
/// for the listed references only: a config can hold many references under
/// one long path.
fn missing_problems(missing: &MissingParameters) -> Vec<FieldProblem> {
    let references = missing.references();
    let mut problems: Vec<FieldProblem> = references
        .iter()
        .take(MAX_PROBLEMS)
        .map(|reference| {
            FieldProblem::new(
                reference.path.to_string(),
                "missing_parameter",
                format!("the pipeline defines no parameter '{}'", reference.key),
            )
        })
        .collect();
    if references.len() > MAX_PROBLEMS {
        problems.push(FieldProblem::truncated(
            "config",
            references.len() - MAX_PROBLEMS,
        ));
    }
    problems
}

fn too_large(size: u64, limit: u64) -> AppError {
    let size = if size == u64::MAX {
        "more than 16 EiB".to_owned()
    } else {
        format!("{size} bytes")
    };
    AppError::invalid(
        "config",
        "too_large",
        format!("the rendered config would be {size}, over the limit of {limit} bytes"),
    )
}
