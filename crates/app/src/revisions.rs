//! Use cases of revisions.

use integrations_domain::catalog::{self, Vendor};
use integrations_domain::secrets;
use integrations_domain::{
    Action, Caller, DeliveryMode, Description, OrgId, Revision, RevisionId, RevisionNumber,
    Template, TemplateId,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{ListPage, NewRevision, StoreSession, Window};
use serde_json::{Map, Value};

use crate::App;
use crate::audit::{Subject, revision_value};
use crate::error::{AppError, FieldProblem, Problems};
use crate::idempotency::{Idempotent, Outcome, Replay, change, presenting};
use crate::versioning::expected_latest;

/// The input of "create a revision".
#[derive(Debug, Clone)]
pub struct CreateRevision {
    /// The full configuration.
    pub config: Map<String, Value>,
    /// `server_side` or `client_side`.
    pub delivery_mode: String,
    /// What changed, at most 2,000 characters.
    pub change_summary: Option<String>,
}

/// The answer of the revisions list: one page, or (without a window) the
/// whole history, read in batches as it is sent.
#[derive(Debug)]
pub enum RevisionList {
    /// One page.
    Page(ListPage<Revision>),
    /// Every revision, newest first.
    All(RevisionBatches),
}

pub(crate) fn vendor_of_key(key: &str) -> Result<&'static Vendor, AppError> {
    catalog::vendor(key).ok_or_else(|| {
        AppError::Internal(format!("vendor '{key}' is no longer in the catalog").into())
    })
}

pub(crate) fn vendor_of(template: &Template) -> Result<&'static Vendor, AppError> {
    catalog::vendor(&template.vendor).ok_or_else(|| {
        AppError::Internal(
            format!(
                "template {} has vendor '{}', which the catalog no longer has",
                template.id, template.vendor
            )
            .into(),
        )
    })
}

/// The revision as every API response shows it: secret values masked.
pub(crate) fn masked(mut revision: Revision, vendor: &Vendor) -> Revision {
    secrets::mask(vendor, &mut revision.config);
    revision
}

impl App {
    /// One revision of a template, secrets masked.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown template, or a malformed or unknown number.
    pub fn revision(
        &self,
        caller: &Caller,
        template: &str,
        number: &str,
    ) -> Result<Revision, AppError> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Read, template)?;
        let number = RevisionNumber::parse(number).ok_or(AppError::NotFound)?;
        let revision = store.revision(&caller.org, template.id, number)?;
        Ok(masked(revision, vendor_of(&template)?))
    }

    /// A template's revisions, newest first, secrets masked: the page
    /// `window` asks for (read once the template is found), or, when it
    /// asks for none, the whole history as it is now, to be read in batches
    /// of [`REVISION_BATCH`] (see [`RevisionBatches`]).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `window` fails with; `Internal` when
    /// the template's vendor left the catalog.
    pub fn list_revisions<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: &str,
        window: impl FnOnce() -> Result<Option<Window<u32>>, E>,
    ) -> Result<RevisionList, E> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Read, template)?;
        let vendor = vendor_of(&template)?;
        let Some(window) = window()? else {
            return Ok(RevisionList::All(RevisionBatches {
                app: self.clone(),
                org: caller.org.clone(),
                template: template.id,
                vendor,
                total: template.latest_revision,
                below: template.latest_revision.saturating_add(1),
            }));
        };
        let page = store
            .revisions(&caller.org, template.id, window)
            .map_err(AppError::from)?;
        Ok(RevisionList::Page(page.map(|r| masked(r, vendor))))
    }

    /// Creates the template's next revision: finds the template, reads
    /// `input`, validates it, checks `if_match` (the latest revision number
    /// the change is based on, quoted, or `*`), and creates the revision —
    /// all on one connection. A secret field sent as `"***"` keeps the value
    /// of the template's latest revision. The config must pass the vendor's
    /// validation.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `input` fails with; `Invalid` listing
    /// every problem; `StaleRevision` when `if_match` is malformed or out of date.
    pub fn create_revision<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: &str,
        if_match: Option<&str>,
        input: impl FnOnce() -> Result<CreateRevision, E>,
        request: Option<Idempotent<'_, Revision, E>>,
    ) -> Result<Outcome<Revision>, E> {
        let store = self.store.session();
        self.idempotently(&*store, caller, request, |replay| {
            let template = Self::find_template(&*store, caller, Action::Edit, template)?;
            let input = input()?;
            Ok(self.add_revision(&*store, caller, &template, input, if_match, replay)?)
        })
    }

    fn add_revision(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        input: CreateRevision,
        if_match: Option<&str>,
        replay: Replay<'_, Revision>,
    ) -> Result<Revision, AppError> {
        let vendor = vendor_of(template)?;
        let mut problems = Problems::default();
        let delivery_mode = parse_delivery_mode(&mut problems, &input.delivery_mode);
        let change_summary = input
            .change_summary
            .as_deref()
            .and_then(|s| problems.check("change_summary", Description::parse(s)));
        // The revision echoed secrets are taken from; the new one must directly
        // follow it, or a concurrent rotation could be silently undone.
        let mut based_on: Option<u32> = None;
        let id = RevisionId::from_ulid(self.ids.ulid());
        let prepared = self.prepare_config(
            store,
            &caller.org,
            vendor,
            id,
            input.config,
            || {
                // The template was read in this unit of work: its latest
                // number is where the echoed values come from.
                let latest = template.latest_revision;
                based_on = Some(latest);
                let Some(number) = RevisionNumber::new(latest) else {
                    return Ok(None);
                };
                Ok(Some(store.revision(&caller.org, template.id, number)?))
            },
            &mut problems,
        )?;
        problems.finish()?;
        let Some(delivery_mode) = delivery_mode else {
            return Err(AppError::Internal(
                "a checked delivery mode is missing".into(),
            ));
        };
        let new = NewRevision {
            id,
            config: prepared.config,
            secrets: prepared.sealed,
            delivery_mode,
            change_summary,
            created_by: caller.user.clone(),
            created_at: self.clock.now(),
            restored_from: None,
            expected_latest: expected_latest(template, if_match)?.or(based_on),
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::RevisionCreate,
                resource_type: ResourceType::Template,
                resource_id: template.id.to_string(),
            },
            None,
            Some(revision_value(vendor, &new, &prepared.entered)),
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
}

