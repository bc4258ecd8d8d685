//! provisionOnDemand: process one user, or one group with at most five of its
//! members, now, through the same code path as a cycle (scope rules included:
//! objects a cycle would not provision are `Skipped`). Always uses the default
//! PATCH dialect: `aadOptscim062020` does not apply to on-demand provisioning
//! (ENTRA-OUTBOUND-SCIM.md §5). Answers Graph's double-encoded
//! `stringKeyStringValuePair`, shaped like Microsoft's v1.0 example
//! (synchronization-synchronizationjob-provisionondemand.md): a user that
//! already matches is `Skipped` / `RedundantExport`. Skips for other reasons
//! carry `NotEffectivelyEntitled` (a guess: undocumented), and a group's
//! members come back under `value.members` (a twin extension: the real
//! answer for groups is not documented). A user assigned moments ago is not
//! seen yet (assignment lag, `twin::lag`): it is `Skipped` as not assigned.

use super::EngineError;
use super::cycle::{self, Cycle, CycleReport, LogCtx, Outcome, id_of};
use super::target::Target;
use crate::Twin;
use crate::mapping::schema::{GraphUserSource, Mappings};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Graph's limit: 5 calls per 10 seconds per job.
const CALLS_PER_WINDOW: usize = 5;
const WINDOW: Duration = Duration::from_secs(10);
const MAX_GROUP_MEMBERS: usize = 5;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request("RequestParameterInvalid", msg)
}

fn rate_limit(twin: &Twin, sp_id: &str, job_id: &str) -> Result<(), EngineError> {
    let mut calls = twin
        .engine
        .on_demand_calls
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let q = calls.entry(format!("{sp_id}/{job_id}")).or_default();
    let now = Instant::now();
    while q.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
        q.pop_front();
    }
    if q.len() >= CALLS_PER_WINDOW {
        return Err(EngineError::new(
            429,
            "TooManyRequests",
            "provisionOnDemand allows 5 requests per 10 seconds per job; retry shortly",
        ));
    }
    q.push_back(now);
    Ok(())
}

