//! `scimshift verify PLAN.json [--snapshot S] [--csv OUT.csv]`: flags and
//! credentials in; the parity table (or the report as JSON) out, the
//! per-object CSV written (0600), the result journaled beside the plan
//! (`PLAN.journal.jsonl`, so `status` shows it), exit 0 when verify passes,
//! else 1 with one sentence naming the worst failure. What is compared is
//! `crate::verify`.

use crate::cli::VerifyArgs;
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::journal::{Journal, Record};
use crate::plan::Plan;
use crate::verify::{Before, Readers};

pub async fn verify(ctx: &Context, args: &VerifyArgs) -> Result<i32> {
    // Every input checked before the first request.
    let plan = Plan::load(&args.plan)?;
    if let Some(csv) = &args.csv {
        let dir = csv
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--csv {}: the folder {} does not exist",
                csv.display(),
                dir.display()
            )));
        }
    }
    // What apply journaled (the custom app's ids, the custom job's start);
    // a journal of another plan is refused before anything is read.
    let records = crate::journal::read(&args.plan)?;
    if let Some(d) = crate::journal::bound_digest(&records)
        && d != plan.plan_digest
    {
        return Err(Error::input(format!(
            "{} belongs to another plan (digest {d}, this plan is {}): verify the plan it was written for",
            crate::journal::path_for(&args.plan).display(),
            plan.plan_digest
        )));
    }
    let opts = crate::verify::options_from_journal(&records);
    let before = match &args.snapshot {
        Some(p) => Before::read(p, &plan)?,
        None => Before::none(),
    };
    let mut scim_args = args.scim.clone();
    if scim_args.scim_url.is_none() {
        scim_args.scim_url = before.target_base_url.clone();
    }
    if scim_args.scim_url.is_none() {
        return Err(Error::usage(
            "--scim-url is required (the target's SCIM base URL), unless --snapshot names a snapshot taken with one",
        ));
    }
    let (graph, notes) = super::credentials::graph(&args.graph)?;
    super::print_notes(&notes);
    let graph = graph.client()?;
    let scim = super::credentials::scim(ctx, &scim_args)?.client()?;
    let progress = super::progress::observer(ctx);
    let report = crate::verify::verify(
        &plan,
        &before,
        Readers {
            graph: &graph,
            scim: &scim,
        },
        &opts,
        progress.as_ref(),
    )
    .await?;
    if let Some(csv) = &args.csv {
        report.write_csv(csv)?;
    }
    let (mut journal, _) = Journal::open(&args.plan, &plan.plan_digest)?;
    journal.append(&Record::Started {
        at: crate::journal::now(),
        command: "verify".into(),
        plan_digest: plan.plan_digest.clone(),
        by: crate::journal::operator(),
        pid: std::process::id(),
    })?;
    journal.append(&crate::verify::journal_record(&report))?;
    journal.append(&Record::Finished {
        at: crate::journal::now(),
        command: "verify".into(),
        outcome: match &report.worst {
            None => "done".into(),
            Some(w) => format!("failed: {w}"),
        },
    })?;
    if ctx.json() {
        crate::output::print_json(&report);
    } else {
        print!("{}", crate::text::for_terminal(&report.render_text()));
        if let Some(csv) = &args.csv {
            println!("Wrote one row per user and group to {}.", csv.display());
        }
    }
    match &report.worst {
        None => Ok(exit::OK),
        Some(sentence) => Err(Error::remote(sentence.clone())),
    }
}
