//! The planner proper: a pure function of (snapshot, profile, options) that
//! returns the ordered steps with their requests, diffs, done-checks and
//! undos, the findings and the per-user impact. No I/O, no clock, no
//! randomness: the same input gives the same plan, byte for byte.

use super::custom_schema::{self, CustomSchema};
use super::findings::{
    Findings, expr_text, group_findings, plural, pred_count, setting_findings, user_findings,
};
use super::impact::{self, Prediction};
use super::model::*;
use super::profile::Profile;
use crate::error::{Error, Result};
use crate::mapping::schema::Mappings;
use crate::snapshot::model::{GroupSnapshot, JobSnapshot, Snapshot};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The non-gallery template in the global cloud (US Gov and China have their own; see `template_id`).
pub use crate::graph::cloud::GLOBAL_NON_GALLERY_TEMPLATE_ID as NON_GALLERY_TEMPLATE_ID;
/// Graph allows 20 requests per `$batch`.
pub const BATCH_SIZE: usize = 20;
/// provisionOnDemand takes one group with at most 5 members per call.
pub const POD_MEMBERS: usize = 5;
/// Graph writes per app and tenant: 3,000 per 150 s.
pub const WRITE_LIMIT: usize = 3000;
pub const WRITE_WINDOW_S: usize = 150;
const REDACTED: &str = "(redacted)";

/// Who the custom app provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Assigned,
    All,
}

/// The planner's options, already validated and read from files by the caller.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Default: "<gallery name> (SCIM custom)".
    pub custom_app_name: Option<String>,
    pub keep_gallery_sso: bool,
    /// Display name or object id of an assigned group.
    pub pilot_group: Option<String>,
    /// `(from, to)` group display names from `--group-map`.
    pub group_map: Vec<(String, String)>,
    pub scope: Scope,
    /// False when the profile is `generic-scim` because no profile recognised the app.
    pub profile_detected: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            custom_app_name: None,
            keep_gallery_sso: true,
            pilot_group: None,
            group_map: Vec::new(),
            scope: Scope::Assigned,
            profile_detected: true,
        }
    }
}

fn get(req: &str) -> Request {
    Request::graph("GET", req, None)
}

fn expect(path: &str, op: &str, value: Option<Value>) -> Expect {
    Expect {
        path: path.into(),
        op: op.into(),
        value,
    }
}

/// Pick the gallery job to migrate: the first non-`scim` job, else the first.
fn gallery_job(snap: &Snapshot) -> Option<&JobSnapshot> {
    snap.app
        .jobs
        .iter()
        .find(|j| !j.template_id.starts_with("scim"))
        .or(snap.app.jobs.first())
}

