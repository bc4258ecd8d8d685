//! Carry out an Entra import plan through `$batch` (20 requests a call, every
//! write counted against the write quota by the Graph client's pacer):
//! missing security groups first, then the creates (each with its initial
//! password, added here and nowhere else), the updates and deactivations,
//! and last the memberships, managers and app assignments of every user that
//! exists now. Each failure lands in its row's error; a membership Graph says
//! already exists counts as done. Progress is reported per batch.

use super::state::EntraState;
use super::{EntraPlan, MgrRef};
use crate::error::Result;
use crate::graph::client::seg;
use crate::graph::{BatchRequest, BatchResponse, GraphClient};
use crate::progress::Task;
use crate::secret::Secret;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;

/// How each write ended: one error (or none) per plan row and per deactivation.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub rows: Vec<Option<String>>,
    pub deactivations: Vec<Option<String>>,
    /// New groups that could not be created, with why.
    pub groups: Vec<(String, String)>,
    /// Writes sent (requests inside `$batch`).
    pub writes: usize,
}

impl Written {
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .chain(&self.deactivations)
            .filter(|e| e.is_some())
            .count()
            + self.groups.len()
    }
}

/// The number of writes a plan needs (for the progress total).
pub fn count_writes(plan: &EntraPlan) -> usize {
    let c = plan.counts();
    c.new_groups + c.creates + c.updates + c.deactivations + c.adds + c.managers + c.assigns
}

/// Run `reqs` through `$batch`, reporting progress; answers in request order.
async fn send(
    g: &GraphClient,
    reqs: Vec<BatchRequest>,
    task: &Task<'_>,
) -> Result<Vec<(BatchRequest, BatchResponse)>> {
    let mut out = Vec::with_capacity(reqs.len());
    if reqs.is_empty() {
        return Ok(out);
    }
    let mut stream = std::pin::pin!(g.batch_stream(reqs)?);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        task.inc(chunk.len() as u64);
        out.extend(chunk);
    }
    Ok(out)
}

fn add_error(slot: &mut Option<String>, e: String) {
    *slot = Some(match slot.take() {
        Some(m) => format!("{m}; {e}"),
        None => e,
    });
}

