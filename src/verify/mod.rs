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
//! draws, prompts or journals: the command layer (`crate::cmd::verify`) does.

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