/// Build the plan.
pub fn build(snap: &Snapshot, profile: &Profile, opts: &PlanOptions) -> Result<Plan> {
    // The non-gallery template differs per cloud (US Gov and China have their own).
    let template_id =
        crate::graph::cloud::Cloud::from_name(&snap.source.cloud).non_gallery_template_id();
    let app = &snap.app;
    let job = gallery_job(snap).ok_or_else(|| {
        Error::input(format!(
            "the snapshot of \"{}\" holds no provisioning job: there is nothing to migrate",
            app.display_name
        ))
    })?;
    let custom_name = opts
        .custom_app_name
        .clone()
        .unwrap_or_else(|| format!("{} (SCIM custom)", app.display_name));
    let gsp = &app.service_principal_id;
    let gjob = &job.id;
    let setting = |k: &str| {
        app.settings
            .iter()
            .find(|kv| kv.key.eq_ignore_ascii_case(k))
            .map(|kv| kv.value.clone())
    };
    let mut f = Findings(Vec::new());

    let gallery_maps = Mappings::from_schema(&job.schema).map_err(|e| {
        Error::input(format!(
            "the gallery job's schema has an expression scimshift cannot read: {e}"
        ))
    })?;
    let plan_app = PlanApp {
        gallery_service_principal_id: gsp.clone(),
        gallery_display_name: app.display_name.clone(),
        gallery_job_id: gjob.clone(),
        custom_app_name: custom_name.clone(),
        profile: profile.name.clone(),
        scope: if opts.scope == Scope::All {
            "all"
        } else {
            "assigned"
        }
        .into(),
        keep_gallery_sso: opts.keep_gallery_sso,
        pilot_group: opts.pilot_group.clone(),
    };

    // Already on a custom app that pushes groups: nothing to do.
    if app.application_template_id.as_deref() == Some(template_id)
        && job.template_id.starts_with("scim")
        && gallery_maps.pushes_groups()
    {
        f.add(
            Severity::Info,
            "already-custom",
            format!("\"{}\" is already a custom (non-gallery) app whose job pushes groups: there is nothing to migrate.", app.display_name),
            vec![ObjectRef::new("app", gsp, &app.display_name)],
        );
        return Ok(finish(
            snap,
            plan_app,
            Vec::new(),
            f,
            Vec::new(),
            estimate_empty(),
        ));
    }

    // Groups: assigned, by id and name; --group-map; --pilot-group.
    // The groups the custom job pushes: the assigned ones, or, with "Sync all
    // users and groups", every group the snapshot read (it reads all of them
    // when the gallery job syncs all).
    let assigned_ids: std::collections::HashSet<&str> = snap
        .app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .map(|a| a.principal_id.as_str())
        .collect();
    let assigned_groups: Vec<&GroupSnapshot> = snap
        .groups
        .iter()
        .filter(|g| opts.scope == Scope::All || assigned_ids.contains(g.id.as_str()))
        .collect();
    let group_by_id: HashMap<&str, &GroupSnapshot> =
        snap.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let pilot = match &opts.pilot_group {
        None => None,
        Some(p) => Some(
            *assigned_groups
                .iter()
                .find(|g| g.id == *p || g.display_name.eq_ignore_ascii_case(p))
                .ok_or_else(|| {
                    let names: Vec<&str> = assigned_groups.iter().map(|g| g.display_name.as_str()).collect();
                    Error::input(format!(
                        "--pilot-group \"{p}\" is not a group assigned to \"{}\"; assigned groups: {}",
                        app.display_name,
                        if names.is_empty() { "none".into() } else { names.join(", ") }
                    ))
                })?,
        ),
    };
    let mut renames: Vec<(String, String)> = Vec::new();
    for (from, to) in &opts.group_map {
        match assigned_groups.iter().find(|g| g.display_name.eq_ignore_ascii_case(from)) {
            Some(g) => renames.push((g.display_name.clone(), to.clone())),
            None => f.add(
                Severity::Warning,
                "group-map-unknown",
                format!("--group-map renames \"{from}\", which is not a group assigned to \"{}\"; the line is ignored.", app.display_name),
                vec![ObjectRef::new("group", "", from)],
            ),
        }
    }
    let pushed_name = |g: &GroupSnapshot| -> String {
        renames
            .iter()
            .find(|(f, _)| *f == g.display_name)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| g.display_name.clone())
    };
    let mut by_pushed: BTreeMap<String, Vec<&GroupSnapshot>> = BTreeMap::new();
    for g in &assigned_groups {
        by_pushed
            .entry(pushed_name(g).to_lowercase())
            .or_default()
            .push(g);
    }
    for gs in by_pushed.values().filter(|v| v.len() > 1) {
        f.add(
            Severity::Warning,
            "group-merge",
            format!(
                "{} Entra groups are pushed under one name, \"{}\": Entra matches them to the same target group and each one's membership updates overwrite the other's.",
                gs.len(),
                pushed_name(gs[0])
            ),
            gs.iter().map(|g| ObjectRef::new("group", &g.id, &g.display_name)).collect(),
        );
    }

    // The custom schema and the prediction it implies.
    let cs: CustomSchema = custom_schema::build(&job.schema, profile, &renames)
        .map_err(|e| Error::input(format!("cannot build the custom app's schema: {e}")))?;
    let custom_maps = Mappings::from_schema(&cs.body).map_err(|e| {
        Error::input(format!(
            "the profile \"{}\" has an expression scimshift cannot read: {e}",
            profile.name
        ))
    })?;
    let cu = custom_maps
        .user
        .as_ref()
        .ok_or_else(|| Error::internal("the custom schema lost its User mapping"))?;
    for a in cu
        .attributes
        .iter()
        .chain(custom_maps.group.iter().flat_map(|g| g.attributes.iter()))
    {
        let bad = a.expr.unsupported_functions();
        if !bad.is_empty() {
            f.add(
                Severity::Warning,
                "unsupported-function",
                format!("The mapping for {} calls {} which scimshift cannot evaluate; its prediction treats the attribute as empty.", a.target, bad.join(", ")),
                vec![],
            );
        }
    }
    let scope_all = opts.scope == Scope::All;
    let pred: Prediction = impact::predict(snap, cu, gallery_maps.user.as_ref(), scope_all);
    user_findings(snap, &pred, &mut f, &cs, cu);
    group_findings(
        snap,
        &assigned_groups,
        &group_by_id,
        &pred,
        profile,
        &pushed_name,
        &mut f,
    );
    setting_findings(snap, profile, opts, &setting, &mut f, scope_all);

    if !gallery_maps.pushes_groups() && custom_maps.pushes_groups() && !assigned_groups.is_empty() {
        f.add(
            Severity::Info,
            "groups-pushed",
            format!(
                "{}; the custom job will push {} (names after --group-map) with their direct members.",
                if profile.gallery_pushes_groups {
                    "The gallery job's group mapping is off".to_string()
                } else {
                    format!("The {} gallery connector cannot push groups", profile.display_name)
                },
                plural(by_pushed.len(), "assigned group", "assigned groups")
            ),
            assigned_groups.iter().map(|g| ObjectRef::new("group", &g.id, &g.display_name)).collect(),
        );
    }

    // ---- steps
    let mut steps = Vec::new();
    steps.push(Step {
        id: "create-app".into(),
        action: Action::Create,
        title: format!("Create the custom app \"{custom_name}\" from the non-gallery template"),
        count: 1,
        object: "app".into(),
        requests: vec![Request::graph(
            "POST",
            format!("/applicationTemplates/{template_id}/instantiate"),
            Some(json!({"displayName": custom_name})),
        )],
        diff: vec![
            DiffLine { op: "+".into(), path: "app.displayName".into(), before: None, after: Some(json!(custom_name)) },
            DiffLine { op: "+".into(), path: "app.applicationTemplateId".into(), before: None, after: Some(json!(template_id)) },
        ],
        done_when: DoneWhen {
            request: get(&format!(
                "/servicePrincipals?$filter=displayName eq '{}'&$select=id,appId,displayName,applicationTemplateId",
                custom_name.replace('\'', "''")
            )),
            expect: vec![
                expect("/value", "countAtLeast", Some(json!(1))),
                expect("/value/0/applicationTemplateId", "equals", Some(json!(template_id))),
            ],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![Request::graph("DELETE", "/applications/{customAppObjectId}", None)],
            note: "Deletes the custom app and its service principal (soft-deleted, restorable for 30 days).".into(),
        },
        details: json!({"templateId": template_id, "placeholders": {
            "{customAppObjectId}": "application.id of the instantiate response",
            "{customSpId}": "servicePrincipal.id of the instantiate response"}}),
    });
    steps.push(Step {
        id: "wait-replication".into(),
        action: Action::Check,
        title: "Wait until the new service principal has replicated (5 successful reads in a row)"
            .into(),
        count: 1,
        object: "check".into(),
        requests: vec![get("/servicePrincipals/{customSpId}")],
        diff: vec![],
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}"),
            expect: vec![expect("", "status", Some(json!(200)))],
            consecutive: Some(5),
            poll_seconds: Some(5),
        },
        undo: Undo {
            requests: vec![],
            note: "Nothing to undo: a read.".into(),
        },
        details: Value::Null,
    });
    steps.push(Step {
        id: "create-job".into(),
        action: Action::Create,
        title: "Create the custom app's provisioning job from the `scim` template".into(),
        count: 1,
        object: "job".into(),
        requests: vec![
            get("/servicePrincipals/{customSpId}/synchronization/templates"),
            Request::graph("POST", "/servicePrincipals/{customSpId}/synchronization/jobs", Some(json!({"templateId": "scim"}))),
        ],
        diff: vec![DiffLine { op: "+".into(), path: "job.templateId".into(), before: None, after: Some(json!("scim")) }],
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}/synchronization/jobs"),
            expect: vec![expect("/value/*/templateId", "contains", Some(json!("scim")))],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![Request::graph("DELETE", "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}", None)],
            note: "Deletes the custom job and its state.".into(),
        },
        details: json!({"placeholders": {"{customJobId}": "id of the created job (starts with `scim.`)"}}),
    });

    // Secrets.
    let base = setting("BaseAddress");
    let notif = setting("SyncNotificationSettings").unwrap_or_else(|| {
        r#"{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":500}"#.into()
    });
    let sync_all = if scope_all { "true" } else { "false" };
    let base_value = base.clone().unwrap_or_else(|| "{scimBaseUrl}".into());
    let creds = json!([
        {"key": "BaseAddress", "value": base_value},
        {"key": "SecretToken", "value": REDACTED},
    ]);
    steps.push(Step {
        id: "write-secrets".into(),
        action: Action::Change,
        title: "Write the SCIM endpoint and token, check them with validateCredentials".into(),
        count: 1,
        object: "secret set".into(),
        requests: vec![
            Request::graph(
                "POST",
                "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/validateCredentials",
                Some(json!({"useSavedCredentials": false, "credentials": creds})),
            ),
            Request::graph(
                "PUT",
                "/servicePrincipals/{customSpId}/synchronization/secrets",
                Some(json!({"value": [
                    {"key": "BaseAddress", "value": base_value},
                    {"key": "SecretToken", "value": REDACTED},
                    {"key": "SyncAll", "value": sync_all},
                    {"key": "SyncNotificationSettings", "value": notif},
                ]})),
            ),
        ],
        diff: vec![
            DiffLine { op: "+".into(), path: "secrets.BaseAddress".into(), before: None, after: Some(json!(base_value)) },
            DiffLine { op: "+".into(), path: "secrets.SecretToken".into(), before: None, after: Some(json!(REDACTED)) },
            DiffLine { op: "+".into(), path: "secrets.SyncAll".into(), before: None, after: Some(json!(sync_all)) },
            DiffLine { op: "+".into(), path: "secrets.SyncNotificationSettings".into(), before: None, after: Some(json!(notif)) },
        ],
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}/synchronization/secrets"),
            expect: vec![
                expect("/value[key=BaseAddress]/value", "equals", Some(json!(base_value))),
                expect("/value[key=SecretToken]", "exists", None),
            ],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![],
            note: "Secrets cannot be deleted; they go with the custom job or app (undo of create-job / create-app).".into(),
        },
        details: json!({"token": "read at apply time from SCIM_TOKEN, a 0600 file or a prompt; never stored",
            "galleryBaseAddress": base}),
    });

    // Schema.
    steps.push(Step {
        id: "put-schema".into(),
        action: Action::Change,
        title: format!(
            "Put the schema: gallery user mappings carried over (matching on {}), group mapping on",
            cu.matching().first().map(|m| format!("{} ← {}", m.target, expr_text(&m.expr))).unwrap_or_else(|| "nothing".into())
        ),
        count: 1,
        object: "schema".into(),
        requests: vec![
            get("/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/schema"),
            Request::graph("PUT", "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/schema", Some(cs.body.clone())),
        ],
        diff: cs.diff.clone(),
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/schema"),
            expect: vec![
                expect("user mapping matching attribute", "equals", Some(json!(cu.matching().first().map(|m| format!("{} ← {}", m.target, expr_text(&m.expr)))))),
                expect("group mapping enabled", "equals", Some(json!(custom_maps.pushes_groups()))),
            ],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![Request::graph(
                "PUT",
                "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/schema",
                Some(json!("{schemaBeforeApply}")),
            )],
            note: "Puts back the job's default schema, read and journaled just before the PUT.".into(),
        },
        details: json!({
            "transform": cs.transform,
            "base": "the custom job's default `scim` schema: its directory, rule and schema ids replace the {…} placeholders by name",
        }),
    });

    // Assignments.
    let (assign_step, role_findings) = assignments_step(snap);
    for (sev, code, msg, objs) in role_findings {
        f.add(sev, &code, msg, objs);
    }
    let n_assign = assign_step.count;
    steps.push(assign_step);

    // Cutover.
    steps.push(Step {
        id: "pause-gallery-job".into(),
        action: Action::Pause,
        title: format!(
            "Pause the gallery job of \"{}\" (its assignments and state are kept)",
            app.display_name
        ),
        count: 1,
        object: "job".into(),
        requests: vec![Request::graph(
            "POST",
            format!("/servicePrincipals/{gsp}/synchronization/jobs/{gjob}/pause"),
            None,
        )],
        diff: vec![DiffLine {
            op: "~".into(),
            path: "galleryJob.status.code".into(),
            before: Some(json!(
                job.job
                    .pointer("/status/code")
                    .cloned()
                    .unwrap_or(json!("Active"))
            )),
            after: Some(json!("Paused")),
        }],
        done_when: DoneWhen {
            request: get(&format!(
                "/servicePrincipals/{gsp}/synchronization/jobs/{gjob}"
            )),
            expect: vec![expect("/status/code", "equals", Some(json!("Paused")))],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![Request::graph(
                "POST",
                format!("/servicePrincipals/{gsp}/synchronization/jobs/{gjob}/start"),
                None,
            )],
            note: "Starts the gallery job again; it resumes where it stopped.".into(),
        },
        details: Value::Null,
    });
    steps.push(Step {
        id: "start-custom-job".into(),
        action: Action::Start,
        title: format!(
            "Start the custom job: first cycle matches {} and creates {}",
            pred_count(&pred, UserAction::Match),
            pred_count(&pred, UserAction::Create)
        ),
        count: 1,
        object: "job".into(),
        requests: vec![Request::graph(
            "POST",
            "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/start",
            None,
        )],
        diff: vec![DiffLine {
            op: "~".into(),
            path: "customJob.schedule.state".into(),
            before: Some(json!("Disabled")),
            after: Some(json!("Active")),
        }],
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}"),
            expect: vec![expect("/schedule/state", "equals", Some(json!("Active")))],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![Request::graph(
                "POST",
                "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/pause",
                None,
            )],
            note: "Pauses the custom job; what it already wrote to the target stays.".into(),
        },
        details: Value::Null,
    });
    let mut pod_calls = 0;
    if let Some(g) = pilot {
        let step = pilot_step(g, &pred, &pushed_name(g));
        pod_calls = step.requests.len();
        steps.push(step);
    } else {
        f.add(
            Severity::Info,
            "no-pilot-group",
            "No --pilot-group was given: the custom job's first cycle is the first test; name a small assigned group to provision it on demand right after cutover.".into(),
            vec![],
        );
    }
    steps.push(Step {
        id: "wait-steady-state".into(),
        action: Action::Check,
        title: "Wait for the custom job's first cycle to reach steady state".into(),
        count: 1,
        object: "check".into(),
        requests: vec![get(
            "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}",
        )],
        diff: vec![],
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}"),
            expect: vec![
                expect("/status/steadyStateLastAchievedTime", "exists", None),
                expect("/status/code", "equals", Some(json!("Active"))),
                expect("/status/quarantine", "equals", Some(Value::Null)),
            ],
            consecutive: None,
            poll_seconds: Some(60),
        },
        undo: Undo {
            requests: vec![],
            note: "Nothing to undo: a read.".into(),
        },
        details: Value::Null,
    });
    let expected_users = pred
        .impact
        .iter()
        .filter(|u| matches!(u.action, UserAction::Match | UserAction::Create))
        .count();
    let pushed: Vec<String> = if custom_maps.pushes_groups() {
        by_pushed.values().map(|v| pushed_name(v[0])).collect()
    } else {
        vec![]
    };
    steps.push(Step {
        id: "verify".into(),
        action: Action::Check,
        title: "Verify the target: every provisioned user there once and active, every pushed group present".into(),
        count: 1,
        object: "check".into(),
        requests: vec![
            Request::scim("GET", "/Users?startIndex=1&count=100"),
            Request::scim("GET", "/Groups?excludedAttributes=members&startIndex=1&count=100"),
        ],
        diff: vec![
            DiffLine { op: " ".into(), path: "target.activeUsersExpected".into(), before: None, after: Some(json!(expected_users)) },
            DiffLine { op: " ".into(), path: "target.groupsExpected".into(), before: None, after: Some(json!(pushed)) },
        ],
        done_when: DoneWhen {
            request: Request::scim("GET", "/Users?startIndex=1&count=100"),
            expect: vec![
                expect("users provisioned by the custom job", "countAtLeast", Some(json!(expected_users))),
                expect("duplicate userNames", "equals", Some(json!(0))),
            ],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo { requests: vec![], note: "Nothing to undo: a read.".into() },
        details: json!({"expectedUsers": expected_users, "expectedGroups": pushed}),
    });

    // Estimate and budget.
    let writes: usize = steps
        .iter()
        .flat_map(|s| s.requests.iter())
        .map(Request::graph_writes)
        .sum();
    let est = estimate(
        snap,
        &pred,
        &assigned_groups,
        custom_maps.pushes_groups(),
        writes,
        pod_calls,
    );
    f.add(
        Severity::Info,
        "first-cycle-estimate",
        format!(
            "The custom job's first cycle should take {} ({} matched, {} created at twice the cost, {} groups, {} memberships, at Microsoft's 0.01–0.08 min per object); later cycles run about every 40 minutes.",
            est.first_cycle_text(),
            est.users_matched, est.users_created, est.groups, est.memberships
        ),
        vec![],
    );
    let windows = writes.div_ceil(WRITE_LIMIT).max(1);
    f.add(
        if writes > WRITE_LIMIT { Severity::Warning } else { Severity::Info },
        "graph-write-budget",
        format!(
            "The plan sends {writes} Graph writes ({n_assign} of them assignments in $batch requests of {BATCH_SIZE}) against a limit of {WRITE_LIMIT} per {WRITE_WINDOW_S} s per app and tenant{}.",
            if windows > 1 { format!(": expect throttling, at least {} s of writing", windows * WRITE_WINDOW_S) } else { String::new() }
        ),
        vec![],
    );
    let _ = n_assign;
    Ok(finish(snap, plan_app, steps, f, pred.impact, est))
}

