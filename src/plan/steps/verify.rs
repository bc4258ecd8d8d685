//! `verify`: read the target after the first cycle: at least as many users as
//! the plan provisions, no userName twice, every pushed group there.

use super::StepInputs;
use crate::plan::model::*;
use crate::plan::probe::Probe;
use serde_json::json;

pub fn step(i: &StepInputs) -> Step {
    let expected_users = i
        .pred
        .impact
        .iter()
        .filter(|u| matches!(u.action, UserAction::Match | UserAction::Create))
        .count();
    let users = "/Users?startIndex=1&count=100";
    Step {
        id: "verify".into(),
        action: Action::Check,
        title: "Verify the target: every provisioned user there once and active, every pushed group present".into(),
        count: 1,
        object: "check".into(),
        requests: vec![
            Request::scim_get(users),
            Request::scim_get("/Groups?excludedAttributes=members&startIndex=1&count=100"),
        ],
        diff: vec![
            DiffLine::same("target.activeUsersExpected", json!(expected_users)),
            DiffLine::same("target.groupsExpected", json!(i.pushed)),
        ],
        done_when: DoneWhen::when(
            Request::scim_get(users),
            vec![
                Expect::at("/totalResults", ExpectOp::AtLeast, Some(json!(expected_users))),
                Expect::probe(Probe::DuplicateUserNames, ExpectOp::Equals, Some(json!(0))),
            ],
        ),
        undo: Undo::read(),
        details: json!({"expectedUsers": expected_users, "expectedGroups": i.pushed}),
    }
}
