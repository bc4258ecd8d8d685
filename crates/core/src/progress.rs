//! Progress of long library operations, as events for whoever watches.
//!
//! A library function that takes time (a snapshot's reads, an import's
//! writes, later apply's steps) takes an [`Observer`] and reports a [`Task`]
//! per phase: started (with its total when known), progress `done/total`,
//! finished. It never draws: the command layer (`crate::cmd::progress`) turns
//! the events into spinners and bars on stderr, or into nothing for
//! `--output json`, tests and the demo ([`Silent`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// One thing that happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A phase began; `total` when its size is known (else a spinner's worth).
    Started { task: &'a str, total: Option<u64> },
    /// `done` of `total` are done now.
    Progress {
        task: &'a str,
        done: u64,
        total: Option<u64>,
    },
    /// What is left of the phase takes at least `eta` (a quota's pace:
    /// Graph reads under the resource-unit quota).
    Eta {
        task: &'a str,
        eta: std::time::Duration,
    },
    /// The phase ended (done, failed or abandoned).
    Finished { task: &'a str, done: u64 },
}

/// Receives progress events. Shared across concurrent work, so `Sync`.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// Collects every event as a line (`started NAME 3`, `progress NAME 1/3`,
/// `finished NAME 3`): for tests that check what a command would draw.
#[derive(Debug, Default)]
pub struct Recorder {
    pub lines: std::sync::Mutex<Vec<String>>,
}

impl Observer for Recorder {
    fn event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Started { task, total } => format!(
                "started {task} {}",
                total.map_or("?".to_string(), |t| t.to_string())
            ),
            Event::Progress { task, done, total } => format!(
                "progress {task} {done}/{}",
                total.map_or("?".to_string(), |t| t.to_string())
            ),
            Event::Eta { task, eta } => format!("eta {task} {}s", eta.as_secs()),
            Event::Finished { task, done } => format!("finished {task} {done}"),
        };
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

/// One phase being reported. Finishes when dropped, so an early return or an
/// error still ends it (a spinner never stays on screen).
pub struct Task<'a> {
    observer: &'a dyn Observer,
    name: String,
    done: AtomicU64,
    /// `u64::MAX` = unknown.
    total: AtomicU64,
    finished: AtomicBool,
}

impl<'a> Task<'a> {
    pub fn start(
        observer: &'a dyn Observer,
        name: impl Into<String>,
        total: Option<u64>,
    ) -> Task<'a> {
        let name = name.into();
        observer.event(&Event::Started { task: &name, total });
        Task {
            observer,
            name,
            done: AtomicU64::new(0),
            total: AtomicU64::new(total.unwrap_or(u64::MAX)),
            finished: AtomicBool::new(false),
        }
    }

    /// The total announced so far, when known.
    pub fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::SeqCst)).filter(|t| *t != u64::MAX)
    }

    /// `n` more are done.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::SeqCst) + n;
        self.observer.event(&Event::Progress {
            task: &self.name,
            done,
            total: self.total(),
        });
    }

    /// The phase turned out `n` larger than announced.
    pub fn add_total(&self, n: u64) {
        let _ = self
            .total
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(if t == u64::MAX { n } else { t + n })
            });
        self.observer.event(&Event::Progress {
            task: &self.name,
            done: self.done.load(Ordering::SeqCst),
            total: self.total(),
        });
    }

    /// What is left takes at least `eta` at the pace a quota allows.
    pub fn set_eta(&self, eta: std::time::Duration) {
        self.observer.event(&Event::Eta {
            task: &self.name,
            eta,
        });
    }

    /// End the phase now.
    pub fn finish(self) {
        drop(self)
    }
}

impl Drop for Task<'_> {
    fn drop(&mut self) {
        if !self.finished.swap(true, Ordering::SeqCst) {
            self.observer.event(&Event::Finished {
                task: &self.name,
                done: self.done.load(Ordering::SeqCst),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_reports_start_progress_and_finishes_once_even_when_dropped() {
        let r = Recorder::default();
        {
            let t = Task::start(&r, "reading", Some(2));
            t.inc(1);
            t.add_total(1);
            t.inc(2);
            t.set_eta(std::time::Duration::from_millis(61_500));
        }
        Task::start(&r, "paging", None).finish();
        assert_eq!(
            *r.lines.lock().unwrap(),
            [
                "started reading 2",
                "progress reading 1/2",
                "progress reading 1/3",
                "progress reading 3/3",
                "eta reading 61s",
                "finished reading 3",
                "started paging ?",
                "finished paging 0",
            ]
        );
    }
}
