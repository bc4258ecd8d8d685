//! Keeps requests under Graph's quotas instead of bouncing off them.
//!
//! Writes: identity & access allows 3,000 writes per 2 min 30 s per app and
//! tenant (GRAPH-API.md §2.3). A large remap (thousands of assignments) would
//! hit that and spend minutes in 429s; [`WritePacer`] spaces writes out over a
//! sliding window with a small safety margin, so the quota is never reached
//! from our side.
//!
//! Reads: the resource-unit quota (3,500 / 5,000 / 8,000 RU per 10 s by tenant
//! size; a GET costs 1 RU). A snapshot of a million users sends tens of
//! thousands of reads; unpaced, bursts of concurrent `$batch` reads exhaust
//! each request's retries. [`ReadPacer`] is a sliding window at the quota
//! (98 % of it, starting at the largest, 8,000 RU / 10 s), which learns a lower quota from
//! the first 429 (what Graph admitted in the last window is what the quota allows),
//! pauses every read for the 429's `Retry-After`, and says whether the run as
//! a whole still makes progress: a throttled read is retried for as long as
//! some read was answered within [`ReadPacer::stall`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a [`ReadPacer`] reads the time: the system's monotonic clock, or a
/// clock moved only by [`Clock::advance`], so tests check exact waits
/// however slow the machine is.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<Mutex<Instant>>>);

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands still until advanced.
    pub fn manual() -> Clock {
        Clock(Some(Arc::new(Mutex::new(Instant::now()))))
    }

    pub fn now(&self) -> Instant {
        match &self.0 {
            None => Instant::now(),
            Some(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Move a manual clock forward (the system clock moves by itself).
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            *t.lock().unwrap_or_else(|e| e.into_inner()) += by;
        }
    }
}

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

/// Graph's resource-unit window.
pub const RU_WINDOW: Duration = Duration::from_secs(10);
/// The largest resource-unit quota (tenants over 500 users), per [`RU_WINDOW`].
pub const RU_LIMIT: usize = 8_000;
/// The smallest resource-unit quota (tenants under 50 users): what a 429
/// can teach [`ReadPacer::graph_default`] at most.
pub const RU_LIMIT_MIN: usize = 3_500;
/// After this long without a 429 the pace is raised again, 10 % a window,
/// up to where it started (a 429 of another kind taught too little).
const READ_RECOVER: Duration = Duration::from_secs(60);
/// How long a throttled read keeps being retried after the last read of the
/// run that was answered.
pub const READ_STALL: Duration = Duration::from_secs(300);
/// The share of the quota any window carries at most (the rest is room for
/// the time requests take to reach Graph).
const READ_SHARE: f64 = 0.98;

/// A sliding-window limiter for resource units (at most 98 % of the quota in
/// any window, as Graph counts it: a window's allowance may go at once),
/// shared by every clone of a client. A reservation takes the earliest slot
/// that fits, so concurrent reads queue in order.
#[derive(Debug)]
pub struct ReadPacer {
    window: Duration,
    /// Where the pace starts and the most it recovers to; the least a 429
    /// lowers it to.
    ceiling: f64,
    floor: f64,
    stall: Duration,
    clock: Clock,
    state: std::sync::Mutex<ReadState>,
}

#[derive(Debug)]
struct ReadState {
    /// Units per window the quota is believed to allow (None: unpaced).
    limit: Option<f64>,
    /// Units reserved within the last window (some in the future), in time order.
    sent: VecDeque<(Instant, u64)>,
    sent_units: u64,
    /// No read before this (a 429's `Retry-After`).
    resume_at: Instant,
    /// The last 429, and the last time the pace was raised.
    last_throttle: Instant,
    last_raise: Instant,
    /// Units Graph answered (not 429) within the last window, oldest first.
    admitted: VecDeque<(Instant, u64)>,
    last_progress: Instant,
    waited: Duration,
    throttled: u64,
    units: u64,
}

/// What a [`ReadPacer`] has seen so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadStats {
    /// Units sent (reservations made).
    pub units: u64,
    /// Read answers that were 429.
    pub throttled: u64,
    /// Time reads spent waiting for the bucket, summed over reads.
    pub waited: Duration,
    /// The quota paced at now, units per window (None: unpaced).
    pub limit: Option<f64>,
}

impl ReadPacer {
    /// At most `limit` units in any `window` (98 % of it sent), until a 429
    /// says the quota is lower.
    pub fn new(limit: usize, window: Duration) -> ReadPacer {
        ReadPacer::with_clock(limit, window, Clock::system())
    }

