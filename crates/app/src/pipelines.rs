//! Use cases of pipelines (docs/api.md, "Pipelines").

use integrations_domain::{
    Action, Caller, Description, Name, ParamKey, ParamValue, Parameters, Pipeline, PipelineId,
    SecretParameters,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{
    Change, ListPage, NewPipeline, PipelineChanges, PipelineFilter, StoreSession, Window,
};
use serde_json::{Map, Value};

use crate::audit::{Subject, new_pipeline_value, pipeline_value, secret_keys_value};
use crate::error::{AppError, FieldProblem, NamedKind, Problems};
use crate::idempotency::{Idempotent, Outcome, Replay};
use crate::secret_parameters;
use crate::templates::description;
use crate::{App, authorize};

/// The input of "create a pipeline".
#[derive(Debug, Clone)]
pub struct CreatePipeline {
    /// Its name (the template name rules).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Key → string, number or boolean.
    pub parameters: Option<Map<String, Value>>,
    /// Key → string: credentials, sealed at rest and never shown again.
    pub secret_parameters: Option<Map<String, Value>>,
}

/// The input of "update a pipeline"; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdatePipeline {
    /// A new name.
    pub name: Option<String>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New parameters, replacing the old ones whole.
    pub parameters: Option<Map<String, Value>>,
    /// New secret parameters, replacing the old ones whole; a value `"***"`
    /// keeps the stored value of its key.
    pub secret_parameters: Option<Map<String, Value>>,
}

/// Checks every key and value, and the size limits (at most 100 keys, values
/// of at most 8 KiB), reporting each bad one.
fn parameters(problems: &mut Problems, raw: Map<String, Value>) -> Parameters {
    let mut parameters = Parameters::new();
    for (key, value) in raw {
        let field = format!("parameters.{key}");
        let key = match ParamKey::parse(&key) {
            Ok(key) => key,
            Err(err) => {
                problems.push(FieldProblem::new(field, "invalid_key", err.to_string()));
                continue;
            }
        };
        match ParamValue::try_from(value) {
            Ok(value) => {
                parameters.insert(key, value);
            }
            Err(message) => problems.push(FieldProblem::new(field, "invalid_type", message)),
        }
    }
    if let Err(found) = parameters.check_limits() {
        for problem in found {
            problems.push(FieldProblem::new(
                problem.field(),
                problem.code(),
                problem.to_string(),
            ));
        }
    }
    parameters
}

pub(crate) fn parse_pipeline_id(raw: &str) -> Result<PipelineId, AppError> {
    PipelineId::parse(raw).map_err(|_| AppError::NotFound)
}

/// The org's live pipeline `id`, once the caller may perform `action`: the
/// find step every pipeline use case starts with.
pub(crate) fn find_pipeline(
    store: &dyn StoreSession,
    caller: &Caller,
    action: Action,
    id: &str,
) -> Result<Pipeline, AppError> {
    authorize(caller, action)?;
    Ok(store.pipeline(&caller.org, parse_pipeline_id(id)?)?)
}

