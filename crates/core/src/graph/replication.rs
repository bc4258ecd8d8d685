//! Waiting out Entra's replication delay after creating an object.
//!
//! Right after a create, reads may answer 404 for seconds to minutes (different
//! replicas; GRAPH-API.md §2.5). A 404 then means "not yet", not "gone". The
//! hardened pattern (terraform azuread's `consistency.go`) is to poll until N
//! consecutive reads succeed; a success followed by a 404 starts the count
//! again. Any other error stops the wait at once.

use super::client::GraphClient;
use crate::error::{Error, Result};
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ReplicationPolicy {
    /// Successful reads in a row that count as "replicated" (terraform: 5).
    pub consecutive: u32,
    /// Wait between reads (Graph's tutorial: 5–10 s).
    pub interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for ReplicationPolicy {
    fn default() -> Self {
        ReplicationPolicy {
            consecutive: 5,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
        }
    }
}

/// What the wait saw, for logs and tests.
#[derive(Debug, Clone)]
pub struct Replicated {
    /// The last successful read.
    pub value: Value,
    /// Reads sent in total.
    pub reads: u32,
    /// 404s seen ("not yet").
    pub not_found: u32,
}

impl GraphClient {
    /// Poll `GET path` until `policy.consecutive` reads in a row succeed.
    pub async fn wait_until_replicated(
        &self,
        path: &str,
        policy: &ReplicationPolicy,
    ) -> Result<Replicated> {
        let start = Instant::now();
        let mut streak = 0u32;
        let mut reads = 0u32;
        let mut not_found = 0u32;
        loop {
            let reply = self.request(Method::GET, path, None).await?;
            reads += 1;
            if reply.status == 404 {
                not_found += 1;
                streak = 0;
            } else {
                let value = self.check(&Method::GET, path, reply)?;
                streak += 1;
                if streak >= policy.consecutive.max(1) {
                    return Ok(Replicated {
                        value,
                        reads,
                        not_found,
                    });
                }
            }
            if start.elapsed() + policy.interval > policy.timeout {
                return Err(Error::remote(format!(
                    "{} was created but still cannot be read reliably after {}s ({} of {reads} reads answered 404): Entra has not finished replicating it; it is not lost — run the command again in a few minutes",
                    super::error::shown_path(path),
                    policy.timeout.as_secs(),
                    not_found
                )));
            }
            tokio::time::sleep(policy.interval).await;
        }
    }
}
