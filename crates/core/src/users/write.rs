//! Carry out a plan against a SCIM target: creates through `/Bulk` when the
//! server advertises it (chunked within maxOperations and maxPayloadSize) or
//! concurrent POSTs, updates and deactivations as concurrent PATCHes, then a
//! second pass that sets managers created in this run. Concurrency is bounded
//! (`buffer_unordered`); throttling is retried by the client. Once the
//! interrupt flag is set no new request starts: the ones in flight finish and
//! every row not sent ends `not sent`.

use super::import_plan::{ImportPlan, RowAction};
use super::model::{ENTERPRISE, UserRow};
use crate::progress::Task;
use crate::scim::{BulkOp, ProviderConfig, Resource, ScimClient};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

/// The status of a row the run did not reach because it was interrupted.
pub const NOT_SENT: &str = "not sent";

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
    /// Not sent because the run was interrupted first.
    fn not_sent(id: Option<String>) -> Outcome {
        Outcome {
            status: NOT_SENT,
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

#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub concurrency: usize,
    /// Use `/Bulk` for creates when the server supports it.
    pub use_bulk: bool,
    /// Set by the first SIGINT/SIGTERM: start no new request.
    pub interrupt: Option<crate::interrupt::Flag>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            concurrency: 4,
            use_bulk: true,
            interrupt: None,
        }
    }
}

/// The outcomes: one per plan row, one per deactivation.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub rows: Vec<Outcome>,
    pub deactivations: Vec<Outcome>,
}

