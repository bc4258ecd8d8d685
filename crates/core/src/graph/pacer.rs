//! Keeps writes under Graph's write quota instead of bouncing off it.
//!
//! Identity & access allows 3,000 writes per 2 min 30 s per app and tenant
//! (GRAPH-API.md §2.3). A large remap (thousands of assignments) would hit
//! that and spend minutes in 429s; the pacer spaces writes out over a sliding
//! window with a small safety margin, so the quota is never reached from our
//! side. Reads are not paced (their limit is far higher and 429s are retried).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A sliding-window limiter: at most `limit` writes in any `window`.
#[derive(Debug)]
pub struct WritePacer {
    limit: usize,
    window: Duration,
    log: tokio::sync::Mutex<VecDeque<Instant>>,
    waited: std::sync::Mutex<Duration>,
}

impl WritePacer {
    pub fn new(limit: usize, window: Duration) -> WritePacer {
        WritePacer {
            limit: limit.max(1),
            window,
            log: tokio::sync::Mutex::new(VecDeque::new()),
            waited: std::sync::Mutex::new(Duration::ZERO),
        }
    }

    /// Graph's app+tenant write quota (3,000 / 150 s) less a 5 % margin.
    pub fn graph_default() -> WritePacer {
        WritePacer::new(2_850, Duration::from_secs(150))
    }

    /// No pacing (tests, the twin with throttling off).
    pub fn unlimited() -> WritePacer {
        WritePacer::new(usize::MAX, Duration::ZERO)
    }

    /// How long `n` more writes take at least, starting from an empty window:
    /// every `limit` writes after the first batch wait one window (zero when unpaced).
    pub fn time_for(&self, n: usize) -> Duration {
        if self.window.is_zero() || n == 0 {
            return Duration::ZERO;
        }
        self.window * ((n - 1) / self.limit) as u32
    }

    /// Total time spent waiting so far.
    pub fn waited(&self) -> Duration {
        *self.waited.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until `n` more writes fit in the window, and record them.
    pub async fn acquire(&self, n: usize) {
        if self.window.is_zero() {
            return;
        }
        for _ in 0..n {
            loop {
                let wait = {
                    let mut log = self.log.lock().await;
                    let now = Instant::now();
                    while log
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= self.window)
                    {
                        log.pop_front();
                    }
                    if log.len() < self.limit {
                        log.push_back(now);
                        None
                    } else {
                        Some(self.window - now.duration_since(*log.front().expect("full log")))
                    }
                };
                match wait {
                    None => break,
                    Some(d) => {
                        *self.waited.lock().unwrap_or_else(|e| e.into_inner()) += d;
                        tracing::debug!(?d, "pacing writes under the Graph write quota");
                        tokio::time::sleep(d).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spaces_writes_over_the_window() {
        let p = WritePacer::new(3, Duration::from_millis(200));
        let start = Instant::now();
        p.acquire(3).await;
        assert_eq!(p.waited(), Duration::ZERO, "the first 3 fit the window");
        p.acquire(1).await; // the 4th must wait for the first to leave the window
        assert!(
            start.elapsed() >= Duration::from_millis(195),
            "{:?}",
            start.elapsed()
        );
        assert!(p.waited() > Duration::ZERO);
        assert_eq!(p.time_for(3), Duration::ZERO);
        assert_eq!(p.time_for(7), Duration::from_millis(400));
        assert_eq!(
            WritePacer::graph_default().time_for(10_000),
            Duration::from_secs(450)
        );
        let u = WritePacer::unlimited();
        u.acquire(10_000).await;
        assert_eq!(u.waited(), Duration::ZERO);
    }
}