pub async fn run(
    twin: &Arc<Twin>,
    sp_id: &str,
    job_id: &str,
    body: &Value,
) -> Result<Value, EngineError> {
    let param = body
        .get("parameters")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .ok_or_else(|| {
            invalid("The request must carry parameters[0] with a ruleId and subjects")
        })?;
    let rule_id = param
        .get("ruleId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let view = cycle::read_job(twin, sp_id, job_id)?;
    let rules: Vec<&str> = view
        .schema
        .get("synchronizationRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .collect();
    if rule_id.is_empty() || !rules.contains(&rule_id) {
        return Err(invalid(format!(
            "The job does not include the rule '{rule_id}': take ruleId from the job's schema (synchronizationRules[].id)"
        )));
    }
    let subjects = param
        .get("subjects")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("subjects must name at least one object"))?;
    for s in subjects {
        let kind = s
            .get("objectTypeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !kind.eq_ignore_ascii_case("User") && !kind.eq_ignore_ascii_case("Group") {
            return Err(invalid(format!(
                "objectTypeName '{kind}' is not supported: use User or Group"
            )));
        }
        if s.get("objectId")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(invalid("every subject needs an objectId"));
        }
        let members = s
            .pointer("/links/members")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if members > MAX_GROUP_MEMBERS {
            return Err(invalid(format!(
                "On-demand provisioning handles at most {MAX_GROUP_MEMBERS} group members per request ({members} given)"
            )));
        }
    }
    rate_limit(twin, sp_id, job_id)?;

    let mappings = Mappings::from_schema(&view.schema)
        .map_err(|e| EngineError::bad_request("InvalidSchema", e.0))?;
    let users_map = mappings.user.clone().filter(|m| m.enabled).ok_or_else(|| {
        EngineError::bad_request(
            "InvalidSchema",
            "the job's schema has no enabled User mapping",
        )
    })?;
    let mut target = Target::new(twin.http.clone(), &view.base, view.token.clone())
        .map_err(|m| EngineError::bad_request("InvalidTenantUrl", m))?;
    target.flag = false;
    let rt = twin.engine.runtime(sp_id, job_id);
    let _g = rt.cycle_lock.lock().await;
    let cycle_id = uuid::Uuid::new_v4().to_string();
    let c = Cycle {
        twin,
        rt: &rt,
        sp_id,
        job_id,
        target,
        users_map,
        groups_map: mappings.group.clone().filter(|g| g.enabled),
        skip_out_of_scope: view.skip_out_of_scope,
        log: LogCtx {
            sp_id: sp_id.into(),
            sp_name: view.sp_name.clone(),
            job_id: job_id.into(),
            cycle_id: cycle_id.clone(),
            target_name: "customappsso".into(),
            on_demand: true,
        },
        full: true,
        fatal: Mutex::new(None),
        paused: AtomicBool::new(false),
        report: Mutex::new(CycleReport::default()),
        entries: Mutex::new(Vec::new()),
        pending_refs: Mutex::new(Vec::new()),
        concurrency: 1,
        pace: None,
        next_slot: Mutex::new(Instant::now()),
    };

    let mut main: Option<Outcome> = None;
    let mut members_out: Vec<Outcome> = Vec::new();
    for s in subjects {
        let oid = s
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = s
            .get("objectTypeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.eq_ignore_ascii_case("User") {
            let o = user_outcome(&c, &view, oid).await?;
            c.record(&o);
            main.get_or_insert(o);
            continue;
        }
        // Group
        let Some((g, direct)) = view.groups.iter().find(|(g, _)| id_of(g) == oid) else {
            let name = twin
                .tenant()
                .groups
                .get(oid)
                .map(|g| g.display_name.clone());
            let Some(name) = name else {
                return Err(invalid(format!("group {oid} does not exist")));
            };
            let mut o = Outcome::new("Group", oid, &name);
            o.skip("The group is not assigned to the application".into());
            c.record(&o);
            main.get_or_insert(o);
            continue;
        };
        let mut group_o = match &c.groups_map {
            Some(gm) => Some(
                c.upsert_group(gm, g, view.group_links.get(oid).cloned())
                    .await,
            ),
            None => None,
        };
        let mut member_tids = BTreeSet::new();
        for m in s
            .pointer("/links/members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mid = m
                .get("objectId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let o = if direct.iter().any(|d| d == mid) {
                user_outcome(&c, &view, mid).await?
            } else {
                let name = directory_user(&c, mid)
                    .map(|u| cycle::name_of(&u))
                    .unwrap_or_else(|| mid.to_string());
                let mut o = Outcome::new("User", mid, &name);
                o.skip(
                    "Not a direct member of the group (nested groups are not provisioned)".into(),
                );
                o
            };
            if o.status == "success"
                && let Some(t) = &o.target_id
            {
                member_tids.insert(t.clone());
            }
            c.record(&o);
            members_out.push(o);
        }
        if let Some(go) = group_o.as_mut() {
            if let Some(gt) = go.target_id.clone().filter(|_| go.status == "success") {
                match c.sync_members(oid, &gt, &member_tids, true).await {
                    Ok((a, _)) if a > 0 => {
                        if go.action == "other" {
                            go.action = "update";
                        }
                        go.changes
                            .push(("members".into(), None, json!(format!("{a} added"))));
                        go.step(
                            "EntryExportUpdate",
                            "referenceResolution",
                            "success",
                            format!("{a} member(s) added"),
                        );
                    }
                    Ok(_) => {}
                    Err(e) => {
                        go.status = "failure";
                        go.error = Some((e.code().into(), e.message()));
                        go.step(
                            "EntryExportUpdate",
                            "referenceResolution",
                            "failure",
                            e.message(),
                        );
                    }
                }
            }
            c.record(go);
        }
        let o = group_o.unwrap_or_else(|| {
            let mut o = Outcome::new(
                "Group",
                oid,
                g.get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
            o.step(
                "EntryScopeEvaluation",
                "scoping",
                "success",
                "The job has no Group mapping: only the members were provisioned".into(),
            );
            o
        });
        main.get_or_insert(o);
    }
    c.write_references().await;
    c.flush_entries();
    let main = main.ok_or_else(|| invalid("no subject was processed"))?;
    Ok(response(&main, &members_out))
}

/// A directory user as Graph JSON.
fn directory_user(c: &Cycle<'_>, id: &str) -> Option<Value> {
    let t = c.twin.tenant();
    t.users.get(id).and_then(|u| serde_json::to_value(u).ok())
}

async fn user_outcome(
    c: &Cycle<'_>,
    view: &cycle::JobView,
    oid: &str,
) -> Result<Outcome, EngineError> {
    let Some(u) = directory_user(c, oid) else {
        return Err(invalid(format!("user {oid} does not exist")));
    };
    let u = &u;
    let assigned = view.users.iter().any(|x| id_of(x) == oid);
    let enabled = u
        .get("accountEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let passes = c.users_map.in_scope(&GraphUserSource {
        user: u,
        soft_deleted: false,
    });
    let linked = view.user_links.get(oid).cloned();
    Ok(match (assigned && enabled && passes, linked) {
        (true, l) => c.upsert_user(u, l).await,
        (false, Some(tid)) => {
            let why = if !assigned {
                cycle::UNASSIGNED
            } else if !enabled {
                "the user is disabled in Entra ID"
            } else {
                cycle::FILTERED
            };
            c.disable_user(Some(u), oid, &tid, why).await
        }
        (false, None) => {
            let mut o = Outcome::new("User", oid, &cycle::name_of(u));
            o.skip(if !assigned {
                "The user is not assigned to the application (directly or through a group)".into()
            } else if !enabled {
                "The user is disabled in Microsoft Entra ID".into()
            } else {
                "The user does not pass the scoping filter".into()
            });
            o
        }
    })
}

