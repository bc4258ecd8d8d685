//! `rollback`: undo, in reverse order, what the journal says apply did —
//! pause the custom job (and wait for its running cycle to end), start the
//! gallery job again (Entra resumes it where it stopped), remove the
//! assignments apply added (only once the custom job is paused: unassigning
//! under a running job deactivates people), delete the custom app. The
//! undo steps are plan steps like apply's, built from the plan, the journal
//! and a live read of the custom app's assignments, and run by the same
//! executor: shown against live state, confirmed, journaled, resumable.
//! The target is left alone; what stays there is listed as residue.

use super::exec::Resume;
use crate::graph::GraphClient;
use crate::plan::model::*;
use crate::plan::probe::Probe;
use crate::plan::steps::BATCH_SIZE;
use serde_json::{Value, json};

/// The forward steps an undo step undoes (journaled `stepUndone`, so
/// `status` and a later apply see them as not done).
pub fn undoes(undo_step: &str) -> &'static [&'static str] {
    match undo_step {
        "undo-start-custom-job" => &[
            "start-custom-job",
            "wait-steady-state",
            "verify",
            "verify-groups",
            "pilot-on-demand",
        ],
        "undo-pause-gallery-job" => &["pause-gallery-job"],
        "undo-assignments" => &["assignments"],
        "undo-create-app" => &[
            "create-app",
            "wait-replication",
            "create-job",
            "write-secrets",
            "put-schema",
        ],
        _ => &[],
    }
}

/// What rollback will do and what it leaves, for the admin to read first.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub steps: Vec<Step>,
    pub restores: Vec<String>,
    pub leaves: Vec<String>,
}

fn custom_job(tail: &str) -> String {
    crate::plan::steps::custom_job(tail)
}

/// The principals the plan's `assignments` step adds.
pub fn planned_principals(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .find(|s| s.id == "assignments")
        .map(|s| {
            s.requests
                .iter()
                .filter_map(|r| r.body.as_ref())
                .flat_map(super::exec::batch_principals)
                .collect()
        })
        .unwrap_or_default()
}

