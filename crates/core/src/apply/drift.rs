//! The stale-plan check: before apply's first write, capture the gallery app
//! and the target again and ask whether the planner would decide the same
//! now. The planner is pure, so this is a re-plan: when the plan's options
//! can be rebuilt (the old snapshot re-plans to the very same digest), a
//! fresh plan whose steps and per-user predictions equal the saved plan's is
//! no drift, whatever else changed (a job's timestamps). When they cannot
//! (a `--group-map` file, a profile from a path), every change between the
//! two snapshots counts. Either way the refusal lists what changed.

use crate::error::{Error, Result};
use crate::graph::GraphClient;
use crate::plan::model::Plan;
use crate::plan::options::{PlanOptions, Scope};
use crate::progress::Observer;
use crate::scim::ScimClient;
use crate::snapshot::model::Snapshot;

/// The options the plan was made with, as far as the plan records them.
pub fn options_of(plan: &Plan) -> PlanOptions {
    PlanOptions {
        custom_app_name: Some(plan.app.custom_app_name.clone()),
        keep_gallery_sso: plan.app.keep_gallery_sso,
        pilot_group: plan.app.pilot_group.clone(),
        group_map: group_renames_of(plan),
        scope: if plan.app.scope == "all" {
            Scope::All
        } else {
            Scope::Assigned
        },
        profile_detected: true,
    }
}

/// The `--group-map` renames the plan was made with, as its schema step
/// records them (`details.transform`: `{"object":"group","op":"rename",
/// "renames":[{"from","to"}]}`), so that a re-plan pushes the same names.
fn group_renames_of(plan: &Plan) -> Vec<(String, String)> {
    plan.steps
        .iter()
        .filter_map(|s| s.details.get("transform")?.as_array())
        .flatten()
        .filter(|t| t["object"] == "group" && t["op"] == "rename")
        .filter_map(|t| t.get("renames")?.as_array())
        .flatten()
        .filter_map(|r| {
            Some((
                r["from"].as_str()?.to_string(),
                r["to"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Whether the plan was made with `--no-extra-matching`.
fn extra_of(plan: &Plan) -> crate::plan::ExtraMatching {
    if plan.app.extra_matching {
        crate::plan::ExtraMatching::Propose
    } else {
        crate::plan::ExtraMatching::Off
    }
}

/// Refuse a snapshot that is not the one the plan was made from.
pub fn check_snapshot(plan: &Plan, snap: &Snapshot, origin: &str) -> Result<()> {
    if snap.digest != plan.snapshot_digest {
        return Err(Error::input(format!(
            "{origin} is not the snapshot this plan was made from (its digest is {}, the plan's is {}): give the snapshot the plan was made from",
            snap.digest, plan.snapshot_digest
        )));
    }
    Ok(())
}

/// Re-plan `snap` as the saved plan was made; `None` when that does not
/// give the saved plan back.
fn replan(plan: &Plan, snap: &Snapshot, profile_spec: Option<&str>) -> Option<Plan> {
    let spec = profile_spec.unwrap_or(&plan.app.profile);
    let (profile, _) = crate::plan::choose_profile(snap, Some(spec)).ok()?;
    let mut opts = options_of(plan);
    for detected in [true, false] {
        opts.profile_detected = detected;
        if let Ok(p) = crate::plan::build_with(snap, &profile, &opts, extra_of(plan))
            && p.plan_digest == plan.plan_digest
        {
            return Some(p);
        }
    }
    None
}

/// What changed since the snapshot that matters to the plan; empty = apply may go on.
pub async fn stale(
    plan: &Plan,
    old: &Snapshot,
    graph: &GraphClient,
    scim: Option<&ScimClient>,
    profile_spec: Option<&str>,
    progress: &dyn Observer,
) -> Result<Vec<String>> {
    let fresh = crate::snapshot::capture::capture_with(
        graph,
        &plan.app.gallery_service_principal_id,
        scim,
        progress,
    )
    .await?;
    let changes = crate::snapshot::diff::diff(old, &fresh);
    let lines = || -> Vec<String> {
        changes
            .render_text(50)
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    };
    let Some(saved) = replan(plan, old, profile_spec) else {
        // The options cannot be rebuilt: any change counts.
        return Ok(if changes.count() == 0 {
            vec![]
        } else {
            lines()
        });
    };
    let opts = options_of(plan);
    let spec = profile_spec.unwrap_or(&plan.app.profile);
    let (profile, _) = crate::plan::choose_profile(&fresh, Some(spec))?;
    let mut now = crate::plan::build_with(&fresh, &profile, &opts, extra_of(plan))?;
    now.snapshot_digest = saved.snapshot_digest.clone();
    let same_steps = now.steps == saved.steps;
    let same_impact = now.impact == saved.impact;
    let same_groups = now.group_impact == saved.group_impact;
    if same_steps && same_impact && same_groups {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    if !same_steps {
        let differ: Vec<&str> = saved
            .steps
            .iter()
            .filter(|s| !now.steps.iter().any(|n| n == *s))
            .map(|s| s.id.as_str())
            .collect();
        out.push(format!(
            "the plan's steps would now differ: {}",
            differ.join(", ")
        ));
    }
    if !same_impact {
        let n = saved
            .impact
            .iter()
            .filter(|u| !now.impact.contains(u))
            .count()
            + now.impact.len().saturating_sub(saved.impact.len());
        out.push(format!("the predictions for {n} users would now differ"));
    }
    if !same_groups {
        let n = saved
            .group_impact
            .iter()
            .filter(|g| !now.group_impact.contains(g))
            .count()
            + now
                .group_impact
                .len()
                .saturating_sub(saved.group_impact.len());
        out.push(format!("the predictions for {n} groups would now differ"));
    }
    out.extend(lines());
    Ok(out)
}
