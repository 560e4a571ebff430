//! Use cases of integration templates (docs/api.md, "Integration templates").

use integrations_domain::{
    Action, Caller, Description, Name, NameQuery, Template, TemplateId, catalog,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{
    Change, ListPage, NewTemplate, StoreSession, TemplateChanges, TemplateFilter, Window,
};

use crate::audit::{Subject, new_template_value, template_value};
use crate::error::{AppError, FieldProblem, NamedKind, Problems};
use crate::idempotency::{Idempotent, Outcome, Replay};
use crate::versioning::expected_version;
use crate::{App, authorize};

/// The input of "create a template".
#[derive(Debug, Clone)]
pub struct CreateTemplate {
    /// The display name (trimmed, 1–200 characters, unique in the org).
    pub name: String,
    /// A catalog vendor key.
    pub vendor: String,
    /// Free text, at most 2,000 characters.
    pub description: Option<String>,
}

/// What a list of templates is narrowed to, as the client sent it: an
/// absent `q` or `vendor`, or an empty `q`, keeps every template.
#[derive(Debug, Clone, Default)]
pub struct TemplateSearch {
    /// A literal substring of the name, compared as names are (see
    /// [`NameQuery`]); at most 200 characters, no control characters.
    pub q: Option<String>,
    /// A catalog vendor key (any other, the empty one included, is refused).
    pub vendor: Option<String>,
}

/// The input of "update a template"; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateTemplate {
    /// A new name.
    pub name: Option<String>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
}

pub(crate) fn parse_template_id(raw: &str) -> Result<TemplateId, AppError> {
    TemplateId::parse(raw).map_err(|_| AppError::NotFound)
}

/// Checks an optional description, recording a problem under `description`.
pub(crate) fn description(problems: &mut Problems, raw: Option<&str>) -> Option<Description> {
    raw.and_then(|text| problems.check("description", Description::parse(text)))
}

impl App {
    /// The org's live template `id`, read through `store`, once the caller
    /// may perform `action`: the find step every template use case starts with.
    pub(crate) fn find_template(
        store: &dyn StoreSession,
        caller: &Caller,
        action: Action,
        id: &str,
    ) -> Result<Template, AppError> {
        authorize(caller, action)?;
        let id = parse_template_id(id)?;
        Ok(store.template(&caller.org, id)?)
    }

    /// One template.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for a malformed id, another org's or a deleted template.
    pub fn template(&self, caller: &Caller, id: &str) -> Result<Template, AppError> {
        Self::find_template(&*self.store.session(), caller, Action::Read, id)
    }

    /// A page of the org's templates that `search` keeps, newest first (ties
    /// by id), from an offset or after a known template (a position, whatever
    /// search the cursor came from), with the exact number it keeps.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` naming `q` (`too_long`, `control_character`)
    /// or `vendor` (`unknown_vendor`), checked before any storage work;
    /// `Unavailable`.
    pub fn list_templates(
        &self,
        caller: &Caller,
        search: &TemplateSearch,
        window: Window,
    ) -> Result<ListPage<Template>, AppError> {
        authorize(caller, Action::Read)?;
        let mut problems = Problems::default();
        let name = name_query(&mut problems, search.q.as_deref());
        let vendor = search.vendor.as_deref();
        if let Some(vendor) = vendor
            && catalog::vendor(vendor).is_none()
        {
            problems.push(unknown_vendor(vendor));
        }
        problems.finish()?;
        let filter = TemplateFilter {
            name,
            vendor: vendor.map(str::to_owned),
        };
        Ok(self
            .store
            .session()
            .find_templates(&caller.org, &filter, window)?)
    }

    /// Creates a template without revisions.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` listing every bad field (name, vendor,
    /// description); `NameTaken`.
    pub fn create_template<E: From<AppError>>(
        &self,
        caller: &Caller,
        input: impl FnOnce() -> Result<CreateTemplate, E>,
        request: Option<Idempotent<'_, Template, E>>,
    ) -> Result<Outcome<Template>, E> {
        let store = self.store.session();
        self.idempotently(&*store, caller, request, |replay| {
            authorize(caller, Action::Edit)?;
            let input = input()?;
            Ok(self.new_template(&*store, caller, input, replay)?)
        })
    }