/// Role on the custom app for a gallery assignment: by value, else displayName; default access ⇒ `User`.
fn role_for(snap: &Snapshot, role_id: &str) -> (String, bool) {
    let role = snap
        .app
        .app_roles
        .iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(role_id));
    let name = role
        .and_then(|r| {
            r.get("value")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .or_else(|| r.get("displayName").and_then(Value::as_str))
        })
        .unwrap_or("User")
        .to_string();
    let standard = name.eq_ignore_ascii_case("User") || name.eq_ignore_ascii_case("msiam_access");
    (name, standard)
}

type RawFinding = (Severity, String, String, Vec<ObjectRef>);

fn assignments_step(snap: &Snapshot) -> (Step, Vec<RawFinding>) {
    let mut findings = Vec::new();
    let mut inner = Vec::new();
    let mut diff = Vec::new();
    let mut roles: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    let mut skipped = Vec::new();
    for a in &snap.app.assignments {
        if a.principal_type != "User" && a.principal_type != "Group" {
            skipped.push(ObjectRef::new(
                "assignment",
                &a.principal_id,
                a.principal_display_name.clone().unwrap_or_default(),
            ));
            continue;
        }
        let (role, standard) = role_for(snap, &a.app_role_id);
        let e = roles.entry(role.clone()).or_insert((0, standard));
        e.0 += 1;
        let body = json!({"principalId": a.principal_id, "resourceId": "{customSpId}", "appRoleId": format!("{{customAppRole:{role}}}")});
        inner.push(body);
        diff.push(DiffLine {
            op: "+".into(),
            path: format!("assignment.{}", a.principal_type.to_lowercase()),
            before: None,
            after: Some(json!(format!(
                "{} ({}) as {role}",
                a.principal_display_name.clone().unwrap_or_default(),
                a.principal_id
            ))),
        });
    }
    for (role, (n, standard)) in &roles {
        if !standard {
            findings.push((
                Severity::Warning,
                "app-role-missing".to_string(),
                format!("{} use the gallery role \"{role}\"; a new custom app has only User and msiam_access, so add the role to it before the assignments step.", plural(*n, "assignment", "assignments")),
                vec![],
            ));
        }
    }
    if !skipped.is_empty() {
        findings.push((
            Severity::Info,
            "assignment-not-copied".to_string(),
            format!(
                "{} to service principals cannot drive provisioning and are not copied.",
                plural(skipped.len(), "assignment", "assignments")
            ),
            skipped,
        ));
    }
    let n = inner.len();
    let requests: Vec<Request> = inner
        .chunks(BATCH_SIZE)
        .map(|chunk| {
            let reqs: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    json!({"id": (i + 1).to_string(), "method": "POST", "url": "/servicePrincipals/{customSpId}/appRoleAssignedTo",
                        "headers": {"Content-Type": "application/json"}, "body": body})
                })
                .collect();
            Request::graph("POST", "/$batch", Some(json!({"requests": reqs})))
        })
        .collect();
    let principals: Vec<Value> = snap
        .app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "User" || a.principal_type == "Group")
        .map(|a| json!(a.principal_id))
        .collect();
    let undo_requests: Vec<Request> = principals
        .chunks(BATCH_SIZE)
        .map(|chunk| {
            let reqs: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    json!({"id": (i + 1).to_string(), "method": "DELETE",
                        "url": format!("/servicePrincipals/{{customSpId}}/appRoleAssignedTo/{{assignmentId:{}}}", p.as_str().unwrap_or_default())})
                })
                .collect();
            Request::graph("POST", "/$batch", Some(json!({"requests": reqs})))
        })
        .collect();
    let step = Step {
        id: "assignments".into(),
        action: Action::Create,
        title: format!(
            "Recreate {} on the custom app ($batch of {BATCH_SIZE})",
            plural(n, "assignment", "assignments")
        ),
        count: n,
        object: "assignment".into(),
        requests,
        diff,
        done_when: DoneWhen {
            request: get("/servicePrincipals/{customSpId}/appRoleAssignedTo?$top=999"),
            expect: vec![expect(
                "/value/*/principalId",
                "containsAll",
                Some(Value::Array(principals)),
            )],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: undo_requests,
            note: "Removes the assignments the step made (their ids are journaled at apply)."
                .into(),
        },
        details: json!({"roleMap": roles.iter().map(|(r, (n, _))| json!({"galleryRole": r, "customRole": format!("{{customAppRole:{r}}}"), "assignments": n})).collect::<Vec<_>>()}),
    };
    (step, findings)
}

