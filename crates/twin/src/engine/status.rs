//! Writing a job's `status` the way Graph shows it (GRAPH-API §8.1): code,
//! lastExecution counts, progress, steady-state times, entry counts by type,
//! and quarantine. Fields the engine does not own are left as they are.

use super::cycle::CycleReport;
use crate::Twin;
use crate::mapping::schema::ObjectMapping;
use serde_json::{Value, json};

fn with_job(twin: &Twin, sp_id: &str, job_id: &str, f: impl FnOnce(&mut crate::state::SyncJob)) {
    let mut t = twin.tenant();
    if let Some(j) = t
        .synchronization
        .get_mut(sp_id)
        .and_then(|s| s.jobs.get_mut(job_id))
    {
        if !j.status.is_object() {
            j.status = json!({});
        }
        f(j);
    }
}

/// The job is being started: schedule Active, status Active, quarantine cleared.
pub fn started(twin: &Twin, sp_id: &str, job_id: &str) {
    with_job(twin, sp_id, job_id, |j| {
        j.schedule_state = "Active".into();
        j.status["code"] = json!("Active");
        j.status["quarantine"] = Value::Null;
    });
}

/// A cycle began with `total` objects to look at: `progress` shows 0 of them
/// until it ends (a running cycle shows completedUnits < totalUnits).
pub fn cycle_started(twin: &Twin, sp_id: &str, job_id: &str, total: usize) {
    with_job(twin, sp_id, job_id, |j| {
        let code = j
            .status
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("NotRun");
        if !matches!(code, "Paused" | "Quarantine") {
            j.status["code"] = json!("Active");
        }
        j.status["progress"] = json!([{"completedUnits": 0, "totalUnits": total, "units": "Objects", "progressObservationDateTime": super::now()}]);
    });
}

pub fn progress(twin: &Twin, sp_id: &str, job_id: &str, done: usize, total: usize) {
    with_job(twin, sp_id, job_id, |j| {
        j.status["progress"] = json!([{"completedUnits": done, "totalUnits": total, "units": "Objects", "progressObservationDateTime": super::now()}]);
    });
}

#[allow(clippy::too_many_arguments)]
pub fn cycle_finished(
    twin: &Twin,
    sp_id: &str,
    job_id: &str,
    r: &CycleReport,
    began: &str,
    total: usize,
    users: &ObjectMapping,
    groups: Option<&ObjectMapping>,
) {
    let now = super::now();
    with_job(twin, sp_id, job_id, |j| {
        let exported = r.users_created
            + r.users_updated
            + r.users_disabled
            + r.users_deleted
            + r.groups_created
            + r.groups_updated;
        let state = if r.escrowed > 0 {
            "EntryLevelErrors"
        } else {
            "Succeeded"
        };
        let exec = json!({
            "activityIdentifier": r.cycle_id,
            "countEntitled": total, "countEntitledForProvisioning": total,
            "countEscrowed": r.escrowed, "countEscrowedRaw": r.escrowed,
            "countExported": exported, "countExports": exported + r.members_added + r.members_removed,
            "countImported": total, "countImportedDeltas": if r.full { 0 } else { total }, "countImportedReferenceDeltas": 0,
            "error": null, "state": state, "timeBegan": began, "timeEnded": now,
        });
        let s = &mut j.status;
        if r.paused {
            s["code"] = json!("Paused");
        } else if s.get("code").and_then(Value::as_str) != Some("Paused") {
            s["code"] = json!("Active");
        }
        s["lastExecution"] = exec.clone();
        s["lastSuccessfulExecution"] = exec.clone();
        if exported > 0 {
            s["lastSuccessfulExecutionWithExports"] = exec;
        }
        s["countSuccessiveCompleteFailures"] = json!(0);
        s["escrowsPruned"] = json!(false);
        s["quarantine"] = Value::Null;
        s["progress"] = json!([{"completedUnits": total, "totalUnits": total, "units": "Objects", "progressObservationDateTime": now}]);
        if !r.paused {
            let first = s
                .get("steadyStateFirstAchievedTime")
                .and_then(Value::as_str)
                .filter(|t| !t.starts_with("0001"));
            if first.is_none() {
                s["steadyStateFirstAchievedTime"] = json!(now);
            }
            s["steadyStateLastAchievedTime"] = json!(now);
        }
        let mut counts = vec![
            json!({"key": format!("User to {}", users.target_object), "value": j.user_links.len()}),
        ];
        if let Some(g) = groups {
            counts.push(json!({"key": format!("Group to {}", g.target_object), "value": j.group_links.len()}));
        }
        j.status["synchronizedEntryCountByType"] = Value::Array(counts);
        if j.status.get("troubleshootingUrl").is_none() {
            j.status["troubleshootingUrl"] = Value::Null;
        }
    });
}

/// When the quarantined job tries again (`quarantine.nextAttempt`), `wait` from now.
pub fn next_attempt(twin: &Twin, sp_id: &str, job_id: &str, wait: std::time::Duration) {
    let at = chrono::Utc::now()
        + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::days(1));
    with_job(twin, sp_id, job_id, |j| {
        if j.status.get("quarantine").is_some_and(Value::is_object) {
            j.status["quarantine"]["nextAttempt"] =
                json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
    });
}

/// Quarantine the job (credentials, unreachable target, compliance failure).
pub fn quarantine(twin: &Twin, sp_id: &str, job_id: &str, code: &str, message: &str) {
    quarantine_for(
        twin,
        sp_id,
        job_id,
        "EncounteredQuarantineException",
        code,
        message,
    );
}

/// Quarantine with a given `quarantine.reason`.
pub fn quarantine_for(
    twin: &Twin,
    sp_id: &str,
    job_id: &str,
    reason: &str,
    code: &str,
    message: &str,
) {
    let now = super::now();
    let next = (chrono::Utc::now() + chrono::Duration::minutes(40))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    with_job(twin, sp_id, job_id, |j| {
        let s = &mut j.status;
        let prev = s.get("quarantine").filter(|q| q.is_object()).cloned();
        let series_began = prev
            .as_ref()
            .and_then(|q| q.get("seriesBegan").cloned())
            .unwrap_or(json!(now));
        let series_count = prev
            .as_ref()
            .and_then(|q| q.get("seriesCount").and_then(Value::as_i64))
            .unwrap_or(0)
            + 1;
        let error = json!({"code": code, "message": message, "tenantActionable": true});
        s["code"] = json!("Quarantine");
        s["quarantine"] = json!({"currentBegan": now, "nextAttempt": next, "seriesBegan": series_began, "seriesCount": series_count,
                                 "reason": reason, "error": error});
        let fails = s
            .get("countSuccessiveCompleteFailures")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        s["countSuccessiveCompleteFailures"] = json!(fails);
        s["lastExecution"] = json!({"activityIdentifier": uuid::Uuid::new_v4().to_string(), "countEntitled": 0, "countEntitledForProvisioning": 0,
            "countEscrowed": 0, "countEscrowedRaw": 0, "countExported": 0, "countExports": 0, "countImported": 0,
            "countImportedDeltas": 0, "countImportedReferenceDeltas": 0, "error": error, "state": "Failed",
            "timeBegan": now, "timeEnded": now});
    });
}
