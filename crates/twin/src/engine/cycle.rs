//! One provisioning cycle: read the job and its scope from the tenant, then
//! users (match / create / update / disable), then groups (match / create),
//! then group memberships, as Entra orders them (ENTRA-OUTBOUND-SCIM.md §3, §4,
//! §7). Per-object outcomes become provisioning-log entries; a credential or
//! reachability failure stops the cycle and quarantines the job.

use super::target::{Target, TargetError};
use super::{EngineError, JobRuntime};
use crate::Twin;
use crate::mapping::expr::Source;
use crate::mapping::schema::{
    CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_URN, GraphUserSource, Mappings, ObjectMapping,
    get_path, same_value,
};
use crate::secret::Secret;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a cycle did, for tests and the demo (the job status carries the same counts).
#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    pub cycle_id: String,
    pub full: bool,
    pub users_created: usize,
    pub users_updated: usize,
    pub users_disabled: usize,
    pub users_deleted: usize,
    pub users_unchanged: usize,
    pub skipped: usize,
    pub escrowed: usize,
    pub groups_created: usize,
    pub groups_updated: usize,
    pub members_added: usize,
    pub members_removed: usize,
    /// Every request sent to the target, in order (`METHOD /path?query [body]`).
    pub requests: Vec<String>,
    /// `Some(message)` when the cycle ended in quarantine.
    pub quarantined: Option<String>,
    /// The job was paused during the cycle.
    pub paused: bool,
}

impl CycleReport {
    /// Requests that change the target (POST/PUT/PATCH/DELETE).
    pub fn writes(&self) -> Vec<&String> {
        self.requests
            .iter()
            .filter(|r| !r.starts_with("GET "))
            .collect()
    }
}

/// The outcome for one object (a provisioning-log entry and an on-demand answer).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub object_type: &'static str,
    pub source_id: String,
    pub source_name: String,
    pub target_id: Option<String>,
    /// create | update | disable | delete | other
    pub action: &'static str,
    /// success | failure | skipped
    pub status: &'static str,
    pub changes: Vec<(String, Option<Value>, Value)>,
    pub error: Option<(String, String)>,
    pub steps: Vec<Value>,
    pub started: Instant,
    /// The failure stops the job (quarantine), it is not an escrow.
    pub fatal: bool,
}

impl Outcome {
    pub(crate) fn new(object_type: &'static str, id: &str, name: &str) -> Self {
        Outcome {
            object_type,
            source_id: id.into(),
            source_name: name.into(),
            target_id: None,
            action: "other",
            status: "success",
            changes: Vec::new(),
            error: None,
            steps: Vec::new(),
            started: Instant::now(),
            fatal: false,
        }
    }
    pub(crate) fn step(&mut self, name: &str, kind: &str, status: &str, description: String) {
        self.steps.push(json!({"name": name, "provisioningStepType": kind, "status": status, "description": description, "details": {}}));
    }
    fn fail(&mut self, e: &TargetError, during: &str) {
        self.status = "failure";
        self.fatal = e.is_fatal();
        self.error = Some((e.code().to_string(), e.message()));
        self.step(during, "export", "failure", e.message());
    }
    pub(crate) fn skip(&mut self, reason: String) {
        self.status = "skipped";
        self.step("EntryScopeEvaluation", "scoping", "skipped", reason);
    }
    /// Nothing was written and nothing failed.
    pub fn unchanged(&self) -> bool {
        self.status == "success" && self.action == "other"
    }

    /// The provisioningObjectSummary (GRAPH-API §7.6) for this outcome.
    pub fn log_entry(&self, ctx: &LogCtx) -> Value {
        let error = self.error.as_ref().map(|(code, reason)| {
            json!({"errorCode": code, "reason": reason, "errorCategory": if code == "EntryConflict" || code == "DuplicateTargetEntries" { "NonServiceFailure" } else { "Failure" },
                   "recommendedAction": null, "additionalDetails": null})
        });
        json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "activityDateTime": super::now(),
            "jobId": ctx.job_id,
            "cycleId": ctx.cycle_id,
            "changeId": uuid::Uuid::new_v4().to_string(),
            "provisioningAction": self.action,
            "provisioningStatusInfo": {"status": self.status, "errorInformation": error},
            "provisioningSteps": self.steps,
            "modifiedProperties": self.changes.iter().map(|(n, o, v)| json!({"displayName": n, "oldValue": o.as_ref().map(scalar_text), "newValue": scalar_text(v)})).collect::<Vec<_>>(),
            "servicePrincipal": {"id": ctx.sp_id, "displayName": ctx.sp_name},
            "sourceIdentity": {"id": self.source_id, "displayName": self.source_name, "identityType": self.object_type, "details": {}},
            "targetIdentity": {"id": self.target_id, "displayName": self.source_name, "identityType": self.object_type, "details": {}},
            "sourceSystem": {"id": null, "displayName": "Azure Active Directory", "details": {}},
            "targetSystem": {"id": null, "displayName": ctx.target_name, "details": {}},
            "initiatedBy": {"id": "", "displayName": if ctx.on_demand { "On-demand provisioning" } else { "Azure AD Provisioning Service" }, "initiatorType": "system"},
            "durationInMilliseconds": self.started.elapsed().as_millis() as u64,
        })
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Identity fields shared by every log entry of a cycle.
#[derive(Debug, Clone)]
pub struct LogCtx {
    pub sp_id: String,
    pub sp_name: String,
    pub job_id: String,
    pub cycle_id: String,
    pub target_name: String,
    pub on_demand: bool,
}

