//! The migration journal: `PLAN.journal.jsonl` beside the plan, one JSON
//! record per line, append-only, each record fsync'd before the call returns,
//! mode 0600, bound to the plan by its digest. `apply` and `rollback` write
//! their intents (before a request is sent) and results (after), `verify`
//! its outcome; `status` reads it. No record holds a secret: requests are
//! journaled as the plan's templates (`{secret:scimToken}` stays a name), and
//! bound values are ids and timestamps.
//!
//! Also the lock beside it (`PLAN.lock`, the holder's pid): a second apply
//! or rollback of the same plan is refused while the first runs; a lock
//! whose process is gone is taken over. This module stops at the file: what
//! the records mean for a resumed run is `apply::resume`'s.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Values bound by a step (placeholder name → value), as journaled.
pub type BoundValues = Map<String, Value>;

/// One journal record. `at` is the operator's clock, RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Record {
    /// An apply, rollback or verify run began.
    #[serde(rename_all = "camelCase")]
    Started {
        at: String,
        command: String,
        plan_digest: String,
        /// The operator's user name (`USER`), and the host.
        by: String,
        pid: u32,
    },
    /// A request of a step is about to be sent (`request` indexes the
    /// step's requests; `principals` lists what a filtered `$batch` carries).
    #[serde(rename_all = "camelCase")]
    Intent {
        at: String,
        step: String,
        request: usize,
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        principals: Vec<String>,
    },
    /// Its answer arrived: the status and what it bound.
    #[serde(rename_all = "camelCase")]
    Result {
        at: String,
        step: String,
        request: usize,
        status: u16,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        bound: BoundValues,
    },
    /// A step's done-check holds; `found` when it held before anything was
    /// sent (already done, e.g. by an interrupted run).
    #[serde(rename_all = "camelCase")]
    StepDone {
        at: String,
        step: String,
        found: bool,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        bound: BoundValues,
    },
    /// A step was undone by rollback.
    #[serde(rename_all = "camelCase")]
    StepUndone { at: String, step: String },
    /// The cutover's timings: the gallery's last cycle end, the custom job's
    /// start (server clock), the gap between them in seconds, and apply's
    /// own share of it.
    #[serde(rename_all = "camelCase")]
    Cutover {
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gallery_last_cycle_ended: Option<String>,
        custom_job_started: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gap_seconds: Option<f64>,
        /// apply's own share: from seeing the gallery's last cycle ended to
        /// the custom job's start answered (operator clock).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_seconds: Option<f64>,
    },
    /// The run stopped on a first Ctrl-C (after its request in flight).
    #[serde(rename_all = "camelCase")]
    Interrupted { at: String, step: String },
    /// The run ended: `outcome` is `done`, `failed: …` or `stopped`.
    #[serde(rename_all = "camelCase")]
    Finished {
        at: String,
        command: String,
        outcome: String,
    },
    /// A verify result (`worst` names the worst failure, when it failed).
    #[serde(rename_all = "camelCase")]
    Verify {
        at: String,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worst: Option<String>,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        counts: Value,
    },
}

/// Now, on the operator's clock, as journaled.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `PLAN.journal.jsonl` for `PLAN.json` (any extension is replaced).
pub fn path_for(plan: &Path) -> PathBuf {
    plan.with_extension("journal.jsonl")
}

/// `PLAN.lock` for `PLAN.json`.
pub fn lock_path_for(plan: &Path) -> PathBuf {
    plan.with_extension("lock")
}

/// The journal's records, oldest first; none when there is no journal yet.
/// A last line torn by a crash mid-write (no newline, not JSON) is ignored.
pub fn read(plan: &Path) -> Result<Vec<Record>> {
    let path = path_for(plan);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io_at(&path, e)),
    };
    parse(&text, &path)
}

/// [`read`] on a journal's text; `path` names it in the sentence.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Record>> {
    let torn_tail = !text.is_empty() && !text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if torn_tail && i + 1 == lines.len() => {}
            Err(e) => {
                return Err(Error::input(format!(
                    "{} line {} is not a scimshift journal record ({}); it was changed by hand or by another tool",
                    path.display(),
                    i + 1,
                    crate::text::server_text(&e.to_string())
                )));
            }
        }
    }
    Ok(out)
}

