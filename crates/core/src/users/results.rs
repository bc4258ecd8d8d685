//! The results CSV (one row per input row: line, userName, action, status,
//! target id, error; deactivations after them) and the failed-rows CSV beside it
//! (the input's own header and rows, only those that failed or were invalid,
//! password cells blanked) that can be fixed and fed back in. Both mode 0600.

use super::import_plan::ImportPlan;
use super::read::RawTable;
use super::write::Outcome;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub const RESULT_COLUMNS: [&str; 6] = ["line", "userName", "action", "status", "id", "error"];

fn csv_bytes(
    rows: impl IntoIterator<Item = Vec<String>>,
    preamble: Option<&str>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(p) = preamble {
        buf.extend_from_slice(p.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut buf);
        for r in rows {
            w.write_record(&r)
                .map_err(|e| Error::io(format!("could not write CSV: {e}")))?;
        }
        w.flush()
            .map_err(|e| Error::io(format!("could not write CSV: {e}")))?;
    }
    Ok(buf)
}

/// `OUT.csv` → `OUT.failed.csv`.
pub fn failed_path(results: &Path) -> PathBuf {
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "results".into());
    let ext = results
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .unwrap_or_else(|| "csv".into());
    results.with_file_name(format!("{stem}.failed.{ext}"))
}

/// Write the results CSV; `errors[i]` holds validation messages for row `i`.
pub fn write_results(
    path: &Path,
    plan: &ImportPlan,
    outcomes: &[Outcome],
    deact: &[Outcome],
    errors: &[String],
) -> Result<()> {
    let mut rows: Vec<Vec<String>> = vec![RESULT_COLUMNS.iter().map(|s| s.to_string()).collect()];
    for (i, p) in plan.rows.iter().enumerate() {
        let o = outcomes.get(i).cloned().unwrap_or_default();
        let error = o
            .error
            .clone()
            .or_else(|| errors.get(i).filter(|e| !e.is_empty()).cloned())
            .unwrap_or_default();
        rows.push(vec![
            p.line.to_string(),
            crate::users::formats::guard_formula(&p.user_name).into_owned(),
            p.action.as_str().into(),
            o.status.into(),
            o.id.clone()
                .or_else(|| p.target_id.clone())
                .unwrap_or_default(),
            crate::users::formats::guard_formula(&error).into_owned(),
        ]);
    }
    for (k, d) in plan.deactivations.iter().enumerate() {
        let o = deact.get(k).cloned().unwrap_or_default();
        rows.push(vec![
            String::new(),
            crate::users::formats::guard_formula(&d.user_name).into_owned(),
            "deactivate".into(),
            o.status.into(),
            d.id.clone(),
            o.error.unwrap_or_default(),
        ]);
    }
    crate::output::write_private_file(path, &csv_bytes(rows, None)?)
}

/// Write the rows of `records` (indices into the table) with the input's header,
/// blanking password columns. Returns how many rows were written.
pub fn write_failed(
    path: &Path,
    table: &RawTable,
    records: &[usize],
    password_columns: &[usize],
) -> Result<usize> {
    let mut rows: Vec<Vec<String>> = vec![table.header.clone()];
    for &r in records {
        let Some(rec) = table.records.get(r) else {
            continue;
        };
        let mut f: Vec<String> = rec.fields.iter().map(str::to_string).collect();
        for &c in password_columns {
            if let Some(cell) = f.get_mut(c) {
                cell.clear();
            }
        }
        rows.push(f);
    }
    crate::output::write_private_file(path, &csv_bytes(rows, table.version_line.as_deref())?)?;
    Ok(records.len())
}
