//! `scimshift plan` and `show`: snapshot + app profile + options → an ordered,
//! reviewable migration plan (steps with exact requests, diffs, done-checks
//! and undos; findings; per-user impact), rendered as text, JSON and Markdown.
//!
//! Rooms: `profile` (app profiles, `plans/*.toml`), `custom_schema` (the
//! custom job's schema from the gallery's), `impact` (per-user prediction),
//! `matching` (extra matching attributes that prevent duplicates; renames),
//! `findings` (what would break, and notes), `build` (the pure planner), `steps` (one file per
//! step family), `options`, `model` (the `scimshift.plan/v2` data; `user_impact`, a user's row in it; `id_list`, a group's members in it), `placeholder` (names, binds,
//! the binding check), `probe` (named probes, evaluating a done-check),
//! `render` (text and Markdown). This file has the file I/O around them: read
//! the group map, choose the profile, write the report. The command (flags,
//! printing, exit codes) is `crate::cmd::plan`.

pub mod build;
pub mod custom_schema;
pub mod findings;
pub mod id_list;
pub mod impact;
pub mod matching;
pub mod model;
pub mod options;
pub mod placeholder;
pub mod probe;
pub mod profile;
pub mod render;
pub mod steps;
#[doc(hidden)]
pub mod testkit;
pub mod user_impact;

pub use build::{build, build_with};
pub use model::{Action, Finding, Plan, Severity, Step, UserAction, UserImpact, UserImpactParts};
pub use options::{ExtraMatching, PlanOptions, Scope};
pub use profile::Profile;
pub use render::{render_markdown, render_text};

use crate::error::{Error, Result};
use crate::snapshot::model::Snapshot;
use std::path::Path;

/// Read `--group-map` (CSV with a `from,to` header); errors name file and line.
pub fn read_group_map(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_at(path, e))?;
    parse_group_map(&text, &path.display().to_string())
}

pub fn parse_group_map(text: &str, origin: &str) -> Result<Vec<(String, String)>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(format!("{origin}: {e}")))?
        .clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(n))
    };
    let (Some(fi), Some(ti)) = (col("from"), col("to")) else {
        return Err(Error::input(format!(
            "{origin} line 1: the header must name the columns `from` and `to`"
        )));
    };
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| Error::input(format!("{origin} line {line}: {e}")))?;
        let from = rec.get(fi).unwrap_or("").to_string();
        let to = rec.get(ti).unwrap_or("").to_string();
        if from.is_empty() || to.is_empty() {
            return Err(Error::input(format!(
                "{origin} line {line}: both `from` and `to` need a group name"
            )));
        }
        out.push((from, to));
    }
    Ok(out)
}

/// Choose the profile: `--profile NAME|PATH`, else the one recognising the app.
pub fn choose_profile(snap: &Snapshot, spec: Option<&str>) -> Result<(Profile, bool)> {
    match spec {
        Some(s) => Ok((Profile::load(s)?, true)),
        None => {
            let jobs: Vec<&str> = snap
                .app
                .jobs
                .iter()
                .map(|j| j.template_id.as_str())
                .collect();
            Ok(Profile::detect(
                &snap.app.display_name,
                snap.app.application_template_id.as_deref(),
                &jobs,
            ))
        }
    }
}

/// Write the Markdown report, with the impact as a CSV beside it when large.
pub fn write_report(plan: &Plan, path: &Path) -> Result<()> {
    let csv_name = if plan.impact.len() > render::MAX_REPORT_USERS {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "plan".into());
        let name = format!("{stem}.impact.csv");
        let csv_path = path.with_file_name(&name);
        crate::output::write_private_file(&csv_path, render::impact_csv(plan).as_bytes())?;
        Some(name)
    } else {
        None
    };
    crate::output::write_private_file(
        path,
        crate::text::clean_lines(&render_markdown(plan, csv_name.as_deref())).as_bytes(),
    )
}

#[cfg(test)]
mod executable_tests;
#[cfg(test)]
mod tests;
