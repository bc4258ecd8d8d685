//! `apply`: execute a plan step by step against live state. The parts:
//! `transport` (live or read-only: a dry run cannot write), `exec` (the
//! step loop: done-checks, live diffs, confirmation, journaled intents and
//! results, resume), `find` (every create findable: the custom app by name,
//! assignments listed before each batch), `drift` (the stale-plan check),
//! `cutover` (the gallery's last cycle, the gap, the first cycle, the
//! pilot), `diff` (a step's diff against live state), `record` (the
//! summary and `PLAN.applied.md`). It never draws or prompts itself: the
//! command layer gives it a [`Reporter`] and an [`Asker`].

pub mod cutover;
pub mod diff;
pub mod drift;
pub mod exec;
pub mod find;
pub mod record;
pub mod rollback;
pub mod transport;

use crate::plan::model::{Step, Target};
use serde::Serialize;
use serde_json::Value;

/// Something apply wants shown (text on the terminal, or one JSON line).
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event<'a> {
    /// A step begins.
    StepStarted {
        #[serde(serialize_with = "step_ref")]
        step: &'a Step,
    },
    /// Its diff against live state.
    Diff {
        #[serde(serialize_with = "step_id")]
        step: &'a Step,
        live: &'a [diff::LiveLine],
    },
    /// A request, as sent (or, in a dry run, as it would be); no secret.
    Request {
        step: &'a str,
        method: &'a str,
        target: Target,
        url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<&'a Value>,
        sent: bool,
    },
    StepDone {
        step: &'a str,
        /// Found done before anything was sent.
        found: bool,
    },
    StepSkipped {
        step: &'a str,
        why: &'a str,
    },
    /// A wait's progress.
    Progress {
        task: &'a str,
        done: u64,
        total: Option<u64>,
    },
    Finished {
        task: &'a str,
    },
    /// The provisioning gap at cutover.
    Gap {
        gap: &'a cutover::Gap,
    },
    Note {
        text: &'a str,
    },
}

fn step_ref<S: serde::Serializer>(step: &&Step, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(3))?;
    m.serialize_entry("id", &step.id)?;
    m.serialize_entry("action", step.action.symbol())?;
    m.serialize_entry("title", &step.title)?;
    m.end()
}

fn step_id<S: serde::Serializer>(step: &&Step, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&step.id)
}

/// Shows apply's events.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Shows nothing (tests, the demo's quiet parts).
pub struct Quiet;

impl Reporter for Quiet {
    fn event(&self, _: &Event<'_>) {}
}

/// An answer to "apply this step?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Yes,
    No,
    /// Yes to this and every later step.
    All,
    Quit,
}

/// Asks whether to apply a step.
pub trait Asker {
    fn ask(&mut self, step: &Step) -> crate::error::Result<Choice>;
}

/// Asks on the terminal: y / n / a / q.
pub struct Prompt;

impl Asker for Prompt {
    fn ask(&mut self, step: &Step) -> crate::error::Result<Choice> {
        let items = [
            "y  apply this step",
            "n  skip it",
            "a  apply this and every later step",
            "q  quit (resume later)",
        ];
        let i = dialoguer::Select::new()
            .with_prompt(format!("Apply step {}?", step.id))
            .items(items)
            .default(0)
            .interact()
            .map_err(|e| crate::error::Error::io(format!("could not read the answer: {e}")))?;
        Ok([Choice::Yes, Choice::No, Choice::All, Choice::Quit][i])
    }
}

/// Answers every question with the same choice (`--yes`: all).
pub struct Always(pub Choice);

impl Asker for Always {
    fn ask(&mut self, _: &Step) -> crate::error::Result<Choice> {
        Ok(self.0)
    }
}

use crate::error::{Error, Result};
use crate::graph::GraphClient;
use crate::journal::{Journal, Lock, Record, now};
use crate::plan::model::Plan;
use crate::scim::ScimClient;
use crate::secret::Secret;
use crate::snapshot::model::Snapshot;
use exec::{ExecOptions, Executor, Outcome, Resume};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What one apply is given, already validated by the command layer.
pub struct Inputs<'a> {
    pub plan_path: &'a Path,
    pub plan: &'a Plan,
    /// The snapshot the plan was made from: needed for the stale-plan check
    /// until the cutover has begun.
    pub snapshot: Option<&'a Snapshot>,
    /// `--profile` when the plan was made with a profile file.
    pub profile: Option<&'a str>,
    pub graph: GraphClient,
    /// The SCIM target (the plan's BaseAddress, or `--scim-url`) with its token.
    pub scim: Option<ScimClient>,
    pub dry_run: bool,
    pub exec: ExecOptions,
}

