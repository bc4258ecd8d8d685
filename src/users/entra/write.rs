//! Carry out an Entra import plan through `$batch`: the creates first, then
//! the group memberships and app assignments of every user that exists now.
//! Each failure lands in `errors[row]`; a membership Graph says already
//! exists counts as done.

use super::EntraRow;
use super::state::EntraState;
use crate::error::Result;
use crate::graph::client::seg;
use crate::graph::{BatchRequest, GraphClient};
use serde_json::{Value, json};

/// Create the plan's new users; their ids land in `plan[i].id`.
pub async fn creates(
    g: &GraphClient,
    plan: &mut [EntraRow],
    errors: &mut [Option<String>],
) -> Result<()> {
    let idx: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i].action == "create")
        .collect();
    let reqs: Vec<BatchRequest> = idx
        .iter()
        .map(|&i| {
            BatchRequest::post(
                i.to_string(),
                "/users",
                plan[i].body.clone().unwrap_or_default(),
            )
        })
        .collect();
    if reqs.is_empty() {
        return Ok(());
    }
    for ((&i, req), ans) in idx.iter().zip(&reqs).zip(g.batch(reqs.clone()).await?) {
        match ans.into_result(req) {
            Ok(v) => plan[i].id = v.get("id").and_then(Value::as_str).map(str::to_string),
            Err(e) => errors[i] = Some(e.message),
        }
    }
    Ok(())
}

/// Group memberships and app assignments for the users that exist now.
pub async fn links(
    g: &GraphClient,
    plan: &[EntraRow],
    state: &EntraState,
    errors: &mut [Option<String>],
) -> Result<()> {
    let mut reqs = Vec::new();
    let mut owner = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        let Some(id) = &p.id else { continue };
        for gname in &p.groups {
            let gid = &state.group_ids[gname];
            reqs.push(BatchRequest::post(
                format!("{}", reqs.len()),
                format!("/groups/{}/members/$ref", seg(gid)),
                g.member_ref(id),
            ));
            owner.push(i);
        }
        if p.assign
            && let Some(a) = &state.app
        {
            reqs.push(BatchRequest::post(
                format!("{}", reqs.len()),
                format!("/servicePrincipals/{}/appRoleAssignedTo", seg(&a.sp_id)),
                json!({"principalId": id, "resourceId": a.sp_id, "appRoleId": a.role_id}),
            ));
            owner.push(i);
        }
    }
    if reqs.is_empty() {
        return Ok(());
    }
    for ((&i, req), ans) in owner.iter().zip(&reqs).zip(g.batch(reqs.clone()).await?) {
        let already = ans.status == 400 && ans.body.to_string().contains("already exist");
        if let Err(e) = ans.into_result(req)
            && !already
        {
            let msg = errors[i]
                .take()
                .map(|m| format!("{m}; "))
                .unwrap_or_default();
            errors[i] = Some(format!("{msg}{}", e.message));
        }
    }
    Ok(())
}
