//! `scimshift users import|export`: flags into [`ImportOptions`], the target's
//! credentials, and everything the admin sees (detected format, diagnostics,
//! the plan, the confirmation, progress, results and exit codes). The work is
//! in `crate::users` (read, validate, plan, write, results, export).

use crate::cli::{UsersExportArgs, UsersImportArgs};
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::progress::Task;
use crate::users::entra::EntraOptions;
use crate::users::entra::password::PasswordMode;
use crate::users::entra::upn::{UpnFrom, UpnRule};
use crate::users::export::{rows_from_scim, write_csv};
use crate::users::formats::{Col, Format};
use crate::users::import::{ImportOptions, column_of, load};
use crate::users::import_plan::{self, PlanOptions, RowAction};
use crate::users::model::Field;
use crate::users::read::Diag;
use crate::users::results;
use crate::users::write::{self, Outcome, WriteOptions};
use serde_json::json;

/// Most diagnostics printed to stderr; the rest are counted (all are in --results).
const MAX_PRINTED: usize = 200;

fn print_diags(file: &str, diags: &[Diag]) {
    for d in diags.iter().take(MAX_PRINTED) {
        eprintln!("{}", crate::text::clean_lines(&d.render(file)));
    }
    if diags.len() > MAX_PRINTED {
        eprintln!(
            "… and {} more (every one is in the --results file)",
            diags.len() - MAX_PRINTED
        );
    }
}

fn interrupted(flag: &crate::interrupt::Flag) -> bool {
    crate::interrupt::requested(Some(flag))
}

