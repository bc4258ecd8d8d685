//! The provisioning engine: runs a job's cycle the way Entra documents it and
//! talks to the target over real HTTP SCIM, sending the requests Entra sends
//! (see ENTRA-OUTBOUND-SCIM.md). Also answers validateCredentials and
//! provisionOnDemand for the Graph handlers.
//!
//! Where its responsibility stops: it reads and writes the [`Tenant`] (links,
//! job status, provisioning log) and never serves HTTP itself; the Graph
//! handlers decide *when* to call it. Submodules: `target` (the SCIM client and
//! PATCH dialects), `cycle` (one cycle), `status` (job status JSON),
//! `on_demand` (provisionOnDemand).
//!
//! Cycles: [`start_job`] runs an initial (full) cycle in a background task,
//! then an incremental cycle every [`EngineState::interval`] (2 s by default,
//! or twice the last cycle's duration if that is longer; `None` = one cycle
//! per start, for tests). Incremental cycles only process objects whose
//! source data or scope changed since they were last exported (Entra's
//! delta); failed objects (escrows) are retried with back-off. A change to
//! the schema or credentials forces a full cycle. A per-job lock makes sure
//! two cycles of one job never run at once.

pub mod cycle;
pub mod on_demand;
pub mod status;
pub mod target;

pub use cycle::CycleReport;

