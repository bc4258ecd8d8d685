//! Live state for `verify`, read once: the target over SCIM (every user and
//! group, paged by `snapshot::capture::read_target_pages`, each page reduced
//! to [`TargetUser`]/[`TargetGroup`] as it arrives — only orphans are kept
//! whole), and Entra over Graph (the custom app found by its plan name or the
//! journal's id, its job's status, its assignments, the pushed groups' direct
//! members through `$batch`, and the job's failed provisioning-log entries).
//!
//! Only reads; no request here changes anything. The comparison is
//! `compare`'s; this file stops at the data.

use super::VerifyOptions;
use super::before::Before;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::client::{odata_string, query, seg};
use crate::graph::{BatchRequest, GraphClient};
use crate::plan::Plan;
use crate::progress::{Observer, Task};
use crate::scim::{Resource, ScimClient};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A target user reduced to what verify compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUser {
    pub id: String,
    pub user_name: String,
    /// SCIM `active`; absent counts as active (RFC 7643 gives no default,
    /// and servers that omit it do not deactivate).
    pub active: bool,
    pub external_id: Option<String>,
    /// `emails[].value`.
    pub emails: Vec<String>,
}

impl TargetUser {
    pub fn from_scim(v: &Value) -> TargetUser {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        TargetUser {
            id: s("id").unwrap_or_default(),
            user_name: s("userName").unwrap_or_default(),
            active: match v.get("active") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(t)) => !t.eq_ignore_ascii_case("false"),
                _ => true,
            },
            external_id: s("externalId").filter(|e| !e.is_empty()),
            emails: v
                .get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Every identifier value, lower case (userName, externalId, emails).
    pub fn identities(&self) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once(&self.user_name)
            .chain(self.external_id.as_ref())
            .chain(self.emails.iter())
            .filter(|s| !s.is_empty())
            .map(|s| s.to_lowercase())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A target group reduced to what verify compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// `members[].value`: target user ids.
    pub members: Vec<String>,
}

impl TargetGroup {
    pub fn from_scim(v: &Value) -> TargetGroup {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        TargetGroup {
            id: s("id").unwrap_or_default(),
            display_name: s("displayName").unwrap_or_default(),
            external_id: s("externalId").filter(|e| !e.is_empty()),
            members: v
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("value").and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
        }
    }
}

/// One failed entry of the custom job's provisioning log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFailure {
    /// `activityDateTime`.
    pub at: String,
    /// The Entra object (`sourceIdentity.id`) and its name.
    pub source_id: String,
    pub source_name: String,
    /// `User` or `Group`.
    pub object_type: String,
    pub error_code: String,
}

/// The custom app as Graph shows it now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomApp {
    pub service_principal_id: String,
    pub display_name: String,
    /// Its provisioning job: id and `status` (None: it has no job).
    pub job: Option<(String, Value)>,
    /// Principal ids assigned to the app.
    pub assigned: HashSet<String>,
    /// Its group assignments: `(group id, principalDisplayName)`.
    pub group_assignments: Vec<(String, String)>,
    /// Failed provisioning-log entries of the job; None when the logs could
    /// not be read (`log_note` says why).
    pub log_failures: Option<Vec<LogFailure>>,
    pub log_note: Option<String>,
}

/// Entra now.
#[derive(Debug, Clone, PartialEq)]
pub struct EntraLive {
    /// The custom app, or the sentence saying why it was not found.
    pub app: std::result::Result<CustomApp, String>,
    /// Direct user members (object ids) of each pushed Entra group, by group
    /// id; a group Graph no longer has is absent.
    pub group_members: BTreeMap<String, Vec<String>>,
    /// Notes about what could not be read.
    pub notes: Vec<String>,
}

impl Default for EntraLive {
    fn default() -> Self {
        EntraLive {
            app: Err("not read".into()),
            group_members: BTreeMap::new(),
            notes: Vec::new(),
        }
    }
}

/// Everything verify compares with, read now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    pub target_url: String,
    /// When the reads began (operator's clock, RFC 3339).
    pub read_at: String,
    pub users: Vec<TargetUser>,
    /// The orphans (by id, as [`Before::orphans`]) as they are now, whole.
    pub orphans_now: HashMap<String, Value>,
    pub groups: Vec<TargetGroup>,
    pub entra: EntraLive,
}