    fn new_template(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        input: CreateTemplate,
        replay: Replay<'_, Template>,
    ) -> Result<Template, AppError> {
        let mut problems = Problems::default();
        let name = problems.check("name", Name::parse(&input.name));
        if catalog::vendor(&input.vendor).is_none() {
            problems.push(unknown_vendor(&input.vendor));
        }
        let description = description(&mut problems, input.description.as_deref());
        problems.finish()?;
        let Some(name) = name else {
            return Err(AppError::Internal("a checked name is missing".into()));
        };
        let new = NewTemplate {
            id: TemplateId::from_ulid(self.ids.ulid()),
            org_id: caller.org.clone(),
            name: name.clone(),
            vendor: input.vendor,
            description,
            catalog_vendor_key: None,
            catalog_variant_key: None,
            created_at: self.clock.now(),
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::TemplateCreate,
                resource_type: ResourceType::Template,
                resource_id: new.id.to_string(),
            },
            None,
            Some(new_template_value(&new)),
        );
        store
            .create_template(new, Change { audit, replay })
            .map_err(AppError::naming(NamedKind::Template, name.as_str()))
    }

    /// Changes a template's name and/or description: finds it, then reads
    /// `input` (a body that does not parse answers after a 404), validates
    /// it, checks `If-Match`, and changes it — on one connection.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `input` fails with; `Invalid` when
    /// neither field is given or a value is bad; `PreconditionFailed` when
    /// `if_match` is not the current ETag; `NameTaken`.
    pub fn update_template<E: From<AppError>>(
        &self,
        caller: &Caller,
        id: &str,
        if_match: Option<&str>,
        input: impl FnOnce() -> Result<UpdateTemplate, E>,
    ) -> Result<Template, E> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Edit, id)?;
        let input = input()?;
        Ok(self.change_template(&*store, caller, &template, input, if_match)?)
    }

    fn change_template(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        input: UpdateTemplate,
        if_match: Option<&str>,
    ) -> Result<Template, AppError> {
        let id = template.id;
        if input.name.is_none() && input.description.is_none() {
            return Err(AppError::invalid(
                "body",
                "empty_update",
                "give a name, a description, or both",
            ));
        }
        let mut problems = Problems::default();
        let name = input
            .name
            .and_then(|raw| problems.check("name", Name::parse(&raw)));
        let description = input
            .description
            .map(|d| description(&mut problems, d.as_deref()));
        problems.finish()?;
        let shown_name = name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        let mut new = template_value(template);
        if let Some(name) = &name {
            new["name"] = name.as_str().into();
        }
        if let Some(description) = &description {
            new["description"] = description.as_ref().map(Description::as_str).into();
        }
        let changes = TemplateChanges {
            name,
            description,
            updated_at: self.clock.now(),
            expected_updated_at: expected_version(template, if_match)?,
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::TemplateUpdate,
                resource_type: ResourceType::Template,
                resource_id: id.to_string(),
            },
            Some(template_value(template)),
            Some(new),
        );
        store
            .update_template(&caller.org, id, changes, audit)
            .map_err(AppError::naming(NamedKind::Template, &shown_name))
    }

    /// Soft-deletes a template that no pipeline uses.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `PreconditionFailed` when `if_match` is not
    /// the current ETag; `TemplateInUse` naming the pipelines.
    pub fn delete_template(
        &self,
        caller: &Caller,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), AppError> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Administer, id)?;
        let expected = expected_version(&template, if_match)?;
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::TemplateDelete,
                resource_type: ResourceType::Template,
                resource_id: template.id.to_string(),
            },
            Some(template_value(&template)),
            None,
        );
        Ok(store.delete_template(&caller.org, template.id, self.clock.now(), expected, audit)?)
    }
}

/// The name search of a list (`q`): none when absent or empty, a problem
/// on `q` when it is too long or holds a control character.
pub(crate) fn name_query(problems: &mut Problems, q: Option<&str>) -> Option<NameQuery> {
    q.filter(|q| !q.is_empty())
        .and_then(|q| problems.check("q", NameQuery::parse(q)))
}

pub(crate) fn unknown_vendor(vendor: &str) -> FieldProblem {
    let known: Vec<&str> = catalog::vendors().iter().map(|v| v.key.as_str()).collect();
    FieldProblem::new(
        "vendor",
        "unknown_vendor",
        format!(
            "vendor '{}' is not in the integration catalog; known vendors: {}",
            vendor.chars().take(64).collect::<String>(),
            known.join(", ")
        ),
    )
}
