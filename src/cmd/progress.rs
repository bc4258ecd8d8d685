//! How progress looks: the library reports [`crate::progress::Event`]s, and
//! this draws them as spinners (unknown length) and bars (known length) on
//! stderr, only when stderr is a terminal; with `--output json` nothing is
//! drawn. The only place that uses indicatif.

use crate::context::Context;
use crate::progress::{Event, Observer, Silent};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

/// The observer for this command: bars on a terminal, silence for JSON.
pub fn observer(ctx: &Context) -> Box<dyn Observer> {
    if ctx.json() {
        Box::new(Silent)
    } else {
        Box::new(Bars::default())
    }
}

/// Draws each task as a bar or spinner until it finishes; tasks that run at
/// once (a snapshot reads groups while the assignment pages still arrive)
/// each keep their own line.
pub struct Bars {
    open: Mutex<HashMap<String, ProgressBar>>,
    lines: MultiProgress,
}

impl Default for Bars {
    fn default() -> Bars {
        Bars {
            open: Mutex::default(),
            lines: MultiProgress::with_draw_target(draw_target()),
        }
    }
}

impl Observer for Bars {
    fn event(&self, event: &Event<'_>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match *event {
            Event::Started { task, total } => {
                let bar = self.lines.add(match total {
                    Some(n) => progress_bar(n, task),
                    None => spinner(task),
                });
                if let Some(old) = open.insert(task.to_string(), bar) {
                    old.finish_and_clear();
                }
            }
            Event::Progress { task, done, total } => {
                if let Some(bar) = open.get(task) {
                    if let Some(t) = total
                        && bar.length() != Some(t)
                    {
                        bar.set_length(t);
                    }
                    bar.set_position(done);
                }
            }
            Event::Eta { task, eta } => {
                if let Some(bar) = open.get(task) {
                    bar.set_prefix(quota_eta(eta));
                }
            }
            Event::Finished { task, .. } => {
                if let Some(bar) = open.remove(task) {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(len: u64, message: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), draw_target());
    pb.set_style(
        ProgressStyle::with_template("{msg:30} [{bar:30}] {pos}/{len} ({per_sec}, {eta}){prefix}")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(message.to_string());
    pb
}

/// The suffix of a bar whose work is paced by a quota: `, ≥ 1m 05s at
/// Graph's quota` (nothing when the quota leaves no wait).
fn quota_eta(eta: std::time::Duration) -> String {
    if eta.as_secs() == 0 {
        return String::new();
    }
    let s = eta.as_secs();
    let shown = if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    };
    format!(", quota ETA {shown}")
}

/// A spinner on stderr for work of unknown length (paging), hidden when not a terminal.
fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, draw_target());
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {pos}").expect("static template"));
    pb.set_message(message.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