/// Write the plan. `passwords[i]` is row `i`'s initial password (creates only).
pub async fn write(
    g: &GraphClient,
    plan: &mut EntraPlan,
    state: &EntraState,
    passwords: &[Option<Secret>],
    force_change: bool,
    task: &Task<'_>,
) -> Result<Written> {
    let mut w = Written {
        rows: vec![None; plan.rows.len()],
        deactivations: vec![None; plan.deactivations.len()],
        ..Default::default()
    };
    // 1. Missing groups.
    let mut group_ids: HashMap<String, String> = state.group_ids.clone();
    let reqs: Vec<BatchRequest> = plan
        .new_groups
        .iter()
        .enumerate()
        .map(|(k, name)| {
            BatchRequest::post(
                k.to_string(),
                "/groups",
                json!({
                    "displayName": name,
                    "mailEnabled": false,
                    "mailNickname": group_nickname(name),
                    "securityEnabled": true,
                    "description": "Created by scimshift users import (from the file's group columns)",
                }),
            )
        })
        .collect();
    w.writes += reqs.len();
    for (req, ans) in send(g, reqs, task).await? {
        let name = plan.new_groups[req.id.parse::<usize>().unwrap_or(0)].clone();
        match ans.into_result(&req) {
            Ok(v) => {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    group_ids.insert(name, id.to_string());
                }
            }
            Err(e) => w.groups.push((name, e.message)),
        }
    }

    // 2. Creates, each with its password.
    let reqs: Vec<BatchRequest> = plan
        .rows
        .iter()
        .enumerate()
        .filter(|(_, p)| p.action == "create")
        .map(|(i, p)| {
            let mut body = p.body.clone().unwrap_or_default();
            let pw = passwords.get(i).cloned().flatten().unwrap_or_default();
            body["passwordProfile"] = json!({
                "forceChangePasswordNextSignIn": force_change,
                "password": pw.expose(),
            });
            BatchRequest::post(i.to_string(), "/users", body)
        })
        .collect();
    w.writes += reqs.len();
    for (req, ans) in send(g, reqs, task).await? {
        let i: usize = req.id.parse().unwrap_or(0);
        match ans.into_result(&req) {
            Ok(v) => plan.rows[i].id = v.get("id").and_then(Value::as_str).map(str::to_string),
            Err(e) => w.rows[i] = Some(e.message),
        }
    }

    // 3. Updates and deactivations.
    let mut reqs: Vec<BatchRequest> = Vec::new();
    for (i, p) in plan.rows.iter().enumerate() {
        if p.action == "update"
            && let (Some(id), Some(body)) = (&p.id, &p.body)
        {
            reqs.push(BatchRequest::new(
                format!("r{i}"),
                reqwest::Method::PATCH,
                format!("/users/{}", seg(id)),
                Some(body.clone()),
            ));
        }
    }
    for (k, d) in plan.deactivations.iter().enumerate() {
        reqs.push(BatchRequest::new(
            format!("d{k}"),
            reqwest::Method::PATCH,
            format!("/users/{}", seg(&d.id)),
            Some(json!({"accountEnabled": false})),
        ));
    }
    w.writes += reqs.len();
    for (req, ans) in send(g, reqs, task).await? {
        let (kind, n) = req.id.split_at(1);
        let n: usize = n.parse().unwrap_or(0);
        if let Err(e) = ans.into_result(&req) {
            if kind == "r" {
                w.rows[n] = Some(e.message);
            } else {
                w.deactivations[n] = Some(e.message);
            }
        }
    }

    // 4. Memberships, managers, app assignments.
    let mut reqs = Vec::new();
    let mut owner = Vec::new();
    for (i, p) in plan.rows.iter().enumerate() {
        let Some(id) = &p.id else { continue };
        if w.rows[i].is_some() {
            continue;
        }
        for gname in &p.groups {
            match group_ids.get(gname) {
                Some(gid) => {
                    reqs.push(BatchRequest::post(
                        reqs.len().to_string(),
                        format!("/groups/{}/members/$ref", seg(gid)),
                        g.member_ref(id),
                    ));
                    owner.push(i);
                }
                None => add_error(
                    &mut w.rows[i],
                    format!("not added to group `{gname}`: the group could not be created"),
                ),
            }
        }
        match &p.manager_ref {
            Some(MgrRef::Id(mid)) => {
                reqs.push(BatchRequest::new(
                    reqs.len().to_string(),
                    reqwest::Method::PUT,
                    format!("/users/{}/manager/$ref", seg(id)),
                    Some(g.member_ref(mid)),
                ));
                owner.push(i);
            }
            Some(MgrRef::Row(j)) => match plan.rows[*j].id.clone() {
                Some(mid) => {
                    reqs.push(BatchRequest::new(
                        reqs.len().to_string(),
                        reqwest::Method::PUT,
                        format!("/users/{}/manager/$ref", seg(id)),
                        Some(g.member_ref(&mid)),
                    ));
                    owner.push(i);
                }
                None => add_error(
                    &mut w.rows[i],
                    format!(
                        "the user was written, but its manager (line {}) failed, so the manager is not set",
                        plan.rows[*j].line
                    ),
                ),
            },
            None => {}
        }
        if p.assign
            && let Some(a) = &state.app
        {
            reqs.push(BatchRequest::post(
                reqs.len().to_string(),
                format!("/servicePrincipals/{}/appRoleAssignedTo", seg(&a.sp_id)),
                json!({"principalId": id, "resourceId": a.sp_id, "appRoleId": a.role_id}),
            ));
            owner.push(i);
        }
    }
    w.writes += reqs.len();
    for (req, ans) in send(g, reqs, task).await? {
        let i = owner[req.id.parse::<usize>().unwrap_or(0)];
        let already = ans.status == 400 && ans.body.to_string().contains("already exist");
        if let Err(e) = ans.into_result(&req)
            && !already
        {
            add_error(&mut w.rows[i], e.message);
        }
    }
    Ok(w)
}

/// A security group's mail nickname: the name's ASCII letters and digits (at most 64).
fn group_nickname(name: &str) -> String {
    let s: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(64)
        .collect();
    if s.is_empty() { "group".into() } else { s }
}
