//! A step's diff against *live* state: each expectation of its done-check,
//! what live state says now and what the step will make it. Shown before a
//! step is confirmed, so the admin judges the tenant as it is, not as the
//! snapshot was.

use crate::plan::model::{ExpectOp, Step, Subject};
use crate::plan::placeholder::{Bound, fill};
use crate::plan::probe::holds;
use serde::Serialize;
use serde_json::Value;

/// One expectation, live.
#[derive(Debug, Clone, Serialize)]
pub struct LiveLine {
    /// The pointer or probe looked at.
    pub what: String,
    /// Its value now (text), `absent` when missing.
    pub live: String,
    /// What the step makes it (`op value`).
    pub want: String,
    pub holds: bool,
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Array(a) => format!("{} item{}", a.len(), if a.len() == 1 { "" } else { "s" }),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}

/// The live lines of `step`'s done-check for one answer.
pub fn live_lines(step: &Step, status: u16, body: &Value, bound: &Bound) -> Vec<LiveLine> {
    step.done_when
        .expect
        .iter()
        .map(|e| {
            let got = match (&e.subject, e.op) {
                (_, ExpectOp::Status) => Some(Value::from(status)),
                (Subject::Path(p), _) => p.resolve(body).cloned(),
                (Subject::Probe(p), _) => p.read(body),
            };
            let want = e
                .value
                .as_ref()
                .map(|v| fill(v, bound).unwrap_or_else(|_| v.clone()));
            let live = match (&got, e.op, &want) {
                (Some(Value::Array(have)), ExpectOp::ContainsAll, Some(Value::Array(need))) => {
                    let n = need.iter().filter(|x| have.contains(x)).count();
                    format!("{n} of {} present", need.len())
                }
                (Some(v), _, _) if !v.is_null() => short(v),
                _ => "absent".into(),
            };
            let want_text = match (e.op, &want) {
                (ExpectOp::ContainsAll, Some(Value::Array(need))) => {
                    format!("all {} present", need.len())
                }
                (ExpectOp::Exists, _) => "present".into(),
                (op, Some(v)) => format!("{} {}", op.as_str(), short(v)),
                (op, None) => op.as_str().into(),
            };
            LiveLine {
                what: e.subject.to_string().replace("probe ", ""),
                live,
                want: want_text,
                holds: holds(e, status, body, bound),
            }
        })
        .collect()
}