/// `Success`, `Skipped` or `Failure`, as on-demand answers spell results.
fn result_word(o: &Outcome) -> &'static str {
    match o.status {
        "success" if o.unchanged() => "Skipped",
        "success" => "Success",
        "skipped" => "Skipped",
        _ => "Failure",
    }
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

const REDUNDANT: &str =
    "The state of the user in both the source and target systems already match.";

/// `(errorCode, errorMessage)` for the key's details and statusInfo.
fn error_of(o: &Outcome) -> Option<(String, String)> {
    if let Some((code, reason)) = &o.error {
        return Some((code.clone(), reason.clone()));
    }
    if o.unchanged() {
        return Some(("RedundantExport".into(), REDUNDANT.into()));
    }
    if o.status == "skipped" {
        // Entra's skip codes are not documented for on-demand; a guess.
        let reason = o
            .steps
            .iter()
            .rev()
            .find(|s| s["status"] == "skipped")
            .and_then(|s| s["description"].as_str())
            .unwrap_or("The object was skipped")
            .to_string();
        return Some(("NotEffectivelyEntitled".into(), reason));
    }
    None
}

/// One outcome as the `value` object of Microsoft's v1.0 example.
fn outcome_json(o: &Outcome) -> Value {
    let end = chrono::Utc::now();
    let start = end - chrono::Duration::from_std(o.started.elapsed()).unwrap_or_default();
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut steps: Vec<Value> = o
        .steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            json!({
                "name": st["name"],
                "type": capitalized(st["provisioningStepType"].as_str().unwrap_or("")),
                "status": capitalized(st["status"].as_str().unwrap_or("")),
                "description": st["description"],
                "timestamp": ts(if i == 0 { start } else { end }),
                "details": st.get("details").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect();
    if o.unchanged() {
        // Nothing to export: Entra's answer is an Export step that was skipped.
        steps.retain(|st| st["type"] != "Export");
        steps.push(json!({
            "name": "EntrySynchronizationSkip", "type": "Export", "status": "Skipped",
            "description": format!("{REDUNDANT} No change to the {} '{}' currently needs to be made.", o.object_type, o.source_name),
            "timestamp": ts(end), "details": {"SkipReason": "RedundantExport"},
        }));
    }
    let error = error_of(o);
    let failed = o.status == "failure";
    let target_type = if o.object_type == "Group" {
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    } else {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    };
    json!({
        "action": capitalized(o.action),
        "changeId": uuid::Uuid::new_v4().to_string(),
        "startTime": ts(start),
        "endTime": ts(end),
        "modifiedProperties": o.changes.iter().map(|(n, old, new)| json!({"displayName": n, "oldValue": old.as_ref().map(text), "newValue": text(new)})).collect::<Vec<_>>(),
        "provisioningSteps": steps,
        "reportableIdentifier": o.source_name,
        "statusInfo": {
            "status": result_word(o),
            "errorCode": if failed { error.as_ref().map(|e| e.0.clone()) } else { None },
            "reason": if failed { error.as_ref().map(|e| e.1.clone()) } else { None },
            "additionalDetails": null,
            "errorCategory": if failed { Some("Failure") } else { None },
            "recommendedAction": null,
        },
        "sourceIdentity": {"id": o.source_id, "type": o.object_type, "displayName": o.source_name, "details": null},
        "sourceSystem": {"id": null, "name": "Azure Active Directory", "details": null},
        "targetIdentity": {"id": o.target_id, "type": target_type, "displayName": null, "details": null},
        "targetSystem": {"id": null, "name": "customappsso", "details": null},
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The double-encoded answer: `key` = `{result, details{errorCode, errorMessage}}`,
/// `value` = the main subject's outcome (plus `members` for a group, a twin extension).
fn response(main: &Outcome, members: &[Outcome]) -> Value {
    let any_failed = main.status == "failure" || members.iter().any(|m| m.status == "failure");
    let result = if any_failed {
        "Failure"
    } else {
        result_word(main)
    };
    let details = match error_of(main).or_else(|| {
        members
            .iter()
            .find(|m| m.status == "failure")
            .and_then(error_of)
    }) {
        Some((code, message)) if result != "Success" => {
            json!({"errorCode": code, "errorMessage": message})
        }
        _ => json!({}),
    };
    let mut value = outcome_json(main);
    if !members.is_empty() {
        value["members"] = Value::Array(
            members
                .iter()
                .map(|m| {
                    let mut v = outcome_json(m);
                    v["result"] = json!(result_word(m));
                    v
                })
                .collect(),
        );
    }
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair",
        "key": json!({"result": result, "details": details}).to_string(),
        "value": value.to_string(),
    })
}