fn pilot_step(g: &GroupSnapshot, pred: &Prediction, pushed: &str) -> Step {
    let provisioned: std::collections::HashSet<&str> = pred
        .impact
        .iter()
        .filter(|u| matches!(u.action, UserAction::Match | UserAction::Create))
        .map(|u| u.id.as_str())
        .collect();
    let members: Vec<&str> = g
        .members
        .iter()
        .filter(|m| m.kind == "user" && provisioned.contains(m.id.as_str()))
        .map(|m| m.id.as_str())
        .collect();
    let mut requests = Vec::new();
    let chunks: Vec<&[&str]> = if members.is_empty() {
        vec![&[]]
    } else {
        members.chunks(POD_MEMBERS).collect()
    };
    for chunk in chunks {
        requests.push(Request::graph(
            "POST",
            "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/provisionOnDemand",
            Some(json!({"parameters": [{"ruleId": "{customRuleId:USER_OUTBOUND_USER}", "subjects": [{
                "objectId": g.id, "objectTypeName": "Group",
                "links": {"members": chunk.iter().map(|m| json!({"objectId": m, "objectTypeName": "User"})).collect::<Vec<_>>()}
            }]}]})),
        ));
    }
    Step {
        id: "pilot-on-demand".into(),
        action: Action::Start,
        title: format!("Provision the pilot group \"{}\" on demand ({} in {} call{}, 5 per 10 s)", g.display_name, plural(members.len(), "member", "members"), requests.len(), if requests.len() == 1 { "" } else { "s" }),
        count: 1,
        object: "pilot group".into(),
        diff: vec![DiffLine { op: "+".into(), path: "target.group".into(), before: None, after: Some(json!(pushed)) }],
        done_when: DoneWhen {
            request: Request::scim("GET", format!("/Groups?filter=displayName eq \"{}\"&excludedAttributes=members", pushed.replace('"', "\\\""))),
            expect: vec![expect("/totalResults", "equals", Some(json!(1)))],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![],
            note: "On-demand provisioning is not undone on its own: pausing the custom job and the target's own tools remove what it wrote.".into(),
        },
        details: json!({"groupId": g.id, "members": members}),
        requests,
    }
}