/// What the cycle reads from the tenant under one short lock.
pub(super) struct JobView {
    pub schema: Value,
    pub base: String,
    pub token: Secret,
    pub sp_name: String,
    /// In assignment scope (before the scoping filter), as Graph JSON.
    pub users: Vec<Value>,
    /// Directory users that are linked but out of assignment scope, by id
    /// (absent from the directory = hard-deleted).
    pub all_users: HashMap<String, Value>,
    pub user_links: BTreeMap<String, String>,
    pub group_links: BTreeMap<String, String>,
    /// `SkipOutOfScopeDeletions` secret: users leaving scope stay active in the target.
    pub skip_out_of_scope: bool,
    /// Assigned groups (Graph JSON) with their direct user members.
    pub groups: Vec<(Value, Vec<String>)>,
    /// Accidental-deletion threshold (`SyncNotificationSettings`), when enabled.
    pub delete_threshold: Option<usize>,
}

/// `DeleteThresholdValue` when `DeleteThresholdEnabled` is on in the
/// `SyncNotificationSettings` JSON (booleans and numbers may be strings).
pub(super) fn delete_threshold(settings: Option<&String>) -> Option<usize> {
    let v: Value = serde_json::from_str(settings?).ok()?;
    let field = |k: &str| {
        v.as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, x)| x.clone())
    };
    let enabled = match field("DeleteThresholdEnabled")? {
        Value::Bool(b) => b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !enabled {
        return None;
    }
    match field("DeleteThresholdValue") {
        Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
}

pub(super) fn read_job(twin: &Twin, sp_id: &str, job_id: &str) -> Result<JobView, EngineError> {
    let t = twin.tenant();
    let sync = t.synchronization.get(sp_id).ok_or_else(|| {
        EngineError::not_found(format!("service principal {sp_id} has no synchronization"))
    })?;
    let job = sync.jobs.get(job_id).ok_or_else(|| {
        EngineError::not_found(format!(
            "job {job_id} not found on service principal {sp_id}"
        ))
    })?;
    let base = sync
        .secrets
        .get("BaseAddress")
        .cloned()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            EngineError::bad_request(
                "CredentialsMissing",
                "the job has no BaseAddress secret: save the tenant URL and token first",
            )
        })?;
    let base = twin.scim_base(&base);
    let token = Secret::new(sync.secrets.get("SecretToken").cloned().unwrap_or_default());
    let to_json = |u: &crate::state::DirUser| serde_json::to_value(u).unwrap_or(Value::Null);
    // Assignments made through Graph moments ago are not visible to the engine yet.
    let hidden = twin.lag.hidden_assignments();
    let in_scope = t.users_in_assignment_scope_except(sp_id, &hidden);
    let scope_ids: std::collections::HashSet<&str> =
        in_scope.iter().map(|u| u.id.as_str()).collect();
    let all_users = job
        .user_links
        .keys()
        .filter(|id| !scope_ids.contains(id.as_str()))
        .filter_map(|id| t.users.get(id).map(|u| (id.clone(), to_json(u))))
        .collect();
    let users: Vec<Value> = in_scope.into_iter().map(to_json).collect();
    // "Sync all users and groups": every group is in scope, assigned or not.
    let sync_all = sync
        .secrets
        .get("SyncAll")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let in_scope_groups: Vec<&crate::state::DirGroup> = if sync_all {
        t.groups.values().collect()
    } else {
        t.assigned_groups_except(sp_id, &hidden)
    };
    let groups = in_scope_groups
        .into_iter()
        .map(|g| {
            let members = g
                .members
                .iter()
                .filter(|m| t.users.contains_key(*m))
                .cloned()
                .collect();
            (serde_json::to_value(g).unwrap_or(Value::Null), members)
        })
        .collect();
    Ok(JobView {
        schema: job.schema.clone(),
        base,
        token,
        sp_name: t
            .service_principals
            .get(sp_id)
            .map(|s| s.display_name.clone())
            .unwrap_or_default(),
        users,
        all_users,
        user_links: job.user_links.clone(),
        group_links: job.group_links.clone(),
        skip_out_of_scope: sync.secrets.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("SkipOutOfScopeDeletions") && v.eq_ignore_ascii_case("true")
        }),
        groups,
        delete_threshold: delete_threshold(sync.secrets.get("SyncNotificationSettings")),
    })
}

/// A reference attribute waiting for the reference phase.
#[derive(Debug, Clone)]
pub struct PendingRef {
    pub source_id: String,
    pub source_name: String,
    pub target_id: String,
    pub attribute: String,
    pub manager_source_id: String,
    pub existing: Option<String>,
}

/// A cycle in progress.
pub(super) struct Cycle<'a> {
    pub twin: &'a Arc<Twin>,
    pub rt: &'a JobRuntime,
    pub sp_id: &'a str,
    pub job_id: &'a str,
    pub target: Target,
    pub users_map: ObjectMapping,
    pub groups_map: Option<ObjectMapping>,
    /// `SkipOutOfScopeDeletions=true`: no disable for users who leave scope.
    pub skip_out_of_scope: bool,
    pub log: LogCtx,
    pub full: bool,
    pub fatal: Mutex<Option<TargetError>>,
    pub paused: AtomicBool,
    pub report: Mutex<CycleReport>,
    pub entries: Mutex<Vec<Value>>,
    /// Reference attributes (manager) to write after every user is linked.
    pub pending_refs: Mutex<Vec<PendingRef>>,
    pub concurrency: usize,
    /// Time per object (min, max) in a paced cycle, and the next free slot.
    pub pace: Option<(std::time::Duration, std::time::Duration)>,
    pub next_slot: Mutex<Instant>,
}

