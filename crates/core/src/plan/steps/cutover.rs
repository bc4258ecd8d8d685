//! The cutover: `pause-gallery-job`, `start-custom-job` (binds the server's
//! time of the start), `pilot-on-demand` (with `--pilot-group`) and
//! `wait-steady-state`, which holds only for a steady state reached at or
//! after that start: a fresh job already carries
//! `steadyStateLastAchievedTime = 0001-01-01T00:00:00Z`, which must not count.

use super::{POD_MEMBERS, StepInputs, custom_job};
use crate::plan::findings::{plural, pred_count};
use crate::plan::model::*;
use crate::plan::probe::Probe;
use crate::snapshot::model::GroupSnapshot;
use serde_json::{Value, json};

/// When the custom job was started: the `Date` of the server's answer (the
/// clock `steadyStateLastAchievedTime` is written by, not the operator's).
pub const STARTED_AT: &str = "customJobStartedAt";

pub fn pause_gallery_job(i: &StepInputs) -> Step {
    let (gsp, gjob) = (&i.snap.app.service_principal_id, &i.job.id);
    let job_url = format!("/servicePrincipals/{gsp}/synchronization/jobs/{gjob}");
    Step {
        id: "pause-gallery-job".into(),
        action: Action::Pause,
        title: format!(
            "Pause the gallery job of \"{}\" (its assignments and state are kept)",
            i.snap.app.display_name
        ),
        count: 1,
        object: "job".into(),
        requests: vec![Request::post(format!("{job_url}/pause"), None)],
        diff: vec![DiffLine::change(
            "galleryJob.status.code",
            i.job
                .job
                .pointer("/status/code")
                .cloned()
                .unwrap_or(json!("Active")),
            json!("Paused"),
        )],
        done_when: DoneWhen::get(
            &job_url,
            vec![Expect::at(
                "/status/code",
                ExpectOp::Equals,
                Some(json!("Paused")),
            )],
        ),
        undo: Undo::new(
            vec![Request::post(format!("{job_url}/start"), None)],
            "Starts the gallery job again; it resumes where it stopped.",
        ),
        details: Value::Null,
    }
}

pub fn start_custom_job(i: &StepInputs) -> Step {
    Step {
        id: "start-custom-job".into(),
        action: Action::Start,
        title: format!(
            "Start the custom job: first cycle matches {} and creates {}",
            pred_count(i.pred, UserAction::Match),
            pred_count(i.pred, UserAction::Create)
        ),
        count: 1,
        object: "job".into(),
        requests: vec![
            Request::post(custom_job("/start"), None).binding([Bind::header(STARTED_AT, "Date")]),
        ],
        diff: vec![DiffLine::change(
            "customJob.schedule.state",
            json!("Disabled"),
            json!("Active"),
        )],
        // Found already started (a resumed apply): the start is no later than
        // this read, so a steady state after it is after the start too.
        done_when: DoneWhen::when(
            Request::get(custom_job("")).binding([Bind::header(STARTED_AT, "Date")]),
            vec![Expect::at(
                "/schedule/state",
                ExpectOp::Equals,
                Some(json!("Active")),
            )],
        ),
        undo: Undo::new(
            vec![Request::post(custom_job("/pause"), None)],
            "Pauses the custom job; what it already wrote to the target stays.",
        ),
        details: Value::Null,
    }
}

pub fn pilot_on_demand(i: &StepInputs, g: &GroupSnapshot, pushed: &str) -> Step {
    let members: Vec<&str> = crate::plan::impact::Provisioned::new(i.snap, &i.pred.impact)
        .members_of(g)
        .collect();
    let rule = super::schema::rule_placeholder(&i.schema.body);
    let chunks: Vec<&[&str]> = if members.is_empty() {
        vec![&[]]
    } else {
        members.chunks(POD_MEMBERS).collect()
    };
    let requests: Vec<Request> = chunks
        .into_iter()
        .map(|chunk| {
            Request::post(
                custom_job("/provisionOnDemand"),
                Some(json!({"parameters": [{"ruleId": rule, "subjects": [{
                    "objectId": g.id, "objectTypeName": "Group",
                    "links": {"members": chunk.iter().map(|m| json!({"objectId": m, "objectTypeName": "User"})).collect::<Vec<_>>()}
                }]}]})),
            )
        })
        .collect();
    Step {
        id: "pilot-on-demand".into(),
        action: Action::Start,
        title: format!(
            "Provision the pilot group \"{}\" on demand ({} in {} call{}, 5 per 10 s)",
            g.display_name,
            plural(members.len(), "member", "members"),
            requests.len(),
            if requests.len() == 1 { "" } else { "s" }
        ),
        count: 1,
        object: "pilot group".into(),
        diff: vec![DiffLine::add("target.group", json!(pushed))],
        done_when: DoneWhen::when(
            Request::scim_get(format!(
                "/Groups?filter=displayName eq \"{}\"&excludedAttributes=members",
                pushed.replace('"', "\\\"")
            )),
            vec![Expect::at(
                "/totalResults",
                ExpectOp::Equals,
                Some(json!(1)),
            )],
        ),
        undo: Undo::new(
            vec![],
            "On-demand provisioning is not undone on its own: pausing the custom job and the target's own tools remove what it wrote.",
        ),
        details: json!({"groupId": g.id, "members": members}),
        requests,
    }
}

/// `expected_users`: the users the plan predicts the first cycle matches or
/// creates; the steady state counts only once the job keeps that many in sync.
pub fn wait_steady_state(expected_users: usize) -> Step {
    let job = custom_job("");
    Step {
        id: "wait-steady-state".into(),
        action: Action::Check,
        title: "Wait for the custom job's first cycle to reach steady state".into(),
        count: 1,
        object: "check".into(),
        requests: vec![Request::get(&job)],
        diff: vec![],
        done_when: DoneWhen::get(
            &job,
            vec![
                Expect::at(
                    "/status/steadyStateLastAchievedTime",
                    ExpectOp::NotBefore,
                    Some(json!(format!("{{{STARTED_AT}}}"))),
                ),
                Expect::at("/status/code", ExpectOp::Equals, Some(json!("Active"))),
                Expect::at("/status/quarantine", ExpectOp::Equals, Some(Value::Null)),
                Expect::probe(
                    Probe::SynchronizedUsers,
                    ExpectOp::AtLeast,
                    Some(json!(expected_users)),
                ),
            ],
        )
        .polled(60, None),
        undo: Undo::read(),
        details: json!({"expectedUsers": expected_users}),
    }
}
