//! The twin: a simulated Entra tenant (Graph + token endpoints), its provisioning
//! engine, and an embedded SCIM target, served on loopback for tests, the demo
//! and rehearsals. Its own crate, so that the product library (`scimshift-core`)
//! cannot call into it: the arrow goes one way, the twin uses the product
//! library's mapping evaluator (the planner predicts with the code the engine
//! runs), its error and secret types, and `snapshot::model` for
//! `seed::from_snapshot`.
//!
//! Ownership: `state` is the data model; `engine` runs provisioning jobs
//! against a SCIM target over real HTTP; `scim_store` is the embedded SCIM 2.0
//! server; the Graph side (handlers, auth, throttling, faults, request log,
//! seeds) lives in the other modules; the `twin serve` command is `scimshift::cmd::twin`.

pub mod auth;
pub mod engine;
pub mod faults;
pub mod graph_api;
pub mod lag;
pub mod odata;
pub mod request_log;
pub mod schemas;
pub mod scim_store;
pub mod seed;
pub mod server;
pub mod state;
pub mod throttle;

// The product library's modules the twin builds on, named as if they were the
// twin's own (`crate::mapping::…`), so the code reads the same on both sides.
use scimshift_core::{error, graph, mapping, net, secret, snapshot};

use crate::secret::Secret;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything a running twin shares between its HTTP handlers and its engine.
///
/// `tenant` is behind a std `Mutex`: lock it for short, synchronous sections and
/// never hold the guard across an `.await`.
pub struct Twin {
    pub tenant: Mutex<state::Tenant>,
    /// Client the engine uses to reach SCIM targets.
    pub http: reqwest::Client,
    /// The embedded SCIM store (served at `/scim/v2`).
    pub scim_store: Arc<scim_store::ScimStore>,
    /// Base URL of the embedded store, known once the listener is bound.
    pub embedded_scim_url: OnceLock<String>,
    /// A BaseAddress the engine sends to the embedded store instead (a twin
    /// rebuilt from a real tenant's snapshot: `https://coda.io/…` stays the
    /// jobs' setting, and nothing leaves loopback).
    pub scim_alias: OnceLock<String>,
    /// Bearer token of the embedded store.
    pub embedded_scim_token: Secret,
    /// Replication and assignment lag of objects created through Graph.
    pub lag: lag::LagState,
    /// Engine bookkeeping (running jobs, on-demand rate limits…), owned by `engine`.
    pub engine: engine::EngineState,
}

impl Twin {
    /// Lock the tenant (poisoning is ignored: a panicked handler must not wedge the twin).
    pub fn tenant(&self) -> std::sync::MutexGuard<'_, state::Tenant> {
        self.tenant.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the engine sends SCIM for a job's BaseAddress: the embedded
    /// store for [`Twin::scim_alias`], else the address itself.
    pub fn scim_base(&self, base: &str) -> String {
        let same = |a: &str| {
            a.trim_end_matches('/')
                .eq_ignore_ascii_case(base.trim_end_matches('/'))
        };
        match (self.scim_alias.get(), self.embedded_scim_url.get()) {
            (Some(alias), Some(embedded)) if same(alias) => embedded.clone(),
            _ => base.to_string(),
        }
    }
}