/// `users import FILE`: validate the flags and the whole file, then plan,
/// confirm and write against the SCIM target (or Entra with `--to entra`).
pub async fn import(ctx: &Context, args: &UsersImportArgs) -> Result<i32> {
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
    if let Some(r) = &args.results {
        let failed = results::failed_path(r);
        crate::output::refuse_overlap(
            &[
                ("--results", r.as_path()),
                ("the failed-rows file", failed.as_path()),
            ],
            &[("the input file", args.file.as_path())],
        )?;
    }
    let entra = entra_options(args, to_entra)?;
    let opts = ImportOptions {
        file: args.file.clone(),
        format: forced,
        dry_run: args.dry_run,
        results: args.results.clone(),
        deactivate_missing: args.deactivate_missing,
        skip_invalid: args.skip_invalid,
        assign_app: args.assign_app.clone(),
        concurrency: args.concurrency,
        use_bulk: !args.no_bulk,
        entra,
    };
    let file = opts.file.display().to_string();
    let (table, v, diags) = load(&opts.file, opts.format)?;
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
    if v.fatal || (errors > 0 && !opts.skip_invalid) {
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
        let (graph, notes) = super::credentials::graph(&args.graph)?;
        super::print_notes(&notes);
        let graph = graph.client()?;
        let progress = super::progress::observer(ctx);
        return crate::users::entra::run(ctx, &graph, &opts, &file, &table, &v, progress.as_ref())
            .await;
    }
    let client = super::credentials::scim(ctx, &args.scim)?.client()?;
    let progress = super::progress::observer(ctx);
    let spinner = Task::start(progress.as_ref(), "Reading the target's users", None);
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
    spinner.finish();

    let plan_opts = PlanOptions {
        deactivate_missing: opts.deactivate_missing,
        manager_column: column_of(&table, v.format, Col::Field(Field::Manager)),
    };
    let plan = import_plan::build(&v.rows, &v.invalid, &target, plan_opts);
    print_diags(&file, &plan.diags);
    let importable = plan
        .rows
        .iter()
        .filter(|p| p.action != RowAction::Invalid)
        .count();
    if opts.deactivate_missing && importable == 0 && !target.is_empty() {
        return Err(Error::input(format!(
            "--deactivate-missing with no valid row in {file} would deactivate all {} users of the target; refusing (nothing was sent)",
            target.len()
        )));
    }
    if !plan.diags.is_empty() && !opts.skip_invalid {
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
            "dryRun": opts.dry_run,
            "plan": plan,
        })
    };
    if ctx.json() {
        if opts.dry_run || !plan.has_changes() {
            crate::output::print_json(&plan_json());
        }
    } else {
        print!(
            "{}",
            crate::text::for_terminal(&import_plan::render_text(&plan, 500))
        );
    }

    let write_outputs = |outcomes: &[Outcome], deact: &[Outcome]| -> Result<()> {
        let Some(path) = &opts.results else {
            return Ok(());
        };
        results::write_results(path, &plan, outcomes, deact, &row_errors)?;
        let failed: Vec<usize> = plan
            .rows
            .iter()
            .zip(outcomes)
            .filter(|(p, o)| p.action == RowAction::Invalid || o.status == "failed")
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
    let planned = |p: &import_plan::RowPlan| Outcome {
        status: match p.action {
            RowAction::Invalid => "invalid",
            RowAction::Skip => "skipped",
            RowAction::Unchanged => "ok",
            _ => "planned",
        },
        id: p.target_id.clone(),
        error: None,
    };

    if opts.dry_run || !plan.has_changes() {
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
    // Until here a signal ends the process at once: nothing was sent.
    let interrupt = super::interrupt::watch(
        "no new write starts; the requests in flight finish and the results are written",
        "requests in flight may or may not have landed; run the same import again to resume (rows already written are found unchanged and not sent again)",
    );
    let pb = Task::start(
        progress.as_ref(),
        "Importing users",
        Some((s.create + s.update + s.deactivate) as u64),
    );
    let started = std::time::Instant::now();
    let written = write::write(
        &client,
        &plan,
        &v.rows,
        &target,
        &cfg,
        WriteOptions {
            concurrency: opts.concurrency,
            use_bulk: opts.use_bulk,
            interrupt: Some(interrupt.clone()),
        },
        &pb,
    )
    .await;
    pb.finish();
    write_outputs(&written.rows, &written.deactivations)?;
    let failed = written.failed();
    let not_sent = written.not_sent();
    let stopped = not_sent > 0 || interrupted(&interrupt);
    let ok = |a: RowAction| {
        plan.rows
            .iter()
            .zip(&written.rows)
            .filter(|(p, o)| p.action == a && o.status == "ok")
            .count()
    };
    let summary = json!({
        "created": ok(RowAction::Create),
        "updated": ok(RowAction::Update),
        "deactivated": written.deactivations.iter().filter(|o| o.status == "ok").count(),
        "unchanged": s.unchanged,
        "skipped": s.skip,
        "invalid": s.invalid,
        "failed": failed,
        "notSent": not_sent,
        "interrupted": stopped,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if ctx.json() {
        let mut doc = plan_json();
        doc["result"] = summary.clone();
        doc["results"] = json!(opts.results);
        crate::output::print_json(&doc);
    } else {
        for (p, o) in plan
            .rows
            .iter()
            .zip(&written.rows)
            .filter(|(_, o)| o.status == "failed")
            .take(50)
        {
            eprintln!(
                "{file}:{}:1: {}: {}",
                p.line,
                crate::text::clean(&p.user_name),
                crate::text::clean(o.error.as_deref().unwrap_or("failed"))
            );
        }
        println!(
            "{}: {} created, {} updated, {} deactivated, {} failed{}.{}",
            if stopped { "Interrupted" } else { "Done" },
            summary["created"],
            summary["updated"],
            summary["deactivated"],
            failed,
            if stopped {
                format!(", {not_sent} not sent")
            } else {
                String::new()
            },
            opts.results
                .as_ref()
                .map(|p| format!(" Results: {}", p.display()))
                .unwrap_or_default()
        );
        if stopped {
            println!(
                "Resume: run the same `scimshift users import {}` again; the rows already written are found unchanged and not sent twice.",
                args.file.display()
            );
        }
    }
    Ok(if stopped {
        exit::INTERRUPTED
    } else if failed > 0 {
        exit::ERROR
    } else {
        exit::OK
    })
}

/// The `--to entra` flags, checked (before the file is even read).
fn entra_options(args: &UsersImportArgs, to_entra: bool) -> Result<EntraOptions> {
    let given = args.upn_domain.is_some()
        || args.initial_password.is_some()
        || args.password_out.is_some()
        || args.no_force_change_password;
    if !to_entra {
        if given {
            return Err(Error::usage(
                "--upn-domain, --initial-password, --password-out and --no-force-change-password are for --to entra",
            ));
        }
        return Ok(EntraOptions::default());
    }
    let Some(mode) = &args.initial_password else {
        return Err(Error::usage(
            "--to entra needs --initial-password from-file|generate|none: say how new users get their first password",
        ));
    };
    let password = PasswordMode::parse(mode)?;
    match (password, &args.password_out) {
        (PasswordMode::Generate, None) => {
            return Err(Error::usage(
                "--initial-password generate needs --password-out FILE (the only place the passwords are written)",
            ));
        }
        (PasswordMode::FromFile | PasswordMode::None, Some(_)) => {
            return Err(Error::usage(
                "--password-out is only for --initial-password generate",
            ));
        }
        _ => {}
    }
    if let Some(out) = &args.password_out
        && out.exists()
    {
        return Err(Error::usage(format!(
            "--password-out {} already exists: move it away first (it may hold passwords from an earlier run)",
            out.display()
        )));
    }
    let domain = args
        .upn_domain
        .as_deref()
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase());
    if let Some(d) = &domain
        && (d.is_empty() || !d.contains('.') || d.contains(['@', '/', ' ']))
    {
        return Err(Error::usage(format!(
            "--upn-domain `{d}` is not a domain name (give one like contoso.com)"
        )));
    }
    Ok(EntraOptions {
        upn: UpnRule {
            domain,
            from: UpnFrom::parse(&args.upn_from)?,
        },
        password,
        password_out: args.password_out.clone(),
        force_change: !args.no_force_change_password,
    })
}

/// `users export`: every user of a SCIM target or a snapshot's target, to CSV.
pub async fn export(ctx: &Context, args: &UsersExportArgs) -> Result<i32> {
    let interrupt = super::interrupt::watch(
        "stopping the export; nothing is written",
        "nothing was written; run the same export again",
    );
    let stopped = || {
        Error::interrupted(format!(
            "interrupted: nothing was written to {} (run the same export again)",
            args.out.display()
        ))
    };
    let progress = super::progress::observer(ctx);
    let format = Format::parse_output(&args.format)?;
    if let Some(s) = &args.snapshot {
        crate::output::refuse_overlap(
            &[("--out", args.out.as_path())],
            &[("--snapshot", s.as_path())],
        )?;
    }
    let (users, groups, source) = match (&args.snapshot, &args.scim.scim_url) {
        (Some(path), _) => {
            let snap = crate::snapshot::model::Snapshot::load(path)?;
            let t = snap.target.ok_or_else(|| {
                Error::input(format!(
                    "{} has no SCIM target contents (it was taken without --scim-url): export from the target with --scim-url instead",
                    path.display()
                ))
            })?;
            (t.users, t.groups, path.display().to_string())
        }
        (None, Some(_)) => {
            let client = super::credentials::scim(ctx, &args.scim)?.client()?;
            let sp = Task::start(progress.as_ref(), "Reading users", None);
            let mut users = Vec::new();
            client
                .for_each_page(crate::scim::Resource::Users, None, &[], 1000, |page, _| {
                    if interrupted(&interrupt) {
                        return Err(stopped());
                    }
                    sp.inc(page.len() as u64);
                    users.extend(page);
                    Ok(())
                })
                .await?;
            sp.finish();
            let sp = Task::start(progress.as_ref(), "Reading groups", None);
            let groups = client.list_all(crate::scim::Resource::Groups, 1000).await?;
            sp.finish();
            (users, groups, client.base_url().to_string())
        }
        (None, None) => {
            return Err(Error::usage(
                "give --scim-url URL or --snapshot FILE to export from",
            ));
        }
    };
    if interrupted(&interrupt) {
        return Err(stopped());
    }
    let rows = rows_from_scim(&users, &groups);
    let pb = Task::start(progress.as_ref(), "Writing users", Some(rows.len() as u64));
    let written = write_csv(&args.out, format, &rows, Some(&interrupt), &pb);
    pb.finish();
    if interrupted(&interrupt) {
        return Err(stopped());
    }
    written?;
    if ctx.json() {
        crate::output::print_json(&serde_json::json!({
            "source": source, "format": format, "users": rows.len(), "out": args.out
        }));
    } else {
        println!(
            "Wrote {} users from {source} to {} ({}).",
            rows.len(),
            args.out.display(),
            format.describe()
        );
    }
    Ok(exit::OK)
}
