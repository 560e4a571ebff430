//! Use cases of revisions.

use integrations_domain::catalog::{self, Vendor};
use integrations_domain::secrets;
use integrations_domain::{
    Action, Caller, DeliveryMode, Description, Page, Paged, Revision, RevisionId, RevisionNumber,
    Template,
};
use integrations_ports::NewRevision;
use serde_json::{Map, Value};

use crate::App;
use crate::audit::{Subject, revision_value};
use crate::error::{AppError, FieldProblem, Problems};

/// The input of "create a revision".
#[derive(Debug, Clone)]
pub struct CreateRevision {
    /// The full configuration.
    pub config: Map<String, Value>,
    /// `server_side` or `client_side`.
    pub delivery_mode: String,
    /// What changed, at most 2,000 characters.
    pub change_summary: Option<String>,
    /// From `If-Match`: the latest revision number the caller based its change on.
    pub expected_latest: Option<u32>,
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
    /// `Forbidden`; `NotFound` for a malformed or unknown number.
    pub fn find_revision(
        &self,
        caller: &Caller,
        template: &Template,
        number: &str,
    ) -> Result<Revision, AppError> {
        self.authorize(caller, Action::Read)?;
        let number = RevisionNumber::parse(number).ok_or(AppError::NotFound)?;
        let revision = self.store.revision(&caller.org, template.id, number)?;
        Ok(masked(revision, vendor_of(template)?))
    }

    /// A template's revisions, newest first, secrets masked; all of them when
    /// `page` is `None`.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` when the template went away meanwhile.
    pub fn list_revisions(
        &self,
        caller: &Caller,
        template: &Template,
        page: Option<Page>,
    ) -> Result<Paged<Revision>, AppError> {
        self.authorize(caller, Action::Read)?;
        let vendor = vendor_of(template)?;
        let paged =
            self.store
                .revisions(&caller.org, template.id, page.unwrap_or_else(Page::all))?;
        Ok(Paged {
            items: paged.items.into_iter().map(|r| masked(r, vendor)).collect(),
            total: paged.total,
        })
    }

    /// Creates the template's next revision. A secret field sent as `"***"`
    /// keeps the value of the template's latest revision. The config must
    /// pass the vendor's validation.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` listing every problem; `StaleRevision`
    /// when `expected_latest` is out of date.
    pub fn create_revision(
        &self,
        caller: &Caller,
        template: &Template,
        input: CreateRevision,
    ) -> Result<Revision, AppError> {
        self.authorize(caller, Action::Edit)?;
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
        let (config, secrets) = self.prepare_config(
            &caller.org,
            vendor,
            id,
            input.config,
            || {
                let latest = self.store.latest_revision(&caller.org, template.id)?;
                based_on = Some(latest.as_ref().map_or(0, |r| r.number.get()));
                Ok(latest)
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
            config,
            secrets,
            delivery_mode,
            change_summary,
            created_by: caller.user.clone(),
            created_at: self.clock.now(),
            restored_from: None,
            expected_latest: input.expected_latest.or(based_on),
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: "revision.create",
                resource_type: "template",
                resource_id: template.id.to_string(),
            },
            None,
            Some(revision_value(vendor, &new)),
        );
        let revision = self
            .store
            .create_revision(&caller.org, template.id, new, audit)?;
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