/// The undo steps for what the journal shows was touched; `assigned` are
/// the custom app's live assignments (principal → assignment id).
pub fn scope(
    plan: &Plan,
    resume: &Resume,
    assigned: &std::collections::HashMap<String, String>,
    custom_job_active: bool,
) -> Scope {
    let touched = |id: &str| resume.touched.contains(id);
    let mut s = Scope::default();
    let gallery_job = format!(
        "/servicePrincipals/{}/synchronization/jobs/{}",
        plan.app.gallery_service_principal_id, plan.app.gallery_job_id
    );
    let has_job = resume.bound.contains_key("customJobId");
    if has_job && (touched("start-custom-job") || custom_job_active) {
        s.steps.push(Step {
            id: "undo-start-custom-job".into(),
            action: Action::Pause,
            title: "Pause the custom job (its running cycle finishes first)".into(),
            count: 1,
            object: "job".into(),
            requests: vec![Request::post(custom_job("/pause"), None)],
            diff: vec![DiffLine::change(
                "customJob.status.code",
                json!("Active"),
                json!("Paused"),
            )],
            done_when: DoneWhen::get(
                custom_job(""),
                vec![Expect::at(
                    "/status/code",
                    ExpectOp::Equals,
                    Some(json!("Paused")),
                )],
            ),
            undo: Undo::new(vec![], "apply starts it again."),
            details: json!({"waitForCycleEnd": true}),
        });
        s.restores
            .push("the custom job is paused (what it wrote to the target stays)".into());
    }
    if touched("pause-gallery-job") {
        s.steps.push(Step {
            id: "undo-pause-gallery-job".into(),
            action: Action::Start,
            title: format!(
                "Start the gallery job of \"{}\" again (it resumes where it stopped)",
                plan.app.gallery_display_name
            ),
            count: 1,
            object: "job".into(),
            requests: vec![Request::post(format!("{gallery_job}/start"), None)],
            diff: vec![DiffLine::change(
                "galleryJob.status.code",
                json!("Paused"),
                json!("Active"),
            )],
            done_when: DoneWhen::get(
                &gallery_job,
                vec![Expect::at(
                    "/status/code",
                    ExpectOp::Equals,
                    Some(json!("Active")),
                )],
            ),
            undo: Undo::new(vec![], "apply pauses it again."),
            details: Value::Null,
        });
        s.restores.push(format!(
            "the gallery job of \"{}\" runs again with its assignments and state",
            plan.app.gallery_display_name
        ));
    }
    let planned = planned_principals(plan);
    let present: Vec<(&String, &String)> = planned
        .iter()
        .filter_map(|p| assigned.get(p).map(|id| (p, id)))
        .collect();
    if touched("assignments") || !present.is_empty() {
        let requests = present
            .chunks(BATCH_SIZE)
            .map(|chunk| {
                let inner: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(k, (_, id))| {
                        json!({"id": (k + 1).to_string(), "method": "DELETE",
                            "url": format!("/servicePrincipals/{{customSpId}}/appRoleAssignedTo/{id}")})
                    })
                    .collect();
                Request::post("/$batch", Some(json!({"requests": inner})))
            })
            .collect();
        s.steps.push(Step {
            id: "undo-assignments".into(),
            action: Action::Remove,
            title: format!(
                "Remove the {} assignments apply added to the custom app (the custom job is paused first)",
                present.len()
            ),
            count: present.len(),
            object: "assignment".into(),
            requests,
            diff: present
                .iter()
                .map(|(p, _)| DiffLine {
                    op: DiffOp::Remove,
                    path: "assignment".into(),
                    before: Some(json!(p)),
                    after: None,
                })
                .collect(),
            done_when: DoneWhen::get(
                "/servicePrincipals/{customSpId}/appRoleAssignedTo?$top=999",
                vec![Expect::probe(
                    Probe::PrincipalIds,
                    ExpectOp::ContainsNone,
                    Some(json!(planned)),
                )],
            ),
            undo: Undo::new(vec![], "apply adds them again."),
            // Its batches are built from a live read at each run: a resumed
            // rollback sends only what is still there.
            details: json!({"builtLive": true}),
        });
        s.restores
            .push("the assignments apply added to the custom app are removed".into());
    }
    if touched("create-app") || resume.bound.contains_key("customAppId") {
        s.steps.push(Step {
            id: "undo-create-app".into(),
            action: Action::Remove,
            title: format!(
                "Delete the custom app \"{}\" (soft-deleted: restorable for 30 days)",
                plan.app.custom_app_name
            ),
            count: 1,
            object: "app".into(),
            requests: vec![Request::graph(
                Method::Delete,
                "/applications(appId='{customAppId}')",
                None,
            )],
            diff: vec![DiffLine {
                op: DiffOp::Remove,
                path: "app.displayName".into(),
                before: Some(json!(plan.app.custom_app_name)),
                after: None,
            }],
            done_when: DoneWhen::get(
                "/servicePrincipals(appId='{customAppId}')",
                vec![Expect::status(404)],
            ),
            undo: Undo::new(
                vec![],
                "Restore it within 30 days: POST /directory/deletedItems/{id}/restore (Entra admin center → App registrations → Deleted applications).",
            ),
            details: Value::Null,
        });
        s.restores.push(format!(
            "the custom app \"{}\" is deleted — soft-deleted, restorable for 30 days from Deleted applications",
            plan.app.custom_app_name
        ));
    }
    s.leaves.push(
        "the target is left alone: users the custom job matched keep the attributes it wrote, and groups it pushed stay (listed below with the SCIM requests that would remove them)"
            .into(),
    );
    s.leaves.push(
        "SSO on the gallery app was never changed, so nothing about sign-in needs restoring".into(),
    );
    s
}

