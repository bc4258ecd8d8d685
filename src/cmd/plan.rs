//! `scimshift plan` and `show`: flags in, the plan printed (text or JSON) and
//! written (`--out`, `--report`), exit 2 when it has changes. Planning itself
//! is `crate::plan::build`, a pure function of the snapshot, profile and options.

use crate::cli::{PlanArgs, ScopeArg, ShowArgs};
use crate::context::Context;
use crate::error::{Result, exit};
use crate::plan::{
    ExtraMatching, Plan, PlanOptions, Scope, build_with, choose_profile, read_group_map,
    render_text, write_report,
};
use crate::snapshot::model::Snapshot;

pub fn plan(ctx: &Context, args: &PlanArgs) -> Result<i32> {
    let mut outputs = Vec::new();
    if let Some(p) = &args.out {
        outputs.push(("--out", p.as_path()));
    }
    if let Some(p) = &args.report {
        outputs.push(("--report", p.as_path()));
    }
    let mut inputs = vec![("--snapshot", args.snapshot.as_path())];
    if let Some(p) = &args.group_map {
        inputs.push(("--group-map", p.as_path()));
    }
    crate::output::refuse_overlap(&outputs, &inputs)?;
    let snap = Snapshot::load(&args.snapshot)?;
    let (profile, detected) = choose_profile(&snap, args.profile.as_deref())?;
    if !detected {
        eprintln!(
            "warning: no app profile recognises \"{}\"; using generic-scim (pass --profile to choose one)",
            snap.app.display_name
        );
    }
    let group_map = match &args.group_map {
        Some(p) => read_group_map(p)?,
        None => Vec::new(),
    };
    let opts = PlanOptions {
        custom_app_name: args.custom_app_name.clone(),
        keep_gallery_sso: args.keep_gallery_sso,
        pilot_group: args.pilot_group.clone(),
        group_map,
        scope: match args.scope {
            ScopeArg::Assigned => Scope::Assigned,
            ScopeArg::All => Scope::All,
        },
        profile_detected: detected,
    };
    let extra = if args.no_extra_matching {
        ExtraMatching::Off
    } else {
        ExtraMatching::Propose
    };
    let plan = build_with(&snap, &profile, &opts, extra)?;
    if let Some(out) = &args.out {
        crate::output::write_private_file_with(out, |f| plan.write_to(f))?;
    }
    if let Some(report) = &args.report {
        write_report(&plan, report)?;
    }
    if ctx.json() {
        crate::output::print_json(&plan);
    } else {
        print!("{}", crate::text::for_terminal(&render_text(&plan)));
        if let Some(out) = &args.out {
            println!(
                "Saved the plan to {}; review it with `scimshift show {}`.",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

pub fn show(ctx: &Context, args: &ShowArgs) -> Result<i32> {
    let plan = Plan::load(&args.plan)?;
    if ctx.json() {
        crate::output::print_json(&plan);
    } else {
        print!("{}", crate::text::for_terminal(&render_text(&plan)));
    }
    Ok(exit::OK)
}
