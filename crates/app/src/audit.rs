//! The audit log (docs/api.md, "Audit log"): entries built here, with secrets masked, and
//! written by the store in the same transaction as the change.

use integrations_domain::catalog::Vendor;
use integrations_domain::{
    Action, Attachment, AuditId, Caller, Description, ParamKey, Pipeline, Template, secrets,
};
use integrations_ports::{AuditAction, ResourceType};
use integrations_ports::{AuditEntry, ListPage, NewPipeline, NewRevision, NewTemplate, Window};
use serde_json::{Map, Value, json};

use crate::error::AppError;
use crate::{App, authorize};

/// What a change is about.
pub(crate) struct Subject {
    pub action: AuditAction,
    pub resource_type: ResourceType,
    pub resource_id: String,
}

impl App {
    /// An entry for a change by `caller`.
    pub(crate) fn audit_entry(
        &self,
        caller: &Caller,
        subject: Subject,
        old: Option<Value>,
        new: Option<Value>,
    ) -> AuditEntry {
        AuditEntry {
            id: AuditId::from_ulid(self.ids.ulid()),
            org: caller.org.clone(),
            actor: caller.user.clone(),
            action: subject.action,
            resource_type: subject.resource_type,
            resource_id: subject.resource_id,
            old_value: old,
            new_value: new,
            at: self.clock.now(),
        }
    }

    /// A page of the org's audit log, newest first (ties by id), optionally
    /// about one object; from an offset or after a known entry.
    ///
    /// # Errors
    /// `Forbidden` below the admin role.
    pub fn audit_log(
        &self,
        caller: &Caller,
        resource_id: Option<&str>,
        window: Window,
    ) -> Result<ListPage<AuditEntry>, AppError> {
        authorize(caller, Action::Administer)?;
        if resource_id.is_some_and(|id| id.len() > 128 || id.chars().any(char::is_control)) {
            return Err(AppError::invalid(
                "resource_id",
                "invalid_value",
                "resource_id must be an object id (at most 128 characters, no control characters)",
            ));
        }
        Ok(self
            .store
            .session()
            .audit_log(&caller.org, resource_id, window)?)
    }
}

pub(crate) fn template_value(t: &Template) -> Value {
    json!({
        "id": t.id.to_string(), "name": t.name.as_str(), "vendor": t.vendor,
        "description": t.description.as_ref().map(Description::as_str),
        "catalog_vendor_key": t.catalog_vendor_key, "catalog_variant_key": t.catalog_variant_key,
    })
}

pub(crate) fn new_template_value(t: &NewTemplate) -> Value {
    json!({
        "id": t.id.to_string(), "name": t.name.as_str(), "vendor": t.vendor,
        "description": t.description.as_ref().map(Description::as_str),
        "catalog_vendor_key": t.catalog_vendor_key, "catalog_variant_key": t.catalog_variant_key,
    })
}

/// A new revision, its secrets masked (they are sealed already; the mask hides even that).
/// A new revision's snapshot; `entered` lists the secret fields given a new
/// value in this write (names only, never a value).
pub(crate) fn revision_value(vendor: &Vendor, r: &NewRevision, entered: &[String]) -> Value {
    let mut config: Map<String, Value> = r.config.clone();
    secrets::mask(vendor, &mut config);
    json!({
        "id": r.id.to_string(), "config": config, "delivery_mode": r.delivery_mode.as_str(),
        "change_summary": r.change_summary.as_ref().map(Description::as_str),
        "restored_from": r.restored_from.map(integrations_domain::RevisionNumber::get),
        "secret_fields_changed": entered,
    })
}

pub(crate) fn pipeline_value(p: &Pipeline) -> Value {
    json!({
        "id": p.id.to_string(), "name": p.name.as_str(),
        "description": p.description.as_ref().map(Description::as_str), "parameters": p.parameters,
        "secret_parameters": p.secret_parameters.masked(),
    })
}

/// A new pipeline's snapshot, with the secret keys it sets listed as changed.
pub(crate) fn new_pipeline_value(p: &NewPipeline) -> Value {
    json!({
        "id": p.id.to_string(), "name": p.name.as_str(),
        "description": p.description.as_ref().map(Description::as_str), "parameters": p.parameters,
        "secret_parameters": p.secret_parameters.masked(),
        "secret_parameters_changed": secret_keys_value(&p.secret_parameters.keys().cloned().collect::<Vec<_>>()),
    })
}

/// Secret keys as an audit entry lists them (names only, never a value).
pub(crate) fn secret_keys_value(keys: &[ParamKey]) -> Value {
    keys.iter().map(|key| Value::from(key.as_str())).collect()
}

pub(crate) fn attachment_value(a: &Attachment) -> Value {
    json!({
        "id": a.id.to_string(), "pipeline_id": a.pipeline_id.to_string(),
        "integration_id": a.template_id.to_string(), "revision_id": a.revision_id.to_string(),
        "revision_number": a.revision_number.get(), "enabled": a.enabled,
    })
}
