//! `scimshift snapshot --app … --out …`: flags and credentials in, a sealed
//! snapshot file out, its summary on stdout. The capture itself is
//! `crate::snapshot::capture`; `snapshot diff` is `crate::snapshot::diff::run`.

use crate::cli::SnapshotArgs;
use crate::context::Context;
use crate::error::{Result, exit};
use crate::snapshot::summary::Summary;

pub async fn capture(ctx: &Context, args: &SnapshotArgs) -> Result<i32> {
    let app = super::required(&args.app, "--app")?;
    let out = super::required(&args.out, "--out")?;
    let extra = crate::snapshot::capture::check_user_properties(&args.user_properties)?;
    // Check every URL and read every credential before the first request.
    let (graph, notes) = super::credentials::graph(&args.graph)?;
    super::print_notes(&notes);
    let graph = graph.client()?;
    let scim = match &args.scim.scim_url {
        Some(_) => Some(super::credentials::scim(ctx, &args.scim)?.client()?),
        None => None,
    };
    let progress = super::progress::observer(ctx);
    let mut snap = crate::snapshot::capture::capture_unsealed(
        &graph,
        app,
        scim.as_ref(),
        &extra,
        progress.as_ref(),
    )
    .await?;
    crate::output::write_private_file_with(out, |f| snap.seal_and_write(f))?;
    let summary = Summary::of(&snap, Some(out));
    if ctx.json() {
        crate::output::print_json(&summary);
    } else {
        print!("{}", crate::text::for_terminal(&summary.render_text()));
    }
    // The process ends here: freeing a million users' attributes one by one
    // took 3.5 s of a 1,000,000-user snapshot's 88 s; the OS takes it back at once.
    std::mem::forget(snap);
    Ok(exit::OK)
}