/// How an apply went.
#[derive(Debug)]
pub struct Report {
    pub outcome: Outcome,
    /// The final verify (when every step is done and the snapshot and target were given).
    pub verified: Option<crate::verify::VerifyReport>,
    pub applied: record::Applied,
    pub graph_writes: usize,
    pub seconds: f64,
    /// The writes a dry run kept.
    pub kept: Vec<transport::KeptWrite>,
    pub journal: PathBuf,
    /// `PLAN.applied.md` (not for a dry run).
    pub applied_md: Option<PathBuf>,
}

/// `PLAN.applied.md` for `PLAN.json`.
pub fn applied_md_path(plan: &Path) -> PathBuf {
    plan.with_extension("applied.md")
}

/// Apply a plan (or dry-run it): lock, journal, stale-plan check, steps.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    i: Inputs<'_>,
    reporter: &dyn Reporter,
    asker: &mut dyn Asker,
    token: &mut dyn FnMut() -> Result<Secret>,
    interrupt: Arc<AtomicBool>,
    assume_all: bool,
    progress: &dyn crate::progress::Observer,
) -> Result<Report> {
    let started = Instant::now();
    let _lock = if i.dry_run {
        None
    } else {
        Some(Lock::take(i.plan_path, "apply")?)
    };
    let (journal, records) = if i.dry_run {
        (None, crate::journal::read(i.plan_path)?)
    } else {
        let (j, r) = Journal::open(i.plan_path, &i.plan.plan_digest)?;
        (Some(j), r)
    };
    let resume = Resume::from_records(&records);
    if resume.past_cutover {
        reporter.event(&Event::Note {
            text: "the cutover has begun (journal): the stale-plan check is not run past it",
        });
    } else {
        let snap = i.snapshot.ok_or_else(|| {
            Error::usage(
                "--snapshot is required: apply compares live state with the snapshot the plan was made from before its first write",
            )
        })?;
        drift::check_snapshot(i.plan, snap, "--snapshot")?;
        let changes =
            drift::stale(i.plan, snap, &i.graph, i.scim.as_ref(), i.profile, progress).await?;
        if !changes.is_empty() {
            return Err(Error::stale(format!(
                "the plan is stale: live state changed since its snapshot in ways that change what the plan would do, so nothing was sent. Make a new snapshot and plan. What changed:\n  {}",
                changes.join("\n  ")
            )));
        }
    }
    let t = if i.dry_run {
        transport::Transport::read_only(i.graph.clone(), i.scim.clone())
    } else {
        transport::Transport::live(i.graph.clone(), i.scim.clone())
    };
    let mut ex = Executor::new(
        i.plan,
        i.plan_path,
        &t,
        i.exec.clone(),
        journal,
        resume,
        reporter,
        asker,
        token,
        interrupt,
        assume_all,
    );
    ex.selected()?;
    ex.append_started()?;
    let mut result = ex.run().await;
    // The gate: the whole verify (`crate::verify`), once every step is done
    // (not after `--only` one step; not again when a passed verify is
    // journaled after the last step done).
    let mut verified = None;
    if let (Ok(Outcome::Done), false, None, Some(snap), Some(scim)) = (
        &result,
        i.dry_run,
        &i.exec.only,
        i.snapshot,
        i.scim.as_ref(),
    ) && (ex.finished_steps > 0 || !ex.resume.verified)
    {
        match final_verify(&mut ex, i.plan, snap, &i.graph, scim, progress).await {
            Ok(report) => verified = Some(report),
            Err(e) => result = Err(e),
        }
    }
    if let Some(v) = &verified
        && !v.passed
    {
        result = Err(Error::remote(format!(
            "every step is done, but verify failed: {} (run `scimshift verify` for the table, or `scimshift rollback` to go back)",
            v.worst.as_deref().unwrap_or("see the report")
        )));
    }
    let outcome_text = match &result {
        Ok(Outcome::Done) => "done".to_string(),
        Ok(Outcome::Stopped { step }) => format!("stopped at {step}"),
        Ok(Outcome::WouldChange { .. }) => "dry run".to_string(),
        Err(e) => format!("failed: {}", e.message.lines().next().unwrap_or("")),
    };
    let records = if i.dry_run {
        records
    } else {
        ex.append_finished(&outcome_text)?;
        crate::journal::read(i.plan_path)?
    };
    drop(ex);
    let applied = record::Applied::from_journal(i.plan, &records);
    let applied_md = if i.dry_run {
        None
    } else {
        let p = applied_md_path(i.plan_path);
        crate::output::write_private_file(
            &p,
            crate::text::clean_lines(&applied.render_markdown(i.plan)).as_bytes(),
        )?;
        Some(p)
    };
    let outcome = result?;
    Ok(Report {
        outcome,
        verified,
        applied,
        graph_writes: t.graph_writes(),
        seconds: started.elapsed().as_secs_f64(),
        kept: t.kept_writes(),
        journal: crate::journal::path_for(i.plan_path),
        applied_md,
    })
}

