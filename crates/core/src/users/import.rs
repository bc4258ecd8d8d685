//! `users import`, the library side: the validated [`ImportOptions`], and
//! [`load`] (read, detect and validate the whole file before anything is
//! sent). The command (`crate::cmd::users`) reads the target, plans, confirms,
//! writes and reports.

use super::formats::{self, Col, Format};
use super::read::{self, Diag, RawTable};
use super::validate::{self, Validated};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What `users import` was asked to do, validated (`crate::cmd::users` builds
/// it from the flags; where to import to is resolved after the file is read).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub file: PathBuf,
    /// The layout given with `--format`; `None` detects it from the headers.
    pub format: Option<Format>,
    /// Plan and stop: no write is sent.
    pub dry_run: bool,
    /// One row per input row (action, status, target id, error).
    pub results: Option<PathBuf>,
    pub deactivate_missing: bool,
    pub skip_invalid: bool,
    /// With an Entra import: also assign the users to this app.
    pub assign_app: Option<String>,
    /// Concurrent writes (1..=64).
    pub concurrency: usize,
    /// Use `/Bulk` when the target supports it.
    pub use_bulk: bool,
    /// With an Entra import: UPNs, initial passwords.
    pub entra: super::entra::EntraOptions,
}

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
pub fn column_of(table: &RawTable, format: Format, want: Col) -> usize {
    table
        .header
        .iter()
        .position(|h| {
            formats::column_role(format, &formats::normalise_header(h, Some(format))) == want
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}
