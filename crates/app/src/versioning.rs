//! Versioning beyond the seed: template ETags for `If-Match`,
//! revision diffs, restores, and which pipelines pin a template.

use integrations_domain::diff::diff_configs;
use integrations_domain::{
    Action, Attachment, Caller, DeliveryMode, Description, Revision, RevisionId, RevisionNumber,
    Template,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{ListPage, NewRevision, PipelineRef, StoreSession, Window};
use serde_json::Value;
use time::OffsetDateTime;

use crate::App;
use crate::audit::{Subject, revision_value};
use crate::error::{AppError, Problems};
use crate::idempotency::{Idempotent, Outcome, Replay, change, presenting};
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

/// The version `If-Match` names on a change of `template` (read in the same
/// unit of work): `None` for no header or `*`; `PreconditionFailed` unless
/// one of the listed tags is the template's. The store compares the version
/// again atomically with the change.
pub(crate) fn expected_version(
    template: &Template,
    if_match: Option<&str>,
) -> Result<Option<OffsetDateTime>, AppError> {
    let Some(header) = if_match.map(str::trim) else {
        return Ok(None);
    };
    if header == "*" {
        return Ok(None);
    }
    // Several tags may be listed; only the current one can match.
    let etag = template_etag(template);
    if header.split(',').any(|tag| tag.trim() == etag) {
        Ok(Some(template.updated_at))
    } else {
        Err(AppError::PreconditionFailed)
    }
}

/// `If-Match: "<latest revision number>"` on a new revision of `template`:
/// `None` for no header or `*`; a malformed value is stale (it cannot name
/// the latest revision). The store compares the number atomically.
pub(crate) fn expected_latest(
    template: &Template,
    if_match: Option<&str>,
) -> Result<Option<u32>, AppError> {
    let Some(tag) = if_match.map(str::trim) else {
        return Ok(None);
    };
    if tag == "*" {
        return Ok(None);
    }
    tag.trim_matches('"')
        .parse::<u32>()
        .map(Some)
        .map_err(|_| AppError::StaleRevision {
            latest: template.latest_revision,
        })
}

/// The input of "restore a revision".
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// What changed; by default "Restored from revision N".
    pub change_summary: Option<String>,
}

impl App {
    /// The diff from revision `from` to revision `to` of a template. Secrets
    /// are compared by version id: one entered again is changed, one carried
    /// over (echoed or restored) is not.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown template or revision number.
    pub fn diff(
        &self,
        caller: &Caller,
        template: &str,
        from: &str,
        to: &str,
    ) -> Result<RevisionDiff, AppError> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Browse, template)?;
        let vendor = vendor_of(&template)?;
        // Secrets are compared by version id, as stored: nothing is opened.
        let load = |raw: &str| -> Result<Revision, AppError> {
            let number = RevisionNumber::parse(raw).ok_or(AppError::NotFound)?;
            Ok(store.revision(&caller.org, template.id, number)?)
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
    /// delivery mode, with `restored_from` set. History only grows. Finds
    /// the template and the revision (read once), then reads `input`.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `input` fails with; `Invalid` (change
    /// summary too long); `StaleRevision` when `if_match` is not the latest
    /// revision number.
    pub fn restore<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: &str,
        number: &str,
        if_match: Option<&str>,
        input: impl FnOnce() -> Result<Restore, E>,
        request: Option<Idempotent<'_, Revision, E>>,
    ) -> Result<Outcome<Revision>, E> {
        let store = self.store.session();
        self.idempotently(&*store, caller, request, |replay| {
            let template = Self::find_template(&*store, caller, Action::Edit, template)?;
            let number = RevisionNumber::parse(number).ok_or(AppError::NotFound)?;
            let source = store
                .revision(&caller.org, template.id, number)
                .map_err(AppError::from)?;
            let input = input()?;
            Ok(self.restore_found(&*store, caller, &template, &source, input, if_match, replay)?)
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the found objects and the request's parts, each used once"
    )]
    fn restore_found(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        source: &Revision,
        input: Restore,
        if_match: Option<&str>,
        replay: Replay<'_, Revision>,
    ) -> Result<Revision, AppError> {
        let vendor = vendor_of(template)?;
        let number = source.number;
        let mut problems = Problems::default();
        let summary = input
            .change_summary
            .unwrap_or_else(|| format!("Restored from revision {number}"));
        let change_summary = problems.check("change_summary", Description::parse(&summary));
        problems.finish()?;
        let expected_latest = expected_latest(template, if_match)?;
        // Every secret is sealed again for the new revision, keeping its version.
        let id = RevisionId::from_ulid(self.ids.ulid());
        let (config, secrets) = self.carry_config(store, &caller.org, vendor, source, id)?;
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
            // A restore enters no value: every secret keeps its version.
            Some(revision_value(vendor, &new, &[])),
        );
        let revision = store.create_revision(
            &caller.org,
            template.id,
            new,
            change(
                audit,
                &presenting(replay, |raw: &Revision| masked(raw.clone(), vendor)),
            ),
        )?;
        self.counters.revision_created();
        Ok(masked(revision, vendor))
    }

    /// A page of the pipelines that use the template, and at which revision;
    /// newest attachment first. The window is read once the template is found.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `window` fails with.
    pub fn pins<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: &str,
        window: impl FnOnce() -> Result<Window, E>,
    ) -> Result<ListPage<Pin>, E> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Browse, template)?;
        let window = window()?;
        let page = store
            .template_pins(&caller.org, template.id, window)
            .map_err(AppError::from)?;
        Ok(page.map(|(pipeline, attachment)| Pin {
            pipeline,
            attachment,
        }))
    }
}
