//! `verify`: the gate before the gallery app is decommissioned. After apply
//! (and the custom job's first cycle), compare the target and Entra *now*
//! with the snapshot and the plan's per-user predictions: every person the
//! plan provisions is in the target exactly once, active and linked to the
//! same Entra user; every pushed group holds the Entra group's direct
//! in-scope members; orphans are untouched; the custom job is steady, not
//! quarantined, with no escrow the plan did not predict.
//!
//! The parts: `before` (what the snapshot held, streamed from the file),
//! `live` (the reads: the target once, paged; the custom app, its job, its
//! assignments, the pushed groups' members and the job's failed log entries
//! over Graph), `compare` (pure: plan + before + live → [`VerifyReport`]) and
//! `report` (the report's shapes, the parity table, the per-object CSV).
//! [`verify`] runs them in order; `apply`'s final step calls it. It never
//! draws, prompts or writes: the command layer (`crate::cmd::verify`) does,
//! journaling [`journal_record`] so `status` shows the result;
//! [`options_from_journal`] reads what apply journaled.

pub mod before;
pub mod compare;
pub mod live;
pub mod report;

pub use before::Before;
pub use compare::compare;
pub use live::{Live, Readers};
pub use report::{Row, RowKind, Status, VerifyReport};

use crate::error::Result;
use crate::plan::Plan;
use crate::progress::Observer;

/// What the journal knows about the applied run (all optional: without them
/// verify finds the custom app by the plan's `customAppName` and takes any
/// steady state as good).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// When apply started (RFC 3339, or the server's `Date` of the custom
    /// job's start): the job's steady state must be later, and only log
    /// failures from then count.
    pub since: Option<String>,
    /// The custom app's service principal id, as apply bound it.
    pub custom_sp_id: Option<String>,
    /// The custom job's id, as apply bound it.
    pub custom_job_id: Option<String>,
}

/// What apply's journal says about the run: the custom app's and job's ids
/// as apply bound them (`customSpId`, `customJobId`), and when the custom
/// job was started (the cutover record, the server's clock), else when the
/// first apply run began. Nothing journaled: the defaults.
pub fn options_from_journal(records: &[crate::journal::Record]) -> VerifyOptions {
    use crate::journal::Record;
    let mut o = VerifyOptions::default();
    let mut apply_started = None;
    for r in records {
        match r {
            Record::Started { at, command, .. } if command == "apply" => {
                apply_started.get_or_insert_with(|| at.clone());
            }
            Record::Result { bound, .. } | Record::StepDone { bound, .. } => {
                let take = |k: &str| {
                    bound
                        .get(k)
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_string)
                };
                if let Some(v) = take("customSpId") {
                    o.custom_sp_id = Some(v);
                }
                if let Some(v) = take("customJobId") {
                    o.custom_job_id = Some(v);
                }
            }
            Record::Cutover {
                custom_job_started, ..
            } => o.since = Some(custom_job_started.clone()),
            _ => {}
        }
    }
    if o.since.is_none() {
        o.since = apply_started;
    }
    o
}

/// The journal record of a verify result (what `status` shows).
pub fn journal_record(report: &VerifyReport) -> crate::journal::Record {
    crate::journal::Record::Verify {
        at: crate::journal::now(),
        passed: report.passed,
        worst: report.worst.clone(),
        counts: serde_json::to_value(&report.counts).unwrap_or_default(),
    }
}

/// Verify `plan`: read the target and Entra now (`readers`), compare with
/// `before` (the snapshot the plan was made from: [`Before::read`] for a
/// file, [`Before::from_snapshot`] for a loaded one, [`Before::none`]
/// without) and the plan's impact. Reads only. A report that does not pass
/// is `Ok` with `passed == false`; `Err` is reserved for what stopped the
/// reads (the target unreachable, Graph refusing the token, …).
pub async fn verify(
    plan: &Plan,
    before: &Before,
    readers: Readers<'_>,
    opts: &VerifyOptions,
    progress: &dyn Observer,
) -> Result<VerifyReport> {
    let live = live::read(readers, plan, before, opts, progress).await?;
    Ok(compare(plan, before, &live, opts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Record;
    use serde_json::json;

    #[test]
    fn the_journal_gives_the_custom_ids_and_the_custom_jobs_start() {
        let bound = |k: &str, v: &str| json!({ k: v }).as_object().unwrap().clone();
        let records = vec![
            Record::Started {
                at: "2026-12-02T10:00:00.000Z".into(),
                command: "apply".into(),
                plan_digest: "sha256:p".into(),
                by: "admin@host".into(),
                pid: 1,
            },
            Record::Result {
                at: "2026-12-02T10:00:01.000Z".into(),
                step: "create-app".into(),
                request: 0,
                status: 201,
                bound: bound("customSpId", "sp-1"),
            },
            Record::StepDone {
                at: "2026-12-02T10:00:09.000Z".into(),
                step: "create-job".into(),
                found: false,
                bound: bound("customJobId", "scim.1"),
            },
        ];
        let o = options_from_journal(&records);
        assert_eq!(o.custom_sp_id.as_deref(), Some("sp-1"));
        assert_eq!(o.custom_job_id.as_deref(), Some("scim.1"));
        assert_eq!(o.since.as_deref(), Some("2026-12-02T10:00:00.000Z"));
        let mut records = records;
        // (from JSON: the record's optional fields may grow)
        records.push(
            serde_json::from_value(json!({"event": "cutover", "at": "2026-12-02T10:01:00.000Z",
                "customJobStarted": "Wed, 02 Dec 2026 10:01:00 GMT"}))
            .unwrap(),
        );
        assert_eq!(
            options_from_journal(&records).since.as_deref(),
            Some("Wed, 02 Dec 2026 10:01:00 GMT"),
            "the custom job's start (the server's Date) wins"
        );
        assert_eq!(options_from_journal(&[]), VerifyOptions::default());
    }
}
