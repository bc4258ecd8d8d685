//! The planner proper: a pure function of (snapshot, profile, options) that
//! returns the ordered steps (built by `steps`), the findings and the
//! per-user impact, sealed with the plan's digest. No I/O, no clock, no
//! randomness: the same input gives the same plan, byte for byte. Here: pick
//! the gallery job, resolve the groups (`--group-map`, `--pilot-group`),
//! build the custom schema and the prediction, gather findings, estimate.

use super::custom_schema::{self, CustomSchema};
use super::findings::{
    Findings, capture_findings, group_findings, group_name_findings, plural, setting_findings,
    user_findings,
};
use super::impact::{self, Prediction};
use super::matching;
use super::model::*;
use super::options::{ExtraMatching, PlanOptions, Scope};
use super::profile::Profile;
use super::steps::{self, BATCH_SIZE, StepInputs};
use crate::error::{Error, Result};
use crate::mapping::schema::Mappings;
use crate::snapshot::model::{GroupSnapshot, JobSnapshot, Snapshot};
use std::collections::{BTreeMap, HashMap};

/// The non-gallery template in the global cloud (US Gov and China have their own; see `template_id`).
pub use crate::graph::cloud::GLOBAL_NON_GALLERY_TEMPLATE_ID as NON_GALLERY_TEMPLATE_ID;
/// Graph writes per app and tenant: 3,000 per 150 s.
pub const WRITE_LIMIT: usize = 3000;
pub const WRITE_WINDOW_S: usize = 150;

/// Pick the gallery job to migrate: the first non-`scim` job, else the first.
fn gallery_job(snap: &Snapshot) -> Option<&JobSnapshot> {
    snap.app
        .jobs
        .iter()
        .find(|j| !j.template_id.starts_with("scim"))
        .or(snap.app.jobs.first())
}

/// The assigned groups as the custom job will push them.
struct Groups<'a> {
    assigned: Vec<&'a GroupSnapshot>,
    by_id: HashMap<&'a str, &'a GroupSnapshot>,
    pilot: Option<&'a GroupSnapshot>,
    /// `--group-map` renames of assigned groups, `(display name, pushed name)`.
    renames: Vec<(String, String)>,
    /// Pushed name (lower case) → the groups pushed under it.
    by_pushed: BTreeMap<String, Vec<&'a GroupSnapshot>>,
}

impl Groups<'_> {
    fn pushed_name(&self, g: &GroupSnapshot) -> String {
        self.renames
            .iter()
            .find(|(f, _)| *f == g.display_name)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| g.display_name.clone())
    }
}

/// Assigned groups, `--pilot-group` (must be one of them) and `--group-map`
/// (unknown names and merges are findings).
fn resolve_groups<'a>(
    snap: &'a Snapshot,
    opts: &PlanOptions,
    f: &mut Findings,
) -> Result<Groups<'a>> {
    let app = &snap.app;
    // The groups the custom job pushes: the assigned ones, or, with "Sync all
    // users and groups", every group the snapshot read (it reads all of them
    // when the gallery job syncs all).
    let assigned_ids: std::collections::HashSet<&str> = app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .map(|a| a.principal_id.as_str())
        .collect();
    let assigned: Vec<&GroupSnapshot> = snap
        .groups
        .iter()
        .filter(|g| opts.scope == Scope::All || assigned_ids.contains(g.id.as_str()))
        .collect();
    let by_id = snap.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let pilot = match &opts.pilot_group {
        None => None,
        Some(p) => Some(
            *assigned
                .iter()
                .find(|g| g.id == *p || g.display_name.eq_ignore_ascii_case(p))
                .ok_or_else(|| {
                    let names: Vec<&str> = assigned.iter().map(|g| g.display_name.as_str()).collect();
                    Error::input(format!(
                        "--pilot-group \"{p}\" is not a group assigned to \"{}\"; assigned groups: {}",
                        app.display_name,
                        if names.is_empty() { "none".into() } else { crate::text::names_list(&names, 10) }
                    ))
                })?,
        ),
    };
    let mut renames: Vec<(String, String)> = Vec::new();
    for (from, to) in &opts.group_map {
        match assigned.iter().find(|g| g.display_name.eq_ignore_ascii_case(from)) {
            Some(g) => renames.push((g.display_name.clone(), to.clone())),
            None => f.add(
                Severity::Warning,
                "group-map-unknown",
                format!("--group-map renames \"{from}\", which is not a group assigned to \"{}\"; the line is ignored.", app.display_name),
                vec![ObjectRef::new("group", "", from)],
            ),
        }
    }
    let mut groups = Groups {
        assigned,
        by_id,
        pilot,
        renames,
        by_pushed: BTreeMap::new(),
    };
    for g in groups.assigned.clone() {
        let name = groups.pushed_name(g).to_lowercase();
        groups.by_pushed.entry(name).or_default().push(g);
    }
    for gs in groups.by_pushed.values().filter(|v| v.len() > 1) {
        f.add(
            Severity::Warning,
            "group-merge",
            format!(
                "{} Entra groups are pushed under one name, \"{}\": Entra matches them to the same target group and each one's membership updates overwrite the other's.",
                gs.len(),
                groups.pushed_name(gs[0])
            ),
            gs.iter().map(|g| ObjectRef::new("group", &g.id, &g.display_name)).collect(),
        );
    }
    Ok(groups)
}