pub(crate) fn name_of(v: &Value) -> String {
    ["userPrincipalName", "displayName", "id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn id_of(v: &Value) -> String {
    v.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn fingerprint(parts: &[&dyn std::fmt::Display]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.to_string().hash(&mut h);
    }
    h.finish()
}

impl Cycle<'_> {
    /// First escrow retry delay: the cycle interval (2 s when cycles are manual).
    pub fn retry_base(&self) -> std::time::Duration {
        self.twin
            .engine
            .interval()
            .unwrap_or(std::time::Duration::from_secs(2))
    }

    /// The cycle must stop: a fatal error, or the job was deleted. A pause
    /// does not stop it: Entra lets the running cycle finish.
    pub fn stopped(&self) -> bool {
        if self
            .fatal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return true;
        }
        let t = self.twin.tenant();
        t.synchronization
            .get(self.sp_id)
            .and_then(|s| s.jobs.get(self.job_id))
            .is_none()
    }

    /// Take this object's time slot in a paced cycle (Microsoft's per-object time).
    pub async fn pace(&self) {
        let Some((lo, hi)) = self.pace else { return };
        let wait = {
            let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            let span = hi.saturating_sub(lo).as_secs_f64();
            *next = slot + lo + std::time::Duration::from_secs_f64(span * rand::random::<f64>());
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether the user mapping's `active` turns false for a user leaving scope
    /// (else Entra sends nothing when users leave).
    fn disables_users(&self) -> bool {
        let probe = json!({"id": ""});
        self.users_map
            .attribute("active")
            .and_then(|a| {
                a.expr
                    .eval(&GraphUserSource {
                        user: &probe,
                        soft_deleted: true,
                    })
                    .ok()
                    .flatten()
            })
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
    }

    /// Whether the job's schedule says Paused now.
    fn job_paused(&self) -> bool {
        let t = self.twin.tenant();
        t.synchronization
            .get(self.sp_id)
            .and_then(|s| s.jobs.get(self.job_id))
            .is_some_and(|j| j.schedule_state.eq_ignore_ascii_case("Paused"))
    }

    /// Record a failed match or export on `o`: several matches are
    /// `DuplicateTargetEntries`; a fatal error (credentials…) stops the cycle.
    fn record_failure(&self, o: &mut Outcome, e: TargetError) {
        match e {
            TargetError::Status(0, d) => {
                o.status = "failure";
                o.error = Some(("DuplicateTargetEntries".into(), d.clone()));
                o.step("EntryMatching", "matching", "failure", d);
            }
            e => {
                if e.is_fatal() {
                    self.set_fatal(e.clone());
                }
                o.fail(&e, "EntryExport");
            }
        }
    }

    fn set_fatal(&self, e: TargetError) {
        let mut f = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(e);
        }
    }

    /// Record an outcome: log entry, counters; fatal errors stop the cycle.
    pub(crate) fn record(&self, o: &Outcome) {
        if o.fatal && !self.log.on_demand {
            // quarantine, not an escrow: recorded by the caller via set_fatal
            return;
        }
        {
            let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
            match (o.status, o.action, o.object_type) {
                ("failure", ..) => r.escrowed += 1,
                ("skipped", ..) => r.skipped += 1,
                (_, "create", "User") => r.users_created += 1,
                (_, "update", "User") => r.users_updated += 1,
                (_, "disable", "User") => r.users_disabled += 1,
                (_, "delete", "User") => r.users_deleted += 1,
                (_, "create", "Group") => r.groups_created += 1,
                (_, "update", "Group") => r.groups_updated += 1,
                (_, "other", "User") => r.users_unchanged += 1,
                _ => {}
            }
        }
        // Unchanged objects are not logged (Entra skips them silently in incremental cycles).
        if !o.unchanged() || self.log.on_demand {
            self.entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(o.log_entry(&self.log));
        }
    }

    fn link_user(&self, source: &str, target: &str) {
        let mut t = self.twin.tenant();
        if let Some(j) = t
            .synchronization
            .get_mut(self.sp_id)
            .and_then(|s| s.jobs.get_mut(self.job_id))
        {
            j.user_links.insert(source.to_string(), target.to_string());
        }
    }

    fn link_group(&self, source: &str, target: &str) {
        let mut t = self.twin.tenant();
        if let Some(j) = t
            .synchronization
            .get_mut(self.sp_id)
            .and_then(|s| s.jobs.get_mut(self.job_id))
        {
            j.group_links.insert(source.to_string(), target.to_string());
        }
    }

    fn unlink_user(&self, source: &str) {
        let mut t = self.twin.tenant();
        if let Some(j) = t
            .synchronization
            .get_mut(self.sp_id)
            .and_then(|s| s.jobs.get_mut(self.job_id))
        {
            j.user_links.remove(source);
        }
    }

    /// Changes between what the mapping wants and what the target holds.
    fn changes(
        &self,
        map: &ObjectMapping,
        src: &dyn Source,
        current: &Value,
    ) -> Vec<(String, Option<Value>, Value)> {
        map.update_changes(src, current)
    }

    /// Queue the user's manager reference (written once every user is linked).
    fn note_reference(&self, user: &Value, tid: &str, seen: Option<&Value>) {
        let Some(attr) = self.users_map.attributes.iter().find(|a| {
            a.target.eq_ignore_ascii_case("manager")
                || a.target.to_ascii_lowercase().ends_with(":manager")
        }) else {
            return;
        };
        let Some(manager) = user
            .get("managerId")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        else {
            return;
        };
        let existing = seen
            .and_then(|s| get_path(s, &attr.target))
            .and_then(Value::as_str)
            .map(str::to_string);
        self.pending_refs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(PendingRef {
                source_id: id_of(user),
                source_name: name_of(user),
                target_id: tid.to_string(),
                attribute: attr.target.clone(),
                manager_source_id: manager.to_string(),
                existing,
            });
    }

    /// The reference phase: set managers that are provisioned; a manager
    /// who is not (out of scope) is skipped and not back-filled later.
    pub(crate) async fn write_references(&self) {
        let refs =
            std::mem::take(&mut *self.pending_refs.lock().unwrap_or_else(|e| e.into_inner()));
        if refs.is_empty() {
            return;
        }
        let links = {
            let t = self.twin.tenant();
            t.synchronization
                .get(self.sp_id)
                .and_then(|s| s.jobs.get(self.job_id))
                .map(|j| j.user_links.clone())
                .unwrap_or_default()
        };
        for r in refs {
            if self.stopped() {
                return;
            }
            let Some(mtid) = links.get(&r.manager_source_id) else {
                continue;
            };
            if r.existing.as_deref() == Some(mtid.as_str()) {
                continue;
            }
            let mut o = Outcome::new("User", &r.source_id, &r.source_name);
            o.target_id = Some(r.target_id.clone());
            let ops = self.target.attribute_ops(&[(
                r.attribute.clone(),
                json!(mtid),
                r.existing.is_some(),
            )]);
            match self.target.patch("Users", &r.target_id, ops).await {
                Ok(()) => {
                    o.action = "update";
                    o.changes = vec![(
                        r.attribute.clone(),
                        r.existing.clone().map(Value::String),
                        json!(mtid),
                    )];
                    o.step(
                        "EntryExportUpdate",
                        "referenceResolution",
                        "success",
                        format!("Manager set to target user {mtid}"),
                    );
                }
                Err(e) => {
                    if e.is_fatal() {
                        self.set_fatal(e.clone());
                    }
                    o.fail(&e, "EntryExportUpdate");
                    self.rt.escrow(&r.source_id, 0, self.retry_base());
                }
            }
            self.record(&o);
        }
    }

    async fn patch_changes(
        &self,
        endpoint: &str,
        id: &str,
        changes: &[(String, Option<Value>, Value)],
    ) -> Result<(), TargetError> {
        let triples: Vec<(String, Value, bool)> = changes
            .iter()
            .map(|(p, old, new)| {
                (
                    p.clone(),
                    new.clone(),
                    old.as_ref().is_some_and(|o| !o.is_null()),
                )
            })
            .collect();
        self.target
            .patch(endpoint, id, self.target.attribute_ops(&triples))
            .await
    }

    /// Create or update one in-scope user. Returns the target id when linked.
    pub async fn upsert_user(&self, user: &Value, linked: Option<String>) -> Outcome {
        let sid = id_of(user);
        let mut o = Outcome::new("User", &sid, &name_of(user));
        o.step(
            "EntryImport",
            "import",
            "success",
            format!("Retrieved {} from Microsoft Entra ID", o.source_name),
        );
        o.step(
            "EntryScopeEvaluation",
            "scoping",
            "success",
            "The user is in scope".into(),
        );
        let src = GraphUserSource {
            user,
            soft_deleted: false,
        };
        let result: Result<(), TargetError> = async {
            if let Some(tid) = linked {
                o.target_id = Some(tid.clone());
                let current = match self.target.get("Users", &tid).await {
                    Ok(c) => c,
                    Err(TargetError::Status(404, d)) => {
                        return Err(TargetError::Status(
                            404,
                            format!("the linked user {tid} no longer exists in the target ({d})"),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                o.step(
                    "EntryMatching",
                    "matching",
                    "success",
                    format!("Linked to target user {tid}"),
                );
                let ch = self.changes(&self.users_map, &src, &current);
                if !ch.is_empty() {
                    self.patch_changes("Users", &tid, &ch).await?;
                    o.action = "update";
                    o.changes = ch;
                }
                self.note_reference(user, &tid, Some(&current));
                return Ok(());
            }
            let attrs = super::matching::attributes(&self.users_map, false);
            if let super::matching::Found::One {
                resource,
                id: tid,
                on,
            } = super::matching::find(&self.target, "Users", &attrs, &src).await?
            {
                self.link_user(&sid, &tid);
                o.target_id = Some(tid.clone());
                o.step(
                    "EntryMatching",
                    "matching",
                    "success",
                    format!("Matched target user {tid} on {on}"),
                );
                let ch = self.changes(&self.users_map, &src, &resource);
                if !ch.is_empty() {
                    self.patch_changes("Users", &tid, &ch).await?;
                    o.action = "update";
                    o.changes = ch;
                }
                self.note_reference(user, &tid, Some(&resource));
                return Ok(());
            }
            o.step(
                "EntryMatching",
                "matching",
                "success",
                "No matching user in the target: it will be created".into(),
            );
            let mut body = self.users_map.build_resource(&src, true);
            body.insert("schemas".into(), json!([CORE_USER_URN, ENTERPRISE_URN]));
            body.insert("meta".into(), json!({"resourceType": "User"}));
            let body = reorder(body, &["schemas", "externalId", "userName", "active"]);
            let tid = self.target.create("Users", &body).await?;
            self.link_user(&sid, &tid);
            self.note_reference(user, &tid, None);
            o.target_id = Some(tid);
            o.action = "create";
            o.changes = self
                .users_map
                .values(&src, true)
                .into_iter()
                .map(|(a, v)| (a.target.clone(), None, v))
                .collect();
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                let desc = match o.action {
                    "create" => "User created in the target".to_string(),
                    "update" => format!("Updated {} attribute(s)", o.changes.len()),
                    _ => "Nothing to change".to_string(),
                };
                o.step("EntryExport", "export", "success", desc);
            }
            Err(e) => self.record_failure(&mut o, e),
        }
        o
    }

    /// Disable a linked user who left scope (PATCH active), unless already inactive.
    pub async fn disable_user(
        &self,
        user: Option<&Value>,
        sid: &str,
        tid: &str,
        why: &str,
    ) -> Outcome {
        let mut o = Outcome::new(
            "User",
            sid,
            &user.map(name_of).unwrap_or_else(|| sid.to_string()),
        );
        o.target_id = Some(tid.to_string());
        o.step(
            "EntryScopeEvaluation",
            "scoping",
            "success",
            format!("The user is out of scope: {why}"),
        );
        if self.skip_out_of_scope && (why == UNASSIGNED || why == FILTERED) {
            o.skip("SkipOutOfScopeDeletions is on: the user stays active in the target".into());
            return o;
        }
        // Without an IsSoftDeleted-driven `active` mapping Entra does not disable.
        let empty = json!({"id": sid});
        let src = GraphUserSource {
            user: user.unwrap_or(&empty),
            soft_deleted: true,
        };
        let wants_false = self
            .users_map
            .attribute("active")
            .and_then(|a| a.expr.eval(&src).ok().flatten())
            .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        if !wants_false {
            o.skip("No `active` mapping disables out-of-scope users; nothing sent".into());
            return o;
        }
        let r: Result<bool, TargetError> = async {
            let current = self.target.get("Users", tid).await?;
            if current
                .get("active")
                .is_some_and(|a| same_value(&json!(false), Some(a)))
            {
                return Ok(false);
            }
            self.target
                .patch("Users", tid, vec![self.target.disable_op()])
                .await?;
            Ok(true)
        }
        .await;
        match r {
            Ok(true) => {
                o.action = "disable";
                o.changes = vec![("active".into(), Some(json!(true)), json!(false))];
                o.step(
                    "EntryExport",
                    "export",
                    "success",
                    "User disabled in the target".into(),
                );
            }
            Ok(false) => {}
            Err(TargetError::Status(404, _)) => {
                o.skip(format!("The linked user {tid} is gone from the target"))
            }
            Err(e) => {
                if e.is_fatal() {
                    self.set_fatal(e.clone());
                }
                o.fail(&e, "EntryExport");
            }
        }
        o
    }

    /// Match or create one assigned group (no members).
    pub async fn upsert_group(
        &self,
        map: &ObjectMapping,
        group: &Value,
        linked: Option<String>,
    ) -> Outcome {
        let sid = id_of(group);
        let mut o = Outcome::new(
            "Group",
            &sid,
            group
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        o.step(
            "EntryImport",
            "import",
            "success",
            format!("Retrieved group {} from Microsoft Entra ID", o.source_name),
        );
        let src = GraphUserSource {
            user: group,
            soft_deleted: false,
        };
        let r: Result<(), TargetError> = async {
            if let Some(tid) = linked {
                o.target_id = Some(tid.clone());
                let current = self.target.get("Groups", &tid).await?;
                let ch = self.changes(map, &src, &current);
                if !ch.is_empty() {
                    self.patch_changes("Groups", &tid, &ch).await?;
                    o.action = "update";
                    o.changes = ch;
                }
                return Ok(());
            }
            // Not linked (first cycle, or links reset): what was exported before is unknown.
            self.rt.clear_members(&sid);
            let attrs = super::matching::attributes(map, true);
            if let super::matching::Found::One {
                resource, id: tid, ..
            } = super::matching::find(&self.target, "Groups", &attrs, &src).await?
            {
                self.link_group(&sid, &tid);
                o.target_id = Some(tid.clone());
                let ch = self.changes(map, &src, &resource);
                if !ch.is_empty() {
                    self.patch_changes("Groups", &tid, &ch).await?;
                    o.action = "update";
                    o.changes = ch;
                }
                return Ok(());
            }
            let mut body = map.build_resource(&src, true);
            body.insert("schemas".into(), json!([CORE_GROUP_URN]));
            body.insert("meta".into(), json!({"resourceType": "Group"}));
            let body = reorder(body, &["schemas", "externalId", "displayName"]);
            let tid = self.target.create("Groups", &body).await?;
            self.link_group(&sid, &tid);
            o.target_id = Some(tid);
            o.action = "create";
            Ok(())
        }
        .await;
        match r {
            Ok(()) => o.step(
                "EntryExport",
                "export",
                "success",
                format!(
                    "Group {}",
                    if o.action == "create" {
                        "created"
                    } else {
                        "in place"
                    }
                ),
            ),
            Err(e) => self.record_failure(&mut o, e),
        }
        o
    }

    /// Bring a linked group's members to `desired` (target user ids): `Add`
    /// what is missing from what the engine exported before, `Remove` what left.
    /// `add_only` (on demand) never removes.
    pub async fn sync_members(
        &self,
        group_sid: &str,
        group_tid: &str,
        desired: &BTreeSet<String>,
        add_only: bool,
    ) -> Result<(usize, usize), TargetError> {
        let exported = self.rt.exported_members(group_sid);
        let adds: Vec<String> = desired
            .iter()
            .filter(|d| !exported.as_ref().is_some_and(|e| e.contains(*d)))
            .cloned()
            .collect();
        let removes: Vec<String> = if add_only {
            Vec::new()
        } else {
            exported
                .iter()
                .flatten()
                .filter(|e| !desired.contains(*e))
                .cloned()
                .collect()
        };
        for chunk in adds.chunks(super::MEMBERS_PER_PATCH) {
            self.target
                .patch("Groups", group_tid, self.target.add_members_op(chunk))
                .await?;
            self.rt.note_members(group_sid, chunk, true);
        }
        for chunk in removes.chunks(super::MEMBERS_PER_PATCH) {
            self.target
                .patch("Groups", group_tid, self.target.remove_members_ops(chunk))
                .await?;
            self.rt.note_members(group_sid, chunk, false);
        }
        if exported.is_none() {
            self.rt.note_members(group_sid, &[], true);
        }
        Ok((adds.len(), removes.len()))
    }

    pub fn flush_entries(&self) {
        let entries = std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()));
        if entries.is_empty() {
            return;
        }
        let mut t = self.twin.tenant();
        t.provisioning_log.extend(entries);
        let len = t.provisioning_log.len();
        if len > super::PROVISIONING_LOG_CAP {
            t.provisioning_log
                .drain(..len - super::PROVISIONING_LOG_CAP);
        }
    }
}

pub(crate) const UNASSIGNED: &str = "the user is no longer assigned to the app";
pub(crate) const FILTERED: &str = "the scoping filter excludes the user";

/// Put well-known keys first so bodies read like Entra's.
fn reorder(body: Map<String, Value>, first: &[&str]) -> Value {
    let mut out = Map::new();
    for k in first {
        if let Some(v) = body.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    for (k, v) in body {
        if !first.contains(&k.as_str()) {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// Run a full or incremental cycle. The caller holds the job's cycle lock.
pub(super) async fn run(
    twin: &Arc<Twin>,
    rt: &JobRuntime,
    sp_id: &str,
    job_id: &str,
    requested_full: bool,
    paced: bool,
) -> Result<CycleReport, EngineError> {
    // A cycle does not begin while the job is paused (one in flight finishes).
    let paused_now = {
        let t = twin.tenant();
        t.synchronization
            .get(sp_id)
            .and_then(|s| s.jobs.get(job_id))
            .is_some_and(|j| j.schedule_state.eq_ignore_ascii_case("Paused"))
    };
    if paused_now {
        return Ok(CycleReport {
            paused: true,
            ..Default::default()
        });
    }
    let view = read_job(twin, sp_id, job_id)?;
    let mappings = Mappings::from_schema(&view.schema).map_err(|e| {
        EngineError::bad_request(
            "InvalidSchema",
            format!("the job's schema has an expression the engine cannot read: {e}"),
        )
    })?;
    let users_map = mappings.user.clone().filter(|m| m.enabled).ok_or_else(|| {
        EngineError::bad_request(
            "InvalidSchema",
            "the job's schema has no enabled User mapping",
        )
    })?;
    let groups_map = mappings.group.clone().filter(|g| g.enabled);
    let target = match Target::new(twin.http.clone(), &view.base, view.token.clone()) {
        Ok(t) => t,
        Err(msg) => {
            let report = CycleReport {
                quarantined: Some(msg.clone()),
                ..Default::default()
            };
            super::status::quarantine(twin, sp_id, job_id, "InvalidTenantUrl", &msg);
            return Ok(report);
        }
    };
    // A schema or credential change means a new initial cycle, as in Entra.
    // (The token's hash stays in memory, like the token itself.)
    let config_hash = fingerprint(&[&view.schema, &view.base, &view.token.expose()]);
    let full = rt.begin_cycle(requested_full, config_hash);
    let cycle_id = uuid::Uuid::new_v4().to_string();
    let began = super::now();
    let cycle = Cycle {
        twin,
        rt,
        sp_id,
        job_id,
        target,
        users_map,
        groups_map,
        skip_out_of_scope: view.skip_out_of_scope,
        log: LogCtx {
            sp_id: sp_id.into(),
            sp_name: view.sp_name.clone(),
            job_id: job_id.into(),
            cycle_id: cycle_id.clone(),
            target_name: "customappsso".into(),
            on_demand: false,
        },
        full,
        fatal: Mutex::new(None),
        paused: AtomicBool::new(false),
        report: Mutex::new(CycleReport {
            cycle_id: cycle_id.clone(),
            full,
            ..Default::default()
        }),
        entries: Mutex::new(Vec::new()),
        pending_refs: Mutex::new(Vec::new()),
        concurrency: twin.engine.concurrency(),
        pace: if paced {
            twin.engine.per_object()
        } else {
            None
        },
        next_slot: Mutex::new(Instant::now()),
    };

    // ---- users
    enum Work {
        Upsert(Value, Option<String>),
        Disable(Option<Value>, String, String, &'static str),
        Skip(Value, String),
    }
    let mut work: Vec<(String, u64, Work)> = Vec::new();
    let mut in_scope_ids: BTreeSet<String> = BTreeSet::new();
    for u in &view.users {
        let sid = id_of(u);
        in_scope_ids.insert(sid.clone());
        let enabled = u
            .get("accountEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let src = GraphUserSource {
            user: u,
            soft_deleted: false,
        };
        let passes = cycle.users_map.in_scope(&src);
        let linked = view.user_links.get(&sid).cloned();
        // The link is not part of the fingerprint: the cycle itself creates it.
        let fp = fingerprint(&[u, &enabled, &passes]);
        let w = match (enabled && passes, linked) {
            (true, l) => Work::Upsert(u.clone(), l),
            (false, Some(tid)) => Work::Disable(
                Some(u.clone()),
                sid.clone(),
                tid,
                if enabled {
                    FILTERED
                } else {
                    "the user is disabled in Entra ID"
                },
            ),
            (false, None) => Work::Skip(
                u.clone(),
                if enabled {
                    format!(
                        "The scoping filter excludes the user ({})",
                        crate::mapping::schema::describe_scope(&cycle.users_map.scope)
                    )
                } else {
                    "The user is disabled in Microsoft Entra ID and is not provisioned".into()
                },
            ),
        };
        work.push((sid, fp, w));
    }
    for (sid, tid) in &view.user_links {
        if in_scope_ids.contains(sid) {
            continue;
        }
        match view.all_users.get(sid) {
            Some(u) => {
                let fp = fingerprint(&[u, &"out", tid]);
                work.push((
                    sid.clone(),
                    fp,
                    Work::Disable(Some(u.clone()), sid.clone(), tid.clone(), UNASSIGNED),
                ));
            }
            None => {
                // Hard-deleted in Entra: DELETE in the target.
                let fp = fingerprint(&[&"deleted", tid]);
                work.push((
                    sid.clone(),
                    fp,
                    Work::Disable(None, sid.clone(), tid.clone(), "deleted"),
                ));
            }
        }
    }
    let total = work.len() + view.groups.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let work: Vec<(String, u64, Work)> = work
        .into_iter()
        .filter(|(sid, fp, _)| full || !rt.unchanged(sid, *fp))
        .collect();
    super::status::cycle_started(twin, sp_id, job_id, total);
    let progress_every = (total / 20).clamp(1, 500);

    // ---- accidental-deletion prevention: hold the deprovisions past the threshold
    let deprovisions = |w: &Work| match w {
        Work::Disable(None, ..) => true,
        Work::Disable(Some(_), _, _, why) => {
            !(cycle.skip_out_of_scope && (*why == UNASSIGNED || *why == FILTERED))
                && cycle.disables_users()
        }
        _ => false,
    };
    let forced = rt.take_force_deletes();
    let count = work.iter().filter(|(_, _, w)| deprovisions(w)).count();
    let mut too_many_deletes: Option<(usize, usize)> = None;
    let work: Vec<(String, u64, Work)> = match view.delete_threshold {
        Some(limit) if !forced && count > 0 && count >= limit => {
            too_many_deletes = Some((count, limit));
            let (held, kept): (Vec<_>, Vec<_>) =
                work.into_iter().partition(|(_, _, w)| deprovisions(w));
            for (sid, _, w) in held {
                let (name, tid, action) = match &w {
                    Work::Disable(Some(u), _, tid, _) => (name_of(u), tid.clone(), "disable"),
                    Work::Disable(None, _, tid, _) => (sid.clone(), tid.clone(), "delete"),
                    _ => continue,
                };
                let mut o = Outcome::new("User", &sid, &name);
                o.target_id = Some(tid);
                o.action = "stagedDelete";
                o.status = "skipped";
                o.step(
                    "EntryExport",
                    "export",
                    "skipped",
                    format!(
                        "The {action} was held: this cycle would deprovision {count} users, at or above the accidental-deletion threshold of {limit}"
                    ),
                );
                cycle.record(&o);
            }
            kept
        }
        _ => work,
    };
    let results = futures::stream::iter(work)
        .map(|(sid, fp, w)| {
            let cycle = &cycle;
            let done = &done;
            async move {
                cycle.pace().await;
                if cycle.stopped() {
                    return;
                }
                let o = match w {
                    Work::Upsert(u, linked) => cycle.upsert_user(&u, linked).await,
                    Work::Disable(Some(u), sid, tid, why) => {
                        let o = cycle.disable_user(Some(&u), &sid, &tid, why).await;
                        // After unassignment Entra no longer manages the user: no later
                        // DELETE, and a re-assignment matches it again.
                        if why == UNASSIGNED && o.status != "failure" {
                            cycle.unlink_user(&sid);
                        }
                        o
                    }
                    Work::Disable(None, sid, tid, _) => {
                        let mut o = Outcome::new("User", &sid, &sid);
                        o.target_id = Some(tid.clone());
                        match cycle.target.delete("Users", &tid).await {
                            Ok(()) | Err(TargetError::Status(404, _)) => {
                                o.action = "delete";
                                cycle.unlink_user(&sid);
                                o.step(
                                    "EntryExport",
                                    "export",
                                    "success",
                                    "The user was deleted in Entra ID; deleted in the target"
                                        .into(),
                                );
                            }
                            Err(e) => {
                                if e.is_fatal() {
                                    cycle.set_fatal(e.clone());
                                }
                                o.fail(&e, "EntryExport");
                            }
                        }
                        o
                    }
                    Work::Skip(u, why) => {
                        let mut o = Outcome::new("User", &id_of(&u), &name_of(&u));
                        o.skip(why);
                        o
                    }
                };
                if o.status != "failure" {
                    cycle.rt.remember(&sid, fp);
                } else {
                    cycle.rt.escrow(&sid, fp, cycle.retry_base());
                }
                cycle.record(&o);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(progress_every) {
                    cycle.flush_entries();
                    super::status::progress(cycle.twin, cycle.sp_id, cycle.job_id, n, total);
                }
            }
        })
        .buffer_unordered(cycle.concurrency.max(1))
        .collect::<Vec<()>>();
    results.await;

    // ---- references (manager), after every user is linked
    if !cycle.stopped() {
        cycle.write_references().await;
    }

    // ---- groups (only with an enabled Group mapping), then memberships
    if let Some(gmap) = cycle.groups_map.clone()
        && !cycle.stopped()
    {
        {
            let links_now = {
                let t = twin.tenant();
                t.synchronization
                    .get(sp_id)
                    .and_then(|s| s.jobs.get(job_id))
                    .map(|j| (j.user_links.clone(), j.group_links.clone()))
            };
            let (user_links, group_links) = links_now.unwrap_or_default();
            // Users the engine provisioned and that are still in scope and enabled.
            let provisioned: HashMap<&str, &str> = view
                .users
                .iter()
                .filter(|u| {
                    u.get("accountEnabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true)
                })
                .filter(|u| {
                    cycle.users_map.in_scope(&GraphUserSource {
                        user: u,
                        soft_deleted: false,
                    })
                })
                .filter_map(|u| {
                    let id = u.get("id").and_then(Value::as_str)?;
                    user_links.get(id).map(|t| (id, t.as_str()))
                })
                .collect();
            let group_work: Vec<(Value, Option<String>, BTreeSet<String>)> = view
                .groups
                .iter()
                .map(|(g, members)| {
                    let desired: BTreeSet<String> = members
                        .iter()
                        .filter_map(|m| provisioned.get(m.as_str()).map(|t| t.to_string()))
                        .collect();
                    (g.clone(), group_links.get(&id_of(g)).cloned(), desired)
                })
                .collect();
            let gmap = &gmap;
            let outcomes = futures::stream::iter(group_work)
                .map(|(g, linked, desired)| {
                    let cycle = &cycle;
                    async move {
                        let sid = id_of(&g);
                        let fp = fingerprint(&[&g, &format!("{desired:?}")]);
                        if cycle.stopped() || (!cycle.full && cycle.rt.unchanged(&sid, fp)) {
                            return None;
                        }
                        cycle.pace().await;
                        let o = cycle.upsert_group(gmap, &g, linked).await;
                        cycle.record(&o);
                        Some((sid, fp, o, desired))
                    }
                })
                .buffer_unordered(cycle.concurrency.max(1))
                .collect::<Vec<_>>()
                .await;
            // Membership phase, after every user and group is linked.
            for (sid, fp, o, desired) in outcomes.into_iter().flatten() {
                if cycle.stopped() {
                    break;
                }
                let Some(tid) = o.target_id.clone().filter(|_| o.status != "failure") else {
                    continue;
                };
                match cycle.sync_members(&sid, &tid, &desired, false).await {
                    Ok((a, r)) => {
                        {
                            let mut rep = cycle.report.lock().unwrap_or_else(|e| e.into_inner());
                            rep.members_added += a;
                            rep.members_removed += r;
                        }
                        if a + r > 0 {
                            let mut mo = Outcome::new("Group", &sid, &o.source_name);
                            mo.target_id = Some(tid.clone());
                            mo.action = "update";
                            mo.changes = vec![(
                                "members".into(),
                                None,
                                json!(format!("{a} added, {r} removed")),
                            )];
                            mo.step(
                                "EntryExportUpdate",
                                "referenceResolution",
                                "success",
                                format!("Members: {a} added, {r} removed"),
                            );
                            cycle.record(&mo);
                        }
                        cycle.rt.remember(&sid, fp);
                    }
                    Err(e) => {
                        if e.is_fatal() {
                            cycle.set_fatal(e.clone());
                        }
                        let mut mo = Outcome::new("Group", &sid, &o.source_name);
                        mo.target_id = Some(tid);
                        mo.action = "update";
                        mo.fail(&e, "EntryExportUpdate");
                        cycle.record(&mo);
                        cycle.rt.escrow(&sid, fp, cycle.retry_base());
                    }
                }
            }
        }
    }

    cycle.flush_entries();
    let mut report = std::mem::take(&mut *cycle.report.lock().unwrap_or_else(|e| e.into_inner()));
    report.requests = cycle.target.sent();
    // Paused while it ran: the cycle still ran to completion.
    report.paused = cycle.job_paused();
    cycle.paused.store(report.paused, Ordering::Relaxed);
    let fatal = cycle
        .fatal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match fatal {
        Some(e) => {
            report.quarantined = Some(e.message());
            rt.reset_fingerprints();
            super::status::quarantine(twin, sp_id, job_id, e.code(), &e.message());
        }
        None => {
            super::status::cycle_finished(
                twin,
                sp_id,
                job_id,
                &report,
                &began,
                total,
                &cycle.users_map,
                cycle.groups_map.as_ref(),
            );
            // QUAR: once there are enough failures, >40 % failing events or
            // >40,000 failures quarantine the job.
            let events = report.users_created
                + report.users_updated
                + report.users_disabled
                + report.users_deleted
                + report.users_unchanged
                + report.groups_created
                + report.groups_updated
                + report.escrowed;
            let failed = report.escrowed;
            if failed >= twin.engine.escrow_quarantine_min()
                && (failed * 10 > events * 4 || failed > 40_000)
            {
                let reason = if failed > 40_000 {
                    "EncounteredTotalEscrowThreshold"
                } else {
                    "EncounteredEscrowProportionThreshold"
                };
                let msg = format!(
                    "{failed} of {events} provisioning events failed in the last cycle; fix the failing objects (see the provisioning logs), then start the job again"
                );
                super::status::quarantine_for(
                    twin,
                    sp_id,
                    job_id,
                    reason,
                    "EscrowThresholdExceeded",
                    &msg,
                );
                report.quarantined = Some(msg);
            }
            if let Some((count, limit)) = too_many_deletes {
                let msg = format!(
                    "This cycle would disable or delete {count} users, at or above the accidental-deletion threshold of {limit}; the changes are held. Allow them with restart (resetScope ForceDeletes), or fix the assignments and start the job again"
                );
                super::status::quarantine_for(
                    twin,
                    sp_id,
                    job_id,
                    "TooManyDeletes",
                    "TooManyDeletes",
                    &msg,
                );
                report.quarantined = Some(msg);
            }
        }
    }
    Ok(report)
}
