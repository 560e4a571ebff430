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
    /// What happened.
    pub action: AuditAction,
    /// The kind of object changed.
    pub resource_type: ResourceType,
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

/// Defines a closed set of audit values with one wire string each: the
/// string stored in the audit log and shown by the API. The generated
/// `as_str` and `FromStr` are the only mapping between the two.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire string: what the audit log stores and the API shows.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            /// The value whose wire string is exactly `s`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok(Self::$variant),)+
                    _ => Err($crate::UnknownValue { what: $what, value: s.to_owned() }),
                }
            }
        }
    };
}

wire_enum! {
    /// What an audit entry records: `template.create`, `attachment.repin`…
    AuditAction, "audit action" {
        /// A template was created from scratch.
        TemplateCreate => "template.create",
        /// A template was installed from the catalog, with its revision 1.
        TemplateInstall => "template.install",
        /// A template's name or description changed.
        TemplateUpdate => "template.update",
        /// A template was deleted.
        TemplateDelete => "template.delete",
        /// A revision was created (the resource is its template).
        RevisionCreate => "revision.create",
        /// An earlier revision was restored as a new one (the resource is its template).
        RevisionRestore => "revision.restore",
        /// A pipeline was created.
        PipelineCreate => "pipeline.create",
        /// A pipeline's name, description or parameters changed.
        PipelineUpdate => "pipeline.update",
        /// A pipeline was deleted.
        PipelineDelete => "pipeline.delete",
        /// A template was attached to a pipeline.
        AttachmentCreate => "attachment.create",
        /// An attachment was pinned to another revision.
        AttachmentRepin => "attachment.repin",
        /// An attachment was enabled.
        AttachmentEnable => "attachment.enable",
        /// An attachment was disabled.
        AttachmentDisable => "attachment.disable",
        /// An attachment was removed (directly, or with its pipeline).
        AttachmentDelete => "attachment.delete",
        /// A rollout re-pinned pipelines of a template (the resource is the rollout).
        RolloutApply => "rollout.apply",
        /// A rollout was rolled back (the resource is the new rollout).
        RolloutRollback => "rollout.rollback",
    }
}

wire_enum! {
    /// The kind of object an audit entry is about.
    ResourceType, "resource type" {
        /// A template (also for its revisions).
        Template => "template",
        /// A pipeline.
        Pipeline => "pipeline",
        /// An attachment (on the wire: a pipeline integration).
        Attachment => "attachment",
        /// A rollout across the pipelines of a template.
        Rollout => "rollout",
    }
}

pub(crate) use wire_enum;

/// A string that names no value of a closed set ([`AuditAction`],
/// [`ResourceType`], [`crate::EventType`]…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    /// Which kind of value was expected (`audit action`, `resource type`).
    pub what: &'static str,
    /// The string given.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_wire_string() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(*action));
        }
        for kind in ResourceType::ALL {
            assert_eq!(kind.as_str().parse::<ResourceType>(), Ok(*kind));
        }
    }

    #[test]
    fn the_wire_strings_are_the_stored_ones() {
        let actions: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "template.create",
                "template.install",
                "template.update",
                "template.delete",
                "revision.create",
                "revision.restore",
                "pipeline.create",
                "pipeline.update",
                "pipeline.delete",
                "attachment.create",
                "attachment.repin",
                "attachment.enable",
                "attachment.disable",
                "attachment.delete",
                "rollout.apply",
                "rollout.rollback",
            ]
        );
        assert_eq!(ResourceType::Attachment.to_string(), "attachment");
        assert_eq!(ResourceType::Rollout.to_string(), "rollout");
    }

    #[test]
    fn an_unknown_string_is_refused_by_name() {
        let err = "Template".parse::<ResourceType>().unwrap_err();
        assert_eq!(err.to_string(), r#"unknown resource type "Template""#);
        assert!("template.archive".parse::<AuditAction>().is_err());
    }
}