/// Direct user members of `g` the custom job provisions.
pub(super) fn pred_members(
    g: &GroupSnapshot,
    provisioned: &std::collections::HashSet<&str>,
) -> usize {
    g.members
        .iter()
        .filter(|m| m.kind == "user" && provisioned.contains(m.id.as_str()))
        .count()
}

fn estimate_empty() -> Estimate {
    Estimate {
        users_matched: 0,
        users_created: 0,
        groups: 0,
        memberships: 0,
        first_cycle_minutes_min: 0.0,
        first_cycle_minutes_max: 0.0,
        graph_writes: 0,
        graph_write_limit: WRITE_LIMIT,
        graph_write_window_seconds: WRITE_WINDOW_S,
        on_demand_calls: 0,
    }
}

fn estimate(
    snap: &Snapshot,
    pred: &Prediction,
    groups: &[&GroupSnapshot],
    pushes: bool,
    writes: usize,
    pod: usize,
) -> Estimate {
    let matched = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .count();
    let created = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Create)
        .count();
    let provisioned: std::collections::HashSet<&str> = pred
        .impact
        .iter()
        .filter(|u| matches!(u.action, UserAction::Match | UserAction::Create))
        .map(|u| u.id.as_str())
        .collect();
    let (n_groups, memberships) = if pushes {
        (
            groups.len(),
            groups.iter().map(|g| pred_members(g, &provisioned)).sum(),
        )
    } else {
        (0, 0)
    };
    let _ = snap;
    let units = (matched + 2 * created + n_groups + memberships) as f64;
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Estimate {
        users_matched: matched,
        users_created: created,
        groups: n_groups,
        memberships,
        first_cycle_minutes_min: round(units * 0.01),
        first_cycle_minutes_max: round(units * 0.08),
        graph_writes: writes,
        graph_write_limit: WRITE_LIMIT,
        graph_write_window_seconds: WRITE_WINDOW_S,
        on_demand_calls: pod,
    }
}