/// The custom app's live assignments (principal → assignment id), when it exists.
pub async fn live_assignments(
    graph: &GraphClient,
    sp: Option<&str>,
) -> crate::error::Result<std::collections::HashMap<String, String>> {
    let Some(sp) = sp else {
        return Ok(Default::default());
    };
    let items = match graph
        .list(&format!(
            "/servicePrincipals/{sp}/appRoleAssignedTo?$top=999"
        ))
        .await
    {
        Ok(items) => items,
        // The app is already gone (an earlier rollback deleted it).
        Err(e) if e.message.contains("404") || e.message.contains("does not exist") => vec![],
        Err(e) => return Err(e),
    };
    Ok(items
        .iter()
        .filter_map(|a| {
            Some((
                a.get("principalId")?.as_str()?.to_string(),
                a.get("id")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

/// Target groups the custom job pushed that were not there before (the
/// snapshot's target): residue, with the SCIM request that would remove each.
pub fn residue(plan: &Plan, before: &[Value], now: &[Value]) -> Vec<(String, String)> {
    let pushed: Vec<&str> = plan
        .steps
        .iter()
        .find(|s| s.id == "verify-groups")
        .and_then(|s| s.details.get("expectedGroups"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let existed = |id: &str| {
        before
            .iter()
            .any(|g| g.get("id").and_then(Value::as_str) == Some(id))
    };
    now.iter()
        .filter_map(|g| {
            let name = g.get("displayName")?.as_str()?;
            let id = g.get("id")?.as_str()?;
            (pushed.contains(&name) && !existed(id))
                .then(|| (name.to_string(), format!("DELETE $SCIM/Groups/{id}")))
        })
        .collect()
}

/// How a rollback went.
#[derive(Debug)]
pub struct Report {
    pub outcome: super::exec::Outcome,
    pub scope: Scope,
    /// Pushed groups left in the target, with the request that removes each.
    pub residue: Vec<(String, String)>,
    pub kept: usize,
}

/// Roll back what the journal says apply did (or, `dry_run`, show it).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    plan_path: &std::path::Path,
    plan: &Plan,
    graph: GraphClient,
    scim: Option<crate::scim::ScimClient>,
    dry_run: bool,
    opts: super::exec::ExecOptions,
    reporter: &dyn super::Reporter,
    asker: &mut dyn super::Asker,
    interrupt: std::sync::Arc<std::sync::atomic::AtomicBool>,
    assume_all: bool,
) -> crate::error::Result<Report> {
    use crate::journal::{Journal, Lock};
    let _lock = if dry_run {
        None
    } else {
        Some(Lock::take(plan_path, "rollback")?)
    };
    let (journal, records) = if dry_run {
        (None, crate::journal::read(plan_path)?)
    } else {
        let (j, r) = Journal::open(plan_path, &plan.plan_digest)?;
        (Some(j), r)
    };
    let resume = Resume::from_records(&records);
    let sp = resume
        .bound
        .get("customSpId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let assigned = live_assignments(&graph, sp.as_deref()).await?;
    let job_active = match (&sp, resume.bound.get("customJobId").and_then(Value::as_str)) {
        (Some(sp), Some(job)) => graph
            .get_opt(&format!(
                "/servicePrincipals/{sp}/synchronization/jobs/{job}"
            ))
            .await?
            .is_some_and(|j| j.pointer("/schedule/state") == Some(&json!("Active"))),
        _ => false,
    };
    let scope = scope(plan, &resume, &assigned, job_active);
    for r in &scope.restores {
        reporter.event(&super::Event::Note {
            text: &format!("rollback restores: {r}"),
        });
    }
    for l in &scope.leaves {
        reporter.event(&super::Event::Note {
            text: &format!("rollback does not restore: {l}"),
        });
    }
    let undo_plan = Plan {
        steps: scope.steps.clone(),
        ..plan.clone()
    };
    let t = if dry_run {
        super::transport::Transport::read_only(graph, scim.clone())
    } else {
        super::transport::Transport::live(graph, scim.clone())
    };
    let mut no_token = || {
        Err(crate::error::Error::internal(
            "rollback never sends the SCIM token",
        ))
    };
    let mut ex = super::exec::Executor::new(
        &undo_plan,
        plan_path,
        &t,
        opts,
        journal,
        resume,
        reporter,
        asker,
        &mut no_token,
        interrupt,
        assume_all,
    );
    ex.command = "rollback";
    if !dry_run {
        ex.append_started()?;
    }
    let result = ex.run().await;
    if !dry_run {
        let text = match &result {
            Ok(super::exec::Outcome::Done) => "done".to_string(),
            Ok(super::exec::Outcome::Stopped { step }) => format!("stopped at {step}"),
            Ok(_) => "dry run".into(),
            Err(e) => format!("failed: {}", e.message.lines().next().unwrap_or("")),
        };
        ex.append_finished(&text)?;
    }
    drop(ex);
    let outcome = result?;
    let residue = match &scim {
        Some(s) => {
            let now = s
                .list_all(crate::scim::client::Resource::Groups, 100)
                .await?;
            residue(plan, &adopted_groups(plan), &now)
        }
        None => vec![],
    };
    Ok(Report {
        outcome,
        scope,
        residue,
        kept: t.kept_writes().len(),
    })
}

/// Target groups the plan says existed before and the custom job adopts
/// (`target-group-name-collision`): never residue, never removed.
fn adopted_groups(plan: &Plan) -> Vec<Value> {
    plan.findings
        .iter()
        .filter(|f| f.code == "target-group-name-collision")
        .flat_map(|f| f.objects.iter())
        .filter(|o| o.kind == "targetGroup")
        .map(|o| json!({"id": o.id}))
        .collect()
}
