//! Eventual consistency, as a real tenant shows it after a write: the twin's
//! replication and assignment lag.
//!
//! * **Replication.** For [`Lag::replication`] after a new application,
//!   service principal, synchronization job or app role assignment is created
//!   through Graph, reads of it *flap*: each read independently answers 404
//!   (or leaves the object out of a list) with a probability that starts at 1
//!   and falls linearly to 0 over the window, so one read can succeed and the
//!   next fail ("a newly created object [can] return a Not Found", Identity
//!   dev blog; terraform-provider-azuread needs several consecutive good
//!   reads). Draws are seeded ([`Lag::seed`]), per object and read.
//! * **Transient 403/409 on `/synchronization/*`.** Over the same window after
//!   a service principal or job is created, calls under its
//!   `…/synchronization` answer 403 or 409 with the same falling probability
//!   (terraform-provider-azuread's `synchronizationRetryFunc` retries exactly
//!   these). The bodies are a guess: nothing documents them.
//! * **Assignment lag.** For [`Lag::assignment`] after an assignment is created
//!   through Graph, the provisioning engine and provisionOnDemand do not see
//!   it (on-demand answers "not assigned"; a cycle leaves the user out), as
//!   the Entra docs and tf#1423 report for "up to a few minutes".
//!
//! Objects that exist at start (the seed) and objects tests put straight into
//! the tenant never lag. Where it stops: deciding *what* lags and for how long;
//! the Graph handlers and the engine ask it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How much eventual consistency the twin shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    /// Window in which new apps, SPs, jobs and assignments flap 404 and sync calls answer 403/409.
    pub replication: Duration,
    /// How long the engine and on-demand do not see a new assignment.
    pub assignment: Duration,
    /// Seeds the flapping draws (and the `$batch` answer order).
    pub seed: u64,
}

impl Lag {
    /// No lag at all (fast unit tests).
    pub fn off() -> Lag {
        Lag {
            replication: Duration::ZERO,
            assignment: Duration::ZERO,
            seed: 0,
        }
    }
    /// The in-process default (tests that claim realism, the demo): short but real windows.
    pub fn realistic() -> Lag {
        Lag {
            replication: Duration::from_millis(1500),
            assignment: Duration::from_millis(1500),
            seed: 0x5c1a_5417,
        }
    }
    pub fn is_off(&self) -> bool {
        self.replication.is_zero() && self.assignment.is_zero()
    }
}

impl Default for Lag {
    fn default() -> Self {
        Lag::realistic()
    }
}

/// A transient failure to answer instead of the real handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transient {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
}

/// The lag state of one twin.
#[derive(Debug)]
pub struct LagState {
    lag: Lag,
    created: Mutex<HashMap<String, Instant>>,
    assigned: Mutex<HashMap<String, Instant>>,
    draws: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LagState {
    pub fn new(lag: Lag) -> LagState {
        LagState {
            lag,
            created: Mutex::new(HashMap::new()),
            assigned: Mutex::new(HashMap::new()),
            draws: AtomicU64::new(0),
        }
    }
    pub fn lag(&self) -> &Lag {
        &self.lag
    }

    /// A seeded draw in [0, 1) for this object and this read.
    fn draw(&self, id: &str) -> f64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.lag.seed, id, n).hash(&mut h);
        (h.finish() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Probability that a read misses an object created `age` ago.
    fn miss_probability(&self, age: Duration) -> f64 {
        let w = self.lag.replication.as_secs_f64();
        if w <= 0.0 {
            return 0.0;
        }
        (1.25 * (1.0 - age.as_secs_f64() / w)).clamp(0.0, 1.0)
    }

    /// Start the replication window of objects just created through Graph.
    pub fn created(&self, ids: &[&str]) {
        if self.lag.replication.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut m = lock(&self.created);
        for id in ids {
            m.insert(id.to_string(), now);
        }
    }

    /// The age of a still-replicating object (`None` once its window is over).
    fn replicating_age(&self, id: &str) -> Option<Duration> {
        let mut m = lock(&self.created);
        let age = m.get(id)?.elapsed();
        if age >= self.lag.replication {
            m.remove(id);
            return None;
        }
        Some(age)
    }

    /// Whether this read sees the object (flaps during its window).
    pub fn visible(&self, id: &str) -> bool {
        match self.replicating_age(id) {
            None => true,
            Some(age) => self.draw(id) >= self.miss_probability(age),
        }
    }

    /// A transient 403/409 for a call under `…/synchronization` of `sp` (or of `job`) right after creation.
    pub fn sync_transient(&self, sp: &str, job: Option<&str>) -> Option<Transient> {
        let age = [Some(sp), job]
            .into_iter()
            .flatten()
            .filter_map(|id| self.replicating_age(id))
            .min()?;
        let key = job.unwrap_or(sp);
        if self.draw(key) >= self.miss_probability(age) {
            return None;
        }
        Some(if self.draw(key) < 0.5 {
            Transient {
                status: 403,
                code: "Authorization_RequestDenied",
                message: "Insufficient privileges to complete the operation.",
            }
        } else {
            Transient {
                status: 409,
                code: "Conflict",
                message: "The synchronization service is still setting up this service principal; retry the request.",
            }
        })
    }

    /// Start the assignment lag of an assignment just created through Graph.
    pub fn assigned(&self, assignment_id: &str) {
        if self.lag.assignment.is_zero() {
            return;
        }
        lock(&self.assigned).insert(assignment_id.to_string(), Instant::now());
    }

    /// Assignments the engine cannot see yet.
    pub fn hidden_assignments(&self) -> std::collections::HashSet<String> {
        let mut m = lock(&self.assigned);
        m.retain(|_, t| t.elapsed() < self.lag.assignment);
        m.keys().cloned().collect()
    }

    /// A seeded permutation source for `$batch` answers.
    pub fn shuffle_seed(&self) -> u64 {
        self.lag
            .seed
            .wrapping_add(self.draws.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_objects_flap_then_settle_and_old_ones_never_lag() {
        let s = LagState::new(Lag {
            replication: Duration::from_millis(300),
            ..Lag::realistic()
        });
        assert!(s.visible("seeded"));
        s.created(&["new"]);
        assert!(!s.visible("new"), "a read right after creation misses");
        std::thread::sleep(Duration::from_millis(150));
        let reads: Vec<bool> = (0..200).map(|_| s.visible("new")).collect();
        assert!(
            reads.contains(&true) && reads.contains(&false),
            "mid-window reads flap"
        );
        std::thread::sleep(Duration::from_millis(200));
        assert!((0..50).all(|_| s.visible("new")));
    }

    #[test]
    fn off_never_lags() {
        let s = LagState::new(Lag::off());
        s.created(&["x"]);
        s.assigned("a");
        assert!(s.visible("x") && s.sync_transient("x", None).is_none());
        assert!(s.hidden_assignments().is_empty());
    }

    #[test]
    fn sync_calls_fail_with_403_or_409_right_after_creation() {
        let s = LagState::new(Lag {
            replication: Duration::from_secs(60),
            ..Lag::realistic()
        });
        s.created(&["sp"]);
        let codes: std::collections::BTreeSet<u16> = (0..40)
            .filter_map(|_| s.sync_transient("sp", None).map(|t| t.status))
            .collect();
        assert_eq!(codes, [403, 409].into_iter().collect());
        assert!(s.sync_transient("other", None).is_none());
    }
}
