//! Graph's documented throttling quotas, per calling app and tenant, as
//! sliding windows: identity & access resource units (3,500 / 5,000 / 8,000 RU
//! per 10 s for tenants under 50 / up to 500 / over 500 users; a GET costs
//! 1 RU, 2 on `/applications`; a write 1 RU), identity writes 3,000 per 150 s,
//! `provisionOnDemand` 5 per 10 s, identity reports (`/auditLogs`) 5 per
//! 10 s. `--quota-scale` multiplies every quota (0 turns throttling off) so
//! tests and benchmarks can reach them.
//!
//! Not modelled: the per-tenant (all apps) and per-app (all tenants) write
//! limits, the global 130,000 requests / 10 s, and the `$select`/`$top`
//! discounts on RU cost.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which quota a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    ResourceUnits,
    Writes,
    ProvisionOnDemand,
    Reports,
}

impl Quota {
    fn base(self, tenant_users: usize) -> (f64, Duration) {
        match self {
            Quota::ResourceUnits => {
                let ru = match tenant_users {
                    0..50 => 3500.0,
                    50..=500 => 5000.0,
                    _ => 8000.0,
                };
                (ru, Duration::from_secs(10))
            }
            Quota::Writes => (3000.0, Duration::from_secs(150)),
            Quota::ProvisionOnDemand => (5.0, Duration::from_secs(10)),
            Quota::Reports => (5.0, Duration::from_secs(10)),
        }
    }
    /// `x-ms-throttle-information` on a 429.
    pub fn information(self) -> &'static str {
        match self {
            Quota::ResourceUnits => "ResourceUnitLimitExceeded",
            Quota::Writes => "WriteLimitExceeded",
            Quota::ProvisionOnDemand => "ProvisionOnDemandLimitExceeded",
            Quota::Reports => "ReportsLimitExceeded",
        }
    }
    /// The scope segment of `x-ms-throttle-scope`.
    pub fn scope_kind(self) -> &'static str {
        match self {
            Quota::ResourceUnits => "Read",
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
    tenant_users: usize,
    windows: Mutex<HashMap<(String, Quota), VecDeque<Instant>>>,
    usage: Mutex<Usage>,
}

/// What the twin's Graph side has answered since it started, all apps
/// together (benchmarks read it: requests and resource units a command
/// spent, and how often it was refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Graph requests dispatched, a `$batch` and each request inside it counted.
    pub requests: u64,
    /// Units admitted per quota (with throttling off too).
    pub admitted: HashMap<Quota, u64>,
    /// Requests answered 429 per quota.
    pub refused: HashMap<Quota, u64>,
}

impl Throttle {
    /// `tenant_users` picks the resource-unit quota (Graph sizes it by tenant).
    pub fn new(scale: f64, tenant_users: usize) -> Self {
        Throttle {
            scale,
            tenant_users,
            windows: Mutex::new(HashMap::new()),
            usage: Mutex::new(Usage::default()),
        }
    }

    /// Count one Graph request (before any quota is checked).
    pub fn count_request(&self) {
        self.usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requests += 1;
    }

    /// The counts so far.
    pub fn usage(&self) -> Usage {
        self.usage.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn note(&self, q: Quota, admitted: Option<usize>) {
        let mut u = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        match admitted {
            Some(n) => *u.admitted.entry(q).or_default() += n as u64,
            None => *u.refused.entry(q).or_default() += 1,
        }
    }

    /// The scaled limit of a quota (at least 1), or None when throttling is off.
    pub fn limit(&self, q: Quota) -> Option<(usize, Duration)> {
        if self.scale <= 0.0 || !self.scale.is_finite() {
            return None;
        }
        let (n, w) = q.base(self.tenant_users);
        Some(((n * self.scale).floor().max(1.0) as usize, w))
    }

    /// Count one request; `Err(retry_after_secs)` when over quota (not counted).
    pub fn admit(&self, app: &str, q: Quota) -> Result<(), u64> {
        self.admit_cost(app, q, 1)
    }

    /// Count a request costing `cost` units of quota `q`.
    pub fn admit_cost(&self, app: &str, q: Quota, cost: usize) -> Result<(), u64> {
        let Some((limit, window)) = self.limit(q) else {
            self.note(q, Some(cost.max(1)));
            return Ok(());
        };
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = map.entry((app.to_string(), q)).or_default();
        while w.front().is_some_and(|t| now.duration_since(*t) >= window) {
            w.pop_front();
        }
        let cost = cost.clamp(1, limit);
        if w.len() + cost > limit {
            // The request fits once enough of the oldest units have left the window.
            let idx = (w.len() + cost - limit - 1).min(w.len() - 1);
            let wait = window.saturating_sub(now.duration_since(w[idx]));
            drop(map);
            self.note(q, None);
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        for _ in 0..cost {
            w.push_back(now);
        }
        drop(map);
        self.note(q, Some(cost));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_quota_refuses_with_retry_after() {
        let t = Throttle::new(0.001, 10);
        assert_eq!(t.limit(Quota::Writes).unwrap().0, 3);
        for _ in 0..3 {
            t.admit("a", Quota::Writes).unwrap();
        }
        let retry = t.admit("a", Quota::Writes).unwrap_err();
        assert!((149..=150).contains(&retry), "{retry}");
        t.admit("b", Quota::Writes).unwrap();
        assert!(Throttle::new(0.0, 10).admit("a", Quota::Reports).is_ok());
        assert_eq!(
            Throttle::new(1.0, 10)
                .limit(Quota::ProvisionOnDemand)
                .unwrap()
                .0,
            5
        );
    }

    #[test]
    fn resource_units_depend_on_tenant_size_and_cost() {
        let ru = |users| {
            Throttle::new(1.0, users)
                .limit(Quota::ResourceUnits)
                .unwrap()
                .0
        };
        assert_eq!((ru(10), ru(200), ru(100_000)), (3500, 5000, 8000));
        let t = Throttle::new(0.001, 10); // 3 RU per 10 s
        t.admit_cost("a", Quota::ResourceUnits, 2).unwrap();
        assert!(t.admit_cost("a", Quota::ResourceUnits, 2).is_err());
        t.admit_cost("a", Quota::ResourceUnits, 1).unwrap();
        let retry = t.admit("a", Quota::ResourceUnits).unwrap_err();
        assert!((9..=10).contains(&retry), "{retry}");
        let u = t.usage();
        assert_eq!(u.admitted[&Quota::ResourceUnits], 3);
        assert_eq!(u.refused[&Quota::ResourceUnits], 2);
    }
}