    /// [`ReadPacer::new`] reading the time from `clock`.
    pub fn with_clock(limit: usize, window: Duration, clock: Clock) -> ReadPacer {
        let now = clock.now();
        ReadPacer {
            window,
            ceiling: limit.max(1) as f64,
            floor: 1.0,
            stall: READ_STALL,
            clock,
            state: std::sync::Mutex::new(ReadState {
                limit: (!window.is_zero()).then_some(limit.max(1) as f64),
                sent: VecDeque::new(),
                sent_units: 0,
                resume_at: now,
                last_throttle: now,
                last_raise: now,
                admitted: VecDeque::new(),
                last_progress: now,
                waited: Duration::ZERO,
                throttled: 0,
                units: 0,
            }),
        }
    }

    /// Graph's largest resource-unit quota (8,000 RU / 10 s); a smaller
    /// tenant's quota is learnt from the first 429, never below Graph's
    /// smallest (3,500), so one stray 429 cannot slow a run to a crawl.
    pub fn graph_default() -> ReadPacer {
        ReadPacer::new(RU_LIMIT, RU_WINDOW).with_floor(RU_LIMIT_MIN)
    }

    /// The least a 429 lowers the quota to (default 1 unit a window): a
    /// twin with scaled-down quotas needs a pacer that goes below Graph's.
    pub fn with_floor(mut self, floor: usize) -> ReadPacer {
        self.floor = (floor.max(1) as f64).min(self.ceiling);
        self
    }

    /// No pacing; throttled reads are still retried while the run progresses.
    pub fn unlimited() -> ReadPacer {
        ReadPacer::new(usize::MAX, Duration::ZERO)
    }

    /// Another deadline without progress (default [`READ_STALL`]).
    pub fn with_stall(mut self, stall: Duration) -> ReadPacer {
        self.stall = stall;
        self
    }

