//! `users export`: every user of a SCIM target (or of a snapshot's `target`)
//! with its group memberships (from `Group.members`) written to CSV in the
//! JumpCloud, Entra or flat SCIM layout, so it can be re-imported elsewhere.
//! Managers are written as the manager's userName; cells that a spreadsheet
//! would run as formulas are prefixed with `'`. The file is created mode 0600.

use super::formats::{Format, Writer};
use super::mapping;
use super::model::{Field, UserRow};
use crate::cli::UsersExportArgs;
use crate::context::Context;
use crate::error::{Error, Result, exit};
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

/// Write rows to `path` (mode 0600, atomically via a temp file), one record at a time.
pub fn write_csv(
    path: &Path,
    format: Format,
    rows: &[UserRow],
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let groups = rows.iter().map(|r| r.groups.len()).max().unwrap_or(0);
    let w = Writer::new(format, groups);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| -> std::io::Result<()> {
        let f = opts.open(&tmp)?;
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
            cw.write_record(w.row(r)).map_err(std::io::Error::other)?;
            pb.inc(1);
        }
        let out = cw
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        out.into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io_at(path, e)
    })
}

pub async fn run(ctx: &Context, args: &UsersExportArgs) -> Result<i32> {
    let format = Format::parse_output(&args.format)?;
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
            let client = crate::scim::client_from_args(ctx, &args.scim)?;
            let sp = crate::output::spinner("Reading users");
            let mut users = Vec::new();
            client
                .for_each_page(crate::scim::Resource::Users, None, &[], 1000, |page, _| {
                    sp.inc(page.len() as u64);
                    users.extend(page);
                    Ok(())
                })
                .await?;
            sp.set_message("Reading groups");
            let groups = client.list_all(crate::scim::Resource::Groups, 1000).await?;
            sp.finish_and_clear();
            (users, groups, client.base_url().to_string())
        }
        (None, None) => {
            return Err(Error::usage(
                "give --scim-url URL or --snapshot FILE to export from",
            ));
        }
    };
    let rows = rows_from_scim(&users, &groups);
    let pb = crate::output::progress_bar(rows.len() as u64, "Writing users");
    write_csv(&args.out, format, &rows, &pb)?;
    pb.finish_and_clear();
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
