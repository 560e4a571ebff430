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

use std::sync::atomic::Ordering;

use integrations_domain::catalog::Vendor;
use integrations_domain::secrets;
use integrations_domain::substitution::{MissingParameters, Plan, RenderError, RenderLimits};
use integrations_domain::{
    Action, Attachment, Caller, MAX_PROBLEMS, ParamKey, Pipeline, PipelineId, Revision, WithSecrets,
};
use integrations_ports::StoreSession;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::attachments::parse_attachment_id;
use crate::error::{AppError, FieldProblem, error_chain};
use crate::pipelines::parse_pipeline_id;
use crate::revisions::vendor_of_key;
use crate::secret_parameters::OpenedSecrets;
use crate::{App, authorize};

/// The most the rendered configs of one pipeline may add up to, in bytes of
/// compact JSON: 8 MiB (see `docs/decisions.md`).
pub const MAX_PIPELINE_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// One attachment's config, rendered for one pipeline.
#[derive(Debug, Clone)]
pub struct RenderedConfig {
    /// The attachment.
    pub attachment: Attachment,
    /// The pinned revision's delivery mode; `None` when the revision could
    /// not be read (see [`RenderedConfig::failure`]).
    pub delivery_mode: Option<integrations_domain::DeliveryMode>,
    /// The config with every parameter substituted, as compact JSON text
    /// (secrets masked for all but `service`); `None` when it could not render.
    /// Kept as text, not as a tree: a config of small numbers takes far more
    /// memory as a `serde_json::Value` than as text.
    pub config: Option<Box<RawValue>>,
    /// Keys the config references that the pipeline does not define (sorted;
    /// at most [`MAX_PROBLEMS`] are listed).
    pub missing_parameters: Vec<String>,
    /// Keys the pipeline defines (plain or secret) that the config never
    /// references (sorted).
    pub unused_parameters: Vec<String>,
    /// Secret fields of the vendor filled from a plain parameter (that value
    /// is masked like a secret for all but `service`).
    pub warnings: Vec<RenderWarning>,
    /// Why the config could not render, when it could not.
    pub failure: Option<RenderFailure>,
}

/// A catalog `secret` field filled from a plain parameter: the credential
/// belongs in the pipeline's `secret_parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderWarning {
    /// `SECRET_IN_PLAIN_PARAMETER`.
    pub code: &'static str,
    /// The secret field, as a path (`config.access_token`).
    pub field: String,
    /// The plain parameter that fills it.
    pub parameter: String,
}

/// The code of a [`RenderWarning`].
pub const SECRET_IN_PLAIN_PARAMETER: &str = "SECRET_IN_PLAIN_PARAMETER";

/// Why one attachment's config could not render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderFailure {
    /// The pipeline lacks parameters the config references.
    MissingParameters {
        /// How many keys are missing in all (the list shows at most 100).
        count: usize,
    },
    /// The rendered config would be larger than allowed: over 1 MiB on its
    /// own, or past what is left of the pipeline's 8 MiB.
    TooLarge {
        /// Its size in bytes of compact JSON (`u64::MAX` when larger, or
        /// unknown because nothing was left to render it in).
        size: u64,
        /// The room it had.
        limit: u64,
    },
    /// A secret of the revision was sealed under a key this process does not have.
    KeyUnavailable {
        /// The key's id.
        kid: String,
    },
    /// Something that should not happen (a secret that does not open, a
    /// vendor no longer in the catalog): logged with its cause.
    Internal,
}

/// Every enabled attachment of a pipeline, rendered, and the version of it all.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// One entry per enabled attachment, in attachment order.
    pub configs: Vec<RenderedConfig>,
    /// See [`PipelineConfigAnswer`].
    pub etag: String,
    /// The org's newest event number, read before the configs: tail the
    /// feed from here and no later change is missed.
    pub event_seq: u64,
}

/// The answer to a request for a pipeline's rendered configs.
#[derive(Debug, Clone)]
pub enum PipelineConfigAnswer {
    /// The configs.
    Rendered(PipelineConfig),
    /// The caller's `If-None-Match` names the current ETag: nothing was
    /// loaded or rendered.
    NotModified {
        /// The current ETag.
        etag: String,
        /// As for [`PipelineConfig::event_seq`]; when the answer came from
        /// memory, the newest number this process has published.
        event_seq: u64,
    },
}

