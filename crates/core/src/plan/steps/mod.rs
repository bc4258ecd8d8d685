//! The plan's steps, one file per family, each a pure function of
//! [`StepInputs`] returning its [`Step`]s: `app` (create-app,
//! wait-replication), `job` (create-job, write-secrets), `schema`
//! (put-schema), `assignments`, `cutover` (pause-gallery-job,
//! start-custom-job, pilot-on-demand, wait-steady-state) and `verify`
//! (`verify`, `verify-groups`). They
//! say what is sent, what each response binds, and how to tell a step is
//! done; deciding the schema, the prediction and the findings is not theirs.

pub mod app;
pub mod assignments;
pub mod cutover;
pub mod job;
pub mod schema;
pub mod verify;

use super::custom_schema::CustomSchema;
use super::impact::Prediction;
use super::model::{Step, UserAction};
use crate::mapping::schema::Mappings;
use crate::snapshot::model::{GroupSnapshot, JobSnapshot, Snapshot};

/// Graph allows 20 requests per `$batch`.
pub const BATCH_SIZE: usize = 20;
/// provisionOnDemand takes one group with at most 5 members per call.
pub const POD_MEMBERS: usize = 5;

/// What the steps are built from: the snapshot, and what the planner decided.
pub struct StepInputs<'a> {
    pub snap: &'a Snapshot,
    /// The gallery job being migrated.
    pub job: &'a JobSnapshot,
    /// The cloud's non-gallery application template.
    pub template_id: &'a str,
    pub custom_name: &'a str,
    pub scope_all: bool,
    pub schema: &'a CustomSchema,
    pub custom_maps: &'a Mappings,
    pub pred: &'a Prediction,
    /// The pilot group and the name it is pushed under.
    pub pilot: Option<(&'a GroupSnapshot, String)>,
    /// Names of the groups the custom job pushes (after `--group-map`).
    pub pushed: Vec<String>,
}

/// `/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}` + `tail`.
pub(crate) fn custom_job(tail: &str) -> String {
    format!("/servicePrincipals/{{customSpId}}/synchronization/jobs/{{customJobId}}{tail}")
}

/// Every step, in order.
pub fn all(i: &StepInputs) -> Vec<Step> {
    let mut steps = vec![
        app::create_app(i),
        app::wait_replication(),
        job::create_job(),
        job::write_secrets(i),
        schema::put_schema(i),
        assignments::step(i.snap),
        cutover::pause_gallery_job(i),
        cutover::start_custom_job(i),
    ];
    if let Some((g, pushed)) = &i.pilot {
        steps.push(cutover::pilot_on_demand(i, g, pushed));
    }
    let expected_users = i
        .pred
        .impact
        .iter()
        .filter(|u| matches!(u.action, UserAction::Match | UserAction::Create))
        .count();
    steps.push(cutover::wait_steady_state(expected_users));
    steps.push(verify::step(i));
    if !i.pushed.is_empty() {
        steps.push(verify::groups(i));
    }
    steps
}