impl Written {
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .chain(&self.deactivations)
            .filter(|o| o.status == "failed")
            .count()
    }

    /// Rows and deactivations not sent because the run was interrupted.
    pub fn not_sent(&self) -> usize {
        self.rows
            .iter()
            .chain(&self.deactivations)
            .filter(|o| o.status == NOT_SENT)
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
pub async fn write(
    client: &ScimClient,
    plan: &ImportPlan,
    rows: &[UserRow],
    target: &[Value],
    cfg: &ProviderConfig,
    opts: WriteOptions,
    pb: &Task<'_>,
) -> Written {
    let conc = opts.concurrency.max(1);
    let mut out: Vec<Outcome> = plan
        .rows
        .iter()
        .map(|p| match p.action {
            RowAction::Unchanged => Outcome::ok(p.target_id.clone()),
            RowAction::Skip => Outcome {
                status: "skipped",
                id: p.target_id.clone(),
                error: None,
            },
            RowAction::Invalid => Outcome {
                status: "invalid",
                id: None,
                error: None,
            },
            _ => Outcome::default(),
        })
        .collect();

    // 1. Creates, in waves: a user whose manager is created in this run goes in
    //    a later wave, with the manager's new id in its body, so no second pass
    //    is needed. Only manager cycles among new users fall back to a PATCH.
    let creates: Vec<usize> = plan
        .rows
        .iter()
        .enumerate()
        .filter(|(_, p)| p.action == RowAction::Create)
        .map(|(i, _)| i)
        .collect();
    let waves = create_waves(plan, &creates);
    for wave in waves.iter() {
        let items: Vec<(usize, Value)> = wave
            .iter()
            .map(|&i| {
                let mid = plan.rows[i]
                    .manager_from_row
                    .and_then(|j| out[j].id.as_deref());
                (i, super::import_plan::create_body(plan, rows, i, mid))
            })
            .collect();
        for (i, o) in create_batch(client, items, cfg, &opts, conc, pb).await {
            out[i] = o;
        }
    }
    let in_waves: std::collections::HashSet<usize> = waves.iter().flatten().copied().collect();
    // Cycle members are created without a manager and linked after.
    let cycle_rows: Vec<usize> = creates
        .iter()
        .copied()
        .filter(|i| !in_waves.contains(i))
        .collect();
    if !cycle_rows.is_empty() {
        let items = cycle_rows
            .iter()
            .map(|&i| (i, super::import_plan::create_body(plan, rows, i, None)))
            .collect();
        for (i, o) in create_batch(client, items, cfg, &opts, conc, pb).await {
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
        if p.action == RowAction::Update {
            let mid = p.manager_from_row.and_then(|j| out[j].id.as_deref());
            let ops = super::import_plan::update_ops(plan, rows, target, i, mid);
            if ops.is_empty() {
                out[i] = Outcome::ok(p.target_id.clone());
                pb.inc(1);
            } else {
                jobs.push(Job::Row(i, p.target_id.as_deref().unwrap_or(""), ops));
            }
        }
    }
    for (k, d) in plan.deactivations.iter().enumerate() {
        jobs.push(Job::Deactivate(k, &d.id));
    }
    let mut deact = vec![Outcome::default(); plan.deactivations.len()];
    let stop = opts.interrupt.as_ref();
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
            if crate::interrupt::requested(stop) {
                return (is_row, idx, Outcome::not_sent(Some(id.to_string())));
            }
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

    // 3. Manager links still missing: cycles among new users; rows whose manager failed.
    let mut links: Vec<(usize, String, String)> = Vec::new();
    for (i, p) in plan.rows.iter().enumerate() {
        let Some(j) = p.manager_from_row else {
            continue;
        };
        if out[i].status != "ok" {
            continue;
        }
        let Some(id) = out[i].id.clone() else {
            continue;
        };
        // A manager that exists (even if its own row failed later) can be linked.
        match out[j].id.clone() {
            Some(mid) => {
                if cycle_rows.contains(&i) {
                    links.push((i, id, mid));
                }
            }
            None => {
                out[i] = Outcome::failed(
                    Some(id),
                    format!(
                        "the user was written, but its manager (line {}) failed, so the manager is not set",
                        plan.rows[j].line
                    ),
                );
            }
        }
    }
    pb.add_total(links.len() as u64);
    let results: Vec<(usize, Option<String>)> = stream::iter(links)
        .map(|(i, id, mid)| async move {
            if crate::interrupt::requested(stop) {
                let e = "the user was written, but the run was interrupted before its manager was set (run the import again to set it)";
                return (i, Some(e.to_string()));
            }
            let r = client
                .patch(Resource::Users, &id, vec![manager_op(&mid)])
                .await;
            pb.inc(1);
            (
                i,
                r.err().map(|e| {
                    format!(
                        "the user was written, but setting its manager failed: {}",
                        e.message
                    )
                }),
            )
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
    Written {
        rows: out,
        deactivations: deact,
    }
}

fn manager_op(id: &str) -> Value {
    json!({"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": id}})
}

type Depths = std::collections::HashMap<usize, Option<usize>>;

fn depth_of(
    plan: &ImportPlan,
    i: usize,
    depth: &mut Depths,
    seen: &mut Vec<usize>,
) -> Option<usize> {
    if let Some(d) = depth.get(&i) {
        return *d;
    }
    if seen.contains(&i) {
        return None; // a cycle
    }
    seen.push(i);
    let d = match plan.rows[i].manager_from_row {
        None => Some(0),
        Some(j) => depth_of(plan, j, depth, seen).map(|d| d + 1),
    };
    seen.pop();
    depth.insert(i, d);
    d
}

/// Group creates into waves: wave 0 has no manager created in this run; wave k
/// has its manager in wave k-1. Rows on a manager cycle are left out.
fn create_waves(plan: &ImportPlan, creates: &[usize]) -> Vec<Vec<usize>> {
    let mut depth = Depths::new();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for &i in creates {
        if let Some(d) = depth_of(plan, i, &mut depth, &mut Vec::new()) {
            if waves.len() <= d {
                waves.resize(d + 1, Vec::new());
            }
            waves[d].push(i);
        }
    }
    waves
}

/// Create `items` (row index, body) through /Bulk chunks or concurrent POSTs.
async fn create_batch(
    client: &ScimClient,
    items: Vec<(usize, Value)>,
    cfg: &ProviderConfig,
    opts: &WriteOptions,
    conc: usize,
    pb: &Task<'_>,
) -> Vec<(usize, Outcome)> {
    let stop = opts.interrupt.as_ref();
    if opts.use_bulk && cfg.bulk && items.len() > 1 {
        let (max_ops, max_bytes) = bulk_limits(cfg);
        let mut chunks: Vec<Vec<(usize, Value)>> = Vec::new();
        let mut cur: Vec<(usize, Value)> = Vec::new();
        let mut bytes = 200usize;
        for (i, body) in items {
            let size = body.to_string().len() + 120;
            if !cur.is_empty() && (cur.len() >= max_ops || bytes + size > max_bytes) {
                chunks.push(std::mem::take(&mut cur));
                bytes = 200;
            }
            cur.push((i, body));
            bytes += size;
        }
        if !cur.is_empty() {
            chunks.push(cur);
        }
        let results: Vec<Vec<(usize, Outcome)>> = stream::iter(chunks)
            .map(|chunk| async move {
                if crate::interrupt::requested(stop) {
                    return chunk
                        .iter()
                        .map(|(i, _)| (*i, Outcome::not_sent(None)))
                        .collect();
                }
                let res = bulk_chunk(client, &chunk).await;
                pb.inc(chunk.len() as u64);
                res
            })
            .buffer_unordered(conc)
            .collect()
            .await;
        results.into_iter().flatten().collect()
    } else {
        stream::iter(items)
            .map(|(i, body)| async move {
                if crate::interrupt::requested(stop) {
                    return (i, Outcome::not_sent(None));
                }
                let o = match client.create(Resource::Users, &body).await {
                    Ok(v) => Outcome::ok(v.get("id").and_then(Value::as_str).map(str::to_string)),
                    Err(e) => Outcome::failed(None, e.message),
                };
                pb.inc(1);
                (i, o)
            })
            .buffer_unordered(conc)
            .collect()
            .await
    }
}

async fn bulk_chunk(client: &ScimClient, chunk: &[(usize, Value)]) -> Vec<(usize, Outcome)> {
    let ops: Vec<BulkOp> = chunk
        .iter()
        .map(|(i, body)| BulkOp {
            method: reqwest::Method::POST,
            path: "/Users".into(),
            bulk_id: Some(format!("r{i}")),
            data: Some(body.clone()),
        })
        .collect();
    let results = match client.bulk(&ops, None).await {
        Ok(r) => r,
        Err(e) => {
            return chunk
                .iter()
                .map(|(i, _)| {
                    (
                        *i,
                        Outcome::failed(None, format!("/Bulk request failed: {e}")),
                    )
                })
                .collect();
        }
    };
    let mut by_id: std::collections::HashMap<String, crate::scim::BulkResult> = results
        .into_iter()
        .filter_map(|r| r.bulk_id.clone().map(|b| (b, r)))
        .collect();
    chunk
        .iter()
        .map(|(i, _)| {
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
                                .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                                .map(str::to_string)
                        });
                    match id {
                        Some(id) => Outcome::ok(Some(id)),
                        None => {
                            Outcome::failed(None, "created, but the server did not say the new id")
                        }
                    }
                }
                Some(r) => Outcome::failed(None, err_detail(r.response.as_ref(), r.status)),
                None => Outcome::failed(None, "the /Bulk answer had no result for this row"),
            };
            (*i, o)
        })
        .collect()
}