impl App {
    /// One pipeline.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn pipeline(&self, caller: &Caller, id: &str) -> Result<Pipeline, AppError> {
        find_pipeline(&*self.store.session(), caller, Action::Read, id)
    }

    /// A page of the org's pipelines whose name holds `q` (every pipeline
    /// when it is absent or empty), as [`App::list_templates`] pages
    /// templates.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` naming `q` (`too_long`, `control_character`),
    /// checked before any storage work; `Unavailable`.
    pub fn list_pipelines(
        &self,
        caller: &Caller,
        q: Option<&str>,
        window: Window,
    ) -> Result<ListPage<Pipeline>, AppError> {
        authorize(caller, Action::Read)?;
        let mut problems = Problems::default();
        let name = crate::templates::name_query(&mut problems, q);
        problems.finish()?;
        let filter = PipelineFilter { name };
        Ok(self
            .store
            .session()
            .find_pipelines(&caller.org, &filter, window)?)
    }

    /// Creates a pipeline.
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` listing every bad field; `NameTaken`.
    pub fn create_pipeline<E: From<AppError>>(
        &self,
        caller: &Caller,
        input: impl FnOnce() -> Result<CreatePipeline, E>,
        request: Option<Idempotent<'_, Pipeline, E>>,
    ) -> Result<Outcome<Pipeline>, E> {
        let store = self.store.session();
        self.idempotently(&*store, caller, request, |replay| {
            authorize(caller, Action::Edit)?;
            let input = input()?;
            Ok(self.new_pipeline(&*store, caller, input, replay)?)
        })
    }

    fn new_pipeline(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        input: CreatePipeline,
        replay: Replay<'_, Pipeline>,
    ) -> Result<Pipeline, AppError> {
        let mut problems = Problems::default();
        let name = problems.check("name", Name::parse(&input.name));
        let description = description(&mut problems, input.description.as_deref());
        let parameters = parameters(&mut problems, input.parameters.unwrap_or_default());
        let entered = input
            .secret_parameters
            .map(|raw| secret_parameters::check(&mut problems, raw, &SecretParameters::new()))
            .unwrap_or_default();
        secret_parameters::check_disjoint(
            &mut problems,
            &parameters,
            entered.iter().map(|(k, _)| k),
        );
        problems.finish()?;
        let Some(name) = name else {
            return Err(AppError::Internal("a checked name is missing".into()));
        };
        let id = PipelineId::from_ulid(self.ids.ulid());
        let (secret_parameters, secrets) = self.seal_secret_parameters(&caller.org, id, entered)?;
        let new = NewPipeline {
            id,
            org_id: caller.org.clone(),
            name: name.clone(),
            description,
            parameters,
            secret_parameters,
            secrets,
            created_at: self.clock.now(),
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::PipelineCreate,
                resource_type: ResourceType::Pipeline,
                resource_id: new.id.to_string(),
            },
            None,
            Some(new_pipeline_value(&new)),
        );
        store
            .create_pipeline(new, Change { audit, replay })
            .map_err(AppError::naming(NamedKind::Pipeline, name.as_str()))
    }

    /// Changes a pipeline; `parameters` replace the old ones whole.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `input` (read once the pipeline is
    /// found) fails with; `Invalid` (nothing to change, or bad values); `NameTaken`.
    pub fn update_pipeline<E: From<AppError>>(
        &self,
        caller: &Caller,
        id: &str,
        input: impl FnOnce() -> Result<UpdatePipeline, E>,
    ) -> Result<Pipeline, E> {
        let store = self.store.session();
        let pipeline = find_pipeline(&*store, caller, Action::Edit, id)?;
        let input = input()?;
        Ok(self.change_pipeline(&*store, caller, &pipeline, input)?)
    }

    fn change_pipeline(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        pipeline: &Pipeline,
        input: UpdatePipeline,
    ) -> Result<Pipeline, AppError> {
        let id = pipeline.id;
        if input.name.is_none()
            && input.description.is_none()
            && input.parameters.is_none()
            && input.secret_parameters.is_none()
        {
            return Err(AppError::invalid(
                "body",
                "empty_update",
                "give a name, a description, parameters, secret_parameters, or several",
            ));
        }
        let mut problems = Problems::default();
        let name = input
            .name
            .and_then(|raw| problems.check("name", Name::parse(&raw)));
        let description = input
            .description
            .map(|d| description(&mut problems, d.as_deref()));
        let parameters = input.parameters.map(|raw| parameters(&mut problems, raw));
        let entered = input
            .secret_parameters
            .map(|raw| secret_parameters::check(&mut problems, raw, &pipeline.secret_parameters));
        // The maps as they will be: a key may not end up in both.
        let plain = parameters.as_ref().unwrap_or(&pipeline.parameters);
        match &entered {
            Some(entered) => secret_parameters::check_disjoint(
                &mut problems,
                plain,
                entered.iter().map(|(k, _)| k),
            ),
            None => secret_parameters::check_disjoint(
                &mut problems,
                plain,
                pipeline.secret_parameters.keys(),
            ),
        }
        problems.finish()?;
        let secret = entered
            .map(|entered| self.seal_secret_parameters(&caller.org, id, entered))
            .transpose()?;
        let shown = name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        let mut new = pipeline_value(pipeline);
        if let Some(name) = &name {
            new["name"] = name.as_str().into();
        }
        if let Some(description) = &description {
            new["description"] = description.as_ref().map(Description::as_str).into();
        }
        if let Some(parameters) = &parameters {
            new["parameters"] = serde_json::to_value(parameters).unwrap_or_default();
        }
        if let Some((secret, _)) = &secret {
            new["secret_parameters"] = Value::Object(secret.masked());
            new["secret_parameters_changed"] =
                secret_keys_value(&secret.changed_from(&pipeline.secret_parameters));
        }
        let changes = PipelineChanges {
            name,
            description,
            parameters,
            secret_parameters: secret,
            updated_at: self.clock.now(),
        };
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::PipelineUpdate,
                resource_type: ResourceType::Pipeline,
                resource_id: id.to_string(),
            },
            Some(pipeline_value(pipeline)),
            Some(new),
        );
        store
            .update_pipeline(&caller.org, id, changes, audit)
            .map_err(AppError::naming(NamedKind::Pipeline, &shown))
    }

    /// Soft-deletes a pipeline and removes its attachments; the audit log
    /// gets the pipeline's deletion and one `attachment.delete` entry per
    /// attachment removed, in the same transaction.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub fn delete_pipeline(&self, caller: &Caller, id: &str) -> Result<(), AppError> {
        let store = self.store.session();
        let pipeline = &find_pipeline(&*store, caller, Action::Administer, id)?;
        let audit = self.audit_entry(
            caller,
            Subject {
                action: AuditAction::PipelineDelete,
                resource_type: ResourceType::Pipeline,
                resource_id: pipeline.id.to_string(),
            },
            Some(pipeline_value(pipeline)),
            None,
        );
        Ok(store.delete_pipeline(
            &caller.org,
            pipeline.id,
            self.clock.now(),
            audit,
            &|removed| self.detach_audit(caller, removed),
        )?)
    }
}
