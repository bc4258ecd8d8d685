//! Carry out a plan against a SCIM target: creates through `/Bulk` when the
//! server advertises it (chunked within maxOperations and maxPayloadSize) or
//! concurrent POSTs, updates and deactivations as concurrent PATCHes, then a
//! second pass that sets managers created in this run. Concurrency is bounded
//! (`buffer_unordered`); throttling is retried by the client.

use super::model::ENTERPRISE;
use super::plan::{Action, Plan};
use crate::scim::{BulkOp, ProviderConfig, Resource, ScimClient};
use futures::stream::{self, StreamExt};
use indicatif::ProgressBar;
use serde_json::{Value, json};

/// How one row (or one deactivation) ended.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// `ok`, `failed`, `skipped`, `invalid`, `planned`.
    pub status: &'static str,
    pub id: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    fn ok(id: Option<String>) -> Outcome {
        Outcome {
            status: "ok",
            id,
            error: None,
        }
    }
    fn failed(id: Option<String>, e: impl Into<String>) -> Outcome {
        Outcome {
            status: "failed",
            id,
            error: Some(e.into()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    pub concurrency: usize,
    /// Use `/Bulk` for creates when the server supports it.
    pub use_bulk: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 4,
            use_bulk: true,
        }
    }
}

/// The outcomes: one per plan row, one per deactivation.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub rows: Vec<Outcome>,
    pub deactivations: Vec<Outcome>,
}

impl Applied {
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .chain(&self.deactivations)
            .filter(|o| o.status == "failed")
            .count()
    }
}

fn bulk_limits(cfg: &ProviderConfig) -> (usize, usize) {
    let ops = if cfg.bulk_max_operations == 0 {
        100
    } else {
        cfg.bulk_max_operations.min(1000)
    };
    let payload = if cfg.bulk_max_payload == 0 {
        1_000_000
    } else {
        cfg.bulk_max_payload
    };
    (ops, payload * 9 / 10)
}

fn err_detail(v: Option<&Value>, status: u16) -> String {
    let detail = v
        .and_then(|r| r.get("detail").or_else(|| r.get("message")))
        .and_then(Value::as_str)
        .unwrap_or("no detail given");
    let scim_type = v.and_then(|r| r.get("scimType")).and_then(Value::as_str);
    match scim_type {
        Some(t) => format!("the server answered {status} ({t}): {detail}"),
        None => format!("the server answered {status}: {detail}"),
    }
}

