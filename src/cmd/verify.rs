//! `scimshift verify PLAN.json [--snapshot S] [--csv OUT.csv]`: flags and
//! credentials in; the parity table (or the report as JSON) out, the
//! per-object CSV written (0600), exit 0 when verify passes, else 1 with one
//! sentence naming the worst failure. What is compared is `crate::verify`.

use crate::cli::VerifyArgs;
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::plan::Plan;
use crate::verify::{Before, Readers, VerifyOptions};

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
    let opts = VerifyOptions::default();
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
    if ctx.json() {
        crate::output::print_json(&report);
    } else {
        print!("{}", report.render_text());
        if let Some(csv) = &args.csv {
            println!("Wrote one row per user and group to {}.", csv.display());
        }
    }
    match &report.worst {
        None => Ok(exit::OK),
        Some(sentence) => Err(Error::remote(sentence.clone())),
    }
}
