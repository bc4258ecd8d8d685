//! `users import --to entra`: create the file's users in Entra ID through
//! Graph `$batch`, add them to the groups named in `Group<N>` columns, and
//! optionally assign them to an app (`--assign-app`). Same validation, plan,
//! confirmation and results file as the SCIM path.
//!
//! The user principal name is the row's email (JumpCloud usernames such as
//! `avery.stone` are not UPNs), or the user name when it is already one.
//! Passwords from the file are never sent: each new user gets a random
//! password it must change at first sign-in, which is never shown or stored
//! (use SSPR or a Temporary Access Pass to onboard). Groups must already exist.
//!
//! The parts: `state` (read the tenant), `body` (a row's UPN and Graph body),
//! `plan` (rows against the tenant, pure), `write` (`$batch` creates, then
//! memberships and assignments), `report` (plan, results files, closing line).

pub mod body;
pub mod plan;
pub mod report;
pub mod state;
pub mod write;

use super::model::UserRow;
use crate::error::{Error, Result, exit};
use crate::graph::GraphClient;
use serde_json::Value;

/// What happens to one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntraRow {
    pub line: usize,
    pub upn: String,
    /// `create`, `exists`, `skip`, `invalid`.
    pub action: &'static str,
    pub id: Option<String>,
    /// Groups to add the user to (those it is not yet a member of are all added; Graph answers 400 for duplicates, counted as done).
    pub groups: Vec<String>,
    pub assign: bool,
    #[serde(skip)]
    pub body: Option<Value>,
}

/// Plan and (unless dry run) apply. `rows`/`invalid` come from validation.
pub async fn run(
    ctx: &crate::context::Context,
    g: &GraphClient,
    args: &super::import::ImportOptions,
    file: &str,
    table: &super::read::RawTable,
    validated: &super::validate::Validated,
) -> Result<i32> {
    let rows: &[UserRow] = &validated.rows;
    let state = state::read(g, rows, &validated.invalid, args.assign_app.as_deref()).await?;
    let (mut plan, diags) = plan::build(rows, &validated.invalid, &state);
    for d in &diags {
        eprintln!("{}", d.render(file));
    }
    if !diags.is_empty() && !args.skip_invalid {
        return Err(Error::input(format!(
            "{} problem(s) in {file} found against Entra; nothing was sent",
            diags.len()
        )));
    }
    plan::drop_bad_lines(&mut plan, &diags);
    let counts = plan::Counts::of(&plan);
    report::print_plan(
        ctx,
        g,
        &plan,
        counts,
        args.dry_run,
        args.assign_app.as_deref(),
    );
    if args.dry_run || !counts.changes() {
        return Ok(if counts.changes() {
            exit::CHANGES
        } else {
            exit::OK
        });
    }
    if !ctx.confirm(&format!(
        "Create {} user(s) in Entra at {}?",
        counts.creates,
        g.base_url()
    ))? {
        eprintln!("Cancelled: nothing was sent.");
        return Ok(exit::ERROR);
    }
    let mut errors: Vec<Option<String>> = vec![None; plan.len()];
    write::creates(g, &mut plan, &mut errors).await?;
    write::links(g, &plan, &state, &mut errors).await?;
    if let Some(path) = &args.results {
        report::write_results(path, &plan, &errors, table, validated)?;
    }
    let failed = report::print_done(ctx, g, file, &plan, &errors, args.results.as_deref());
    Ok(if failed > 0 { exit::ERROR } else { exit::OK })
}
