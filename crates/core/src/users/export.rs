//! `users export`: every user of a SCIM target (or of a snapshot's `target`)
//! with its group memberships (from `Group.members`) written to CSV in the
//! JumpCloud, Entra or flat SCIM layout, so it can be re-imported elsewhere.
//! Managers are written as the manager's userName; cells that a spreadsheet
//! would run as formulas are prefixed with `'`. The file is created mode 0600.
//! Reading the source and reporting are the command's (`crate::cmd::users`).

use super::formats::{Format, Writer};
use super::mapping;
use super::model::{Field, UserRow};
use crate::error::Result;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Rows for `users`, with groups and managers resolved.
pub fn rows_from_scim(users: &[Value], groups: &[Value]) -> Vec<UserRow> {
    let mut member_of: HashMap<&str, Vec<String>> = HashMap::new();
    for g in groups {
        let name = g.get("displayName").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            continue;
        }
        for m in g
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = m.get("value").and_then(Value::as_str) {
                member_of.entry(id).or_default().push(name.to_string());
            }
        }
    }
    let name_of: HashMap<&str, &str> = users
        .iter()
        .filter_map(|u| Some((u.get("id")?.as_str()?, u.get("userName")?.as_str()?)))
        .collect();
    users
        .iter()
        .map(|u| {
            let mut row = mapping::from_scim(u);
            if let Some(mid) = row.get(Field::Manager).map(str::to_string)
                && let Some(n) = name_of.get(mid.as_str())
            {
                row.set(Field::Manager, *n);
            }
            if let Some(id) = u.get("id").and_then(Value::as_str) {
                let mut gs = member_of.remove(id).unwrap_or_default();
                gs.sort();
                gs.dedup();
                row.groups = gs;
            }
            row
        })
        .collect()
}

/// Write rows to `path` (mode 0600, atomically via a temp file), one record
/// at a time; stops (temp file removed, `path` untouched) once `interrupt` is set.
pub fn write_csv(
    path: &Path,
    format: Format,
    rows: &[UserRow],
    interrupt: Option<&crate::interrupt::Flag>,
    pb: &crate::progress::Task<'_>,
) -> Result<()> {
    let groups = rows.iter().map(|r| r.groups.len()).max().unwrap_or(0);
    let w = Writer::new(format, groups);
    crate::output::write_private_file_with(path, |f| {
        let mut out = std::io::BufWriter::new(f);
        if let Some(p) = w.preamble() {
            out.write_all(p.as_bytes())?;
            out.write_all(b"\r\n")?;
        }
        let mut cw = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        cw.write_record(w.header()).map_err(std::io::Error::other)?;
        for r in rows {
            if crate::interrupt::requested(interrupt) {
                return Err(std::io::Error::other("interrupted"));
            }
            cw.write_record(w.row(r)).map_err(std::io::Error::other)?;
            pb.inc(1);
        }
        cw.into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .flush()
    })
}
