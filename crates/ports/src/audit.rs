//! Audit entries: who changed what, when, from what to what.

use integrations_domain::{AuditId, OrgId, UserId};
use serde_json::Value;
use time::OffsetDateTime;

/// One change, as the audit log keeps it. Built by the application (values
/// already masked: never a secret) and written by the store in the same
/// transaction as the change it describes, so the log cannot miss a change
/// nor record one that was rolled back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Its id.
    pub id: AuditId,
    /// The org the change happened in.
    pub org: OrgId,
    /// Who made it (the token's `sub`).
    pub actor: UserId,
    /// What happened: `template.create`, `revision.create`, `attachment.repin`…
    pub action: String,
    /// The kind of object changed: `template`, `pipeline`, `attachment`.
    pub resource_type: String,
    /// The id of the object changed (for revisions: their template).
    pub resource_id: String,
    /// The object before the change (absent for creations).
    pub old_value: Option<Value>,
    /// The object after the change (absent for deletions). A store may add
    /// what only it knows, such as a new revision's number.
    pub new_value: Option<Value>,
    /// When.
    pub at: OffsetDateTime,
}