/// The ETag of a pipeline's rendered configs, derived from what shaped them
/// — the pipeline's plain parameters, its secret parameters' version ids
/// (never their values), each enabled attachment's id, version
/// and pinned revision, whether secrets are shown, and the build (whose
/// catalog decides what is masked) — never from the rendered text, so it
/// reveals nothing about a secret and is known before anything is rendered.
fn pipeline_config_etag(caller: &Caller, pipeline: &Pipeline, enabled: &[Attachment]) -> String {
    let mut digest = Sha256::new();
    let view: &[u8] = if caller.can(Action::ReadSecrets) {
        b"clear"
    } else {
        b"masked"
    };
    digest.update(env!("CARGO_PKG_VERSION"));
    digest.update(view);
    digest.update(pipeline.id.to_string());
    // The parameters' values: a viewer reads them on the pipeline itself.
    digest.update(serde_json::to_vec(&pipeline.parameters).unwrap_or_default());
    // Secret parameters by version id only: a new value is a new version.
    digest.update(serde_json::to_vec(&pipeline.secret_parameters).unwrap_or_default());
    for attachment in enabled {
        digest.update(attachment.id.to_string());
        digest.update(attachment.updated_at.unix_timestamp_nanos().to_le_bytes());
        digest.update(attachment.revision_id.to_string());
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

/// Whether `if_none_match` (the header's value) names `etag`; weak
/// comparison, as RFC 9110 asks for this header.
fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// What rendering one attachment gave, before it is told apart for a route.
enum Rendered {
    /// The config as text, and its size before masking in bytes of compact JSON.
    Config(Box<RawValue>, u64),
    Missing(MissingParameters),
    TooLarge {
        size: u64,
        limit: u64,
    },
}

impl App {
    /// Renders one revision's config for a pipeline, as `caller` may see it,
    /// within `room` bytes of compact JSON. Takes the revision by value: its
    /// config is opened in place and moved into the plan, never copied.
    ///
    /// Placeholders resolve from the pipeline's plain parameters and its
    /// opened secret parameters. For all but `service`, every string a
    /// secret parameter flowed into is masked whole, and so is every use of
    /// a plain parameter that fills a secret field (which is also warned
    /// about); then the vendor's secret fields are masked.
    ///
    /// The size is checked by the engine before anything is rendered, on the
    /// opened config (before masking), so every role gets the same answer.
    #[expect(
        clippy::too_many_arguments,
        reason = "one render's inputs, each needed"
    )]
    fn render(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        vendor: &Vendor,
        pipeline: &Pipeline,
        secret: &OpenedSecrets,
        revision: Revision,
        room: u64,
    ) -> Result<(Rendered, Vec<String>, Vec<RenderWarning>), AppError> {
        // Render from the opened config for every role, so placeholders inside
        // secret values count alike; mask the output for all but `service`.
        let opened =
            self.opened_config(store, &caller.org, vendor, revision.id, revision.config)?;
        let plan = Plan::compile(Value::Object(opened));
        if let Some(kid) = secret.unavailable_among(plan.keys()) {
            return Err(AppError::KeyUnavailable {
                kid: kid.to_owned(),
            });
        }
        let referenced: Vec<&str> = plan.keys().collect();
        let mut unused: Vec<String> = pipeline
            .parameters
            .keys()
            .chain(pipeline.secret_parameters.keys())
            .filter(|key| referenced.binary_search(&key.as_str()).is_err())
            .map(|key| key.as_str().to_owned())
            .collect();
        unused.sort();
        let warnings = plain_in_secret_fields(vendor, pipeline, &plan);
        let lookup = WithSecrets {
            plain: &pipeline.parameters,
            secret: &secret.values,
        };
        let limits = RenderLimits::new(room.min(RenderLimits::DEFAULT_MAX_OUTPUT_BYTES));
        let rendered = if caller.can(Action::ReadSecrets) {
            // Nothing to mask: straight to text, no tree at all.
            match plan.render_json_with(&lookup, limits) {
                Ok(text) => {
                    let size = text.len() as u64;
                    Rendered::Config(raw(text)?, size)
                }
                Err(err) => refused(err),
            }
        } else {
            let hidden = |key: &ParamKey| {
                pipeline.secret_parameters.contains(key.as_str())
                    || warnings.iter().any(|w| w.parameter == key.as_str())
            };
            match plan.render_masked_with(&lookup, limits, hidden) {
                Ok(rendered) => {
                    let size = plan.render_size(&lookup).unwrap_or(room);
                    let Value::Object(mut config) = rendered.into_owned() else {
                        return Err(AppError::Internal(
                            "a rendered config is not an object".into(),
                        ));
                    };
                    // Drop the plan (and its copy of the config) before masking.
                    drop(plan);
                    // Secret fields — and values substituted into them — are masked.
                    secrets::mask(vendor, &mut config);
                    let text = serde_json::to_string(&config)
                        .map_err(|err| AppError::Internal(Box::new(err)))?;
                    Rendered::Config(raw(text)?, size)
                }
                Err(err) => refused(err),
            }
        };
        Ok((rendered, unused, warnings))
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
        pipeline: &str,
        id: &str,
    ) -> Result<RenderedConfig, AppError> {
        authorize(caller, Action::Read)?;
        let store = self.store.session();
        let pipeline = store.pipeline(&caller.org, parse_pipeline_id(pipeline)?)?;
        let attachment = store.attachment(&caller.org, pipeline.id, parse_attachment_id(id)?)?;
        let revision = store.revision(
            &caller.org,
            attachment.template_id,
            attachment.revision_number,
        )?;
        let vendor = vendor_of_key(&attachment.vendor)?;
        let delivery_mode = revision.delivery_mode;
        let secret = self.open_secret_parameters(&*store, &pipeline)?;
        let (rendered, unused, warnings) = self.render(
            &*store,
            caller,
            vendor,
            &pipeline,
            &secret,
            revision,
            RenderLimits::DEFAULT_MAX_OUTPUT_BYTES,
        )?;
        match rendered {
            Rendered::Config(config, _) => Ok(RenderedConfig {
                attachment,
                delivery_mode: Some(delivery_mode),
                config: Some(config),
                missing_parameters: Vec::new(),
                unused_parameters: unused,
                warnings,
                failure: None,
            }),
            Rendered::Missing(missing) => Err(AppError::Invalid(missing_problems(&missing))),
            Rendered::TooLarge { size, limit } => Err(too_large(size, limit)),
        }
    }

    /// Every enabled attachment of the pipeline, rendered: what the event
    /// processor loads. Answers [`PipelineConfigAnswer::NotModified`] when
    /// `if_none_match` names the current ETag, having read only the
    /// attachments (ask [`App::unchanged_config`] first to answer that
    /// without the database when the feed can). Otherwise the revisions are read and rendered one at a
    /// time, so a request holds one revision's config at a time plus the
    /// rendered text (at most 8 MiB). An attachment that cannot render keeps
    /// its place with no config and its [`RenderFailure`]; the others render.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Unavailable`.
    pub fn pipeline_config(
        &self,
        caller: &Caller,
        pipeline: &str,
        if_none_match: Option<&str>,
    ) -> Result<PipelineConfigAnswer, AppError> {
        authorize(caller, Action::Read)?;
        let id = parse_pipeline_id(pipeline)?;
        let clear = caller.can(Action::ReadSecrets);
        let org = &caller.org;
        let as_of = self.feed.latest(org);
        let store = self.store.session();
        let event_seq = crate::events::org_seq(&*store, org)?;
        let pipeline = &store.pipeline(org, id)?;
        let enabled: Vec<Attachment> = store
            .attachments(org, pipeline.id)?
            .into_iter()
            .filter(|attachment| attachment.enabled)
            .collect();
        let etag = pipeline_config_etag(caller, pipeline, &enabled);
        match as_of {
            Some(as_of) => self.feed.remember_etag(org, id, clear, &etag, as_of),
            None => self.feed.follow(org, event_seq),
        }
        if if_none_match.is_some_and(|header| none_match(header, &etag)) {
            return Ok(PipelineConfigAnswer::NotModified { etag, event_seq });
        }
        let secret = self.open_secret_parameters(&*store, pipeline)?;
        let mut room = MAX_PIPELINE_CONFIG_BYTES;
        let mut configs = Vec::with_capacity(enabled.len());
        for attachment in enabled {
            let entry = self.render_in_place(
                &*store,
                caller,
                pipeline,
                &secret,
                attachment,
                &mut room,
                Pinned::Live,
            )?;
            configs.push(entry);
        }
        Ok(PipelineConfigAnswer::Rendered(PipelineConfig {
            pipeline_id: pipeline.id,
            configs,
            etag,
            event_seq,
        }))
    }

    /// The 304 of [`App::pipeline_config`] when it needs no database: a
    /// poll naming the ETag this process last served for the pipeline,
    /// while the change feed vouches that no event has named the pipeline
    /// since. Touches memory only (no blocking call), so an adapter may ask
    /// it on its event loop before handing the request to a thread.
    ///
    /// # Errors
    /// `Forbidden` (never: every role reads configs).
    pub fn unchanged_config(
        &self,
        caller: &Caller,
        pipeline: &str,
        if_none_match: Option<&str>,
    ) -> Result<Option<PipelineConfigAnswer>, AppError> {
        authorize(caller, Action::Read)?;
        let (Some(header), Ok(id)) = (if_none_match, parse_pipeline_id(pipeline)) else {
            return Ok(None);
        };
        let org = &caller.org;
        let clear = caller.can(Action::ReadSecrets);
        if let Some(etag) = self.feed.remembered_etag(org, id, clear)
            && none_match(header, &etag)
            && let Some(event_seq) = self.feed.latest(org)
        {
            self.feed
                .stats()
                .answered_from_memory
                .fetch_add(1, Ordering::Relaxed);
            return Ok(Some(PipelineConfigAnswer::NotModified { etag, event_seq }));
        }
        Ok(None)
    }

    /// One attachment of the pipeline route: rendered within `room` (which it
    /// uses up), or its failure in place. Only an unreachable database fails
    /// the whole answer.
    #[expect(
        clippy::too_many_arguments,
        reason = "one render's inputs, each needed"
    )]
    pub(crate) fn render_in_place(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        pipeline: &Pipeline,
        secret: &OpenedSecrets,
        attachment: Attachment,
        room: &mut u64,
        pinned: Pinned,
    ) -> Result<RenderedConfig, AppError> {
        let mut entry = RenderedConfig {
            attachment,
            delivery_mode: None,
            config: None,
            missing_parameters: Vec::new(),
            unused_parameters: Vec::new(),
            warnings: Vec::new(),
            failure: None,
        };
        if *room == 0 {
            // Nothing left to render it in: not even read.
            entry.failure = Some(RenderFailure::TooLarge {
                size: u64::MAX,
                limit: 0,
            });
            return Ok(entry);
        }
        let attempt = vendor_of_key(&entry.attachment.vendor).and_then(|vendor| {
            let revision = match pinned {
                Pinned::Live => store.revision(
                    &caller.org,
                    entry.attachment.template_id,
                    entry.attachment.revision_number,
                )?,
                Pinned::Past => store.revision_by_id(&caller.org, entry.attachment.revision_id)?,
            };
            entry.delivery_mode = Some(revision.delivery_mode);
            self.render(store, caller, vendor, pipeline, secret, revision, *room)
        });
        match attempt {
            Ok((rendered, unused, warnings)) => {
                entry.unused_parameters = unused;
                entry.warnings = warnings;
                match rendered {
                    Rendered::Config(config, size) => {
                        // Sizes before masking, so every role gets the same answer.
                        *room = room.saturating_sub(size);
                        entry.config = Some(config);
                    }
                    Rendered::Missing(missing) => {
                        let keys: Vec<String> = missing_keys(&missing);
                        entry.failure =
                            Some(RenderFailure::MissingParameters { count: keys.len() });
                        entry.missing_parameters = keys.into_iter().take(MAX_PROBLEMS).collect();
                    }
                    Rendered::TooLarge { size, limit } => {
                        entry.failure = Some(RenderFailure::TooLarge { size, limit });
                    }
                }
            }
            Err(AppError::KeyUnavailable { kid }) => {
                entry.failure = Some(RenderFailure::KeyUnavailable { kid });
            }
            Err(err @ AppError::Unavailable(_)) => return Err(err),
            Err(err) => {
                tracing::error!(
                    attachment = %entry.attachment.id,
                    error = %error_chain(&err),
                    "an integration of the pipeline could not be rendered"
                );
                entry.failure = Some(RenderFailure::Internal);
            }
        }
        Ok(entry)
    }
}