/// Apply `plan`. Never panics on a server answer; every failure lands in an outcome.
pub async fn apply(
    client: &ScimClient,
    plan: &Plan,
    cfg: &ProviderConfig,
    opts: ApplyOptions,
    pb: &ProgressBar,
) -> Applied {
    let conc = opts.concurrency.max(1);
    let mut out: Vec<Outcome> = plan
        .rows
        .iter()
        .map(|p| match p.action {
            Action::Unchanged => Outcome::ok(p.target_id.clone()),
            Action::Skip => Outcome {
                status: "skipped",
                id: p.target_id.clone(),
                error: None,
            },
            Action::Invalid => Outcome {
                status: "invalid",
                id: None,
                error: None,
            },
            _ => Outcome::default(),
        })
        .collect();

    // 1. Creates.
    let creates: Vec<usize> = plan
        .rows
        .iter()
        .enumerate()
        .filter(|(_, p)| p.action == Action::Create)
        .map(|(i, _)| i)
        .collect();
    if opts.use_bulk && cfg.bulk && creates.len() > 1 {
        let (max_ops, max_bytes) = bulk_limits(cfg);
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        let mut bytes = 200usize;
        for &i in &creates {
            let size = plan.rows[i]
                .body
                .as_ref()
                .map(|b| b.to_string().len())
                .unwrap_or(0)
                + 120;
            if !cur.is_empty() && (cur.len() >= max_ops || bytes + size > max_bytes) {
                chunks.push(std::mem::take(&mut cur));
                bytes = 200;
            }
            cur.push(i);
            bytes += size;
        }
        if !cur.is_empty() {
            chunks.push(cur);
        }
        let results: Vec<Vec<(usize, Outcome)>> = stream::iter(chunks)
            .map(|chunk| async move {
                let ops: Vec<BulkOp> = chunk
                    .iter()
                    .map(|&i| BulkOp {
                        method: reqwest::Method::POST,
                        path: "/Users".into(),
                        bulk_id: Some(format!("r{i}")),
                        data: plan.rows[i].body.clone(),
                    })
                    .collect();
                let res = match client.bulk(&ops, None).await {
                    Ok(results) => {
                        let mut by_id: std::collections::HashMap<String, crate::scim::BulkResult> =
                            results
                                .into_iter()
                                .filter_map(|r| r.bulk_id.clone().map(|b| (b, r)))
                                .collect();
                        chunk
                            .iter()
                            .map(|&i| {
                                let o = match by_id.remove(&format!("r{i}")) {
                                    Some(r) if (200..300).contains(&r.status) => {
                                        let id = r
                                            .response
                                            .as_ref()
                                            .and_then(|v| v.get("id"))
                                            .and_then(Value::as_str)
                                            .map(str::to_string)
                                            .or_else(|| {
                                                r.location
                                                    .as_deref()
                                                    .and_then(|l| l.rsplit('/').next())
                                                    .map(str::to_string)
                                            });
                                        match id {
                                            Some(id) => Outcome::ok(Some(id)),
                                            None => Outcome::failed(
                                                None,
                                                "created, but the server did not say the new id",
                                            ),
                                        }
                                    }
                                    Some(r) => Outcome::failed(
                                        None,
                                        err_detail(r.response.as_ref(), r.status),
                                    ),
                                    None => Outcome::failed(
                                        None,
                                        "the /Bulk answer had no result for this row",
                                    ),
                                };
                                (i, o)
                            })
                            .collect()
                    }
                    Err(e) => chunk
                        .iter()
                        .map(|&i| {
                            (
                                i,
                                Outcome::failed(None, format!("/Bulk request failed: {e}")),
                            )
                        })
                        .collect(),
                };
                pb.inc(chunk.len() as u64);
                res
            })
            .buffer_unordered(conc)
            .collect()
            .await;
        for (i, o) in results.into_iter().flatten() {
            out[i] = o;
        }
    } else {
        let results: Vec<(usize, Outcome)> = stream::iter(creates)
            .map(|i| async move {
                let body = plan.rows[i].body.clone().unwrap_or_else(|| json!({}));
                let o = match client.create(Resource::Users, &body).await {
                    Ok(v) => Outcome::ok(v.get("id").and_then(Value::as_str).map(str::to_string)),
                    Err(e) => Outcome::failed(None, e.message),
                };
                pb.inc(1);
                (i, o)
            })
            .buffer_unordered(conc)
            .collect()
            .await;
        for (i, o) in results {
            out[i] = o;
        }
    }

    // 2. Updates and deactivations.
    enum Job<'a> {
        Row(usize, &'a str, Vec<Value>),
        Deactivate(usize, &'a str),
    }
    let mut jobs: Vec<Job> = Vec::new();
    for (i, p) in plan.rows.iter().enumerate() {
        if p.action == Action::Update {
            if p.ops.is_empty() {
                out[i] = Outcome::ok(p.target_id.clone());
                pb.inc(1);
            } else {
                jobs.push(Job::Row(
                    i,
                    p.target_id.as_deref().unwrap_or(""),
                    p.ops.clone(),
                ));
            }
        }
    }
    for (k, d) in plan.deactivations.iter().enumerate() {
        jobs.push(Job::Deactivate(k, &d.id));
    }
    let mut deact = vec![Outcome::default(); plan.deactivations.len()];
    let results: Vec<(bool, usize, Outcome)> = stream::iter(jobs)
        .map(|job| async move {
            let (is_row, idx, id, ops) = match job {
                Job::Row(i, id, ops) => (true, i, id, ops),
                Job::Deactivate(k, id) => (
                    false,
                    k,
                    id,
                    vec![json!({"op": "replace", "path": "active", "value": false})],
                ),
            };
            let o = match client.patch(Resource::Users, id, ops).await {
                Ok(_) => Outcome::ok(Some(id.to_string())),
                Err(e) => Outcome::failed(Some(id.to_string()), e.message),
            };
            pb.inc(1);
            (is_row, idx, o)
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    for (is_row, idx, o) in results {
        if is_row {
            out[idx] = o;
        } else {
            deact[idx] = o;
        }
    }

    // 3. Managers created in this run.
    let links: Vec<(usize, String, String)> = plan
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let j = p.manager_from_row?;
            if out[i].status != "ok" {
                return None;
            }
            let id = out[i].id.clone()?;
            match (&out[j].status, &out[j].id) {
                (&"ok", Some(mid)) => Some((i, id, mid.clone())),
                _ => {
                    out[i] = Outcome::failed(
                        Some(id),
                        format!("the user was written, but its manager (line {}) failed, so the manager is not set", plan.rows[j].line),
                    );
                    None
                }
            }
        })
        .collect();
    pb.inc_length(links.len() as u64);
    let results: Vec<(usize, Option<String>)> = stream::iter(links)
        .map(|(i, id, mid)| async move {
            let ops = vec![json!({"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": mid}})];
            let r = client.patch(Resource::Users, &id, ops).await;
            pb.inc(1);
            (i, r.err().map(|e| format!("the user was written, but setting its manager failed: {}", e.message)))
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    for (i, e) in results {
        if let Some(e) = e {
            out[i].status = "failed";
            out[i].error = Some(e);
        }
    }
    Applied {
        rows: out,
        deactivations: deact,
    }
}