/// The custom schema and its mappings; unreadable expressions are errors,
/// unsupported functions findings.
fn custom_schema_of(
    job: &JobSnapshot,
    profile: &Profile,
    groups: &Groups,
    f: &mut Findings,
) -> Result<(CustomSchema, Mappings)> {
    let cs = custom_schema::build(&job.schema, profile, &groups.renames)
        .map_err(|e| Error::input(format!("cannot build the custom app's schema: {e}")))?;
    let maps = Mappings::from_schema(&cs.body).map_err(|e| {
        Error::input(format!(
            "the profile \"{}\" has an expression scimshift cannot read: {e}",
            profile.name
        ))
    })?;
    if maps.user.is_none() {
        return Err(Error::internal("the custom schema lost its User mapping"));
    }
    for a in maps
        .user
        .iter()
        .chain(maps.group.iter())
        .flat_map(|m| m.attributes.iter())
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
    Ok((cs, maps))
}

/// The plan's `app` block.
fn plan_app(
    snap: &Snapshot,
    job: &JobSnapshot,
    profile: &Profile,
    opts: &PlanOptions,
    custom_name: &str,
    extra: ExtraMatching,
) -> PlanApp {
    PlanApp {
        gallery_service_principal_id: snap.app.service_principal_id.clone(),
        gallery_display_name: snap.app.display_name.clone(),
        gallery_job_id: job.id.clone(),
        custom_app_name: custom_name.to_string(),
        profile: profile.name.clone(),
        scope: if opts.scope == Scope::All {
            "all"
        } else {
            "assigned"
        }
        .into(),
        keep_gallery_sso: opts.keep_gallery_sso,
        pilot_group: opts.pilot_group.clone(),
        extra_matching: extra == ExtraMatching::Propose,
    }
}

/// `groups-pushed`, the assignments' findings and `no-pilot-group`.
fn cutover_findings(
    snap: &Snapshot,
    profile: &Profile,
    gallery_maps: &Mappings,
    custom_maps: &Mappings,
    groups: &Groups,
    f: &mut Findings,
) {
    if !gallery_maps.pushes_groups() && custom_maps.pushes_groups() && !groups.assigned.is_empty() {
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
                plural(groups.by_pushed.len(), "assigned group", "assigned groups")
            ),
            groups.assigned.iter().map(|g| ObjectRef::new("group", &g.id, &g.display_name)).collect(),
        );
    }
    steps::assignments::findings(snap, f);
    if groups.pilot.is_none() {
        f.add(
            Severity::Info,
            "no-pilot-group",
            "No --pilot-group was given: the custom job's first cycle is the first test; name a small assigned group to provision it on demand right after cutover.".into(),
            vec![],
        );
    }
}

/// Build the plan, adding a secondary matching attribute where it prevents
/// duplicates safely.
pub fn build(snap: &Snapshot, profile: &Profile, opts: &PlanOptions) -> Result<Plan> {
    build_with(snap, profile, opts, ExtraMatching::Propose)
}