/// Where an attachment's pinned revision is read from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pinned {
    /// A live pin: the revision of a live template.
    Live,
    /// A pin of the past: the revision by id, its template deleted or not.
    Past,
}

/// Every secret field of `vendor` that a plain parameter of `pipeline`
/// fills, whole or in part, as a warning (in reference order).
pub(crate) fn plain_in_secret_fields(
    vendor: &Vendor,
    pipeline: &Pipeline,
    plan: &Plan,
) -> Vec<RenderWarning> {
    plan.references()
        .filter(|(key, _)| pipeline.parameters.get(key.as_str()).is_some())
        .filter(|(_, path)| secrets::is_secret_position(vendor, path))
        .map(|(key, path)| RenderWarning {
            code: SECRET_IN_PLAIN_PARAMETER,
            field: path.to_string(),
            parameter: key.as_str().to_owned(),
        })
        .collect()
}

/// Rendered JSON text as a raw JSON value (it is valid JSON by construction).
fn raw(text: String) -> Result<Box<RawValue>, AppError> {
    RawValue::from_string(text).map_err(|err| AppError::Internal(Box::new(err)))
}

fn refused(err: RenderError) -> Rendered {
    match err {
        RenderError::Missing(missing) => Rendered::Missing(missing),
        RenderError::TooLarge { size, limit } => Rendered::TooLarge { size, limit },
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
