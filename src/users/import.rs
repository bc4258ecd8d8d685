//! `users import`: read and validate the whole file (nothing is sent when a row
//! is invalid, unless `--skip-invalid`), read the target, plan, confirm, apply,
//! and write the results and failed-rows CSVs.

use super::apply::{self, ApplyOptions, Outcome};
use super::formats::{self, Col, Format};
use super::model::Field;
use super::plan::{self, Action, PlanOptions};
use super::read::{self, Diag, RawTable};
use super::results;
use super::validate::{self, Validated};
use crate::cli::UsersImportArgs;
use crate::context::Context;
use crate::error::{Error, Result, exit};
use serde_json::json;
use std::path::Path;

/// Most diagnostics printed to stderr; the rest are counted (all are in --results).
const MAX_PRINTED: usize = 200;

/// Read, detect and validate a file. `forced`: the `--format` given, if not auto.
pub fn load(path: &Path, forced: Option<Format>) -> Result<(RawTable, Validated, Vec<Diag>)> {
    let file = path.display().to_string();
    let (table, mut diags) = read::read_file(path)?;
    let format = match forced {
        Some(f) => f,
        None => formats::detect(&table.header, table.version_line.is_some())
            .map_err(|m| Error::input(format!("{file}:{}:1: {m}", table.header_line)))?,
    };
    let v = validate::validate(&table, format);
    diags.extend(v.diags.iter().cloned());
    Ok((table, v, diags))
}

