//! What is special about the cutover: after the gallery job is paused, wait
//! until its last cycle has ended (Entra lets a paused job's running cycle
//! finish), measure the provisioning gap (the gallery's last cycle end → the
//! custom job's start, both on the server's clock), follow the custom job's
//! first cycle (`status.progress`), and pace the pilot's provisionOnDemand
//! calls (5 per 10 s) and report their per-user results.

use super::transport::Transport;
use super::{Event, Reporter};
use crate::error::{Error, Result};
use crate::net::Idempotent;
use crate::plan::model::{Method, Target};
use crate::plan::placeholder::Bound;
use serde::Serialize;
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The provisioning gap of a cutover.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    pub gallery_last_cycle_ended: Option<String>,
    pub custom_job_started: String,
    pub gap_seconds: Option<f64>,
    /// apply's own time in the gap: from seeing the gallery's last cycle
    /// ended to the custom job's start answered, on the operator's clock.
    pub tool_seconds: Option<f64>,
}

/// Operator-clock moments the gap's tool share is measured between.
pub const SEEN_ENDED: &str = "galleryCycleSeenEndedAt";
pub const START_ANSWERED: &str = "customJobStartAnsweredAt";

fn timestamp(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(s))
        .ok()
}

impl Gap {
    /// The gap a `cutover` journal record holds.
    pub fn from_record(r: &crate::journal::Record) -> Option<Gap> {
        match r {
            crate::journal::Record::Cutover {
                gallery_last_cycle_ended,
                custom_job_started,
                gap_seconds,
                tool_seconds,
                ..
            } => Some(Gap {
                gallery_last_cycle_ended: gallery_last_cycle_ended.clone(),
                custom_job_started: custom_job_started.clone(),
                gap_seconds: *gap_seconds,
                tool_seconds: *tool_seconds,
            }),
            _ => None,
        }
    }

    /// From the bound `galleryLastCycleEnded` and `customJobStartedAt`.
    pub fn measure(bound: &Bound) -> Gap {
        let text = |k: &str| bound.get(k).and_then(Value::as_str).map(str::to_string);
        let ended = text("galleryLastCycleEnded");
        let started = text(crate::plan::steps::cutover::STARTED_AT).unwrap_or_default();
        let gap_seconds = match (ended.as_deref().and_then(timestamp), timestamp(&started)) {
            (Some(a), Some(b)) => Some(((b - a).num_milliseconds() as f64 / 1000.0).max(0.0)),
            _ => None,
        };
        let tool_seconds = match (
            text(SEEN_ENDED).as_deref().and_then(timestamp),
            text(START_ANSWERED).as_deref().and_then(timestamp),
        ) {
            (Some(a), Some(b)) => Some(((b - a).num_milliseconds() as f64 / 1000.0).max(0.0)),
            _ => None,
        };
        Gap {
            gallery_last_cycle_ended: ended,
            custom_job_started: started,
            gap_seconds,
            tool_seconds,
        }
    }
}

/// Whether a job's status says no cycle is running: its progress (when it
/// shows any) is complete.
fn cycle_ended(job: &Value) -> bool {
    match job.pointer("/status/progress/0") {
        Some(p) => {
            let n = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
            n("completedUnits") >= n("totalUnits")
        }
        None => true,
    }
}

/// After a pause: poll the job at `url` until its last cycle has ended
/// (bounded by `limit`), and return when it ended (`lastExecution.timeEnded`).
/// `which` names the job in messages ("gallery", "custom").
pub async fn wait_cycle_end(
    t: &Transport,
    url: &str,
    which: &str,
    reporter: &dyn Reporter,
    limit: Duration,
    poll: Option<Duration>,
) -> Result<Option<String>> {
    let task = format!("{which} job's last cycle");
    let task = task.as_str();
    let every = poll.unwrap_or(Duration::from_secs(5));
    let start = Instant::now();
    let mut said = false;
    loop {
        let a = t
            .send(Target::Graph, Method::Get, url, None, Idempotent::Yes)
            .await?;
        if !a.is_success() {
            return Err(Error::remote(format!(
                "could not read the {which} job after pausing it (HTTP {})",
                a.status
            )));
        }
        if cycle_ended(&a.body) {
            if said {
                reporter.event(&Event::Finished { task });
            }
            let ended = a
                .body
                .pointer("/status/lastExecution/timeEnded")
                .and_then(Value::as_str)
                .map(str::to_string);
            return Ok(ended);
        }
        let p = a.body.pointer("/status/progress/0");
        let n = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_u64);
        if !said {
            reporter.event(&Event::Note {
                text: &format!("the {which} job is paused, but its running cycle finishes first (Entra lets it run to completion): waiting for it"),
            });
            said = true;
        }
        reporter.event(&Event::Progress {
            task,
            done: n("completedUnits").unwrap_or(0),
            total: n("totalUnits"),
        });
        if start.elapsed() >= limit {
            return Err(Error::remote(format!(
                "the {which} job's last cycle did not end within {}s of the pause: run the command again to keep waiting",
                limit.as_secs()
            )));
        }
        tokio::time::sleep(every).await;
    }
}

/// Show the custom job's first cycle as progress.
pub fn report_cycle(reporter: &dyn Reporter, job: &Value) {
    let p = job.pointer("/status/progress/0");
    let n = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_u64);
    reporter.event(&Event::Progress {
        task: "custom job's first cycle",
        done: n("completedUnits").unwrap_or(0),
        total: n("totalUnits"),
    });
}

static LAST_ON_DEMAND: Mutex<Option<Instant>> = Mutex::new(None);

/// provisionOnDemand allows 5 calls per 10 s: keep 2 s between calls.
pub async fn pace_on_demand() {
    let wait = {
        let last = LAST_ON_DEMAND.lock().expect("pacing");
        last.map(|t| Duration::from_secs(2).saturating_sub(t.elapsed()))
    };
    if let Some(w) = wait.filter(|w| !w.is_zero()) {
        tokio::time::sleep(w).await;
    }
    *LAST_ON_DEMAND.lock().expect("pacing") = Some(Instant::now());
}

/// One provisionOnDemand answer's per-object results, as notes.
pub fn report_on_demand(reporter: &dyn Reporter, body: &Value) {
    let value: Value = body
        .get("value")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let line = |o: &Value| {
        format!(
            "{} {}: {}{}",
            o.pointer("/sourceIdentity/type")
                .and_then(Value::as_str)
                .unwrap_or("object"),
            o.get("reportableIdentifier")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            o.pointer("/statusInfo/status")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            o.pointer("/statusInfo/reason")
                .and_then(Value::as_str)
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    };
    if value.is_object() {
        reporter.event(&Event::Note {
            text: &format!("on demand: {}", line(&value)),
        });
        for m in value
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            reporter.event(&Event::Note {
                text: &format!("on demand:   {}", line(m)),
            });
        }
    }
}