fn finish(
    snap: &Snapshot,
    app: PlanApp,
    steps: Vec<Step>,
    f: Findings,
    impact: Vec<UserImpact>,
    estimate: Estimate,
) -> Plan {
    let mut findings = f.0;
    findings.sort_by_key(|f| f.severity); // stable: keeps the planner's order within a severity
    let changes = steps
        .iter()
        .filter(|s| s.action.is_change())
        .map(|s| {
            let verb = match s.action {
                Action::Create if s.object == "assignment" => "to add",
                Action::Create => "to create",
                Action::Change => "to write",
                Action::Remove => "to remove",
                Action::Pause => "to pause",
                Action::Start if s.object == "pilot group" => "to provision on demand",
                Action::Start => "to start",
                Action::Check => "to check",
            };
            let noun = if s.count == 1 {
                s.object.clone()
            } else {
                format!("{}s", s.object)
            };
            format!("{} {noun} {verb}", s.count)
        })
        .collect();
    let count = |a: UserAction| impact.iter().filter(|u| u.action == a).count();
    let summary = Summary {
        changes,
        users_match: count(UserAction::Match),
        users_create: count(UserAction::Create),
        users_skip: count(UserAction::Skip),
        users_fail: count(UserAction::Fail),
        duplicates: impact.iter().filter(|u| u.duplicate).count(),
        errors: findings
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|x| x.severity == Severity::Warning)
            .count(),
    };
    Plan {
        format: FORMAT.into(),
        snapshot_digest: snap.digest.clone(),
        app,
        summary,
        steps,
        findings,
        estimate,
        impact,
    }
}
