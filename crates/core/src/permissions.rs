//! The Microsoft Graph permissions each scimshift command needs, least
//! privilege first, and the check of a token's granted permissions against
//! them. Data, not policy: `doctor` and the docs (`docs/real-tenant.md`) read
//! the same table. Sources: Microsoft Graph's permission sections of each API
//! page (servicePrincipal list, applicationTemplate instantiate,
//! synchronization job/schema/secrets/start/pause/provisionOnDemand,
//! appRoleAssignedTo create/delete, group members list, user create,
//! provisioningObjectSummary list) and the Microsoft Graph permissions reference.

use serde::Serialize;

/// One thing a command does, and the Graph permissions any one of which allows it.
#[derive(Debug, Clone, Serialize)]
pub struct Need {
    /// What the permission is for, in the admin's words.
    pub purpose: &'static str,
    /// Any of these permissions (application `roles` or delegated `scp`) is
    /// enough; the first is the least privileged one to grant.
    pub any_of: &'static [&'static str],
}

impl Need {
    /// The permission to grant when none of `any_of` is held.
    pub fn least(&self) -> &'static str {
        self.any_of[0]
    }
}

const READ_APPS: Need = Need {
    purpose: "read the gallery app, its service principal and its assignments",
    any_of: &[
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
const READ_SYNC: Need = Need {
    purpose: "read provisioning jobs and their schema",
    any_of: &["Synchronization.Read.All", "Synchronization.ReadWrite.All"],
};
const READ_GROUPS: Need = Need {
    purpose: "read assigned groups and their members",
    any_of: &[
        "GroupMember.Read.All",
        "Group.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
const READ_USERS: Need = Need {
    purpose: "read assigned users",
    any_of: &[
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
const CREATE_APP: Need = Need {
    purpose: "create the custom (non-gallery) app from its template",
    any_of: &["Application.ReadWrite.All"],
};
const WRITE_SYNC: Need = Need {
    purpose: "create, configure, start and pause provisioning jobs",
    any_of: &["Synchronization.ReadWrite.All"],
};
const WRITE_ASSIGNMENTS: Need = Need {
    purpose: "assign users and groups to an app",
    any_of: &["AppRoleAssignment.ReadWrite.All"],
};
const READ_LOGS: Need = Need {
    purpose: "read provisioning logs",
    any_of: &["AuditLog.Read.All"],
};
const READ_DOMAINS: Need = Need {
    purpose: "read the tenant's verified domains",
    any_of: &[
        "Domain.Read.All",
        "Domain.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
const CREATE_GROUPS: Need = Need {
    purpose: "create missing security groups",
    any_of: &[
        "Group.Create",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
const CREATE_USERS: Need = Need {
    purpose: "create, update and disable users",
    any_of: &["User.ReadWrite.All", "Directory.ReadWrite.All"],
};
const ADD_MEMBERS: Need = Need {
    purpose: "add users to groups",
    any_of: &[
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};

/// The commands that call Graph, as `doctor --for` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// `snapshot`: read-only.
    Snapshot,
    /// `apply` and `rollback`: the write set.
    Apply,
    /// `verify` and `status`: read-only, with provisioning logs.
    Verify,
    /// `users import --to entra`.
    UsersEntra,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [
        Purpose::Snapshot,
        Purpose::Apply,
        Purpose::Verify,
        Purpose::UsersEntra,
    ];

    /// The command names an admin would recognise.
    pub fn commands(self) -> &'static str {
        match self {
            Purpose::Snapshot => "snapshot",
            Purpose::Apply => "apply, rollback",
            Purpose::Verify => "verify, status",
            Purpose::UsersEntra => "users import --to entra",
        }
    }

    /// Everything the commands need, reads first.
    pub fn needs(self) -> Vec<Need> {
        match self {
            Purpose::Snapshot => vec![READ_APPS, READ_SYNC, READ_GROUPS, READ_USERS],
            Purpose::Apply => vec![
                READ_APPS,
                READ_SYNC,
                READ_GROUPS,
                READ_USERS,
                CREATE_APP,
                WRITE_SYNC,
                WRITE_ASSIGNMENTS,
            ],
            Purpose::Verify => vec![READ_APPS, READ_SYNC, READ_GROUPS, READ_USERS, READ_LOGS],
            Purpose::UsersEntra => vec![
                READ_USERS,
                READ_DOMAINS,
                CREATE_USERS,
                CREATE_GROUPS,
                ADD_MEMBERS,
                WRITE_ASSIGNMENTS,
            ],
        }
    }
}

/// The needs of `purpose` that none of `granted` covers (case-insensitive,
/// as Graph compares permission names).
pub fn missing(purpose: Purpose, granted: &[String]) -> Vec<Need> {
    purpose
        .needs()
        .into_iter()
        .filter(|n| {
            !n.any_of
                .iter()
                .any(|p| granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recommended_app_only_set_covers_the_migration() {
        // The set docs/real-tenant.md tells an admin to grant for a migration.
        let set = granted(&[
            "Application.ReadWrite.All",
            "Synchronization.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "AuditLog.Read.All",
            "GroupMember.Read.All",
            "User.Read.All",
        ]);
        for p in [Purpose::Snapshot, Purpose::Apply, Purpose::Verify] {
            assert!(missing(p, &set).is_empty(), "{p:?}");
        }
    }

    #[test]
    fn a_reader_cannot_apply_and_is_told_what_to_grant() {
        let reader = granted(&["application.read.all", "Directory.Read.All"]);
        let least: Vec<&str> = missing(Purpose::Snapshot, &reader)
            .iter()
            .map(Need::least)
            .collect();
        assert_eq!(least, ["Synchronization.Read.All"]);
        let least: Vec<&str> = missing(Purpose::Apply, &reader)
            .iter()
            .map(Need::least)
            .collect();
        assert_eq!(
            least,
            [
                "Synchronization.Read.All",
                "Application.ReadWrite.All",
                "Synchronization.ReadWrite.All",
                "AppRoleAssignment.ReadWrite.All"
            ]
        );
    }
}
