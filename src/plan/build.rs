//! The planner proper: a pure function of (snapshot, profile, options) that
//! returns the ordered steps with their requests, diffs, done-checks and
//! undos, the findings and the per-user impact. No I/O, no clock, no
//! randomness: the same input gives the same plan, byte for byte.

use super::custom_schema::{self, CustomSchema};
use super::impact::{self, Prediction};
use super::model::*;
use super::profile::Profile;
use crate::error::{Error, Result};
use crate::mapping::schema::Mappings;
use crate::snapshot::model::{GroupKind, GroupSnapshot, JobSnapshot, Snapshot};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The non-gallery ("custom") application template, the same in every cloud.
pub const NON_GALLERY_TEMPLATE_ID: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
/// Graph allows 20 requests per `$batch`.
pub const BATCH_SIZE: usize = 20;
/// provisionOnDemand takes one group with at most 5 members per call.
pub const POD_MEMBERS: usize = 5;
/// Graph writes per app and tenant: 3,000 per 150 s.
pub const WRITE_LIMIT: usize = 3000;
pub const WRITE_WINDOW_S: usize = 150;
const REDACTED: &str = "(redacted)";
/// Objects listed in one finding before "…and N more".
const MAX_OBJECTS: usize = 200;

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

struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, severity: Severity, code: &str, message: String, objects: Vec<ObjectRef>) {
        self.0.push(Finding {
            severity,
            code: code.into(),
            message,
            objects,
        });
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// At most [`MAX_OBJECTS`] objects of `total`, built lazily, and the sentence tail saying how many more.
fn cap<I: IntoIterator<Item = ObjectRef>>(total: usize, objects: I) -> (Vec<ObjectRef>, String) {
    let listed: Vec<ObjectRef> = objects.into_iter().take(MAX_OBJECTS).collect();
    if total > MAX_OBJECTS {
        (
            listed,
            format!(
                " (the first {MAX_OBJECTS} are listed; {} more in the impact table)",
                total - MAX_OBJECTS
            ),
        )
    } else {
        (listed, String::new())
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
    if app.application_template_id.as_deref() == Some(NON_GALLERY_TEMPLATE_ID)
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
    let assigned_groups: Vec<&GroupSnapshot> = snap.groups.iter().collect();
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
            format!("/applicationTemplates/{NON_GALLERY_TEMPLATE_ID}/instantiate"),
            Some(json!({"displayName": custom_name})),
        )],
        diff: vec![
            DiffLine { op: "+".into(), path: "app.displayName".into(), before: None, after: Some(json!(custom_name)) },
            DiffLine { op: "+".into(), path: "app.applicationTemplateId".into(), before: None, after: Some(json!(NON_GALLERY_TEMPLATE_ID)) },
        ],
        done_when: DoneWhen {
            request: get(&format!(
                "/servicePrincipals?$filter=displayName eq '{}'&$select=id,appId,displayName,applicationTemplateId",
                custom_name.replace('\'', "''")
            )),
            expect: vec![
                expect("/value", "countAtLeast", Some(json!(1))),
                expect("/value/0/applicationTemplateId", "equals", Some(json!(NON_GALLERY_TEMPLATE_ID))),
            ],
            consecutive: None,
            poll_seconds: None,
        },
        undo: Undo {
            requests: vec![Request::graph("DELETE", "/applications/{customAppObjectId}", None)],
            note: "Deletes the custom app and its service principal (soft-deleted, restorable for 30 days).".into(),
        },
        details: json!({"templateId": NON_GALLERY_TEMPLATE_ID, "placeholders": {
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
        .filter(|u| u.action != UserAction::Skip)
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

fn expr_text(e: &crate::mapping::expr::Expr) -> String {
    use crate::mapping::expr::Expr;
    match e {
        Expr::Attr(a) => format!("[{a}]"),
        Expr::Lit(s) => format!("\"{s}\""),
        Expr::Empty => String::new(),
        Expr::Call(n, args) => format!(
            "{n}({})",
            args.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn pred_count(p: &Prediction, a: UserAction) -> String {
    let n = p.impact.iter().filter(|u| u.action == a).count();
    plural(n, "user", "users")
}

fn user_ref(u: &UserImpact) -> ObjectRef {
    ObjectRef::new("user", &u.id, &u.user_principal_name)
}

fn user_findings(
    snap: &Snapshot,
    pred: &Prediction,
    f: &mut Findings,
    cs: &CustomSchema,
    cu: &crate::mapping::schema::ObjectMapping,
) {
    let matching = cu
        .matching()
        .first()
        .map(|m| format!("{} ← {}", m.target, expr_text(&m.expr)))
        .unwrap_or_default();
    // Duplicates.
    let dups: Vec<&UserImpact> = pred.impact.iter().filter(|u| u.duplicate).collect();
    if !dups.is_empty() {
        let mut objs = Vec::new();
        for u in &dups {
            objs.push(user_ref(u));
            objs.push(ObjectRef::new(
                "targetUser",
                u.target_id.clone().unwrap_or_default(),
                u.target_user_name.clone().unwrap_or_default(),
            ));
        }
        f.add(
            Severity::Error,
            "duplicate-on-create",
            format!(
                "{} would be created a second time: the custom app matches on {matching}, which finds nothing, while the target already holds them under another userName (map userName as the gallery did, e.g. with copy_from_gallery).",
                plural(dups.len(), "user", "users")
            ),
            objs,
        );
    }
    let creates: Vec<&UserImpact> = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Create && !u.duplicate)
        .collect();
    if !creates.is_empty() {
        let (objs, more) = cap(creates.len(), creates.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Info,
            "user-created",
            format!(
                "{} not in the target yet will be created by the first cycle{more}.",
                plural(creates.len(), "user", "users")
            ),
            objs,
        );
    }
    let matched = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .count();
    f.add(
        Severity::Info,
        "user-matched",
        format!("{} will be matched to the target user the gallery app provisioned (on {matching}) and updated, never created again.", plural(matched, "user", "users")),
        vec![],
    );
    // The trap a custom app with default mappings falls into.
    let upn_matching = cu.matching().first().is_some_and(|m| {
        m.target.eq_ignore_ascii_case("userName")
            && m.expr
                .attributes()
                .iter()
                .any(|a| a.eq_ignore_ascii_case("userPrincipalName"))
    });
    if !upn_matching && !pred.default_mapping_misses.is_empty() {
        let tu = snap.target.as_ref().map(|t| &t.users[..]).unwrap_or(&[]);
        let mut objs = Vec::new();
        for &(ui, ti) in &pred.default_mapping_misses {
            objs.push(user_ref(&pred.impact[ui]));
            if let Some(ti) = ti {
                objs.push(ObjectRef::new(
                    "targetUser",
                    tu[ti].get("id").and_then(Value::as_str).unwrap_or_default(),
                    tu[ti]
                        .get("userName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ));
            }
        }
        let n = pred.default_mapping_misses.len();
        f.add(
            Severity::Warning,
            "default-mapping-would-duplicate",
            format!(
                "{} a userName {} that is not their UPN (the gallery maps userName ← {}): a custom app with Entra's default mapping (userName ← userPrincipalName) would create {} again; this plan keeps the gallery's mapping, so {} — do not change it by hand.",
                plural(n, "user has", "users have"),
                if pred.assumed_without_target { "from the gallery job" } else { "in the target" },
                matching.split(" ← ").nth(1).unwrap_or("?"),
                if n == 1 { "them" } else { "them all" },
                if pred.assumed_without_target {
                    "they will be matched as the gallery wrote them"
                } else {
                    "they are matched"
                },
            ),
            objs,
        );
    }
    for (ui, hits) in &pred.ambiguous {
        let u = &pred.impact[*ui];
        let mut objs = vec![user_ref(u)];
        let tu = &snap.target.as_ref().map(|t| &t.users[..]).unwrap_or(&[]);
        for &h in hits {
            objs.push(ObjectRef::new(
                "targetUser",
                tu[h].get("id").and_then(Value::as_str).unwrap_or_default(),
                tu[h]
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ));
        }
        f.add(
            Severity::Error,
            "ambiguous-match",
            format!(
                "{} matches {} target users on {}: Entra stops with DuplicateTargetEntries.",
                u.user_principal_name,
                hits.len(),
                u.matched_on.clone().unwrap_or_default()
            ),
            objs,
        );
    }
    // Orphans.
    if let Some(t) = &snap.target
        && !pred.orphans.is_empty()
    {
        let (objs, more) = cap(
            pred.orphans.len(),
            pred.orphans.iter().map(|&i| {
                ObjectRef::new(
                    "targetUser",
                    t.users[i]
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    t.users[i]
                        .get("userName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
            }),
        );
        f.add(
            Severity::Warning,
            "orphan-target-user",
            format!(
                "{} in the target {} not assigned to any Entra user: neither app will update or deactivate them; review them by hand{more}.",
                plural(pred.orphans.len(), "user", "users"),
                if pred.orphans.len() == 1 { "is" } else { "are" }
            ),
            objs,
        );
    }
    // Gallery deactivation on unassignment.
    if !pred.gallery_would_deactivate.is_empty() {
        let (objs, more) = cap(
            pred.gallery_would_deactivate.len(),
            pred.gallery_would_deactivate
                .iter()
                .map(|&i| user_ref(&pred.impact[i])),
        );
        f.add(
            Severity::Warning,
            "gallery-would-deactivate",
            format!(
                "If the gallery app's assignments were removed while its job runs, it would deactivate {} in the target{}; the plan pauses the gallery job first and removes no assignment{more}.",
                plural(pred.gallery_would_deactivate.len(), "user", "users"),
                if pred.assumed_without_target { " (every user in its scope: the snapshot holds no target contents)" } else { "" }
            ),
            objs,
        );
    }
    // userNames needing filter quoting: the userName the custom job sends, the
    // target userName it matches, and the UPN/mail it is looked up by.
    let quoted: Vec<(&UserImpact, String)> = pred
        .impact
        .iter()
        .filter_map(|u| {
            [
                u.user_name.as_deref(),
                u.target_user_name.as_deref(),
                Some(u.user_principal_name.as_str()),
                u.mail.as_deref(),
            ]
            .into_iter()
            .flatten()
            .find(|v| impact::needs_quoting(v))
            .map(|v| (u, v.to_string()))
        })
        .collect();
    if !quoted.is_empty() {
        f.add(
            Severity::Warning,
            "username-needs-quoting",
            format!(
                "{} a userName or UPN with an apostrophe, quote or backslash ({}): every filter on it must escape it (SCIM `\\\"`, Graph `''`); include one of them in the pilot.",
                plural(quoted.len(), "user has", "users have"),
                quoted.iter().take(3).map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", ")
            ),
            quoted.iter().map(|(u, v)| ObjectRef::new("user", &u.id, v)).collect(),
        );
    }
    // Scoping filter carried over.
    if cs.scope_carried {
        let text = cu
            .scope
            .iter()
            .map(|g| {
                g.iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join(" AND ")
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let (objs, more) = cap(
            pred.out_of_scope.len(),
            pred.out_of_scope.iter().map(|&i| user_ref(&pred.impact[i])),
        );
        f.add(
            Severity::Info,
            "scoping-filter-carried",
            format!(
                "The gallery job's scoping filter ({text}) is carried over to the custom job; it keeps {} out of scope{more}.",
                plural(pred.out_of_scope.len(), "assigned user", "assigned users")
            ),
            objs,
        );
    }
    let disabled: Vec<&UserImpact> = pred
        .impact
        .iter()
        .filter(|u| u.reason.as_deref() == Some("disabled"))
        .collect();
    if !disabled.is_empty() {
        let (objs, more) = cap(disabled.len(), disabled.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Info,
            "disabled-user",
            format!(
                "{} disabled in Entra and will not be created{more}.",
                plural(disabled.len(), "assigned user is", "assigned users are")
            ),
            objs,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn group_findings(
    snap: &Snapshot,
    groups: &[&GroupSnapshot],
    by_id: &HashMap<&str, &GroupSnapshot>,
    pred: &Prediction,
    profile: &Profile,
    pushed_name: &dyn Fn(&GroupSnapshot) -> String,
    f: &mut Findings,
) {
    let _ = by_id;
    let users_by_id: HashMap<&str, &UserImpact> =
        pred.impact.iter().map(|u| (u.id.as_str(), u)).collect();
    for g in groups {
        let nested: Vec<_> = g.members.iter().filter(|m| m.kind == "group").collect();
        if nested.is_empty() {
            continue;
        }
        let mut objs = vec![ObjectRef::new("group", &g.id, &g.display_name)];
        for n in &nested {
            objs.push(ObjectRef::new(
                "group",
                &n.id,
                n.display_name.clone().unwrap_or_default(),
            ));
        }
        // `nested:<id>` may name the nested group or the assigned group it sits in.
        let mut nested_ids: Vec<String> =
            nested.iter().map(|n| format!("nested:{}", n.id)).collect();
        nested_ids.push(format!("nested:{}", g.id));
        let lost: Vec<&UserImpact> = snap
            .users
            .iter()
            .filter(|u| u.via.iter().any(|v| nested_ids.contains(v)))
            .filter_map(|u| users_by_id.get(u.id.as_str()).copied())
            .filter(|u| u.reason.as_deref() == Some("nested-only"))
            .collect();
        objs.extend(lost.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Warning,
            "nested-group",
            format!(
                "Assigned group \"{}\" contains nested group{} {}: Entra does not provision members of nested groups, so {} only through {} will not be provisioned (assign the nested group itself, or flatten it).",
                g.display_name,
                if nested.len() == 1 { "" } else { "s" },
                nested.iter().map(|n| format!("\"{}\"", n.display_name.clone().unwrap_or_else(|| n.id.clone()))).collect::<Vec<_>>().join(", "),
                plural(lost.len(), "user who reaches the app", "users who reach the app"),
                if nested.len() == 1 { "it" } else { "them" }
            ),
            objs,
        );
    }
    let pred_ids: std::collections::HashSet<&str> = pred
        .impact
        .iter()
        .filter(|u| u.action != UserAction::Skip)
        .map(|u| u.id.as_str())
        .collect();
    for g in groups.iter().filter(|g| g.kind == GroupKind::Microsoft365) {
        let members = pred_members(g, &pred_ids);
        let (sev, what) = if profile.m365_group_members_sync {
            (
                Severity::Info,
                format!(
                    "its {} are provisioned as users and its membership is pushed; check that {} supports it",
                    plural(members, "member", "members"),
                    profile.display_name
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "{} cannot sync members of Microsoft 365 groups, so its {} are provisioned as users but their membership of it will not reach {} (use a security group for sharing)",
                    profile.display_name,
                    plural(members, "member", "members"),
                    profile.display_name
                ),
            )
        };
        f.add(
            sev,
            "m365-group",
            format!(
                "Assigned group \"{}\" is a Microsoft 365 group: {what}.",
                g.display_name
            ),
            vec![ObjectRef::new("group", &g.id, &g.display_name)],
        );
    }
    if let Some(t) = &snap.target {
        let mut by_name: HashMap<String, Vec<&Value>> = HashMap::new();
        for tg in &t.groups {
            if let Some(n) = tg.get("displayName").and_then(Value::as_str) {
                by_name.entry(n.to_lowercase()).or_default().push(tg);
            }
        }
        for g in groups {
            let name = pushed_name(g);
            if let Some(hits) = by_name.get(&name.to_lowercase()) {
                let mut objs = vec![ObjectRef::new("group", &g.id, &g.display_name)];
                for tg in hits {
                    objs.push(ObjectRef::new(
                        "targetGroup",
                        tg.get("id").and_then(Value::as_str).unwrap_or_default(),
                        tg.get("displayName")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ));
                }
                let external = hits
                    .iter()
                    .any(|tg| tg.get("externalId").and_then(Value::as_str) == Some(g.id.as_str()));
                f.add(
                    if external { Severity::Info } else { Severity::Warning },
                    "target-group-name-collision",
                    format!(
                        "The target already has a group named \"{name}\"{}: the custom job matches groups on displayName, takes it over and replaces its members with those of Entra group \"{}\" (rename with --group-map to keep them apart).",
                        if external { " pushed earlier from this Entra group" } else { " that Entra did not create" },
                        g.display_name
                    ),
                    objs,
                );
            }
        }
    }
    let group_assignments: Vec<&crate::snapshot::model::Assignment> = snap
        .app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .collect();
    if !group_assignments.is_empty() {
        f.add(
            Severity::Info,
            "group-assignment-licence",
            format!(
                "{} assigned to the app: assigning groups to the custom app needs Entra ID P1 or P2.",
                plural(group_assignments.len(), "group is", "groups are")
            ),
            group_assignments
                .iter()
                .map(|a| ObjectRef::new("group", &a.principal_id, a.principal_display_name.clone().unwrap_or_default()))
                .collect(),
        );
    }
}

fn setting_findings(
    snap: &Snapshot,
    profile: &Profile,
    opts: &PlanOptions,
    setting: &dyn Fn(&str) -> Option<String>,
    f: &mut Findings,
    scope_all: bool,
) {
    let app = &snap.app;
    let sp = ObjectRef::new("app", &app.service_principal_id, &app.display_name);
    if !opts.profile_detected {
        f.add(
            Severity::Warning,
            "generic-profile",
            format!("No app profile recognises \"{}\": the generic-scim profile is used (pass --profile to choose one).", app.display_name),
            vec![sp.clone()],
        );
    }
    if profile.one_token_at_a_time {
        f.add(
            Severity::Warning,
            "one-token-at-a-time",
            format!(
                "{} allows one SCIM token at a time: generating a new token breaks the gallery app at once, so give the custom app the gallery app's token, or generate a new one only at cutover.",
                profile.display_name
            ),
            vec![sp.clone()],
        );
    }
    match setting("BaseAddress") {
        None => f.add(
            Severity::Warning,
            "base-url-missing",
            format!("The snapshot has no BaseAddress for the gallery app; give the SCIM base URL at apply ({}).", profile.scim_base_url),
            vec![sp.clone()],
        ),
        Some(b) => {
            if let Some(re) = profile.scim_base_url_match.as_deref().and_then(|r| regex::Regex::new(r).ok()) && !re.is_match(&b) {
                f.add(
                    Severity::Warning,
                    "base-url-unexpected",
                    format!("The gallery app's BaseAddress {b} does not look like a {} SCIM URL ({}).", profile.display_name, profile.scim_base_url),
                    vec![sp.clone()],
                );
            }
            if !profile.scim_base_url_verified {
                f.add(
                    Severity::Info,
                    "base-url-unverified",
                    format!(
                        "The custom app reuses the gallery app's BaseAddress {b}; the profile's pattern {} is not confirmed by a public source, so check it against {}'s admin console.",
                        profile.scim_base_url, profile.display_name
                    ),
                    vec![sp.clone()],
                );
            }
        }
    }
    if opts.keep_gallery_sso {
        f.add(
            Severity::Info,
            "gallery-sso-kept",
            format!("SAML SSO stays on the gallery app \"{}\"; only its provisioning job is paused, never deleted.", app.display_name),
            vec![sp.clone()],
        );
    } else {
        f.add(
            Severity::Warning,
            "gallery-sso-not-kept",
            format!(
                "--keep-gallery-sso=false: move SAML SSO to the custom app by hand after verify; this plan does not delete the gallery app \"{}\".",
                app.display_name
            ),
            vec![sp.clone()],
        );
    }
    if scope_all {
        f.add(
            Severity::Warning,
            "sync-all",
            "--scope all: the custom job provisions every user in the directory, not only assigned ones.".into(),
            vec![],
        );
    }
    if setting("SyncAll").is_some_and(|v| v.eq_ignore_ascii_case("true")) && !scope_all {
        f.add(
            Severity::Warning,
            "gallery-sync-all",
            "The gallery job syncs all users (SyncAll=true) but the custom app will sync only assigned ones: users not assigned will not be provisioned by it.".into(),
            vec![sp.clone()],
        );
    }
    if snap.target.is_none() {
        f.add(
            Severity::Warning,
            "no-target-snapshot",
            "The snapshot holds no target contents (take it with --scim-url): matches, duplicates and orphans cannot be predicted, every user shows as a create.".into(),
            vec![],
        );
    }
    if app.jobs.len() > 1 {
        f.add(
            Severity::Info,
            "multiple-jobs",
            format!(
                "The gallery app has {} provisioning jobs; the plan migrates the first one.",
                app.jobs.len()
            ),
            app.jobs
                .iter()
                .map(|j| ObjectRef::new("job", &j.id, &j.template_id))
                .collect(),
        );
    }
    if !profile.notes.trim().is_empty() {
        f.add(
            Severity::Info,
            "profile-notes",
            profile.notes.trim().replace('\n', " "),
            vec![],
        );
    }
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
        .filter(|u| u.action != UserAction::Skip)
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
fn pred_members(g: &GroupSnapshot, provisioned: &std::collections::HashSet<&str>) -> usize {
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
        .filter(|u| u.action != UserAction::Skip)
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