use super::Twin;
use super::state::Tenant;
use crate::secret::Secret;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Members per membership PATCH (Entra documents no size; the gallery
/// checklist asks apps to accept several per request).
pub const MEMBERS_PER_PATCH: usize = 50;
/// Oldest provisioning-log entries are dropped beyond this many.
pub const PROVISIONING_LOG_CAP: usize = 50_000;
const MANUAL: u64 = u64::MAX;

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Per-job runtime bookkeeping.
#[derive(Debug, Default)]
pub struct JobRuntime {
    cycle_lock: tokio::sync::Mutex<()>,
    looping: AtomicBool,
    full_pending: AtomicBool,
    config_hash: Mutex<Option<u64>>,
    /// source id → fingerprint of what was last exported successfully.
    fingerprints: Mutex<HashMap<String, u64>>,
    /// Escrowed (failed) objects: fingerprint at failure, failures so far, next retry.
    escrows: Mutex<HashMap<String, (u64, u32, Instant)>>,
    /// group source id → target user ids the engine added as members.
    exported_members: Mutex<HashMap<String, BTreeSet<String>>>,
    last_report: Mutex<Option<CycleReport>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl JobRuntime {
    /// Decide whether this cycle is full; a full cycle forgets the delta state.
    fn begin_cycle(&self, requested_full: bool, config_hash: u64) -> bool {
        let mut h = lock(&self.config_hash);
        let full = requested_full || *h != Some(config_hash);
        *h = Some(config_hash);
        if full {
            lock(&self.fingerprints).clear();
            lock(&self.escrows).clear();
        }
        full
    }
    /// Whether an incremental cycle can leave this object alone: exported
    /// unchanged, or escrowed unchanged and its back-off not yet over.
    fn unchanged(&self, id: &str, fp: u64) -> bool {
        if lock(&self.fingerprints).get(id) == Some(&fp) {
            return true;
        }
        lock(&self.escrows)
            .get(id)
            .is_some_and(|(efp, _, next)| *efp == fp && Instant::now() < *next)
    }
    fn remember(&self, id: &str, fp: u64) {
        lock(&self.fingerprints).insert(id.to_string(), fp);
        lock(&self.escrows).remove(id);
    }
    /// A failed object: retried by later incremental cycles with exponential
    /// back-off (1, 2, 4 … 64 × `base`), at once if its source data changes.
    fn escrow(&self, id: &str, fp: u64, base: Duration) {
        lock(&self.fingerprints).remove(id);
        let mut e = lock(&self.escrows);
        let failures = e.get(id).map_or(0, |(_, n, _)| *n) + 1;
        let wait = base.saturating_mul(1u32 << (failures - 1).min(6));
        e.insert(id.to_string(), (fp, failures, Instant::now() + wait));
    }
    /// Objects currently in escrow.
    pub fn escrow_count(&self) -> usize {
        lock(&self.escrows).len()
    }
    fn reset_fingerprints(&self) {
        lock(&self.fingerprints).clear();
        lock(&self.escrows).clear();
        *lock(&self.config_hash) = None;
    }
    fn exported_members(&self, group: &str) -> Option<BTreeSet<String>> {
        lock(&self.exported_members).get(group).cloned()
    }
    /// Forget what was exported to a group (it is being matched again).
    fn clear_members(&self, group: &str) {
        lock(&self.exported_members).remove(group);
    }
    fn note_members(&self, group: &str, ids: &[String], added: bool) {
        let mut m = lock(&self.exported_members);
        let set = m.entry(group.to_string()).or_default();
        for i in ids {
            if added {
                set.insert(i.clone());
            } else {
                set.remove(i);
            }
        }
    }
    /// The report of the last finished cycle.
    pub fn last_report(&self) -> Option<CycleReport> {
        lock(&self.last_report).clone()
    }
}

/// Engine bookkeeping kept on the [`Twin`].
#[derive(Debug)]
pub struct EngineState {
    jobs: Mutex<HashMap<(String, String), Arc<JobRuntime>>>,
    interval_ms: AtomicU64,
    concurrency: AtomicUsize,
    escrow_quarantine_min: AtomicUsize,
    on_demand_calls: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for EngineState {
    fn default() -> Self {
        EngineState {
            jobs: Mutex::new(HashMap::new()),
            interval_ms: AtomicU64::new(2000),
            concurrency: AtomicUsize::new(8),
            escrow_quarantine_min: AtomicUsize::new(5000),
            on_demand_calls: Mutex::new(HashMap::new()),
        }
    }
}

impl EngineState {
    /// Time between incremental cycles; `None` = one cycle per `start_job`.
    pub fn interval(&self) -> Option<Duration> {
        match self.interval_ms.load(Ordering::Relaxed) {
            MANUAL => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
    pub fn set_interval(&self, d: Option<Duration>) {
        self.interval_ms.store(
            d.map(|d| d.as_millis().min(u128::from(MANUAL - 1)) as u64)
                .unwrap_or(MANUAL),
            Ordering::Relaxed,
        );
    }
    /// Requests in flight per cycle (default 8).
    pub fn concurrency(&self) -> usize {
        self.concurrency.load(Ordering::Relaxed)
    }
    pub fn set_concurrency(&self, n: usize) {
        self.concurrency.store(n.clamp(1, 64), Ordering::Relaxed);
    }
    /// Failures needed before the escrow thresholds can quarantine a job
    /// (Entra: 5,000; tests lower it).
    pub fn escrow_quarantine_min(&self) -> usize {
        self.escrow_quarantine_min.load(Ordering::Relaxed)
    }
    pub fn set_escrow_quarantine_min(&self, n: usize) {
        self.escrow_quarantine_min
            .store(n.max(1), Ordering::Relaxed);
    }
    /// The runtime record of one job (created on first use).
    pub fn runtime(&self, sp_id: &str, job_id: &str) -> Arc<JobRuntime> {
        lock(&self.jobs)
            .entry((sp_id.to_string(), job_id.to_string()))
            .or_default()
            .clone()
    }
    /// Whether a background cycle loop is running for the job.
    pub fn is_running(&self, sp_id: &str, job_id: &str) -> bool {
        self.runtime(sp_id, job_id).looping.load(Ordering::SeqCst)
    }
    /// Forget a job's delta state and exported memberships (restart with `resetScope: Full`).
    pub fn reset(&self, sp_id: &str, job_id: &str) {
        let rt = self.runtime(sp_id, job_id);
        rt.reset_fingerprints();
        lock(&rt.exported_members).clear();
    }
}

/// Why an engine call failed, as the Graph handler should answer it.
#[derive(Debug, Clone)]
pub struct EngineError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl EngineError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        EngineError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFound", message)
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

fn is_active(twin: &Twin, sp_id: &str, job_id: &str) -> bool {
    let t = twin.tenant();
    t.synchronization
        .get(sp_id)
        .and_then(|s| s.jobs.get(job_id))
        .is_some_and(|j| {
            j.schedule_state.eq_ignore_ascii_case("Active")
                && j.status.get("code").and_then(Value::as_str) != Some("Quarantine")
        })
}

/// Start (or resume) a job's schedule: run a cycle in the background, then
/// keep cycling while the job is Active. Called by the `start` and `restart`
/// handlers. Sets `schedule.state` Active, `status.code` Active and clears a
/// quarantine. Needs a tokio runtime (does nothing without one).
pub fn start_job(twin: &Arc<Twin>, sp_id: &str, job_id: &str) {
    status::started(twin, sp_id, job_id);
    let rt = twin.engine.runtime(sp_id, job_id);
    rt.full_pending.store(true, Ordering::SeqCst);
    if rt.looping.swap(true, Ordering::SeqCst) {
        return; // the running loop picks up the full cycle
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        rt.looping.store(false, Ordering::SeqCst);
        return;
    };
    let (twin, sp, job) = (twin.clone(), sp_id.to_string(), job_id.to_string());
    handle.spawn(async move { job_loop(twin, rt, sp, job).await });
}

async fn job_loop(twin: Arc<Twin>, rt: Arc<JobRuntime>, sp: String, job: String) {
    loop {
        while is_active(&twin, &sp, &job) {
            let full = rt.full_pending.swap(false, Ordering::SeqCst);
            let began = std::time::Instant::now();
            let result = {
                let _g = rt.cycle_lock.lock().await;
                cycle::run(&twin, &rt, &sp, &job, full).await
            };
            // Never spend more than a third of the time cycling (large tenants).
            let took = began.elapsed();
            match result {
                Ok(r) => {
                    let stop = r.quarantined.is_some();
                    *lock(&rt.last_report) = Some(r);
                    if stop {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(sp = %sp, job = %job, error = %e, "provisioning cycle could not run");
                    status::quarantine(&twin, &sp, &job, &e.code, &e.message);
                    break;
                }
            }
            match twin.engine.interval() {
                Some(d) => tokio::time::sleep(d.max(took * 2)).await,
                None if rt.full_pending.load(Ordering::SeqCst) => {}
                None => break,
            }
        }
        rt.looping.store(false, Ordering::SeqCst);
        // A start that raced with the loop ending: pick it up.
        if rt.full_pending.load(Ordering::SeqCst)
            && is_active(&twin, &sp, &job)
            && !rt.looping.swap(true, Ordering::SeqCst)
        {
            continue;
        }
        break;
    }
}

/// Run one full cycle now and wait for it (tests, seeding). Quarantine and
/// pause are job states, not errors: they show in the job's status.
pub async fn run_cycle(twin: &Arc<Twin>, sp_id: &str, job_id: &str) -> Result<(), EngineError> {
    run_cycle_report(twin, sp_id, job_id).await.map(|_| ())
}

/// [`run_cycle`], returning what the cycle did and every request it sent.
pub async fn run_cycle_report(
    twin: &Arc<Twin>,
    sp_id: &str,
    job_id: &str,
) -> Result<CycleReport, EngineError> {
    run_cycle_kind(twin, sp_id, job_id, true).await
}

/// One incremental cycle (only what changed since the last export).
pub async fn run_incremental_cycle(
    twin: &Arc<Twin>,
    sp_id: &str,
    job_id: &str,
) -> Result<CycleReport, EngineError> {
    run_cycle_kind(twin, sp_id, job_id, false).await
}

async fn run_cycle_kind(
    twin: &Arc<Twin>,
    sp_id: &str,
    job_id: &str,
    full: bool,
) -> Result<CycleReport, EngineError> {
    let rt = twin.engine.runtime(sp_id, job_id);
    let _g = rt.cycle_lock.lock().await;
    let r = cycle::run(twin, &rt, sp_id, job_id, full).await?;
    *lock(&rt.last_report) = Some(r.clone());
    Ok(r)
}

/// Test a SCIM target with the given URL and token, as Test Connection does:
/// `GET /Users?filter=userName eq "<random guid>"` must answer 200 with an
/// empty ListResponse.
pub async fn validate_credentials(
    twin: &Arc<Twin>,
    base_url: &str,
    token: &str,
) -> Result<(), EngineError> {
    use target::{Target, TargetError};
    let t = Target::new(twin.http.clone(), base_url, Secret::new(token))
        .map_err(|m| EngineError::bad_request("InvalidTenantUrl", m))?;
    let probe = uuid::Uuid::new_v4().to_string();
    match t.query("Users", "userName", &probe).await {
        Ok(found) if found.is_empty() => Ok(()),
        Ok(_) => Err(EngineError::bad_request(
            "SystemForCrossDomainIdentityManagementServiceIncompatible",
            format!(
                "{} answered a query for a user that cannot exist with results: its filter support looks broken",
                t.base()
            ),
        )),
        Err(TargetError::Auth(s)) => Err(EngineError::bad_request(
            "InvalidCredentials",
            format!(
                "Failed to validate credentials: {} answered {s}; check the Secret Token",
                t.base()
            ),
        )),
        Err(TargetError::Unreachable(m)) => Err(EngineError::bad_request(
            "TargetUnreachable",
            format!("Failed to validate credentials: {m}"),
        )),
        Err(e) => Err(EngineError::bad_request(
            "SystemForCrossDomainIdentityManagementServiceIncompatible",
            format!(
                "Failed to validate credentials: {} is not answering as a SCIM 2.0 endpoint: {}",
                t.base(),
                e.message()
            ),
        )),
    }
}

/// Provision the given subjects now. `body` is the provisionOnDemand request
/// body; the result is the response object (`key`/`value` JSON strings).
pub async fn provision_on_demand(
    twin: &Arc<Twin>,
    sp_id: &str,
    job_id: &str,
    body: &Value,
) -> Result<Value, EngineError> {
    on_demand::run(twin, sp_id, job_id, body).await
}

/// A twin around `tenant` with a fresh embedded store, no replication delay,
/// and a random embedded-store token (tests, demo, seeding).
pub fn new_twin(tenant: Tenant) -> Twin {
    Twin {
        tenant: Mutex::new(tenant),
        http: crate::net::http_client(),
        scim_store: Arc::new(super::scim_store::ScimStore::default()),
        embedded_scim_url: OnceLock::new(),
        embedded_scim_token: Secret::new(format!("twin-{}", uuid::Uuid::new_v4().simple())),
        replication_delay: Duration::ZERO,
        engine: EngineState::default(),
    }
}

/// Serve the twin's embedded store alone on `127.0.0.1:0` under `/scim/v2`
/// (tests and tools that do not need the Graph side); records and returns
/// its base URL.
pub async fn serve_embedded_store(twin: &Arc<Twin>) -> std::io::Result<String> {
    let (url, _task) = super::scim_store::serve_loopback(
        twin.scim_store.clone(),
        twin.embedded_scim_token.clone(),
    )
    .await?;
    let _ = twin.embedded_scim_url.set(url.clone());
    Ok(url)
}