/// The clients verify reads with.
#[derive(Clone, Copy)]
pub struct Readers<'a> {
    pub graph: &'a GraphClient,
    pub scim: &'a ScimClient,
}

/// Read the target and Entra once.
pub async fn read(
    readers: Readers<'_>,
    plan: &Plan,
    before: &Before,
    opts: &VerifyOptions,
    progress: &dyn Observer,
) -> Result<Live> {
    let read_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut users = Vec::new();
    let mut orphans_now = HashMap::new();
    let mut groups = Vec::new();
    crate::snapshot::capture::read_target_pages(readers.scim, progress, |resource, items| {
        for v in items {
            match resource {
                Resource::Users => {
                    let u = TargetUser::from_scim(&v);
                    if before.orphans.contains_key(&u.id) {
                        orphans_now.insert(u.id.clone(), v);
                    }
                    users.push(u);
                }
                Resource::Groups => groups.push(TargetGroup::from_scim(&v)),
            }
        }
        Ok(())
    })
    .await?;
    users.shrink_to_fit();
    let entra = read_entra(readers.graph, plan, before, opts, progress).await?;
    Ok(Live {
        target_url: readers.scim.base_url().to_string(),
        read_at,
        users,
        orphans_now,
        groups,
        entra,
    })
}

async fn read_entra(
    graph: &GraphClient,
    plan: &Plan,
    before: &Before,
    opts: &VerifyOptions,
    progress: &dyn Observer,
) -> Result<EntraLive> {
    let spin = Task::start(progress, "reading the custom app and its job", None);
    let app = match read_custom_app(graph, plan, opts).await {
        Ok(a) => Ok(a),
        Err(e) if e.kind == ErrorKind::Input => Err(e.message),
        Err(e) => return Err(e),
    };
    spin.finish();
    let mut notes = Vec::new();

    // The pushed groups: the snapshot's, else the custom app's group assignments.
    let ids: Vec<String> = if !before.pushed_groups.is_empty() || !before.digest.is_empty() {
        before
            .pushed_groups
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    } else if super::compare::expected_group_names(plan).is_empty() {
        Vec::new()
    } else {
        match &app {
            Ok(a) => a
                .group_assignments
                .iter()
                .map(|(id, _)| id.clone())
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    let mut group_members = BTreeMap::new();
    if !ids.is_empty() {
        let requests: Vec<BatchRequest> = ids
            .iter()
            .enumerate()
            .map(|(i, g)| {
                BatchRequest::get(
                    format!("m{i}"),
                    format!(
                        "/groups/{}/members?$select={}&$top=999",
                        seg(g),
                        query("id,userPrincipalName")
                    ),
                )
            })
            .collect();
        let bar = Task::start(
            progress,
            "reading pushed groups' members",
            Some(ids.len() as u64),
        );
        let mut stream = std::pin::pin!(graph.batch_stream(requests)?);
        while let Some(chunk) = stream.next().await {
            for (req, resp) in chunk? {
                bar.inc(1);
                let id = &ids[req.id[1..].parse::<usize>().unwrap_or(0)];
                if resp.status == 404 {
                    notes.push(format!(
                        "Entra group {id} no longer exists: its members could not be compared"
                    ));
                    continue;
                }
                let first = resp.into_result(&req)?;
                let members = graph.rest_of_pages(first, &req.url).await?;
                let users: Vec<String> = members
                    .iter()
                    .filter(|m| crate::snapshot::capture::member_kind(m) == "user")
                    .filter_map(|m| m.get("id").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                group_members.insert(id.clone(), users);
            }
        }
        bar.finish();
    }
    Ok(EntraLive {
        app,
        group_members,
        notes,
    })
}

/// The custom app: by the journal's id, else by the plan's `customAppName`.
/// A missing or ambiguous app is an `Input` error (verify reports it).
async fn read_custom_app(
    graph: &GraphClient,
    plan: &Plan,
    opts: &VerifyOptions,
) -> Result<CustomApp> {
    let sp = match &opts.custom_sp_id {
        Some(id) => crate::snapshot::capture::find_service_principal(graph, id).await,
        None => {
            crate::snapshot::capture::find_service_principal(graph, &plan.app.custom_app_name).await
        }
    }
    .map_err(|e| match e.kind {
        ErrorKind::Input if e.message.starts_with("no enterprise app") => Error::input(format!(
            "the custom app \"{}\" is not in the tenant: has the plan been applied?",
            opts.custom_sp_id
                .as_deref()
                .unwrap_or(&plan.app.custom_app_name)
        )),
        _ => e,
    })?;
    let sp_id = sp
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::remote("Graph answered a service principal without an id"))?
        .to_string();
    let base = format!("/servicePrincipals/{}", seg(&sp_id));
    let mut app = CustomApp {
        service_principal_id: sp_id.clone(),
        display_name: sp
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        ..CustomApp::default()
    };

    let jobs = graph.list(&format!("{base}/synchronization/jobs")).await?;
    let job_id = match &opts.custom_job_id {
        Some(id) => jobs
            .iter()
            .filter_map(|j| j.get("id").and_then(Value::as_str))
            .find(|j| j == id)
            .map(str::to_string),
        None => jobs
            .iter()
            .filter_map(|j| j.get("id").and_then(Value::as_str))
            .find(|j| j.starts_with("scim"))
            .or_else(|| {
                jobs.iter()
                    .find_map(|j| j.get("id").and_then(Value::as_str))
            })
            .map(str::to_string),
    };
    if let Some(job_id) = job_id {
        let job = graph
            .get(&format!("{base}/synchronization/jobs/{}", seg(&job_id)))
            .await?;
        let status = job.get("status").cloned().unwrap_or(Value::Null);
        // Failed entries of this job's log (few when things go well; a job
        // apply created has no older entries). Needs AuditLog.Read.All.
        let filter = format!(
            "jobId eq {} and provisioningStatusInfo/status eq 'failure'",
            odata_string(&job_id)
        );
        let mut failures = Vec::new();
        let read = graph
            .for_each_page(
                &format!(
                    "/auditLogs/provisioning?$filter={}&$top=500",
                    query(&filter)
                ),
                |page| {
                    failures.extend(page.iter().map(log_failure));
                    if failures.len() > MAX_LOG_FAILURES {
                        return Err(Error::internal(LOG_CAP));
                    }
                    Ok(())
                },
            )
            .await;
        match read {
            Ok(_) => app.log_failures = Some(failures),
            Err(e) if e.message == LOG_CAP => app.log_failures = Some(failures),
            Err(e) => {
                app.log_note = Some(format!(
                    "the custom job's provisioning logs could not be read ({}); escrows are counted from the job's lastExecution only",
                    e.message.trim_end_matches('.')
                ))
            }
        }
        app.job = Some((job_id, status));
    }

    graph
        .for_each_page(&format!("{base}/appRoleAssignedTo?$top=999"), |page| {
            for a in page {
                let pid = a
                    .get("principalId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if a.get("principalType").and_then(Value::as_str) == Some("Group") {
                    app.group_assignments.push((
                        pid.to_string(),
                        a.get("principalDisplayName")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
                app.assigned.insert(pid.to_string());
            }
            Ok(())
        })
        .await?;
    Ok(app)
}

/// Reading stops after this many failed entries (the first ones name the problem).
const MAX_LOG_FAILURES: usize = 2000;
const LOG_CAP: &str = "verify: log cap reached";

fn log_failure(e: &Value) -> LogFailure {
    let s = |p: &str| {
        e.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    LogFailure {
        at: s("/activityDateTime"),
        source_id: s("/sourceIdentity/id"),
        source_name: s("/sourceIdentity/displayName"),
        object_type: s("/sourceIdentity/identityType"),
        error_code: s("/provisioningStatusInfo/errorInformation/errorCode"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn target_users_keep_their_identifiers() {
        let u = TargetUser::from_scim(&json!({
            "id": "t1", "userName": "Ada@X.example", "active": false, "externalId": "E1",
            "emails": [{"value": "ada@x.example", "primary": true}, {"value": "a.l@x.example"}],
            "meta": {"version": "W/\"1\""}
        }));
        assert!(!u.active);
        assert_eq!(u.identities(), vec!["a.l@x.example", "ada@x.example", "e1"]);
        assert!(TargetUser::from_scim(&json!({"id": "t2", "userName": "b"})).active);
        let g = TargetGroup::from_scim(
            &json!({"id": "g", "displayName": "Eng", "members": [{"value": "t1"}, {"value": "t2", "display": "b"}]}),
        );
        assert_eq!(g.members, vec!["t1", "t2"]);
    }
}
