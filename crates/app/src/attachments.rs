//! Use cases of pipeline integrations (docs/api.md, "Pipeline integrations and rendered configs").

use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, Pipeline, RevisionId, TemplateId,
};
use integrations_ports::{AttachmentChanges, AuditEntry, Change, NewAttachment, StoreError};
use integrations_ports::{AuditAction, ResourceType};

use crate::App;
use crate::audit::{Subject, attachment_value};
use crate::error::AppError;
use crate::idempotency::Replay;
use serde_json::json;

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

/// The most integrations one pipeline may have attached (docs/decisions.md
/// says why this number): the pipeline's attachments and its rendered config
/// are returned whole, so their size must stay bounded.
pub const MAX_ATTACHMENTS_PER_PIPELINE: u32 = 100;

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
    /// revision, or a revision of another template; `AlreadyAttached`;
    /// `LimitReached` when the pipeline has [`MAX_ATTACHMENTS_PER_PIPELINE`]
    /// attachments already.
    pub fn attach(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        input: &Attach,
        replay: Replay<'_, Attachment>,
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
            max_per_pipeline: MAX_ATTACHMENTS_PER_PIPELINE,
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::AttachmentCreate,
                resource_type: ResourceType::Attachment,
                resource_id: new.id.to_string(),
            },
            None,
            Some(json!({
                "id": new.id.to_string(), "pipeline_id": pipeline.id.to_string(),
                "integration_id": template_id.to_string(), "revision_id": revision_id.to_string(),
                "enabled": new.enabled,
            })),
        );
        self.store
            .attach(&caller.org, pipeline.id, new, Change { audit, replay })
            .map_err(|err| match err {
                StoreError::LimitReached { limit } => AppError::LimitReached {
                    field: "integrations",
                    what: "integrations per pipeline",
                    limit,
                },
                other => other.into(),
            })
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
        attachment: &Attachment,
        input: UpdateAttachment,
    ) -> Result<Attachment, AppError> {
        let id = attachment.id;
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
        let action = match (revision_id, input.enabled) {
            (Some(_), _) => AuditAction::AttachmentRepin,
            (None, Some(true)) => AuditAction::AttachmentEnable,
            (None, _) => AuditAction::AttachmentDisable,
        };
        let mut new = attachment_value(attachment);
        if let Some(revision_id) = revision_id {
            new["revision_id"] = revision_id.to_string().into();
            // The new pin's number is the revision's; the id names it exactly.
            if let Some(fields) = new.as_object_mut() {
                fields.remove("revision_number");
            }
        }
        if let Some(enabled) = input.enabled {
            new["enabled"] = enabled.into();
        }
        let audit = self.audit_entry(
            caller,
            Subject {
                action,
                resource_type: ResourceType::Attachment,
                resource_id: id.to_string(),
            },
            Some(attachment_value(attachment)),
            Some(new),
        );
        let changes = AttachmentChanges {
            revision_id,
            enabled: input.enabled,
            updated_at: self.clock.now(),
        };
        Ok(self
            .store
            .update_attachment(&caller.org, pipeline.id, id, changes, audit)?)
    }

    /// Removes an attachment.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn detach(
        &self,
        caller: &Caller,
        pipeline: &Pipeline,
        attachment: &Attachment,
    ) -> Result<(), AppError> {
        self.authorize(caller, Action::Administer)?;
        let audit = self.detach_audit(caller, attachment);
        Ok(self
            .store
            .detach(&caller.org, pipeline.id, attachment.id, audit)?)
    }

    /// The audit entry of an attachment removed by `caller`: by the detach
    /// route, or with its pipeline.
    pub(crate) fn detach_audit(&self, caller: &Caller, attachment: &Attachment) -> AuditEntry {
        self.audit_entry(
            caller,
            Subject {
                action: AuditAction::AttachmentDelete,
                resource_type: ResourceType::Attachment,
                resource_id: attachment.id.to_string(),
            },
            Some(attachment_value(attachment)),
            None,
        )
    }
}
