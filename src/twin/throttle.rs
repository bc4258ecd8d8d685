//! Graph's documented throttling quotas, per calling app and tenant, as
//! sliding windows: identity writes 3,000 per 150 s, `provisionOnDemand` 5 per
//! 10 s, identity reports (`/auditLogs`) 5 per 10 s. `--quota-scale` multiplies
//! every quota (0 turns throttling off) so tests and benchmarks can reach them.
//!
//! The resource-unit bucket (3,500–8,000 RU per 10 s) is not modelled: the
//! write and per-endpoint quotas are the ones a migration tool hits.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which quota a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    Writes,
    ProvisionOnDemand,
    Reports,
}

impl Quota {
    fn base(self) -> (f64, Duration) {
        match self {
            Quota::Writes => (3000.0, Duration::from_secs(150)),
            Quota::ProvisionOnDemand => (5.0, Duration::from_secs(10)),
            Quota::Reports => (5.0, Duration::from_secs(10)),
        }
    }
    /// `x-ms-throttle-information` on a 429.
    pub fn information(self) -> &'static str {
        match self {
            Quota::Writes => "WriteLimitExceeded",
            Quota::ProvisionOnDemand => "ProvisionOnDemandLimitExceeded",
            Quota::Reports => "ReportsLimitExceeded",
        }
    }
    /// The scope segment of `x-ms-throttle-scope`.
    pub fn scope_kind(self) -> &'static str {
        match self {
            Quota::Writes => "ReadWrite",
            Quota::ProvisionOnDemand => "ProvisionOnDemand",
            Quota::Reports => "Reports",
        }
    }
}

/// Sliding-window counters keyed by (client app, quota).
#[derive(Debug)]
pub struct Throttle {
    scale: f64,
    windows: Mutex<HashMap<(String, Quota), VecDeque<Instant>>>,
}

impl Throttle {
    pub fn new(scale: f64) -> Self {
        Throttle {
            scale,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The scaled limit of a quota (at least 1), or None when throttling is off.
    pub fn limit(&self, q: Quota) -> Option<(usize, Duration)> {
        if self.scale <= 0.0 || !self.scale.is_finite() {
            return None;
        }
        let (n, w) = q.base();
        Some(((n * self.scale).floor().max(1.0) as usize, w))
    }

    /// Count one request; `Err(retry_after_secs)` when over quota (not counted).
    pub fn admit(&self, app: &str, q: Quota) -> Result<(), u64> {
        let Some((limit, window)) = self.limit(q) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = map.entry((app.to_string(), q)).or_default();
        while w.front().is_some_and(|t| now.duration_since(*t) >= window) {
            w.pop_front();
        }
        if w.len() >= limit {
            let oldest = *w.front().expect("limit is at least 1");
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        w.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_quota_refuses_with_retry_after() {
        let t = Throttle::new(0.001);
        assert_eq!(t.limit(Quota::Writes).unwrap().0, 3);
        for _ in 0..3 {
            t.admit("a", Quota::Writes).unwrap();
        }
        let retry = t.admit("a", Quota::Writes).unwrap_err();
        assert!((149..=150).contains(&retry), "{retry}");
        t.admit("b", Quota::Writes).unwrap();
        assert!(Throttle::new(0.0).admit("a", Quota::Reports).is_ok());
        assert_eq!(
            Throttle::new(1.0)
                .limit(Quota::ProvisionOnDemand)
                .unwrap()
                .0,
            5
        );
    }
}