pub(crate) fn parse_delivery_mode(problems: &mut Problems, raw: &str) -> Option<DeliveryMode> {
    let mode = DeliveryMode::parse(raw);
    if mode.is_none() {
        problems.push(FieldProblem::new(
            "delivery_mode",
            "invalid_value",
            "delivery_mode must be server_side or client_side",
        ));
    }
    mode
}

/// How many revisions [`RevisionBatches::next_batch`] reads at a time
/// (docs/decisions.md says why): one. A revision of up to a megabyte of
/// small numbers parses into a tree of ~16 MB, so even a batch of four can
/// pass what the answer may hold; a round trip per revision is cheap beside it.
pub const REVISION_BATCH: u32 = 1;

/// A template's whole history, read a few revisions at a time: the answer of
/// the revisions list without `limit`, whose memory must not grow with the
/// history.
///
/// It lists the revisions numbered up to the template's latest when it was
/// read (the snapshot): revisions are immutable and numbered without gaps,
/// so later batches read exactly what was there at the start, even if new
/// revisions arrive or the template is deleted meanwhile. Each batch takes
/// a pooled connection of its own and gives it back.
#[derive(Debug)]
pub struct RevisionBatches {
    app: App,
    org: OrgId,
    template: TemplateId,
    vendor: &'static Vendor,
    total: u32,
    /// The next batch holds the revisions numbered below this.
    below: u32,
}

impl RevisionBatches {
    /// How many revisions the whole list has.
    pub fn total(&self) -> u64 {
        u64::from(self.total)
    }

    /// The next (older) revisions, at most [`REVISION_BATCH`], secrets
    /// masked; `None` once the list is complete.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached now; `Internal`
    /// when a revision of the snapshot is missing (a broken invariant).
    pub fn next_batch(&mut self) -> Result<Option<Vec<Revision>>, AppError> {
        if self.below <= 1 {
            return Ok(None);
        }
        let batch =
            self.app
                .store
                .revisions_below(&self.org, self.template, self.below, REVISION_BATCH)?;
        let expected = self.below - 1;
        let numbers_follow = batch
            .iter()
            .zip((1..=expected).rev())
            .all(|(revision, number)| revision.number.get() == number);
        let Some(last) = batch.last().filter(|_| numbers_follow) else {
            return Err(AppError::Internal(
                format!(
                    "template {} is missing revisions below {}",
                    self.template, self.below
                )
                .into(),
            ));
        };
        self.below = last.number.get();
        let vendor = self.vendor;
        Ok(Some(batch.into_iter().map(|r| masked(r, vendor)).collect()))
    }
}