/// The field number of a role's column (0 when absent).
fn column_of(table: &RawTable, format: Format, want: Col) -> usize {
    table
        .header
        .iter()
        .position(|h| {
            formats::column_role(format, &formats::normalise_header(h, Some(format))) == want
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

fn print_diags(file: &str, diags: &[Diag]) {
    for d in diags.iter().take(MAX_PRINTED) {
        eprintln!("{}", d.render(file));
    }
    if diags.len() > MAX_PRINTED {
        eprintln!(
            "… and {} more (every one is in the --results file)",
            diags.len() - MAX_PRINTED
        );
    }
}

pub async fn run(ctx: &Context, args: &UsersImportArgs) -> Result<i32> {
    let forced = Format::parse_input(&args.format)?;
    let to_entra = args.to.as_deref() == Some("entra");
    if to_entra && args.scim.scim_url.is_some() {
        return Err(Error::usage(
            "--to entra and --scim-url cannot be combined: pick one target",
        ));
    }
    if !to_entra && args.scim.scim_url.is_none() {
        return Err(Error::usage(
            "--scim-url is required (the SCIM target to import into)",
        ));
    }
    if args.concurrency == 0 || args.concurrency > 64 {
        return Err(Error::usage("--concurrency must be between 1 and 64"));
    }
    let file = args.file.display().to_string();
    let (table, v, diags) = load(&args.file, forced)?;
    if !ctx.json() {
        eprintln!(
            "Detected format: {} ({} rows, {}-delimited{})",
            v.format.describe(),
            table.records.len(),
            match table.delimiter {
                b'\t' => "TAB",
                b';' => "semicolon",
                _ => "comma",
            },
            if table.had_bom {
                ", UTF-8 with BOM"
            } else {
                ", UTF-8"
            }
        );
    }
    print_diags(&file, &diags);
    let errors = v.error_count();
    if v.fatal || (errors > 0 && !args.skip_invalid) {
        return Err(Error::input(format!(
            "{errors} problem(s) in {file}; nothing was sent{}",
            if v.fatal {
                ""
            } else {
                " (fix them, or pass --skip-invalid to import only the valid rows)"
            }
        )));
    }
    if table.records.is_empty() {
        return Err(Error::input(format!(
            "{file}:{}:1: the file has a header but no rows; nothing to import",
            table.header_line
        )));
    }

    if to_entra {
        return super::entra::run(ctx, args, &file, &table, &v).await;
    }
    let client = crate::scim::client_from_args(ctx, &args.scim)?;
    let spinner = crate::output::spinner("Reading the target's users");
    let cfg = match client.service_provider_config().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("could not read /ServiceProviderConfig ({e}); assuming no /Bulk");
            Default::default()
        }
    };
    let mut target = Vec::new();
    client
        .for_each_page(crate::scim::Resource::Users, None, &[], 1000, |page, _| {
            spinner.inc(page.len() as u64);
            target.extend(page);
            Ok(())
        })
        .await?;
    spinner.finish_and_clear();

    let opts = PlanOptions {
        deactivate_missing: args.deactivate_missing,
        manager_column: column_of(&table, v.format, Col::Field(Field::Manager)),
    };
    let plan = plan::build(&v.rows, &v.invalid, &target, opts);
    print_diags(&file, &plan.diags);
    let importable = plan
        .rows
        .iter()
        .filter(|p| p.action != Action::Invalid)
        .count();
    if args.deactivate_missing && importable == 0 && !target.is_empty() {
        return Err(Error::input(format!(
            "--deactivate-missing with no valid row in {file} would deactivate all {} users of the target; refusing (nothing was sent)",
            target.len()
        )));
    }
    if !plan.diags.is_empty() && !args.skip_invalid {
        return Err(Error::input(format!(
            "{} problem(s) in {file} found against the target; nothing was sent (fix them, or pass --skip-invalid)",
            plan.diags.len()
        )));
    }
    // Messages per row for the results file.
    let mut row_errors = vec![String::new(); v.rows.len()];
    let line_to_row: std::collections::HashMap<usize, usize> = v
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.line, i))
        .collect();
    for d in diags.iter().chain(&plan.diags).filter(|d| d.error) {
        if let Some(&i) = line_to_row.get(&d.line) {
            let e = &mut row_errors[i];
            if !e.is_empty() {
                e.push_str("; ");
            }
            e.push_str(&d.render(&file));
        }
    }

    // JSON mode prints one document: the plan alone when nothing is applied,
    // else the plan and the result together at the end.
    let plan_json = || {
        json!({
            "file": file,
            "format": v.format,
            "target": client.base_url(),
            "dryRun": args.dry_run,
            "plan": plan,
        })
    };
    if ctx.json() {
        if args.dry_run || !plan.has_changes() {
            crate::output::print_json(&plan_json());
        }
    } else {
        print!("{}", plan::render_text(&plan, 500));
    }

    let write_outputs = |outcomes: &[Outcome], deact: &[Outcome]| -> Result<()> {
        let Some(path) = &args.results else {
            return Ok(());
        };
        results::write_results(path, &plan, outcomes, deact, &row_errors)?;
        let failed: Vec<usize> = plan
            .rows
            .iter()
            .zip(outcomes)
            .filter(|(p, o)| p.action == Action::Invalid || o.status == "failed")
            .map(|(p, _)| p.record)
            .collect();
        let fpath = results::failed_path(path);
        if !failed.is_empty() {
            results::write_failed(&fpath, &table, &failed, &v.password_columns)?;
            if !ctx.json() {
                eprintln!(
                    "{} row(s) to fix and import again: {}",
                    failed.len(),
                    fpath.display()
                );
            }
        } else if fpath.exists() {
            // A stale file from an earlier run would be misleading.
            let _ = std::fs::remove_file(&fpath);
        }
        Ok(())
    };
    let planned = |p: &plan::RowPlan| Outcome {
        status: match p.action {
            Action::Invalid => "invalid",
            Action::Skip => "skipped",
            Action::Unchanged => "ok",
            _ => "planned",
        },
        id: p.target_id.clone(),
        error: None,
    };

    if args.dry_run || !plan.has_changes() {
        let outs: Vec<Outcome> = plan.rows.iter().map(planned).collect();
        let deact: Vec<Outcome> = plan
            .deactivations
            .iter()
            .map(|_| Outcome {
                status: "planned",
                ..Default::default()
            })
            .collect();
        write_outputs(&outs, &deact)?;
        if !plan.has_changes() {
            if !ctx.json() {
                println!("Nothing to do: the target already matches the file.");
            }
            return Ok(exit::OK);
        }
        if !ctx.json() {
            println!("Dry run: nothing was sent.");
        }
        return Ok(exit::CHANGES);
    }

    let s = &plan.summary;
    let question = format!(
        "Apply {} create(s), {} update(s) and {} deactivation(s) to {}?",
        s.create,
        s.update,
        s.deactivate,
        client.base_url()
    );
    if !ctx.confirm(&question)? {
        eprintln!("Cancelled: nothing was sent.");
        return Ok(exit::ERROR);
    }
    let pb = crate::output::progress_bar(
        (s.create + s.update + s.deactivate) as u64,
        "Importing users",
    );
    let started = std::time::Instant::now();
    let applied = apply::apply(
        &client,
        &plan,
        &v.rows,
        &target,
        &cfg,
        ApplyOptions {
            concurrency: args.concurrency,
            use_bulk: !args.no_bulk,
        },
        &pb,
    )
    .await;
    pb.finish_and_clear();
    write_outputs(&applied.rows, &applied.deactivations)?;
    let failed = applied.failed();
    let ok = |a: Action| {
        plan.rows
            .iter()
            .zip(&applied.rows)
            .filter(|(p, o)| p.action == a && o.status == "ok")
            .count()
    };
    let summary = json!({
        "created": ok(Action::Create),
        "updated": ok(Action::Update),
        "deactivated": applied.deactivations.iter().filter(|o| o.status == "ok").count(),
        "unchanged": s.unchanged,
        "skipped": s.skip,
        "invalid": s.invalid,
        "failed": failed,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if ctx.json() {
        let mut doc = plan_json();
        doc["result"] = summary.clone();
        doc["results"] = json!(args.results);
        crate::output::print_json(&doc);
    } else {
        for (p, o) in plan
            .rows
            .iter()
            .zip(&applied.rows)
            .filter(|(_, o)| o.status == "failed")
            .take(50)
        {
            eprintln!(
                "{file}:{}:1: {}: {}",
                p.line,
                p.user_name,
                o.error.as_deref().unwrap_or("failed")
            );
        }
        println!(
            "Done: {} created, {} updated, {} deactivated, {} failed.{}",
            summary["created"],
            summary["updated"],
            summary["deactivated"],
            failed,
            args.results
                .as_ref()
                .map(|p| format!(" Results: {}", p.display()))
                .unwrap_or_default()
        );
    }
    Ok(if failed > 0 { exit::ERROR } else { exit::OK })
}