    /// The deadline without progress.
    pub fn stall(&self) -> Duration {
        self.stall
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ReadState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserve `units` and say how long to wait before sending them.
    pub fn reserve(&self, units: u64) -> Duration {
        let now = self.clock.now();
        let mut s = self.state();
        s.units += units;
        let Some(limit) = s.limit else {
            return Duration::ZERO;
        };
        let window = self.window;
        if now.duration_since(s.last_throttle) >= READ_RECOVER
            && now.duration_since(s.last_raise) >= window
            && limit < self.ceiling
        {
            s.limit = Some((limit * 1.1).min(self.ceiling));
            s.last_raise = now;
        }
        let allowed = ((s.limit.unwrap_or(limit) * READ_SHARE).floor() as u64).max(1);
        while s.sent.front().is_some_and(|(t, _)| *t + window <= now) {
            let (_, n) = s.sent.pop_front().expect("front");
            s.sent_units -= n;
        }
        // The earliest time the window ending then holds these units too:
        // once enough of the oldest reservations have left it. Reservations
        // are in time order (each is at or after the one before).
        let units_now = units.min(allowed);
        let mut send_at = now.max(s.resume_at);
        if let Some((last, _)) = s.sent.back() {
            send_at = send_at.max(*last);
        }
        let mut held = s.sent_units;
        for (t, n) in &s.sent {
            if held + units_now <= allowed {
                break;
            }
            held -= n;
            send_at = send_at.max(*t + window);
        }
        s.sent.push_back((send_at, units));
        s.sent_units += units;
        let wait = send_at - now;
        s.waited += wait;
        wait
    }

    /// Wait until `units` may be sent, and count them.
    pub async fn acquire(&self, units: u64) {
        let wait = self.reserve(units);
        if !wait.is_zero() {
            tracing::debug!(?wait, "pacing reads under the Graph resource-unit quota");
            tokio::time::sleep(wait).await;
        }
    }

    /// A read was answered 429: every read waits `pause` (its `Retry-After`),
    /// and the quota is taken to be at most what Graph admitted in the last
    /// window.
    pub fn throttled(&self, pause: Duration) {
        let now = self.clock.now();
        let mut s = self.state();
        s.throttled += 1;
        s.last_throttle = now;
        s.resume_at = s.resume_at.max(now + pause);
        let window = self.window;
        s.admitted.retain(|(t, _)| now.duration_since(*t) < window);
        if let Some(limit) = s.limit {
            let recent: u64 = s.admitted.iter().map(|(_, n)| n).sum();
            let learnt = limit.min((recent as f64).max(self.floor));
            if learnt < limit {
                tracing::debug!(
                    learnt,
                    "the Graph resource-unit quota is lower than assumed"
                );
            }
            s.limit = Some(learnt);
        }
    }

    /// `units` of reads were answered (not throttled): the run is making
    /// progress, and Graph admitted them.
    pub fn progressed(&self, units: u64) {
        let now = self.clock.now();
        let mut s = self.state();
        s.last_progress = now;
        if s.limit.is_some() {
            let window = self.window;
            while s
                .admitted
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) >= window)
            {
                s.admitted.pop_front();
            }
            s.admitted.push_back((now, units));
        }
    }

    /// Whether no read has been answered for longer than [`ReadPacer::stall`].
    pub fn stalled(&self) -> bool {
        self.clock.now().duration_since(self.state().last_progress) > self.stall
    }

    /// How long `units` more take at least at the quota paced at now (zero
    /// when unpaced): the ETA a progress line shows.
    pub fn time_for(&self, units: u64) -> Duration {
        let s = self.state();
        let Some(limit) = s.limit else {
            return Duration::ZERO;
        };
        let allowed = (limit * READ_SHARE).floor().max(1.0);
        let pause = s.resume_at.saturating_duration_since(self.clock.now());
        // Whole windows after the one in progress (whose allowance is spent
        // when reads are waiting at all).
        pause + self.window.mul_f64(units as f64 / allowed)
    }

    /// What the pacer has seen so far.
    pub fn stats(&self) -> ReadStats {
        let s = self.state();
        ReadStats {
            units: s.units,
            throttled: s.throttled,
            waited: s.waited,
            limit: s.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_window_s_allowance_goes_at_once_and_the_next_waits_for_the_window() {
        // 100 units per second: 98 in any second. The clock stands still.
        let clock = Clock::manual();
        let p = ReadPacer::with_clock(100, Duration::from_secs(1), clock.clone());
        for _ in 0..49 {
            assert_eq!(
                p.reserve(2),
                Duration::ZERO,
                "the window's allowance goes at once"
            );
        }
        // The 99th unit waits for the first reservation to leave the window;
        // the next ones queue behind it, in order.
        let a = p.reserve(1);
        let b = p.reserve(2);
        assert_eq!(a, Duration::from_secs(1));
        assert_eq!(b, Duration::from_secs(1), "queued behind it, same slot");
        assert_eq!(p.stats().units, 101);
        // 196 more units: two more windows.
        assert_eq!(p.time_for(196), Duration::from_secs(2));
        // Half a window later the same reservation waits half as long.
        clock.advance(Duration::from_millis(500));
        assert_eq!(p.reserve(1), Duration::from_millis(500));
        let u = ReadPacer::unlimited();
        assert_eq!(u.reserve(1_000_000), Duration::ZERO);
        assert_eq!(u.time_for(1_000_000), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_429_pauses_every_read_and_lowers_the_quota_to_what_was_admitted() {
        let clock = Clock::manual();
        let p = ReadPacer::with_clock(1_000, Duration::from_secs(10), clock.clone()).with_floor(20);
        for _ in 0..30 {
            p.reserve(1);
            p.progressed(1);
        }
        p.reserve(1); // answered 429: not admitted
        p.throttled(Duration::from_millis(300));
        let s = p.stats();
        assert_eq!((s.throttled, s.limit), (1, Some(30.0)));
        // Not before the Retry-After; here the window (31 units sent, 29
        // allowed now) keeps it waiting longer.
        let wait = p.reserve(1);
        assert_eq!(
            wait,
            Duration::from_secs(10),
            "the first units leave the window"
        );
        let q =
            ReadPacer::with_clock(1_000, Duration::from_secs(10), clock.clone()).with_floor(100);
        q.reserve(1);
        q.progressed(1);
        q.throttled(Duration::from_millis(300));
        assert_eq!(
            q.reserve(1),
            Duration::from_millis(300),
            "a 429's Retry-After pauses every read"
        );
        clock.advance(Duration::from_millis(100));
        assert_eq!(q.reserve(1), Duration::from_millis(200));
        // 29 units per 10 s from now on.
        let eta = p.time_for(290);
        assert!(eta >= Duration::from_secs(100), "{eta:?}");
        // A later 429 never raises it.
        p.throttled(Duration::ZERO);
        assert_eq!(p.stats().limit, Some(30.0));
        // Nor lowers it below the floor.
        let f = ReadPacer::new(1_000, Duration::from_secs(10)).with_floor(20);
        f.progressed(5);
        f.throttled(Duration::ZERO);
        assert_eq!(f.stats().limit, Some(20.0));
        // Graph's default never learns less than its smallest quota.
        let g = ReadPacer::graph_default();
        g.reserve(1);
        g.progressed(1);
        g.throttled(Duration::ZERO);
        assert_eq!(g.stats().limit, Some(RU_LIMIT_MIN as f64));
    }

    #[test]
    fn stalled_only_after_the_deadline_without_progress() {
        let clock = Clock::manual();
        let p = ReadPacer::with_clock(RU_LIMIT, RU_WINDOW, clock.clone())
            .with_stall(Duration::from_secs(300));
        clock.advance(Duration::from_secs(300));
        assert!(!p.stalled(), "not at the deadline");
        clock.advance(Duration::from_millis(1));
        assert!(p.stalled());
        p.progressed(1);
        assert!(!p.stalled());
        assert!(!ReadPacer::graph_default().stalled(), "the system clock");
    }

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