/// Build the plan; `extra` is `Off` with `--no-extra-matching`.
pub fn build_with(
    snap: &Snapshot,
    profile: &Profile,
    opts: &PlanOptions,
    extra: ExtraMatching,
) -> Result<Plan> {
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
    let plan_app = plan_app(snap, job, profile, opts, &custom_name, extra);

    // Already on a custom app that pushes groups: nothing to do.
    if app.application_template_id.as_deref() == Some(template_id)
        && job.template_id.starts_with("scim")
        && gallery_maps.pushes_groups()
    {
        f.add(
            Severity::Info,
            "already-custom",
            format!("\"{}\" is already a custom (non-gallery) app whose job pushes groups: there is nothing to migrate.", app.display_name),
            vec![ObjectRef::new("app", &app.service_principal_id, &app.display_name)],
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

    let groups = resolve_groups(snap, opts, &mut f)?;
    let (cs, custom_maps) = custom_schema_of(job, profile, &groups, &mut f)?;
    let scope_all = opts.scope == Scope::All;
    let pred: Prediction = impact::predict(
        snap,
        custom_maps
            .user
            .as_ref()
            .expect("checked by custom_schema_of"),
        gallery_maps.user.as_ref(),
        scope_all,
    );
    // A secondary matching attribute when it prevents duplicates safely.
    let matched = matching::propose(
        snap,
        &job.schema,
        gallery_maps.user.as_ref(),
        cs,
        custom_maps,
        pred,
        scope_all,
        extra == ExtraMatching::Propose,
    );
    matching::findings(snap, &matched, profile, &mut f);
    let matching::Outcome {
        schema: cs,
        maps: custom_maps,
        pred,
        ..
    } = matched;
    let cu = custom_maps
        .user
        .as_ref()
        .expect("checked by custom_schema_of");
    user_findings(snap, &pred, &mut f, &cs, cu);
    capture_findings(
        snap,
        &[
            ("The custom job", &cs.body),
            ("The gallery job", &job.schema),
        ],
        &mut f,
    );
    let pushed_name = |g: &GroupSnapshot| groups.pushed_name(g);
    group_findings(
        snap,
        &groups.assigned,
        &groups.by_id,
        &pred,
        profile,
        &pushed_name,
        &mut f,
    );
    group_name_findings(
        &groups.assigned,
        custom_maps.group.as_ref(),
        &pushed_name,
        &mut f,
    );
    setting_findings(snap, profile, opts, &setting, &mut f, scope_all);
    cutover_findings(snap, profile, &gallery_maps, &custom_maps, &groups, &mut f);

    let inputs = StepInputs {
        snap,
        job,
        template_id,
        custom_name: &custom_name,
        scope_all,
        schema: &cs,
        custom_maps: &custom_maps,
        pred: &pred,
        pilot: groups.pilot.map(|g| (g, groups.pushed_name(g))),
        pushed: if custom_maps.pushes_groups() {
            groups
                .by_pushed
                .values()
                .map(|v| groups.pushed_name(v[0]))
                .collect()
        } else {
            vec![]
        },
    };
    let steps = steps::all(&inputs);
    let est = estimate_with_findings(
        &steps,
        snap,
        &pred,
        &groups.assigned,
        custom_maps.pushes_groups(),
        &mut f,
    );
    let group_impact = if custom_maps.pushes_groups() {
        // With SyncAll every group is in the job's scope, assigned or not.
        let all: Vec<&GroupSnapshot> = if scope_all {
            snap.groups.iter().collect()
        } else {
            groups.assigned.clone()
        };
        let pushed: Vec<(&GroupSnapshot, String, bool)> = all
            .into_iter()
            .map(|g| {
                let name = groups.pushed_name(g);
                let merged = groups
                    .by_pushed
                    .get(&name.to_lowercase())
                    .is_some_and(|v| v.len() > 1);
                (g, name, merged)
            })
            .collect();
        impact::group_impact(snap, &pushed, &pred.impact)
    } else {
        Vec::new()
    };
    let mut plan = finish(snap, plan_app, steps, f, pred.impact, est);
    if !group_impact.is_empty() {
        plan.group_impact = group_impact;
        plan.seal();
    }
    let problems = super::placeholder::check(&plan);
    if !problems.is_empty() {
        return Err(Error::internal(format!(
            "the plan is not executable: {}",
            problems.join("; ")
        )));
    }
    Ok(plan)
}

/// The estimate, and the `first-cycle-estimate` and `graph-write-budget` findings.
fn estimate_with_findings(
    steps: &[Step],
    snap: &Snapshot,
    pred: &Prediction,
    groups: &[&GroupSnapshot],
    pushes: bool,
    f: &mut Findings,
) -> Estimate {
    let writes: usize = steps
        .iter()
        .flat_map(|s| s.requests.iter())
        .map(Request::graph_writes)
        .sum();
    let step = |id: &str| steps.iter().find(|s| s.id == id);
    let pod_calls = step("pilot-on-demand").map_or(0, |s| s.requests.len());
    let n_assign = step("assignments").map_or(0, |s| s.count);
    let est = estimate(snap, pred, groups, pushes, writes, pod_calls);
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
    est
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
    let provisioned = impact::Provisioned::new(snap, &pred.impact);
    let (n_groups, memberships) = if pushes {
        (
            groups.len(),
            groups
                .iter()
                .map(|g| provisioned.members_of(g).count())
                .sum(),
        )
    } else {
        (0, 0)
    };
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
    let mut plan = Plan {
        format: FORMAT.into(),
        plan_digest: String::new(),
        snapshot_digest: snap.digest.clone(),
        app,
        summary,
        steps,
        findings,
        estimate,
        impact,
        group_impact: Vec::new(),
    };
    plan.seal();
    plan
}