/// The plan digest the journal is bound to: that of its first `started` record.
pub fn bound_digest(records: &[Record]) -> Option<&str> {
    records.iter().find_map(|r| match r {
        Record::Started { plan_digest, .. } => Some(plan_digest.as_str()),
        _ => None,
    })
}

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    /// Open (or create, 0600) the journal of `plan`, refusing one bound to
    /// another plan digest. Returns the records already in it.
    pub fn open(plan: &Path, plan_digest: &str) -> Result<(Journal, Vec<Record>)> {
        let records = read(plan)?;
        let path = path_for(plan);
        if let Some(d) = bound_digest(&records)
            && d != plan_digest
        {
            return Err(Error::input(format!(
                "{} belongs to another plan (digest {d}, this plan is {plan_digest}): move it away, or apply the plan it was written for",
                path.display()
            )));
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path).map_err(|e| Error::io_at(&path, e))?;
        let j = Journal { path, file };
        // A record torn by a crash mid-write was never complete: cut it off, so
        // the next record starts on its own line. (An intent is journaled
        // before its request is sent, so a torn intent was not sent; a torn
        // result leaves its intent unanswered, which resume checks live.)
        if let Ok(text) = std::fs::read(&j.path)
            && !text.is_empty()
            && !text.ends_with(b"\n")
        {
            let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            j.file
                .set_len(keep as u64)
                .map_err(|e| Error::io_at(&j.path, e))?;
        }
        Ok((j, records))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record and fsync it.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        crate::crashpoint::reached();
        let mut line = serde_json::to_vec(record).expect("journal records serialise");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io_at(&self.path, e))?;
        Ok(())
    }
}

/// The lock of a plan: held while an apply or rollback runs.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Take the lock of `plan` for `command`, or refuse with who holds it.
    pub fn take(plan: &Path, command: &str) -> Result<Lock> {
        let path = lock_path_for(plan);
        for _ in 0..2 {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(&path) {
                Ok(mut f) => {
                    let body = format!("{} {command}\n", std::process::id());
                    f.write_all(body.as_bytes())
                        .and_then(|_| f.sync_data())
                        .map_err(|e| Error::io_at(&path, e))?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let held = std::fs::read_to_string(&path).unwrap_or_default();
                    let mut parts = held.split_whitespace();
                    let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
                    let what = parts.next().unwrap_or("a run").to_string();
                    match pid {
                        Some(pid) if process_alive(pid) => {
                            return Err(Error::input(format!(
                                "another scimshift {what} of this plan is running (pid {pid}, lock {}): wait for it to finish, or stop it first",
                                path.display()
                            )));
                        }
                        // The holder is gone (killed, crashed): take the lock over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(Error::io_at(&path, e)),
            }
        }
        Err(Error::io(format!(
            "could not take the lock {}: it keeps reappearing",
            path.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a process with this pid exists (signal 0).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: kill with signal 0 sends nothing; it only checks the pid.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// `USER@host`, for the `started` record.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(d: &str) -> Record {
        Record::Started {
            at: now(),
            command: "apply".into(),
            plan_digest: d.into(),
            by: "t".into(),
            pid: 1,
        }
    }

    #[test]
    fn appends_reads_back_and_refuses_another_plan() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        let (mut j, old) = Journal::open(&plan, "sha256:a").unwrap();
        assert!(old.is_empty());
        j.append(&started("sha256:a")).unwrap();
        j.append(&Record::StepDone {
            at: now(),
            step: "create-app".into(),
            found: false,
            bound: [("customSpId".to_string(), Value::from("sp"))]
                .into_iter()
                .collect(),
        })
        .unwrap();
        let recs = read(&plan).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(bound_digest(&recs), Some("sha256:a"));
        let e = Journal::open(&plan, "sha256:b").unwrap_err();
        assert!(e.message.contains("belongs to another plan"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path_for(&plan))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_the_next_record_starts_clean() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        let good = serde_json::to_string(&started("sha256:a")).unwrap();
        std::fs::write(path_for(&plan), format!("{good}\n{{\"event\":\"inte")).unwrap();
        let (mut j, recs) = Journal::open(&plan, "sha256:a").unwrap();
        assert_eq!(recs.len(), 1);
        j.append(&Record::Interrupted {
            at: now(),
            step: "x".into(),
        })
        .unwrap();
        let recs = read(&plan).unwrap();
        assert_eq!(
            recs.len(),
            2,
            "the torn record is cut off, the new one follows"
        );
        assert!(matches!(recs[1], Record::Interrupted { .. }));
    }

    #[test]
    fn a_second_lock_is_refused_and_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        let lock = Lock::take(&plan, "apply").unwrap();
        let e = Lock::take(&plan, "apply").unwrap_err();
        assert!(e.message.contains("is running"), "{e}");
        drop(lock);
        assert!(!lock_path_for(&plan).exists());
        // A holder that no longer exists (pid far beyond pid_max).
        std::fs::write(lock_path_for(&plan), "999999999 apply\n").unwrap();
        let _lock = Lock::take(&plan, "rollback").unwrap();
    }
}
