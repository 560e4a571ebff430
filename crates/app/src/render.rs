//! Rendered configs (SPEC §8, §9, §10): a pinned revision's config with the
//! pipeline's parameters substituted by the domain engine — the same code an
//! event processor links. Secrets stay masked for every role but `service`.

use integrations_domain::catalog::Vendor;
use integrations_domain::secrets;
use integrations_domain::substitution::{MissingParameters, Plan, RenderError};
use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, MAX_PROBLEMS, Pipeline, Revision,
};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, FieldProblem};
use crate::revisions::vendor_of_key;

/// One attachment's config, rendered for one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedConfig {
    /// The attachment.
    pub attachment: Attachment,
    /// The pinned revision's delivery mode.
    pub delivery_mode: integrations_domain::DeliveryMode,
    /// The config with every parameter substituted; `None` when parameters are missing.
    pub config: Option<Map<String, Value>>,
    /// Keys the config references that the pipeline does not define (sorted).
    pub missing_parameters: Vec<String>,
    /// Keys the pipeline defines that the config never references (sorted).
    pub unused_parameters: Vec<String>,
}

/// A render that could not complete for want of parameters: the output of
/// [`App::render`] besides the rendered config.
type Missing = Option<MissingParameters>;

impl App {
    /// Renders one revision's config for a pipeline, as `caller` may see it,
    /// with the references to missing parameters when there are any.
    ///
    /// The render's size is checked before anything is rendered, on the
    /// opened config (before masking), so every role gets the same answer.
    fn render(
        &self,
        caller: &Caller,
        vendor: &Vendor,
        pipeline: &Pipeline,
        attachment: Attachment,
        revision: Revision,
    ) -> Result<(RenderedConfig, Missing), AppError> {
        let reveal = caller.can(Action::ReadSecrets);
        // Render from the opened config for every role, so placeholders inside
        // secret values count alike; mask the output for all but `service`.
        let mut stored = revision.config;
        self.reveal(vendor, &mut stored)?;
        let plan = Plan::compile(Value::Object(stored));
        let unused = plan
            .unused_keys(&pipeline.parameters)
            .map(|k| k.as_str().to_owned())
            .collect();
        let (config, missing) = match plan.render(&pipeline.parameters) {
            Ok(rendered) => {
                let Value::Object(mut config) = rendered.into_owned() else {
                    return Err(AppError::Internal(
                        "a rendered config is not an object".into(),
                    ));
                };
                if !reveal {
                    // Secret fields — and values substituted into them — are masked.
                    secrets::mask(vendor, &mut config);
                }
                (Some(config), None)
            }
            Err(RenderError::Missing(missing)) => (None, Some(missing)),
            Err(err @ RenderError::TooLarge { .. }) => {
                return Err(AppError::invalid("config", "too_large", err.to_string()));
            }
        };
        let missing_parameters = missing
            .iter()
            .flat_map(MissingParameters::keys)
            .map(|k| k.as_str().to_owned())
            .collect();
        Ok((
            RenderedConfig {
                attachment,
                delivery_mode: revision.delivery_mode,
                config,
                missing_parameters,
                unused_parameters: unused,
            },
            missing,
        ))
    }

    /// One attachment's rendered config.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` naming every missing parameter and
    /// where it is used (the first [`MAX_PROBLEMS`] references, then how many
    /// more), or `config` / `too_large` when the rendered config would exceed
    /// 1 MiB.
    pub fn attachment_config(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        id: AttachmentId,
    ) -> Result<RenderedConfig, AppError> {
        self.authorize(caller, Action::Read)?;
        let found = self
            .store
            .attached_revisions(&caller.org, pipeline.id)?
            .into_iter()
            .find(|(attachment, _)| attachment.id == id)
            .ok_or(AppError::NotFound)?;
        let (attachment, revision) = found;
        let vendor = vendor_of_key(&attachment.vendor)?;
        let (rendered, missing) = self.render(caller, vendor, pipeline, attachment, revision)?;
        let Some(missing) = missing else {
            return Ok(rendered);
        };
        // Paths are written out for the listed references only: a config can
        // hold many references under one long path.
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
        Err(AppError::Invalid(problems))
    }

    /// Every enabled attachment of the pipeline, rendered: what the event
    /// processor loads. Attachments with missing parameters carry them and no config.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` (`config` / `too_large`) when one
    /// attachment's rendered config would exceed 1 MiB.
    pub fn pipeline_config(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
    ) -> Result<Vec<RenderedConfig>, AppError> {
        self.authorize(caller, Action::Read)?;
        self.store
            .attached_revisions(&caller.org, pipeline.id)?
            .into_iter()
            .filter(|(attachment, _)| attachment.enabled)
            .map(|(attachment, revision)| {
                let vendor = vendor_of_key(&attachment.vendor)?;
                // integrator: an attachment over the render limit fails the whole
                // route with 422 `config` / `too_large` for now; the rework of this
                // route reports it in place (`config: null` and an `error`) and
                // renders the others.
                self.render(caller, vendor, pipeline, attachment, revision)
                    .map(|(rendered, _)| rendered)
            })
            .collect()
    }
}
