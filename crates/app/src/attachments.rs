//! Use cases of pipeline integrations (docs/api.md, "Pipeline integrations and rendered configs").

use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, Pipeline, RevisionId, TemplateId,
};
use integrations_ports::{
    AttachmentChanges, AuditEntry, Change, NewAttachment, StoreError, StoreSession,
};
use integrations_ports::{AuditAction, ResourceType};

use crate::audit::{Subject, attachment_value};
use crate::error::AppError;
use crate::idempotency::{Idempotent, Outcome, Replay};
use crate::pipelines::{find_pipeline, parse_pipeline_id};
use crate::{App, authorize};
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

/// The pipeline and its attachment `id`, once the caller may perform `action`.
fn find_attachment(
    store: &dyn StoreSession,
    caller: &Caller,
    action: Action,
    pipeline: &str,
    id: &str,
) -> Result<(Pipeline, Attachment), AppError> {
    let pipeline = find_pipeline(store, caller, action, pipeline)?;
    let attachment = store.attachment(&caller.org, pipeline.id, parse_attachment_id(id)?)?;
    Ok((pipeline, attachment))
}

impl App {
    /// Every attachment of a pipeline, newest first.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown pipeline.
    pub fn list_attachments(
        &self,
        caller: &Caller,
        pipeline: &str,
    ) -> Result<Vec<Attachment>, AppError> {
        authorize(caller, Action::Read)?;
        let pipeline = parse_pipeline_id(pipeline)?;
        Ok(self.store.session().attachments(&caller.org, pipeline)?)
    }

    /// One attachment of a pipeline.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for a malformed or unknown pipeline or attachment id.
    pub fn attachment(
        &self,
        caller: &Caller,
        pipeline: &str,
        id: &str,
    ) -> Result<Attachment, AppError> {
        let store = self.store.session();
        let (_, attachment) = find_attachment(&*store, caller, Action::Read, pipeline, id)?;
        Ok(attachment)
    }

    /// Pins a template at one of its revisions on a pipeline: finds the
    /// pipeline, then reads `input`.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown pipeline; what `input` fails
    /// with; `Invalid` for a malformed or unknown `integration_id` or
    /// `revision_id`, or a revision of another template; `AlreadyAttached`;
    /// `LimitReached` past [`MAX_ATTACHMENTS_PER_PIPELINE`].
    pub fn attach<E: From<AppError>>(
        &self,
        caller: &Caller,
        pipeline: &str,
        input: impl FnOnce() -> Result<Attach, E>,
        request: Option<Idempotent<'_, Attachment, E>>,
    ) -> Result<Outcome<Attachment>, E> {
        let store = self.store.session();
        self.idempotently(&*store, caller, request, |replay| {
            let pipeline = find_pipeline(&*store, caller, Action::Edit, pipeline)?;
            let input = input()?;
            Ok(self.attach_found(&*store, caller, &pipeline, &input, replay)?)
        })
    }

    fn attach_found(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        pipeline: &Pipeline,
        input: &Attach,
        replay: Replay<'_, Attachment>,
    ) -> Result<Attachment, AppError> {
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
        store
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

    /// Re-pins, enables or disables an attachment: finds it, then reads `input`.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `input` fails with; `Invalid` when
    /// neither field is given, or for a bad `revision_id` (as for attach).
    pub fn update_attachment<E: From<AppError>>(
        &self,
        caller: &Caller,
        pipeline: &str,
        id: &str,
        input: impl FnOnce() -> Result<UpdateAttachment, E>,
    ) -> Result<Attachment, E> {
        let store = self.store.session();
        let (pipeline, attachment) = find_attachment(&*store, caller, Action::Edit, pipeline, id)?;
        let input = input()?;
        Ok(self.change_attachment(&*store, caller, &pipeline, &attachment, input)?)
    }

    fn change_attachment(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        pipeline: &Pipeline,
        attachment: &Attachment,
        input: UpdateAttachment,
    ) -> Result<Attachment, AppError> {
        let id = attachment.id;
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
        Ok(store.update_attachment(&caller.org, pipeline.id, id, changes, audit)?)
    }

    /// Removes an attachment.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn detach(&self, caller: &Caller, pipeline: &str, id: &str) -> Result<(), AppError> {
        let store = self.store.session();
        let (pipeline, attachment) =
            find_attachment(&*store, caller, Action::Administer, pipeline, id)?;
        let audit = self.detach_audit(caller, &attachment);
        Ok(store.detach(&caller.org, pipeline.id, attachment.id, audit)?)
    }

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
