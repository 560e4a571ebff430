//! The integration catalog and installing a template from it.

use integrations_domain::catalog::{self, Category, Vendor};
use integrations_domain::{
    Action, Caller, Description, Name, Revision, RevisionId, Template, TemplateId,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{NewRevision, NewTemplate, StoreSession};
use serde_json::{Map, Value};

use crate::audit::{Subject, new_template_value, revision_value};
use crate::error::{AppError, FieldProblem, NamedKind, Problems};
use crate::idempotency::{Idempotent, Outcome, Replay, change, presenting};
use crate::revisions::{masked, parse_delivery_mode};
use crate::templates::description;
use crate::{App, authorize};

/// The input of "install a template from the catalog".
#[derive(Debug, Clone)]
pub struct Install {
    /// The new template's name.
    pub name: String,
    /// The variant to start from (default `default`).
    pub variant: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Overrides of the variant's default config, per top-level key.
    pub config: Option<Map<String, Value>>,
    /// `server_side` (default) or `client_side`.
    pub delivery_mode: Option<String>,
    /// Revision 1's change summary.
    pub change_summary: Option<String>,
}

impl App {
    /// The catalog, optionally one category of it.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` for an unknown category.
    pub fn catalog(
        &self,
        caller: &Caller,
        category: Option<&str>,
    ) -> Result<Vec<&'static Vendor>, AppError> {
        authorize(caller, Action::Browse)?;
        match category {
            None => Ok(catalog::vendors().iter().collect()),
            Some(raw) => {
                let category = Category::parse(raw).ok_or_else(|| {
                    let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                    AppError::invalid(
                        "category",
                        "unknown_category",
                        format!("category must be one of: {}", known.join(", ")),
                    )
                })?;
                Ok(catalog::vendors_in(category).collect())
            }
        }
    }

    /// One vendor of the catalog.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for a vendor the catalog does not have.
    pub fn catalog_vendor(&self, caller: &Caller, key: &str) -> Result<&'static Vendor, AppError> {
        authorize(caller, Action::Browse)?;
        catalog::vendor(key).ok_or(AppError::NotFound)
    }

    /// Creates a template from a catalog vendor's variant together with its
    /// revision 1, in one transaction. Revision 1's config is the variant's
    /// `default_config` overlaid by `input.config` (the request wins, per
    /// top-level key), validated like any revision.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown vendor; what `input` (read once
    /// the vendor is found) fails with; `Invalid` listing every problem
    /// (unknown variant, name, config…); `NameTaken`.
    pub fn install<E: From<AppError>>(
        &self,
        caller: &Caller,
        vendor: &str,
        input: impl FnOnce() -> Result<Install, E>,
        request: Option<Idempotent<'_, (Template, Revision), E>>,
    ) -> Result<Outcome<(Template, Revision)>, E> {
        let store = self.store.session();
        self.idempotently(&*store, caller, request, |replay| {
            authorize(caller, Action::Edit)?;
            let vendor = catalog::vendor(vendor).ok_or(AppError::NotFound)?;
            let input = input()?;
            Ok(self.install_from(&*store, caller, vendor, input, replay)?)
        })
    }

    fn install_from(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        vendor: &'static Vendor,
        input: Install,
        replay: Replay<'_, (Template, Revision)>,
    ) -> Result<(Template, Revision), AppError> {
        let mut problems = Problems::default();
        let name = problems.check("name", Name::parse(&input.name));
        let description = description(&mut problems, input.description.as_deref());
        let variant_key = input.variant.as_deref().unwrap_or("default");
        let Some(variant) = vendor.variant(variant_key) else {
            let known: Vec<&str> = vendor.variants.iter().map(|v| v.key.as_str()).collect();
            problems.push(FieldProblem::new(
                "variant",
                "unknown_variant",
                format!(
                    "{} has no variant '{}'; its variants: {}",
                    vendor.key,
                    variant_key.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            ));
            return Err(problems.finish().err().unwrap_or(AppError::NotFound));
        };
        let delivery_mode = parse_delivery_mode(
            &mut problems,
            input.delivery_mode.as_deref().unwrap_or("server_side"),
        );
        let summary = input.change_summary.unwrap_or_else(|| {
            format!(
                "Installed from the catalog: {} / {}",
                vendor.key, variant.key
            )
        });
        let change_summary = problems.check("change_summary", Description::parse(&summary));
        let mut config = variant.default_config.clone();
        config.extend(input.config.unwrap_or_default());
        let revision_id = RevisionId::from_ulid(self.ids.ulid());
        let prepared = self.prepare_config(
            store,
            &caller.org,
            vendor,
            revision_id,
            config,
            || Ok(None),
            &mut problems,
        )?;
        problems.finish()?;
        let (Some(name), Some(delivery_mode)) = (name, delivery_mode) else {
            return Err(AppError::Internal(
                "checked install values are missing".into(),
            ));
        };
        let now = self.clock.now();
        let template = NewTemplate {
            id: TemplateId::from_ulid(self.ids.ulid()),
            org_id: caller.org.clone(),
            name: name.clone(),
            vendor: vendor.key.clone(),
            description,
            catalog_vendor_key: Some(vendor.key.clone()),
            catalog_variant_key: Some(variant.key.clone()),
            created_at: now,
        };
        let revision = NewRevision {
            id: revision_id,
            config: prepared.config,
            secrets: prepared.sealed,
            delivery_mode,
            change_summary,
            created_by: caller.user.clone(),
            created_at: now,
            restored_from: None,
            expected_latest: Some(0),
        };
        let mut installed = new_template_value(&template);
        installed["revision"] = revision_value(vendor, &revision, &prepared.entered);
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::TemplateInstall,
                resource_type: ResourceType::Template,
                resource_id: template.id.to_string(),
            },
            None,
            Some(installed),
        );
        let present = |(template, revision): &(Template, Revision)| {
            (template.clone(), masked(revision.clone(), vendor))
        };
        let (template, revision) = store
            .install(
                template,
                revision,
                change(audit, &presenting(replay, present)),
            )
            .map_err(AppError::naming(NamedKind::Template, name.as_str()))?;
        self.counters.revision_created();
        Ok((template, masked(revision, vendor)))
    }
}