/// The plan's BaseAddress: where the custom job will send SCIM (and so the
/// target apply reads), from its `write-secrets` step.
pub fn base_address(plan: &Plan) -> Option<String> {
    plan.steps
        .iter()
        .find(|s| s.id == "write-secrets")
        .and_then(|s| s.details.get("galleryBaseAddress"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Run `crate::verify` after the last step, with what apply bound, and
/// journal its result.
async fn final_verify(
    ex: &mut Executor<'_>,
    plan: &Plan,
    snap: &Snapshot,
    graph: &GraphClient,
    scim: &ScimClient,
    progress: &dyn crate::progress::Observer,
) -> Result<crate::verify::VerifyReport> {
    let text = |k: &str| {
        ex.bound()
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let opts = crate::verify::VerifyOptions {
        since: text(crate::plan::steps::cutover::STARTED_AT),
        custom_sp_id: text("customSpId"),
        custom_job_id: text("customJobId"),
    };
    let before = crate::verify::Before::from_snapshot(snap, plan);
    let report = crate::verify::verify(
        plan,
        &before,
        crate::verify::Readers { graph, scim },
        &opts,
        progress,
    )
    .await?;
    ex.append_record(Record::Verify {
        at: now(),
        passed: report.passed,
        worst: report.worst.clone(),
        counts: serde_json::to_value(&report.counts).unwrap_or(Value::Null),
    })?;
    ex.reporter.event(&Event::Note {
        text: &if report.passed {
            "verify passed: everyone the plan provisions is in the target once and active, every pushed group has its members".to_string()
        } else {
            format!("verify failed: {}", report.worst.as_deref().unwrap_or("see the report"))
        },
    });
    Ok(report)
}

impl Executor<'_> {
    pub(super) fn append_started(&mut self) -> Result<()> {
        if self.journal.is_none() {
            return Ok(());
        }
        self.append_record(Record::Started {
            at: now(),
            command: self.command.into(),
            plan_digest: self.plan.plan_digest.clone(),
            by: crate::journal::operator(),
            pid: std::process::id(),
        })
    }

    pub(super) fn append_finished(&mut self, outcome: &str) -> Result<()> {
        self.append_record(Record::Finished {
            at: now(),
            command: self.command.into(),
            outcome: outcome.to_string(),
        })
    }
}

/// The plan's error findings (duplicates on create, users that cannot be
/// provisioned, an attribute the snapshot did not read, …) as one refusal:
/// apply does not carry out a plan that predicts harm unless the admin says
/// so (`accept`). `Ok(Some(note))` when there are errors and they are
/// accepted, or only looked at (`dry_run`), for the command to print.
pub fn error_gate(
    plan: &crate::plan::model::Plan,
    plan_path: &std::path::Path,
    accept: bool,
    dry_run: bool,
) -> crate::error::Result<Option<String>> {
    use crate::plan::model::Severity;
    let errors: Vec<&crate::plan::model::Finding> = plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        return Ok(None);
    }
    // Each code once, in the plan's order.
    let mut codes: Vec<&str> = Vec::new();
    for f in &errors {
        if !codes.contains(&f.code.as_str()) {
            codes.push(&f.code);
        }
    }
    let what = format!(
        "{} has {} error finding{} ({})",
        plan_path.display(),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        codes.join(", ")
    );
    if dry_run && !accept {
        return Ok(Some(format!(
            "{what}: apply without --dry-run refuses it unless --accept-errors is given"
        )));
    }
    if accept {
        return Ok(Some(format!(
            "{what}, accepted with --accept-errors: `scimshift show {}` lists what they predict",
            plan_path.display()
        )));
    }
    Err(crate::error::Error::input(format!(
        "{what}: the plan predicts harm (see `scimshift show {}`); fix what the findings say and plan again, or pass --accept-errors to carry it out anyway",
        plan_path.display()
    )))
}
