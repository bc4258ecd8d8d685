//! What the admin sees of an Entra import: the plan (text or one JSON
//! document), the results and failed-rows files, and the closing line.

use super::EntraRow;
use super::plan::Counts;
use crate::error::{Error, Result};
use crate::graph::GraphClient;
use crate::users::read::RawTable;
use crate::users::validate::Validated;
use serde_json::json;
use std::path::Path;

/// Print the plan: in JSON only when nothing will be written (else the result
/// document carries it), in text always.
pub fn print_plan(
    ctx: &crate::context::Context,
    g: &GraphClient,
    plan: &[EntraRow],
    counts: Counts,
    dry_run: bool,
    assign_app: Option<&str>,
) {
    if ctx.json() {
        if dry_run || !counts.changes() {
            crate::output::print_json(
                &json!({"to": "entra", "graph": g.base_url(), "rows": plan, "dryRun": dry_run}),
            );
        }
        return;
    }
    for p in plan {
        match p.action {
            "create" => println!("+ {} (create in Entra)", p.upn),
            "skip" => println!("  {} skipped: STAGED", p.upn),
            _ => {}
        }
        for gname in &p.groups {
            println!("+ {} -> group {gname}", p.upn);
        }
        if p.assign {
            println!("+ {} -> app {}", p.upn, assign_app.unwrap_or(""));
        }
    }
    println!(
        "Plan (Entra): {} to create, {} group membership(s), {} app assignment(s), {} already in Entra.",
        counts.creates, counts.adds, counts.assigns, counts.existing
    );
}

/// The results file (one row per input row) and, when rows need fixing, the
/// failed-rows file beside it (passwords blanked).
pub fn write_results(
    path: &Path,
    plan: &[EntraRow],
    errors: &[Option<String>],
    table: &RawTable,
    validated: &Validated,
) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::io(format!("could not write CSV: {e}"));
    w.write_record(crate::users::results::RESULT_COLUMNS)
        .map_err(io)?;
    for (p, e) in plan.iter().zip(errors) {
        let status = match (p.action, e) {
            ("invalid", _) => "invalid",
            ("skip", _) => "skipped",
            (_, Some(_)) => "failed",
            _ => "ok",
        };
        w.write_record([
            p.line.to_string(),
            crate::users::formats::guard_formula(&p.upn).into_owned(),
            p.action.to_string(),
            status.to_string(),
            p.id.clone().unwrap_or_default(),
            e.clone().unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::io(format!("could not write CSV: {e}")))?;
    crate::output::write_private_file(path, &bytes)?;
    let failed_rows: Vec<usize> = plan
        .iter()
        .zip(errors)
        .zip(&validated.rows)
        .filter(|((p, e), _)| p.action == "invalid" || e.is_some())
        .map(|(_, r)| r.record)
        .collect();
    let fpath = crate::users::results::failed_path(path);
    if !failed_rows.is_empty() {
        crate::users::results::write_failed(
            &fpath,
            table,
            &failed_rows,
            &validated.password_columns,
        )?;
        eprintln!(
            "{} row(s) to fix and import again: {}",
            failed_rows.len(),
            fpath.display()
        );
    }
    Ok(())
}

/// The per-row failures on stderr, then the closing line or document.
pub fn print_done(
    ctx: &crate::context::Context,
    g: &GraphClient,
    file: &str,
    plan: &[EntraRow],
    errors: &[Option<String>],
    results: Option<&Path>,
) -> usize {
    for (p, e) in plan.iter().zip(errors) {
        if let Some(e) = e {
            eprintln!("{file}:{}:1: {}: {e}", p.line, p.upn);
        }
    }
    let failed = errors.iter().filter(|e| e.is_some()).count();
    let created = plan
        .iter()
        .zip(errors)
        .filter(|(p, e)| p.action == "create" && e.is_none() && p.id.is_some())
        .count();
    if ctx.json() {
        crate::output::print_json(&json!({
            "to": "entra", "graph": g.base_url(), "rows": plan, "dryRun": false,
            "result": {"created": created, "failed": failed}, "results": results,
        }));
    } else {
        println!("Done (Entra): {created} created, {failed} failed.");
    }
    failed
}
