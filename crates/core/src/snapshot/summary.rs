//! What `scimshift snapshot` reports about a capture: counts and the
//! provisioning setup at a glance ([`Summary`], also the `--output json`
//! document), and its text rendering. Reads a [`Snapshot`]; sends nothing.

use super::model::{GroupKind, Snapshot};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What `snapshot` prints (`--output json`), and what the text view shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub file: Option<String>,
    pub digest: String,
    pub app: AppSummary,
    pub jobs: Vec<JobSummary>,
    pub settings: BTreeMap<String, String>,
    pub credential_keys_present: Vec<String>,
    pub assignments: AssignmentCounts,
    pub groups: GroupCounts,
    pub users: UserCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetCounts>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSummary {
    pub display_name: String,
    pub service_principal_id: String,
    pub app_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub id: String,
    pub template_id: String,
    /// schedule.state: Active, Disabled, Paused.
    pub schedule_state: String,
    /// status.code: NotConfigured, NotRun, Active, Paused, Quarantine.
    pub status: String,
    /// `userName <- [mail]`, in matching order.
    pub matching: Vec<String>,
    /// The user scoping filter, or `none`.
    pub scoping: String,
    pub pushes_groups: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssignmentCounts {
    pub total: usize,
    pub users: usize,
    pub groups: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCounts {
    pub total: usize,
    pub security: usize,
    pub microsoft365: usize,
    pub other: usize,
    pub with_nested_groups: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCounts {
    pub in_scope: usize,
    pub direct: usize,
    pub via_groups: usize,
    pub only_via_nested_groups: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetCounts {
    pub url: String,
    pub users: usize,
    pub groups: usize,
}

impl Summary {
    pub fn of(snap: &Snapshot, file: Option<&std::path::Path>) -> Summary {
        let jobs = snap
            .app
            .jobs
            .iter()
            .map(|j| {
                let mappings = crate::mapping::schema::Mappings::from_schema(&j.schema).ok();
                let user = mappings.as_ref().and_then(|m| m.user.as_ref());
                JobSummary {
                    id: j.id.clone(),
                    template_id: j.template_id.clone(),
                    schedule_state: j
                        .job
                        .pointer("/schedule/state")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    status: j
                        .job
                        .pointer("/status/code")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    matching: user
                        .map(|u| {
                            u.matching()
                                .iter()
                                .map(|a| format!("{} <- {}", a.target, a.expr))
                                .collect()
                        })
                        .unwrap_or_default(),
                    scoping: user
                        .map(|u| crate::mapping::schema::describe_scope(&u.scope))
                        .unwrap_or_else(|| "none".into()),
                    pushes_groups: mappings.as_ref().is_some_and(|m| m.pushes_groups()),
                }
            })
            .collect();
        let users_direct = snap
            .users
            .iter()
            .filter(|u| u.via.iter().any(|v| v == "direct"))
            .count();
        let via_groups = snap
            .users
            .iter()
            .filter(|u| u.via.iter().any(|v| v.starts_with("group:")))
            .count();
        let nested_only = snap
            .users
            .iter()
            .filter(|u| u.via.iter().all(|v| v.starts_with("nested:")))
            .count();
        let kind = |k: GroupKind| snap.groups.iter().filter(|g| g.kind == k).count();
        Summary {
            file: file.map(|f| f.display().to_string()),
            digest: snap.digest.clone(),
            app: AppSummary {
                display_name: snap.app.display_name.clone(),
                service_principal_id: snap.app.service_principal_id.clone(),
                app_id: snap.app.app_id.clone(),
            },
            jobs,
            settings: snap
                .app
                .settings
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect(),
            credential_keys_present: snap.app.credential_keys_present.clone(),
            assignments: AssignmentCounts {
                total: snap.app.assignments.len(),
                users: snap
                    .app
                    .assignments
                    .iter()
                    .filter(|a| a.principal_type == "User")
                    .count(),
                groups: snap
                    .app
                    .assignments
                    .iter()
                    .filter(|a| a.principal_type == "Group")
                    .count(),
            },
            groups: GroupCounts {
                total: snap.groups.len(),
                security: kind(GroupKind::Security),
                microsoft365: kind(GroupKind::Microsoft365),
                other: kind(GroupKind::MailEnabledSecurity) + kind(GroupKind::Distribution),
                with_nested_groups: snap
                    .groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m.kind() == "group"))
                    .count(),
            },
            users: UserCounts {
                in_scope: snap.users.len(),
                direct: users_direct,
                via_groups,
                only_via_nested_groups: nested_only,
            },
            target: snap.target.as_ref().map(|t| TargetCounts {
                url: t.base_url.clone(),
                users: t.users.len(),
                groups: t.groups.len(),
            }),
        }
    }

    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let a = &self.app;
        s.push_str(&format!(
            "Snapshot of \"{}\" (service principal {}, appId {})\n",
            a.display_name, a.service_principal_id, a.app_id
        ));
        if let Some(f) = &self.file {
            s.push_str(&format!("  written to {f} ({})\n", self.digest));
        }
        if self.jobs.is_empty() {
            s.push_str("  provisioning: no job (this app has no provisioning configured)\n");
        }
        for j in &self.jobs {
            s.push_str(&format!(
                "  job {} (template {}): schedule {}, status {}\n",
                j.id, j.template_id, j.schedule_state, j.status
            ));
            s.push_str(&format!(
                "    matching: {}\n",
                if j.matching.is_empty() {
                    "none".to_string()
                } else {
                    j.matching.join(", then ")
                }
            ));
            s.push_str(&format!("    scoping filter: {}\n", j.scoping));
            s.push_str(&format!(
                "    pushes groups: {}\n",
                if j.pushes_groups { "yes" } else { "no" }
            ));
        }
        if !self.settings.is_empty() {
            let kv: Vec<String> = self
                .settings
                .iter()
                .map(|(k, v)| format!("{k}={}", short(v)))
                .collect();
            s.push_str(&format!("  settings: {}\n", kv.join(", ")));
        }
        if !self.credential_keys_present.is_empty() {
            s.push_str(&format!(
                "  credentials set (values not stored): {}\n",
                self.credential_keys_present.join(", ")
            ));
        }
        let c = &self.assignments;
        s.push_str(&format!(
            "  assignments: {} ({} users, {} groups)\n",
            c.total, c.users, c.groups
        ));
        let g = &self.groups;
        s.push_str(&format!(
            "  groups: {} ({} security, {} Microsoft 365, {} other; {} with nested groups)\n",
            g.total, g.security, g.microsoft365, g.other, g.with_nested_groups
        ));
        let u = &self.users;
        s.push_str(&format!(
            "  users in scope: {} ({} assigned directly, {} through groups, {} only through nested groups)\n",
            u.in_scope, u.direct, u.via_groups, u.only_via_nested_groups
        ));
        if let Some(t) = &self.target {
            s.push_str(&format!(
                "  target {}: {} users, {} groups\n",
                t.url, t.users, t.groups
            ));
        }
        s
    }
}

fn short(v: &str) -> String {
    if v.chars().count() > 60 {
        format!("{}…", v.chars().take(60).collect::<String>())
    } else {
        v.to_string()
    }
}
