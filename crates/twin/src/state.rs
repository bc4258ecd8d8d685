//! The simulated tenant's data: directory users and groups, applications and
//! service principals, app role assignments, and each service principal's
//! synchronization (secrets, jobs, schemas, object links, provisioning log).
//!
//! Field names follow Graph's JSON (camelCase), so a seed file and a Graph
//! response read alike. The Graph handlers (`graph_api`) and the provisioning
//! engine (`engine`) both work on this one model behind a lock.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The non-gallery ("custom") application template the twin serves (it plays the global cloud).
pub use crate::graph::cloud::GLOBAL_NON_GALLERY_TEMPLATE_ID as NON_GALLERY_TEMPLATE_ID;

/// A directory user (`GET /users`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirUser {
    pub id: String,
    pub user_principal_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub manager_id: Option<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// Anything else a seed sets (extension attributes…), kept as-is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A directory group. `members` holds object ids of users *and* groups (nested).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirGroup {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `["Unified"]` for a Microsoft 365 group; empty for security groups.
    #[serde(default)]
    pub group_types: Vec<String>,
    #[serde(default = "yes")]
    pub security_enabled: bool,
    #[serde(default)]
    pub mail_enabled: bool,
    #[serde(default)]
    pub members: Vec<String>,
}

/// An application object (`/applications`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    #[serde(default)]
    pub application_template_id: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
}

/// An app role on a service principal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    pub id: String,
    #[serde(default)]
    pub allowed_member_types: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub display_name: String,
    #[serde(default = "yes")]
    pub is_enabled: bool,
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// A service principal (enterprise app).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    #[serde(default)]
    pub application_template_id: Option<String>,
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
    #[serde(default)]
    pub app_role_assignment_required: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub preferred_single_sign_on_mode: Option<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    #[serde(default)]
    pub notification_email_addresses: Vec<String>,
}

/// `appRoleAssignedTo` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    pub id: String,
    pub app_role_id: String,
    pub principal_id: String,
    /// `User`, `Group` or `ServicePrincipal`.
    pub principal_type: String,
    #[serde(default)]
    pub principal_display_name: Option<String>,
    pub resource_id: String,
    #[serde(default)]
    pub resource_display_name: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
}

/// A provisioning (synchronization) job. `schema` is the full
/// synchronizationSchema JSON, kept verbatim; `status` the job's status JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncJob {
    pub id: String,
    pub template_id: String,
    /// `Active`, `Disabled` or `Paused` (schedule.state).
    pub schedule_state: String,
    /// synchronizationStatus JSON (code, lastExecution, progress, quarantine, …).
    pub status: Value,
    pub schema: Value,
    /// Links the engine made: source object id → target SCIM id, per object type.
    #[serde(default)]
    pub user_links: BTreeMap<String, String>,
    #[serde(default)]
    pub group_links: BTreeMap<String, String>,
}

/// One service principal's synchronization container. `Debug` shows secret
/// keys only, never their values.
#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Synchronization {
    /// Secrets as written (`BaseAddress`, `SecretToken`, `SyncAll`, …), in key order.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub jobs: BTreeMap<String, SyncJob>,
    /// synchronizationTemplate JSON objects.
    #[serde(default)]
    pub templates: Vec<Value>,
}

impl std::fmt::Debug for Synchronization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synchronization")
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("jobs", &self.jobs)
            .field("templates", &self.templates.len())
            .finish()
    }
}

/// The whole tenant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub tenant_id: String,
    #[serde(default)]
    pub users: BTreeMap<String, DirUser>,
    #[serde(default)]
    pub groups: BTreeMap<String, DirGroup>,
    #[serde(default)]
    pub applications: BTreeMap<String, Application>,
    #[serde(default)]
    pub service_principals: BTreeMap<String, ServicePrincipal>,
    #[serde(default)]
    pub assignments: BTreeMap<String, AppRoleAssignment>,
    /// Keyed by service principal object id.
    #[serde(default)]
    pub synchronization: BTreeMap<String, Synchronization>,
    /// provisioningObjectSummary JSON objects, oldest first.
    #[serde(default)]
    pub provisioning_log: Vec<Value>,
    /// The tenant's domains (`GET /domains`). A seed without any gets one
    /// verified domain per UPN suffix of its users ([`Tenant::ensure_domains`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

