//! Use cases of pipeline integrations (SPEC §8).

use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, Pipeline, RevisionId, TemplateId,
};
use integrations_ports::{AttachmentChanges, NewAttachment};

use crate::App;
use crate::error::AppError;

/// The input of "attach a template to a pipeline".
#[derive(Debug, Clone)]
pub struct Attach {
    /// The template (`integration_id`).
    pub integration_id: String,
    /// One of its revisions.
    pub revision_id: String,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

/// The input of "re-pin, enable or disable an attachment".
#[derive(Debug, Clone, Default)]
pub struct UpdateAttachment {
    /// Re-pin at this revision of the same template.
    pub revision_id: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

fn reference<T>(
    field: &'static str,
    parsed: Result<T, integrations_domain::IdError>,
) -> Result<T, AppError> {
    parsed.map_err(|err| AppError::invalid(field, "not_found", format!("{field}: {err}")))
}

pub(crate) fn parse_attachment_id(raw: &str) -> Result<AttachmentId, AppError> {
    AttachmentId::parse(raw).map_err(|_| AppError::NotFound)
}

impl App {
    /// Every attachment of a pipeline, newest first.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` when the pipeline went away meanwhile.
    pub fn list_attachments(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
    ) -> Result<Vec<Attachment>, AppError> {
        self.authorize(caller, Action::Read)?;
        Ok(self.store.attachments(&caller.org, pipeline.id)?)
    }

    /// One attachment of a pipeline.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn find_attachment(
        &self,
        caller: &Caller,
        action: Action,
        pipeline: &Pipeline,
        id: &str,
    ) -> Result<Attachment, AppError> {
        self.authorize(caller, action)?;
        Ok(self
            .store
            .attachment(&caller.org, pipeline.id, parse_attachment_id(id)?)?)
    }

    /// Pins a template at one of its revisions on the pipeline.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` (pipeline); `Invalid` for an unknown template or
    /// revision, or a revision of another template; `AlreadyAttached`.
    pub fn attach(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        input: &Attach,
    ) -> Result<Attachment, AppError> {
        self.authorize(caller, Action::Edit)?;
        let template_id = reference("integration_id", TemplateId::parse(&input.integration_id))?;
        let revision_id = reference("revision_id", RevisionId::parse(&input.revision_id))?;
        let new = NewAttachment {
            id: AttachmentId::from_ulid(self.ids.ulid()),
            template_id,
            revision_id,
            enabled: input.enabled.unwrap_or(true),
            created_at: self.clock.now(),
        };
        Ok(self.store.attach(&caller.org, pipeline.id, new)?)
    }

    /// Re-pins, enables or disables an attachment.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` (nothing to change, unknown revision,
    /// revision of another template).
    pub fn update_attachment(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        id: AttachmentId,
        input: UpdateAttachment,
    ) -> Result<Attachment, AppError> {
        self.authorize(caller, Action::Edit)?;
        if input.revision_id.is_none() && input.enabled.is_none() {
            return Err(AppError::invalid(
                "body",
                "empty_update",
                "give a revision_id, enabled, or both",
            ));
        }
        let revision_id = input
            .revision_id
            .map(|raw| reference("revision_id", RevisionId::parse(&raw)))
            .transpose()?;
        let changes = AttachmentChanges {
            revision_id,
            enabled: input.enabled,
            updated_at: self.clock.now(),
        };
        Ok(self
            .store
            .update_attachment(&caller.org, pipeline.id, id, changes)?)
    }

    /// Removes an attachment.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn detach(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        id: AttachmentId,
    ) -> Result<(), AppError> {
        self.authorize(caller, Action::Administer)?;
        Ok(self.store.detach(&caller.org, pipeline.id, id)?)
    }
}
