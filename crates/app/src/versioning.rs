//! Versioning beyond the seed: template ETags for `If-Match`,
//! revision diffs, restores, and which pipelines pin a template.

use integrations_domain::diff::diff_configs;
use integrations_domain::{
    Action, Attachment, Caller, DeliveryMode, Description, Revision, RevisionId, RevisionNumber,
    Template, TemplateId,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{ListPage, NewRevision, PipelineRef, Window};
use serde_json::Value;
use time::OffsetDateTime;

use crate::App;
use crate::audit::{Subject, revision_value};
use crate::error::{AppError, Problems};
use crate::idempotency::{Replay, change, presenting};
use crate::revisions::{masked, vendor_of};

/// The strong ETag of a template: its version is its `updated_at`, which every
/// change (metadata or a new revision) moves.
pub fn template_etag(template: &Template) -> String {
    format!("\"{}\"", version(template.updated_at))
}

fn version(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000
}

/// What changed between two revisions.
#[derive(Debug, Clone)]
pub struct RevisionDiff {
    /// The revision diffed from.
    pub from: RevisionNumber,
    /// The revision diffed to.
    pub to: RevisionNumber,
    /// The delivery modes, when they differ.
    pub delivery_mode: Option<(DeliveryMode, DeliveryMode)>,
    /// RFC 6902 operations from `from`'s config to `to`'s, secrets hidden.
    pub patch: json_patch::Patch,
}

/// A pipeline that pins a template.
#[derive(Debug, Clone)]
pub struct Pin {
    /// The pipeline.
    pub pipeline: PipelineRef,
    /// Its attachment of the template.
    pub attachment: Attachment,
}

impl App {
    /// The version `If-Match` names, checked against nothing yet: the store
    /// compares it atomically with the change. `*` matches any live template.
    pub(crate) fn expected_version(
        &self,
        caller: &Caller,
        id: TemplateId,
        if_match: Option<&str>,
    ) -> Result<Option<OffsetDateTime>, AppError> {
        let Some(header) = if_match.map(str::trim) else {
            return Ok(None);
        };
        if header == "*" {
            return Ok(None);
        }
        // Several tags may be listed; only the current one can match.
        let current = self.store.template(&caller.org, id)?;
        let etag = template_etag(&current);
        if header.split(',').any(|tag| tag.trim() == etag) {
            Ok(Some(current.updated_at))
        } else {
            Err(AppError::PreconditionFailed)
        }
    }

    /// The diff from revision `from` to revision `to` of a template. Secrets
    /// are compared by version id: one entered again is changed, one carried
    /// over (echoed or restored) is not.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown revision number.
    pub fn diff(
        &self,
        caller: &Caller,
        template: &Template,
        from: &str,
        to: &str,
    ) -> Result<RevisionDiff, AppError> {
        self.authorize(caller, Action::Browse)?;
        let vendor = vendor_of(template)?;
        // Secrets are compared by version id, as stored: nothing is opened.
        let load = |raw: &str| -> Result<Revision, AppError> {
            let number = RevisionNumber::parse(raw).ok_or(AppError::NotFound)?;
            Ok(self.store.revision(&caller.org, template.id, number)?)
        };
        let (a, b) = (load(from)?, load(to)?);
        let patch = diff_configs(vendor, &Value::Object(a.config), &Value::Object(b.config));
        Ok(RevisionDiff {
            from: a.number,
            to: b.number,
            delivery_mode: (a.delivery_mode != b.delivery_mode)
                .then_some((a.delivery_mode, b.delivery_mode)),
            patch,
        })
    }

    /// Creates a new revision that copies revision `number`'s config and
    /// delivery mode, with `restored_from` set. History only grows.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` (change summary too long);
    /// `StaleRevision` when `expected_latest` is out of date.
    pub fn restore(
        &self,
        caller: &Caller,
        template: &Template,
        number: &str,
        change_summary: Option<String>,
        expected_latest: Option<u32>,
        replay: Replay<'_, Revision>,
    ) -> Result<Revision, AppError> {
        self.authorize(caller, Action::Edit)?;
        let vendor = vendor_of(template)?;
        let number = RevisionNumber::parse(number).ok_or(AppError::NotFound)?;
        let source = self.store.revision(&caller.org, template.id, number)?;
        let mut problems = Problems::default();
        let summary = change_summary.unwrap_or_else(|| format!("Restored from revision {number}"));
        let change_summary = problems.check("change_summary", Description::parse(&summary));
        problems.finish()?;
        // Every secret is sealed again for the new revision, keeping its version.
        let id = RevisionId::from_ulid(self.ids.ulid());
        let (config, secrets) = self.carry_config(&caller.org, vendor, &source, id)?;
        let new = NewRevision {
            id,
            config,
            secrets,
            delivery_mode: source.delivery_mode,
            change_summary,
            created_by: caller.user.clone(),
            created_at: self.clock.now(),
            restored_from: Some(number),
            expected_latest,
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::RevisionRestore,
                resource_type: ResourceType::Template,
                resource_id: template.id.to_string(),
            },
            None,
            Some(revision_value(vendor, &new)),
        );
        let revision = self.store.create_revision(
            &caller.org,
            template.id,
            new,
            change(
                audit,
                &presenting(replay, |raw: &Revision| masked(raw.clone(), vendor)),
            ),
        )?;
        Ok(masked(revision, vendor))
    }

    /// A page of the pipelines that use the template, and at which revision;
    /// newest attachment first.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn pins(
        &self,
        caller: &Caller,
        template: &Template,
        window: Window,
    ) -> Result<ListPage<Pin>, AppError> {
        self.authorize(caller, Action::Browse)?;
        let page = self.store.template_pins(&caller.org, template.id, window)?;
        Ok(page.map(|(pipeline, attachment)| Pin {
            pipeline,
            attachment,
        }))
    }
}
