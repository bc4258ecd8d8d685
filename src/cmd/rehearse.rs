//! `scimshift rehearse`: flags in, [`crate::rehearse`] run, the agreement
//! table printed (or JSON), disagreements to `--csv`, exit 1 on any.

use crate::cli::RehearseArgs;
use crate::context::Context;
use crate::error::{Result, exit};
use crate::plan::model::Plan;
use crate::snapshot::model::Snapshot;

pub async fn rehearse(ctx: &Context, args: &RehearseArgs) -> Result<i32> {
    // Everything that can be refused is refused before the twin starts.
    let plan = Plan::load(&args.plan)?;
    let snap = Snapshot::load(&args.snapshot)?;
    if let Some(p) = &args.csv {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(crate::error::Error::usage(format!(
                "--csv {}: its folder does not exist",
                p.display()
            )));
        }
    }
    let r = crate::rehearse::rehearse(&args.plan, &plan, &snap, args.profile.as_deref()).await?;
    if let Some(p) = &args.csv {
        crate::output::write_private_file(p, &r.disagreements_csv())?;
    }
    if ctx.json() {
        crate::output::print_json(&r);
    } else {
        print!("{}", r.render_text());
    }
    Ok(if r.disagreements == 0 {
        exit::OK
    } else {
        exit::ERROR
    })
}
