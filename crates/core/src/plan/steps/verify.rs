//! `verify` and `verify-groups`: read the target after the first cycle — at
//! least as many users as the plan provisions and no userName twice; every
//! pushed group there. Both are polled: an assignment the engine did not see
//! yet (Entra's assignment lag) reaches the target in a later cycle.

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
        title: "Verify the target: every provisioned user there, no userName twice".into(),
        count: 1,
        object: "check".into(),
        requests: vec![Request::scim_get(users)],
        diff: vec![DiffLine::same(
            "target.activeUsersExpected",
            json!(expected_users),
        )],
        done_when: DoneWhen::when(
            Request::scim_get(users),
            vec![
                Expect::at(
                    "/totalResults",
                    ExpectOp::AtLeast,
                    Some(json!(expected_users)),
                ),
                Expect::probe(Probe::DuplicateUserNames, ExpectOp::Equals, Some(json!(0))),
            ],
        )
        .polled(60, None),
        undo: Undo::read(),
        details: json!({"expectedUsers": expected_users, "expectedGroups": i.pushed}),
    }
}

pub fn groups(i: &StepInputs) -> Step {
    let groups = "/Groups?excludedAttributes=members&startIndex=1&count=100";
    Step {
        id: "verify-groups".into(),
        action: Action::Check,
        title: format!(
            "Verify the target: every pushed group present ({})",
            i.pushed.len()
        ),
        count: 1,
        object: "check".into(),
        requests: vec![Request::scim_get(groups)],
        diff: vec![DiffLine::same("target.groupsExpected", json!(i.pushed))],
        done_when: DoneWhen::when(
            Request::scim_get(groups),
            vec![Expect::probe(
                Probe::DisplayNames,
                ExpectOp::ContainsAll,
                Some(json!(i.pushed)),
            )],
        )
        .polled(60, None),
        undo: Undo::read(),
        details: json!({"expectedGroups": i.pushed}),
    }
}
