//! Roles and the permission table as one function: [`Role::can`].
//!
//! | action | owner | admin | editor | viewer | service |
//! |---|---|---|---|---|---|
//! | [`Action::Read`]: templates, revisions, pipelines, attachments, rendered configs | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | [`Action::Browse`]: the catalog, diffs, pins (views meant for people) | ✓ | ✓ | ✓ | ✓ | |
//! | [`Action::Edit`]: create and change, install from the catalog, attach | ✓ | ✓ | ✓ | | |
//! | [`Action::Administer`]: delete, detach, the audit log | ✓ | ✓ | | | |
//! | [`Action::ReadSecrets`]: secret values in clear | | | | | ✓ |
//!
//! The `service` role is the event processor's: it reads what rendering
//! needs and nothing else (docs/decisions.md says why).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::name::{OrgId, UserId};

/// A caller's role within its organisation, carried in the token's `role` claim.
///
/// The human roles are ordered `Owner > Admin > Editor > Viewer`; "X or above"
/// means X and every role above it. `Service` is the event processor's machine
/// role: it reads templates, revisions, pipelines, attachments and rendered
/// configs ([`Action::Read`]) and nothing else, and it alone receives secret
/// values in clear on the rendered-config routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including deletes and the audit log.
    Owner,
    /// Everything an editor may, plus deletes, detaching and the audit log.
    Admin,
    /// Creates and changes templates, revisions, pipelines and attachments.
    Editor,
    /// Reads everything but the audit log; secrets stay masked.
    Viewer,
    /// The event processor: reads the objects rendering needs (not the
    /// catalog, diffs, pins or the audit log), and receives secrets in clear
    /// on the rendered-config routes.
    Service,
}

/// What a request wants to do; each route needs exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read templates, revisions, pipelines, attachments and rendered configs:
    /// what the event processor needs, so every role may.
    Read,
    /// Read the views meant for the people who manage integrations: the
    /// catalog, diffs between revisions, the pins of a template. Every human
    /// role may; the `service` role may not.
    Browse,
    /// Create or update templates, revisions and pipelines; install from the
    /// catalog; attach, re-pin, enable or disable.
    Edit,
    /// Delete templates and pipelines, detach, read the audit log.
    Administer,
    /// Receive secret config values in clear (rendered-config routes only).
    ReadSecrets,
}

impl Role {
    /// Every role, most privileged first, the machine role last.
    pub const ALL: [Self; 5] = [
        Self::Owner,
        Self::Admin,
        Self::Editor,
        Self::Viewer,
        Self::Service,
    ];

    /// Whether this role may perform `action`: the whole permission table (see
    /// the module documentation).
    ///
    /// ```
    /// use integrations_domain::{Action, Role};
    /// assert!(Role::Editor.can(Action::Edit));
    /// assert!(!Role::Editor.can(Action::Administer));
    /// assert!(Role::Service.can(Action::Read) && !Role::Service.can(Action::Edit));
    /// assert!(Role::Viewer.can(Action::Browse) && !Role::Service.can(Action::Browse));
    /// assert!(Role::Service.can(Action::ReadSecrets) && !Role::Owner.can(Action::ReadSecrets));
    /// ```
    pub const fn can(self, action: Action) -> bool {
        matches!(
            (self, action),
            (_, Action::Read)
                | (
                    Self::Owner | Self::Admin | Self::Editor | Self::Viewer,
                    Action::Browse
                )
                | (Self::Owner | Self::Admin | Self::Editor, Action::Edit)
                | (Self::Owner | Self::Admin, Action::Administer)
                | (Self::Service, Action::ReadSecrets)
        )
    }

    /// The wire name (`owner`, `service`…).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
            Self::Service => "service",
        }
    }
}

impl Action {
    /// Who may do it, in words, for a 403 message ("the editor role or above").
    pub const fn requirement(self) -> &'static str {
        match self {
            Self::Read => "any role",
            Self::Browse => "the viewer role or above",
            Self::Edit => "the editor role or above",
            Self::Administer => "the admin role or above",
            Self::ReadSecrets => "the service role",
        }
    }
}

/// Who is calling: the verified claims of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The organisation every query of the request is scoped to.
    pub org: OrgId,
    /// The user (recorded as `created_by`).
    pub user: UserId,
    /// What the caller may do.
    pub role: Role,
}

impl Caller {
    /// Whether the caller's role permits `action` (see [`Role::can`]).
    pub const fn can(&self, action: Action) -> bool {
        self.role.can(action)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': expected owner, admin, editor, viewer or service")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| UnknownRole(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_table_matches_the_spec() {
        use Action::{Administer, Browse, Edit, Read, ReadSecrets};
        let table = [
            (Role::Owner, [true, true, true, true, false]),
            (Role::Admin, [true, true, true, true, false]),
            (Role::Editor, [true, true, true, false, false]),
            (Role::Viewer, [true, true, false, false, false]),
            (Role::Service, [true, false, false, false, true]),
        ];
        for (role, expected) in table {
            let actual = [Read, Browse, Edit, Administer, ReadSecrets].map(|a| role.can(a));
            assert_eq!(actual, expected, "{role}");
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).ok(), Some(role.as_str().into()));
        }
        assert!("Owner".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
    }
}
