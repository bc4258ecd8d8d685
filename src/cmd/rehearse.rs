//! `scimshift rehearse`: flags in, [`crate::rehearse`] run, the agreement
//! table printed (or JSON), disagreements to `--csv`, the report to
//! `--report`, exit 1 on any disagreement.

use crate::cli::{RehearseArgs, RehearseMapping};
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::plan::model::Plan;
use crate::snapshot::model::Snapshot;

pub async fn rehearse(ctx: &Context, args: &RehearseArgs) -> Result<i32> {
    // Everything that can be refused is refused before the twin starts.
    let plan = Plan::load(&args.plan)?;
    let snap = Snapshot::load(&args.snapshot)?;
    for (flag, p) in [("--csv", &args.csv), ("--report", &args.report)] {
        let dir = p
            .as_ref()
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(Error::usage(format!(
                "{flag} {}: its folder does not exist",
                p.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )));
        }
    }
    let faults = match &args.faults {
        Some(spec) => Some(
            crate::twin::faults::Faults::parse(spec)
                .map_err(|e| Error::usage(format!("--faults: {}", e.message)))?,
        ),
        None => None,
    };
    let opts = crate::rehearse::Options {
        profile: args.profile.as_deref(),
        mapping: match args.mapping {
            RehearseMapping::Plan => crate::rehearse::Mapping::Plan,
            RehearseMapping::Default => crate::rehearse::Mapping::Default,
        },
        faults,
    };
    let r = crate::rehearse::rehearse(&args.plan, &plan, &snap, opts).await?;
    if let Some(p) = &args.csv {
        crate::output::write_private_file(p, &r.disagreements_csv())?;
    }
    if let Some(p) = &args.report {
        crate::output::write_private_file(
            p,
            crate::text::clean_lines(&r.render_markdown()).as_bytes(),
        )?;
    }
    if ctx.json() {
        crate::output::print_json(&r);
    } else {
        print!("{}", crate::text::for_terminal(&r.render_text()));
    }
    Ok(if r.disagreements == 0 {
        exit::OK
    } else {
        exit::ERROR
    })
}