/// A domain of the tenant (`GET /domains`): only verified ones may carry UPNs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The domain name, e.g. `northwind.example`.
    pub id: String,
    #[serde(default = "yes")]
    pub is_verified: bool,
    #[serde(default)]
    pub is_default: bool,
    /// `Managed` (cloud passwords) or `Federated` (sign-in at another IdP).
    #[serde(default = "managed")]
    pub authentication_type: String,
}

fn managed() -> String {
    "Managed".into()
}

impl Domain {
    pub fn verified(id: &str) -> Domain {
        Domain {
            id: id.into(),
            is_verified: true,
            is_default: false,
            authentication_type: managed(),
        }
    }
}

fn yes() -> bool {
    true
}

impl Tenant {
    /// Give a tenant without domains the ones its users already use (each
    /// verified; the most used one the default), as a real tenant must have.
    pub fn ensure_domains(&mut self) {
        if !self.domains.is_empty() {
            return;
        }
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for u in self.users.values() {
            if let Some((_, d)) = u.user_principal_name.rsplit_once('@') {
                *count.entry(d.to_ascii_lowercase()).or_default() += 1;
            }
        }
        let top = count
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(d, _)| d.clone());
        self.domains = count
            .into_keys()
            .map(|d| Domain {
                is_default: Some(&d) == top.as_ref(),
                ..Domain::verified(&d)
            })
            .collect();
    }

    /// Why `upn` may not be used here (Graph's 400 wording), if it may not:
    /// its domain must be one of the tenant's verified domains.
    pub fn upn_domain_problem(&self, upn: &str) -> Option<&'static str> {
        let domain = upn.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        let ok = self
            .domains
            .iter()
            .any(|d| d.is_verified && d.id.eq_ignore_ascii_case(domain));
        (!ok).then_some(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        )
    }

    /// Users a job on `sp_id` has in scope before scoping filters: with
    /// `SyncAll` every user; else users assigned directly plus the *direct* user
    /// members of assigned groups (nested groups are not followed, as in Entra).
    /// Sorted by id, without duplicates.
    pub fn users_in_assignment_scope(&self, sp_id: &str) -> Vec<&DirUser> {
        self.users_in_assignment_scope_except(sp_id, &Default::default())
    }

    /// [`Tenant::users_in_assignment_scope`] without the assignments in `hidden`
    /// (ids the engine cannot see yet: assignment lag).
    pub fn users_in_assignment_scope_except(
        &self,
        sp_id: &str,
        hidden: &std::collections::HashSet<String>,
    ) -> Vec<&DirUser> {
        let sync_all = self
            .synchronization
            .get(sp_id)
            .and_then(|s| s.secrets.get("SyncAll"))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if sync_all {
            return self.users.values().collect();
        }
        let mut ids = std::collections::BTreeSet::new();
        for a in self
            .assignments
            .values()
            .filter(|a| a.resource_id == sp_id && !hidden.contains(&a.id))
        {
            match a.principal_type.as_str() {
                "User" => {
                    ids.insert(a.principal_id.as_str());
                }
                "Group" => {
                    if let Some(g) = self.groups.get(&a.principal_id) {
                        for m in &g.members {
                            if self.users.contains_key(m) {
                                ids.insert(m.as_str());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        ids.into_iter()
            .filter_map(|id| self.users.get(id))
            .collect()
    }

    /// Groups assigned to `sp_id`, sorted by id.
    pub fn assigned_groups(&self, sp_id: &str) -> Vec<&DirGroup> {
        self.assigned_groups_except(sp_id, &Default::default())
    }

    /// [`Tenant::assigned_groups`] without the assignments in `hidden`.
    pub fn assigned_groups_except(
        &self,
        sp_id: &str,
        hidden: &std::collections::HashSet<String>,
    ) -> Vec<&DirGroup> {
        let ids: std::collections::BTreeSet<&str> = self
            .assignments
            .values()
            .filter(|a| {
                a.resource_id == sp_id && a.principal_type == "Group" && !hidden.contains(&a.id)
            })
            .map(|a| a.principal_id.as_str())
            .collect();
        ids.into_iter()
            .filter_map(|id| self.groups.get(id))
            .collect()
    }
}
