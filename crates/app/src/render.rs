//! Rendered configs: a pinned revision's config with the
//! pipeline's parameters substituted by the domain engine — the same code an
//! event processor links. Secrets stay masked for every role but `service`.

use integrations_domain::catalog::Vendor;
use integrations_domain::secrets;
use integrations_domain::substitution::Plan;
use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, Pipeline, Revision, RevisionId,
};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, FieldProblem};
use crate::revisions::vendor_of_key;
use crate::secrets::Envelopes;

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

impl App {
    /// Renders one revision's config for a pipeline, as `caller` may see it.
    fn render(
        &self,
        caller: &Caller,
        vendor: &Vendor,
        pipeline: &Pipeline,
        attachment: Attachment,
        revision: &Revision,
        envelopes: &Envelopes,
    ) -> Result<RenderedConfig, AppError> {
        let reveal = caller.can(Action::ReadSecrets);
        // Render from the opened config for every role, so placeholders inside
        // secret values count alike; mask the output for all but `service`.
        let opened = self.reveal(&caller.org, vendor, revision, envelopes)?;
        let plan = Plan::compile(Value::Object(opened));
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
                (Some(config), Vec::new())
            }
            Err(missing) => (
                None,
                missing.keys().map(|k| k.as_str().to_owned()).collect(),
            ),
        };
        Ok(RenderedConfig {
            attachment,
            delivery_mode: revision.delivery_mode,
            config,
            missing_parameters: missing,
            unused_parameters: unused,
        })
    }

    /// One attachment's rendered config.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` naming every missing parameter and where it is used.
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
        let envelopes = self.envelopes(&caller.org, &[revision.id])?;
        let opened = self.reveal(&caller.org, vendor, &revision, &envelopes)?;
        let plan_paths: Vec<(String, String)> = Plan::compile(Value::Object(opened))
            .references()
            .map(|(key, path)| (key.as_str().to_owned(), path.to_string()))
            .collect();
        let rendered = self.render(caller, vendor, pipeline, attachment, &revision, &envelopes)?;
        if rendered.missing_parameters.is_empty() {
            return Ok(rendered);
        }
        Err(AppError::Invalid(
            plan_paths
                .into_iter()
                .filter(|(key, _)| rendered.missing_parameters.contains(key))
                .map(|(key, path)| {
                    FieldProblem::new(
                        path,
                        "missing_parameter",
                        format!("the pipeline defines no parameter '{key}'"),
                    )
                })
                .collect(),
        ))
    }

    /// Every enabled attachment of the pipeline, rendered: what the event
    /// processor loads. Attachments with missing parameters carry them and no config.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn pipeline_config(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
    ) -> Result<Vec<RenderedConfig>, AppError> {
        self.authorize(caller, Action::Read)?;
        let enabled: Vec<(Attachment, Revision)> = self
            .store
            .attached_revisions(&caller.org, pipeline.id)?
            .into_iter()
            .filter(|(attachment, _)| attachment.enabled)
            .collect();
        let revisions: Vec<RevisionId> = enabled.iter().map(|(_, r)| r.id).collect();
        let envelopes = self.envelopes(&caller.org, &revisions)?;
        enabled
            .into_iter()
            .map(|(attachment, revision)| {
                let vendor = vendor_of_key(&attachment.vendor)?;
                self.render(caller, vendor, pipeline, attachment, &revision, &envelopes)
            })
            .collect()
    }
}
