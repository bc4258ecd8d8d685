//! Every create is findable, so an interrupted one is found, never repeated:
//! the custom app by its display name and template (and refused when two
//! match — one plan makes one app), assignments by listing the custom app's
//! before each `$batch` and sending only the missing ones; an answer that the
//! assignment "already exists" counts as done.

use super::transport::Transport;
use crate::error::{Error, Result};
use crate::plan::model::{Request, Step};
use crate::plan::placeholder::Bound;
use serde_json::Value;
use std::collections::HashMap;

/// Graph's answer to an assignment that is already there.
const ALREADY_EXISTS: &str = "already exists";

/// More than one service principal answers the custom app's lookup: refuse.
pub fn refuse_twins(step: &Step, body: &Value) -> Result<()> {
    let n = body
        .get("value")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if n > 1 {
        let name = step
            .diff
            .iter()
            .find(|d| d.path == "app.displayName")
            .and_then(|d| d.after.as_ref())
            .and_then(Value::as_str)
            .unwrap_or("the custom app");
        return Err(Error::input(format!(
            "{n} service principals are named \"{name}\": one plan makes one custom app, so scimshift cannot tell which is this plan's. Delete the extra one in the Entra admin center (Enterprise applications), or make a new plan with another --custom-app-name"
        )));
    }
    Ok(())
}

/// Whether a request is a `$batch` of assignments to the custom app.
pub fn is_assignment_batch(req: &Request) -> bool {
    req.url == "/$batch"
        && req
            .body
            .as_ref()
            .and_then(|b| b.get("requests"))
            .and_then(Value::as_array)
            .is_some_and(|a| {
                !a.is_empty()
                    && a.iter().all(|r| {
                        r.get("method").and_then(Value::as_str) == Some("POST")
                            && r.get("url")
                                .and_then(Value::as_str)
                                .is_some_and(|u| u.ends_with("/appRoleAssignedTo"))
                    })
            })
}

/// The inner requests of a filled assignments batch whose principal the
/// custom app does not have yet (with their principal), and the assignments
/// it already has (principal → assignment id).
pub async fn missing_assignments(
    t: &Transport,
    bound: &Bound,
    body: Option<&Value>,
) -> Result<(Vec<(Value, String)>, HashMap<String, String>)> {
    let sp = bound
        .get("customSpId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::internal("assignments before the custom app is known"))?;
    let listed = t
        .get_all_pages(
            crate::plan::model::Target::Graph,
            &format!("/servicePrincipals/{sp}/appRoleAssignedTo?$top=999"),
        )
        .await?;
    let have: HashMap<String, String> = listed
        .body
        .get("value")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some((
                        x.get("principalId")?.as_str()?.to_string(),
                        x.get("id")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let inner = body
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut missing = Vec::new();
    let mut there = HashMap::new();
    for r in inner {
        let p = r
            .pointer("/body/principalId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match have.get(&p) {
            Some(id) => {
                there.insert(p, id.clone());
            }
            None => missing.push((r, p)),
        }
    }
    Ok((missing, there))
}

/// Every inner answer of a `$batch` succeeded (an assignment found already
/// there, or a removal found already gone, count as success); else one
/// sentence naming the first failure.
pub fn check_batch(body: &Value, sent: Option<&Value>) -> Result<()> {
    let Some(responses) = body.get("responses").and_then(Value::as_array) else {
        return Ok(());
    };
    let principal_of = |id: &str| {
        sent.and_then(|b| b.get("requests"))
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
            })
            .and_then(|r| r.pointer("/body/principalId"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    for r in responses {
        let status = r.get("status").and_then(Value::as_u64).unwrap_or(0);
        if (200..300).contains(&status) {
            continue;
        }
        let msg = r
            .pointer("/body/error/message")
            .and_then(Value::as_str)
            .unwrap_or("");
        if status == 400 && msg.contains(ALREADY_EXISTS) {
            continue;
        }
        // A removal whose object is already gone (an interrupted rollback).
        let id = r.get("id").and_then(Value::as_str).unwrap_or("");
        let deleting = sent
            .and_then(|b| b.get("requests"))
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|x| x.get("id").and_then(Value::as_str) == Some(id))
            })
            .and_then(|x| x.get("method"))
            .and_then(Value::as_str)
            == Some("DELETE");
        if status == 404 && deleting {
            continue;
        }
        let id = r.get("id").and_then(Value::as_str).unwrap_or("?");
        let who = principal_of(id).unwrap_or_else(|| id.to_string());
        return Err(Error::remote(format!(
            "Graph refused the change of principal {who}'s assignment to the custom app (HTTP {status}: {}); run the command again to resume",
            if msg.is_empty() { "no message" } else { msg }
        )));
    }
    Ok(())
}
