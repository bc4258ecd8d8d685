//! `users import --to entra`: a bulk migration of a JumpCloud (or any
//! supported) CSV into Entra ID through Microsoft Graph — the job of Entra's
//! *Bulk create* and *Bulk update*, with a plan to review first.
//!
//! Everything is checked before the first write: the file (as on the SCIM
//! path), then against the tenant — each new UPN on a verified domain
//! (`GET /domains`; `--upn-domain`/`--upn-from` build UPNs on one), initial
//! passwords against Entra's rule (`--initial-password from-file|generate|none`),
//! Graph's length limits, managers, duplicates. Rows of users that exist
//! (matched by userPrincipalName, then `mail`, then `employeeId`) become
//! field-level updates; `--deactivate-missing` disables enabled users of the
//! file's domains that the file no longer lists. `Group<N>` columns add
//! members, creating missing security groups; `--assign-app` assigns the app.
//! Writes go through `$batch` under the write quota (the Graph client's pacer).
//!
//! The parts: `state` (read the tenant), `upn` (UPNs and domains), `password`
//! (the rule, generation, the 0600 password file), `body` (the JumpCloud →
//! Entra property table, create bodies, diffs), `plan` (rows against the
//! tenant, pure), `write` (`$batch`), `report` (plan, results files, closing
//! line).

pub mod body;
pub mod password;
pub mod plan;
pub mod report;
pub mod state;
pub mod upn;
pub mod write;

use super::formats::{self, Col, Format};
use super::import::column_of;
use super::mapping::Change;
use super::model::Field;
use super::read::{Diag, RawTable};
use super::validate::Validated;
use crate::error::{Error, Result, exit};
use crate::graph::GraphClient;
use crate::progress::{Observer, Task};
use crate::secret::Secret;
use password::PasswordMode;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The Entra-only choices of `users import --to entra`, validated.
#[derive(Debug, Clone, Default)]
pub struct EntraOptions {
    pub upn: upn::UpnRule,
    pub password: PasswordMode,
    /// Where generated passwords go (required with `generate`).
    pub password_out: Option<PathBuf>,
    /// `forceChangePasswordNextSignIn` on new users (default on).
    pub force_change: bool,
}

/// What happens to one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntraRow {
    pub line: usize,
    #[serde(skip)]
    pub record: usize,
    pub upn: String,
    /// `create`, `update`, `unchanged`, `skip`, `invalid`.
    pub action: &'static str,
    /// How the existing user was found: `userPrincipalName`, `mail` or `employeeId`.
    #[serde(rename = "matchedBy", skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<&'static str>,
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Groups to add the user to (only those it is not yet a member of).
    pub groups: Vec<String>,
    /// The manager to set (a new user's), by UPN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    pub assign: bool,
    /// The create body (no password) or the PATCH body.
    #[serde(skip)]
    pub body: Option<Value>,
    #[serde(skip)]
    pub manager_ref: Option<MgrRef>,
}

/// Where a new user's manager is: an Entra user, or a row this run creates.
#[derive(Debug, Clone, PartialEq)]
pub enum MgrRef {
    Id(String),
    Row(usize),
}

/// An enabled Entra user the file does not list (`--deactivate-missing`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deactivation {
    pub id: String,
    pub upn: String,
}

/// The whole plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntraPlan {
    pub rows: Vec<EntraRow>,
    /// Security groups to create (named in the file, missing in Entra).
    #[serde(rename = "newGroups")]
    pub new_groups: Vec<String>,
    pub deactivations: Vec<Deactivation>,
    /// Problems only the tenant could reveal.
    #[serde(skip)]
    pub diags: Vec<Diag>,
}

/// What a plan would write, by kind.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counts {
    pub creates: usize,
    pub updates: usize,
    pub deactivations: usize,
    pub unchanged: usize,
    pub new_groups: usize,
    pub adds: usize,
    pub managers: usize,
    pub assigns: usize,
    pub skipped: usize,
    pub invalid: usize,
}

