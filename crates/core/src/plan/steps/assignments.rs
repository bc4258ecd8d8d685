//! `assignments`: the gallery app's user and group assignments recreated on
//! the custom app in `$batch` requests of 20. The step first reads the custom
//! app's roles (binding each role id by value, or display name for `User` and
//! `msiam_access`); each batch binds the new assignment ids by inner request
//! id, since `$batch` answers come in any order.

use super::BATCH_SIZE;
use crate::plan::findings::{Findings, plural};
use crate::plan::model::*;
use crate::plan::placeholder::{braced, named};
use crate::snapshot::model::{Assignment, Snapshot};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Role on the custom app for a gallery assignment: by value, else displayName; default access ⇒ `User`.
fn role_for(snap: &Snapshot, role_id: &str) -> (String, bool) {
    let role = snap
        .app
        .app_roles
        .iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(role_id));
    let name = role
        .and_then(|r| {
            r.get("value")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .or_else(|| r.get("displayName").and_then(Value::as_str))
        })
        .unwrap_or("User")
        .to_string();
    let standard = name.eq_ignore_ascii_case("User") || name.eq_ignore_ascii_case("msiam_access");
    (name, standard)
}

/// Assignments that can drive provisioning (to users and groups).
fn copied(snap: &Snapshot) -> impl Iterator<Item = &Assignment> {
    snap.app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "User" || a.principal_type == "Group")
}

/// Gallery roles in use: role → (assignments, whether a new custom app has it).
fn roles(snap: &Snapshot) -> BTreeMap<String, (usize, bool)> {
    let mut roles: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for a in copied(snap) {
        let (role, standard) = role_for(snap, &a.app_role_id);
        roles.entry(role).or_insert((0, standard)).0 += 1;
    }
    roles
}

/// `app-role-missing` and `assignment-not-copied`.
pub(in crate::plan) fn findings(snap: &Snapshot, f: &mut Findings) {
    for (role, (n, standard)) in &roles(snap) {
        if !standard {
            f.add(
                Severity::Warning,
                "app-role-missing",
                format!("{} use the gallery role \"{role}\"; a new custom app has only User and msiam_access, so add the role to it before the assignments step.", plural(*n, "assignment", "assignments")),
                vec![],
            );
        }
    }
    let skipped: Vec<ObjectRef> = snap
        .app
        .assignments
        .iter()
        .filter(|a| a.principal_type != "User" && a.principal_type != "Group")
        .map(|a| {
            ObjectRef::new(
                "assignment",
                &a.principal_id,
                a.principal_display_name.clone().unwrap_or_default(),
            )
        })
        .collect();
    if !skipped.is_empty() {
        f.add(
            Severity::Info,
            "assignment-not-copied",
            format!(
                "{} to service principals cannot drive provisioning and are not copied.",
                plural(skipped.len(), "assignment", "assignments")
            ),
            skipped,
        );
    }
}

/// Read the custom app's roles, binding each role the assignments use.
fn read_roles(roles: &BTreeMap<String, (usize, bool)>) -> Request {
    Request::get("/servicePrincipals/{customSpId}?$select=id,appRoles").binding(roles.iter().map(
        |(role, (_, standard))| {
            // A new custom app's User and msiam_access roles have no value, only a display name.
            let field = if *standard { "displayName" } else { "value" };
            Bind::select(
                named("customAppRole", role),
                "/appRoles",
                field,
                role,
                "/id",
            )
        },
    ))
}

pub fn step(snap: &Snapshot) -> Step {
    let roles = roles(snap);
    let assignments: Vec<&Assignment> = copied(snap).collect();
    let diff = assignments
        .iter()
        .map(|a| {
            let (role, _) = role_for(snap, &a.app_role_id);
            DiffLine::add(
                format!("assignment.{}", a.principal_type.to_lowercase()),
                json!(format!(
                    "{} ({}) as {role}",
                    a.principal_display_name.clone().unwrap_or_default(),
                    a.principal_id
                )),
            )
        })
        .collect();
    let batch = |inner: Vec<Value>, binds: Vec<Bind>| {
        Request::post("/$batch", Some(json!({"requests": inner}))).binding(binds)
    };
    let mut requests = vec![read_roles(&roles)];
    let mut undo_requests = Vec::new();
    for chunk in assignments.chunks(BATCH_SIZE) {
        let (mut inner, mut undo_inner, mut binds) = (Vec::new(), Vec::new(), Vec::new());
        for (k, a) in chunk.iter().enumerate() {
            let id = (k + 1).to_string();
            let (role, _) = role_for(snap, &a.app_role_id);
            let p = &a.principal_id;
            let assignment_id = named("assignmentId", p);
            inner.push(json!({"id": id, "method": "POST", "url": "/servicePrincipals/{customSpId}/appRoleAssignedTo",
                "headers": {"Content-Type": "application/json"},
                "body": {"principalId": p, "resourceId": "{customSpId}", "appRoleId": braced("customAppRole", &role)}}));
            binds.push(Bind::select(
                assignment_id.clone(),
                "/responses",
                "id",
                &id,
                "/body/id",
            ));
            undo_inner.push(json!({"id": id, "method": "DELETE",
                "url": format!("/servicePrincipals/{{customSpId}}/appRoleAssignedTo/{{{assignment_id}}}")}));
        }
        requests.push(batch(inner, binds));
        undo_requests.push(batch(undo_inner, vec![]));
    }
    let principals: Vec<Value> = assignments.iter().map(|a| json!(a.principal_id)).collect();
    let n = assignments.len();
    Step {
        id: "assignments".into(),
        action: Action::Create,
        title: format!(
            "Recreate {} on the custom app ($batch of {BATCH_SIZE})",
            plural(n, "assignment", "assignments")
        ),
        count: n,
        object: "assignment".into(),
        requests,
        diff,
        done_when: DoneWhen::get(
            "/servicePrincipals/{customSpId}/appRoleAssignedTo?$top=999",
            vec![Expect::probe(
                crate::plan::probe::Probe::PrincipalIds,
                ExpectOp::ContainsAll,
                Some(Value::Array(principals)),
            )],
        ),
        undo: Undo::new(
            undo_requests,
            "Removes the assignments the step made (their ids are bound from the $batch answers and journaled at apply).",
        ),
        details: json!({"roleMap": roles.iter().map(|(r, (n, _))| json!({"galleryRole": r, "customRole": braced("customAppRole", r), "assignments": n})).collect::<Vec<_>>()}),
    }
}
