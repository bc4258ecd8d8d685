//! `scimshift doctor`: flags in, the checks of `crate::doctor` run, one line
//! per check (✓/✗ and a sentence) or one JSON document out; exit 1 when any
//! check fails. A check that cannot even start (no credentials, a bad URL)
//! is itself a ✗ line, so the admin sees every problem in one run.

use crate::cli::DoctorArgs;
use crate::context::Context;
use crate::doctor::{self, Check, DoctorOptions};
use crate::error::{Result, exit};
use console::style;

pub async fn doctor(ctx: &Context, args: &DoctorArgs) -> Result<i32> {
    let opts = DoctorOptions {
        app: args.app.clone(),
        purpose: args.purpose,
        max_skew_seconds: 300,
    };
    let mut checks = Vec::new();
    let progress = super::progress::observer(ctx);
    let spinner = crate::progress::Task::start(progress.as_ref(), "checking", None);
    match super::credentials::graph(&args.graph).and_then(|(g, notes)| Ok((g.client()?, notes))) {
        Ok((graph, notes)) => {
            super::print_notes(&notes);
            checks.extend(doctor::graph_checks(&graph, &opts).await);
        }
        Err(e) => checks.push(Check::fail("sign-in", e.to_string())),
    }
    if args.scim.scim_url.is_some() {
        match super::credentials::scim(ctx, &args.scim).and_then(|t| t.client()) {
            Ok(scim) => checks.extend(doctor::scim_checks(&scim).await),
            Err(e) => checks.push(Check::fail("SCIM target", e.to_string())),
        }
    }
    spinner.finish();
    let ok = checks.iter().all(|c| c.ok);
    if ctx.json() {
        crate::output::print_json(&serde_json::json!({"ok": ok, "checks": checks}));
    } else {
        for c in &checks {
            let mark = if c.ok {
                style("✓").green().to_string()
            } else {
                style("✗").red().bold().to_string()
            };
            println!("{mark} {:<17} {}", c.name, c.detail);
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        if failed > 0 {
            println!("\n{failed} check(s) failed: fix them before the change window.");
        }
    }
    Ok(if ok { exit::OK } else { exit::ERROR })
}