impl EntraPlan {
    pub fn counts(&self) -> Counts {
        let n = |a: &str| self.rows.iter().filter(|p| p.action == a).count();
        Counts {
            creates: n("create"),
            updates: n("update"),
            deactivations: self.deactivations.len(),
            unchanged: n("unchanged"),
            new_groups: self.new_groups.len(),
            adds: self.rows.iter().map(|p| p.groups.len()).sum(),
            managers: self.rows.iter().filter(|p| p.manager_ref.is_some()).count(),
            assigns: self.rows.iter().filter(|p| p.assign).count(),
            skipped: n("skip"),
            invalid: n("invalid"),
        }
    }
    pub fn has_changes(&self) -> bool {
        write::count_writes(self) > 0
    }
}

/// The 1-based column of JumpCloud's `location` (0 when absent).
fn location_column(table: &RawTable, format: Format) -> usize {
    if !matches!(format, Format::Jumpcloud | Format::JumpcloudExport) {
        return 0;
    }
    table
        .header
        .iter()
        .position(|h| formats::normalise_header(h, Some(format)) == "location")
        .map(|i| i + 1)
        .unwrap_or(0)
}

fn cell(table: &RawTable, record: usize, column: usize) -> Option<&str> {
    if column == 0 {
        return None;
    }
    table
        .records
        .get(record)?
        .fields
        .get(column - 1)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Read the tenant and plan the import (nothing is written).
pub async fn prepare(
    g: &GraphClient,
    args: &super::import::ImportOptions,
    table: &RawTable,
    v: &Validated,
) -> Result<(state::EntraState, EntraPlan)> {
    let mut st = state::read(g, &v.rows, &v.invalid, args.assign_app.as_deref()).await?;
    let ids = plan::manager_candidates(&v.rows, &v.invalid, &st, &args.entra.upn);
    st.managers = state::read_managers(g, &ids).await?;
    if let Some(d) = &args.entra.upn.domain {
        match st.domains.iter().find(|x| x.name.eq_ignore_ascii_case(d)) {
            Some(x) if x.verified => {}
            _ => {
                return Err(Error::input(format!(
                    "--upn-domain `{d}` is not a verified domain of this tenant; verified: {} (nothing was sent)",
                    upn::verified_list(&st.domains)
                )));
            }
        }
    }
    let mut columns = plan::Columns {
        password: v.password_columns.first().map(|c| c + 1).unwrap_or(0),
        location: location_column(table, v.format),
        ..Default::default()
    };
    for f in Field::ALL {
        columns
            .fields
            .insert(f, column_of(table, v.format, Col::Field(f)));
    }
    let cells: Vec<plan::RowCells> = v
        .rows
        .iter()
        .map(|r| plan::RowCells {
            password: cell(table, r.record, columns.password),
            location: cell(table, r.record, columns.location),
        })
        .collect();
    let inputs = plan::PlanInputs {
        upn: args.entra.upn.clone(),
        password: args.entra.password,
        deactivate_missing: args.deactivate_missing,
        columns,
    };
    let p = plan::build(&v.rows, &v.invalid, &cells, &st, &inputs);
    Ok((st, p))
}

/// Plan and (unless dry run) apply. `validated` comes from [`super::import::load`].
pub async fn run(
    ctx: &crate::context::Context,
    g: &GraphClient,
    args: &super::import::ImportOptions,
    file: &str,
    table: &RawTable,
    validated: &Validated,
    observer: &dyn Observer,
) -> Result<i32> {
    let spinner = Task::start(observer, "Reading Entra", None);
    let (st, mut plan) = prepare(g, args, table, validated).await?;
    spinner.finish();
    for d in &plan.diags {
        eprintln!("{}", crate::text::clean_lines(&d.render(file)));
    }
    let importable = plan.rows.iter().filter(|p| p.action != "invalid").count();
    if args.deactivate_missing && importable == 0 {
        return Err(Error::input(format!(
            "--deactivate-missing with no valid row in {file} would deactivate every user of its domains; refusing (nothing was sent)"
        )));
    }
    if !plan.diags.is_empty() && !args.skip_invalid {
        return Err(Error::input(format!(
            "{} problem(s) in {file} found against Entra; nothing was sent (fix them, or pass --skip-invalid)",
            plan.diags.len()
        )));
    }
    let changes = plan.has_changes();
    let plan_json = |plan: &EntraPlan| {
        json!({"to": "entra", "graph": g.base_url(), "file": file, "dryRun": args.dry_run,
               "initialPassword": report::password_mode_name(args.entra.password),
               "summary": plan.counts(), "rows": plan.rows, "newGroups": plan.new_groups,
               "deactivations": plan.deactivations})
    };
    if ctx.json() {
        if args.dry_run || !changes {
            crate::output::print_json(&plan_json(&plan));
        }
    } else {
        print!(
            "{}",
            plan::render_text(&plan, args.assign_app.as_deref(), 500)
        );
    }
    if args.dry_run || !changes {
        if let Some(path) = &args.results {
            report::write_results(path, &plan, None, table, validated, !ctx.json())?;
        }
        if !ctx.json() {
            println!(
                "{}",
                if changes {
                    "Dry run: nothing was sent."
                } else {
                    "Nothing to do: Entra already matches the file."
                }
            );
        }
        return Ok(if changes { exit::CHANGES } else { exit::OK });
    }
    // The password file must be writable before anything is sent.
    if args.entra.password == PasswordMode::Generate
        && let Some(out) = &args.entra.password_out
    {
        password::write_file(out, &[])?;
    }
    let c = plan.counts();
    if !ctx.confirm(&format!(
        "Write to Entra at {}: {} create(s), {} update(s), {} deactivation(s), {} new group(s), {} membership(s)?",
        g.base_url(),
        c.creates,
        c.updates,
        c.deactivations,
        c.new_groups,
        c.adds
    ))? {
        eprintln!("Cancelled: nothing was sent.");
        return Ok(exit::ERROR);
    }
    let passwords: Vec<Option<Secret>> = plan
        .rows
        .iter()
        .map(|p| {
            (p.action == "create").then(|| match args.entra.password {
                PasswordMode::FromFile => Secret::new(
                    cell(
                        table,
                        p.record,
                        validated
                            .password_columns
                            .first()
                            .map(|c| c + 1)
                            .unwrap_or(0),
                    )
                    .unwrap_or_default(),
                ),
                PasswordMode::Generate | PasswordMode::None => password::generate(),
            })
        })
        .collect();
    let total = write::count_writes(&plan);
    let wait = g.pacer().time_for(total);
    let name = if wait.is_zero() {
        "Writing to Entra".to_string()
    } else {
        let eta = format!("about {} min", wait.as_secs().div_ceil(60));
        if !ctx.json() {
            eprintln!(
                "{total} writes: {eta} at Graph's write quota (3,000 writes per 150 s per app and tenant; the pacer stays under it)."
            );
        }
        format!("Writing to Entra ({eta})")
    };
    let task = Task::start(observer, name, Some(total as u64));
    let started = std::time::Instant::now();
    let written = write::write(
        g,
        &mut plan,
        &st,
        &passwords,
        args.entra.force_change,
        &task,
    )
    .await?;
    task.finish();
    let seconds = started.elapsed().as_secs_f64();
    if args.entra.password == PasswordMode::Generate
        && let Some(out) = &args.entra.password_out
    {
        let lines: Vec<(String, Secret)> = plan
            .rows
            .iter()
            .zip(&passwords)
            .zip(&written.rows)
            .filter(|((p, _), e)| p.action == "create" && p.id.is_some() && e.is_none())
            .filter_map(|((p, pw), _)| Some((p.upn.clone(), pw.clone()?)))
            .collect();
        password::write_file(out, &lines)?;
        if !ctx.json() {
            eprintln!(
                "{} initial password(s) written to {} (mode 0600): hand them over, then delete the file.",
                lines.len(),
                out.display()
            );
        }
    }
    if let Some(path) = &args.results {
        report::write_results(path, &plan, Some(&written), table, validated, !ctx.json())?;
    }
    let failed = report::print_done(ctx, &plan, &written, file, seconds, || plan_json(&plan));
    Ok(if failed > 0 { exit::ERROR } else { exit::OK })
}
