//! What the admin sees of an Entra import after the plan: the results file
//! (one row per input row, then one per deactivation), the failed-rows file
//! beside it (passwords blanked), and the closing line or JSON document.
//! Nothing here ever holds a password.

use super::EntraPlan;
use super::password::PasswordMode;
use super::write::Written;
use crate::error::{Error, Result};
use crate::users::read::RawTable;
use crate::users::validate::Validated;
use serde_json::{Value, json};
use std::path::Path;

pub fn password_mode_name(m: PasswordMode) -> &'static str {
    match m {
        PasswordMode::FromFile => "from-file",
        PasswordMode::Generate => "generate",
        PasswordMode::None => "none",
    }
}

fn status(action: &str, error: Option<&String>, written: bool) -> &'static str {
    match (action, error) {
        ("invalid", _) => "invalid",
        ("skip", _) => "skipped",
        (_, Some(_)) => "failed",
        ("unchanged", _) => "ok",
        _ if !written => "planned",
        _ => "ok",
    }
}

/// The results file and, when rows need fixing, the failed-rows file beside
/// it. `written`: the outcome, or `None` for a dry run (status `planned`).
pub fn write_results(
    path: &Path,
    plan: &EntraPlan,
    written: Option<&Written>,
    table: &RawTable,
    validated: &Validated,
    say: bool,
) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::io(format!("could not write CSV: {e}"));
    w.write_record(crate::users::results::RESULT_COLUMNS)
        .map_err(io)?;
    let diag_of = |line: usize| -> Option<String> {
        let m: Vec<String> = plan
            .diags
            .iter()
            .chain(&validated.diags)
            .filter(|d| d.error && d.line == line)
            .map(|d| d.message.clone())
            .collect();
        (!m.is_empty()).then(|| m.join("; "))
    };
    for (i, p) in plan.rows.iter().enumerate() {
        let e = written.and_then(|w| w.rows[i].clone());
        let err = e
            .clone()
            .or_else(|| (p.action == "invalid").then(|| diag_of(p.line)).flatten());
        w.write_record([
            p.line.to_string(),
            crate::users::formats::guard_formula(&p.upn).into_owned(),
            p.action.to_string(),
            status(p.action, e.as_ref(), written.is_some()).to_string(),
            p.id.clone().unwrap_or_default(),
            crate::users::formats::guard_formula(&err.unwrap_or_default()).into_owned(),
        ])
        .map_err(io)?;
    }
    for (k, d) in plan.deactivations.iter().enumerate() {
        let e = written.and_then(|w| w.deactivations[k].clone());
        w.write_record([
            String::new(),
            crate::users::formats::guard_formula(&d.upn).into_owned(),
            "deactivate".into(),
            status("deactivate", e.as_ref(), written.is_some()).into(),
            d.id.clone(),
            crate::users::formats::guard_formula(&e.unwrap_or_default()).into_owned(),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::io(format!("could not write CSV: {e}")))?;
    crate::output::write_private_file(path, &bytes)?;
    let failed_rows: Vec<usize> = plan
        .rows
        .iter()
        .enumerate()
        .filter(|(i, p)| p.action == "invalid" || written.is_some_and(|w| w.rows[*i].is_some()))
        .map(|(_, p)| p.record)
        .collect();
    let fpath = crate::users::results::failed_path(path);
    if !failed_rows.is_empty() {
        crate::users::results::write_failed(
            &fpath,
            table,
            &failed_rows,
            &validated.password_columns,
        )?;
        if say {
            eprintln!(
                "{} row(s) to fix and import again: {}",
                failed_rows.len(),
                fpath.display()
            );
        }
    } else if fpath.exists() {
        // A stale file from an earlier run would be misleading.
        let _ = std::fs::remove_file(&fpath);
    }
    Ok(())
}

/// The failures on stderr, then the closing line (or the one JSON document,
/// `plan_json` plus the result). Returns how many writes failed.
pub fn print_done(
    ctx: &crate::context::Context,
    plan: &EntraPlan,
    written: &Written,
    file: &str,
    seconds: f64,
    plan_json: impl FnOnce() -> Value,
) -> usize {
    for (name, e) in &written.groups {
        eprintln!("group `{name}` was not created: {e}");
    }
    for (p, e) in plan.rows.iter().zip(&written.rows).take(200) {
        if let Some(e) = e {
            eprintln!("{file}:{}:1: {}: {e}", p.line, p.upn);
        }
    }
    for (d, e) in plan.deactivations.iter().zip(&written.deactivations) {
        if let Some(e) = e {
            eprintln!("{}: not deactivated: {e}", d.upn);
        }
    }
    let failed = written.failed();
    let ok = |a: &str| {
        plan.rows
            .iter()
            .zip(&written.rows)
            .filter(|(p, e)| p.action == a && e.is_none())
            .count()
    };
    let result = json!({
        "created": ok("create"),
        "updated": ok("update"),
        "deactivated": written.deactivations.iter().filter(|e| e.is_none()).count(),
        "groupsCreated": plan.new_groups.len() - written.groups.len(),
        "failed": failed,
        "writes": written.writes,
        "seconds": seconds,
    });
    if ctx.json() {
        let mut doc = plan_json();
        doc["result"] = result;
        crate::output::print_json(&doc);
    } else {
        println!(
            "Done (Entra): {} created, {} updated, {} deactivated, {} group(s) created, {} failed ({} writes in {:.1} s).",
            result["created"],
            result["updated"],
            result["deactivated"],
            result["groupsCreated"],
            failed,
            written.writes,
            seconds
        );
    }
    failed
}
