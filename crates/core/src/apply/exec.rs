//! The step executor: runs a plan's steps in order through a [`Transport`],
//! each the same way — skip it when the journal says it is done; read live
//! state with its `doneWhen` and skip it when that already holds (binding
//! what it binds); show the live diff and ask; send its requests with the
//! placeholders filled, journaling each write's intent before it is sent and
//! its result after; then poll its `doneWhen` until it holds and journal the
//! step done with every value it bound.
//!
//! Interrupted runs resolve themselves from live state: a write whose intent
//! has no result may or may not have happened, so before sending it again
//! the step's done-check is polled for [`ExecOptions::in_doubt_wait`] (Graph
//! lists can miss a new object for a while); assignments are listed before
//! each batch and only the missing ones are sent. What is special about the
//! cutover (waiting for the gallery's last cycle, the gap, following the
//! first cycle) is in `cutover`; this module calls it at the named steps.

use super::cutover;
use super::transport::{Answer, Transport};
use super::{Asker, Choice, Event, Reporter};
use crate::error::{Error, Result};
use crate::journal::{BoundValues, Journal, Record, now};
use crate::net::Idempotent;
use crate::plan::model::{BindFrom, Method, Plan, Request, Step};
use crate::plan::placeholder::{Bound, fill, fill_str};
use crate::plan::probe::all_hold;
use crate::secret::Secret;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the executor waits and what it may do.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Run only this step.
    pub only: Option<String>,
    /// Start at this step (earlier steps must be done, or are checked live).
    pub from: Option<String>,
    /// The bound on following the custom job's first cycle.
    pub wait: Duration,
    /// Poll every this often instead of the plan's `pollSeconds` (the twin's
    /// time scale makes Entra's minutes seconds).
    pub poll: Option<Duration>,
    /// How long to look for the result of a write that was sent but not
    /// confirmed (and for a new object to replicate) before sending again.
    pub in_doubt_wait: Duration,
    /// Check the SCIM token against this base URL instead of the plan's
    /// BaseAddress (rehearse: the rebuilt twin's store stands in for a real
    /// target the plan names).
    pub token_check_base: Option<String>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            only: None,
            from: None,
            wait: Duration::from_secs(2 * 3600),
            poll: None,
            in_doubt_wait: Duration::from_secs(120),
            token_check_base: None,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step asked for is done.
    Done,
    /// Stopped by Ctrl-C or `q`, resumable.
    Stopped { step: String },
    /// A dry run: these steps would change something.
    WouldChange { steps: Vec<String> },
}

/// What the journal says about earlier runs.
#[derive(Debug, Default)]
pub struct Resume {
    pub done: HashSet<String>,
    pub bound: Bound,
    /// (step, request) whose result is journaled.
    pub answered: HashSet<(String, usize)>,
    /// (step, request) whose intent has no result: sent or not, nobody knows.
    pub in_doubt: HashSet<(String, usize)>,
    pub cutover: Option<cutover::Gap>,
    /// Steps an earlier run wrote for (an intent) or found done.
    pub touched: HashSet<String>,
    /// Whether a passed verify is journaled after the last step done.
    pub verified: bool,
    /// Whether an earlier run began the cutover (sent, or may have sent, the
    /// gallery job's pause): live state is then partly apply's own doing.
    pub past_cutover: bool,
}

impl Resume {
    pub fn from_records(records: &[Record]) -> Resume {
        let mut r = Resume::default();
        let mut intents: HashSet<(String, usize)> = HashSet::new();
        for rec in records {
            match rec {
                Record::Intent { step, request, .. } => {
                    intents.insert((step.clone(), *request));
                    r.touched.insert(step.clone());
                    // The pause may have been sent: the gallery job's state is ours now.
                    if step == "pause-gallery-job" {
                        r.past_cutover = true;
                    }
                }
                Record::Result {
                    step,
                    request,
                    bound,
                    ..
                } => {
                    intents.remove(&(step.clone(), *request));
                    r.answered.insert((step.clone(), *request));
                    r.bound.extend(bound.clone());
                }
                Record::Verify { passed, .. } => r.verified = *passed,
                Record::StepDone { step, bound, .. } => {
                    r.verified = false;
                    r.done.insert(step.clone());
                    r.touched.insert(step.clone());
                    r.bound.extend(bound.clone());
                    if step == "pause-gallery-job" {
                        r.past_cutover = true;
                    }
                }
                Record::StepUndone { step, .. } => {
                    r.done.remove(step);
                }
                rec @ Record::Cutover { .. } => {
                    r.cutover = cutover::Gap::from_record(rec);
                }
                _ => {}
            }
        }
        r.in_doubt = intents;
        r
    }
}

/// Whether a request may be sent again after a timeout.
fn idempotency(r: &Request) -> Idempotent {
    match r.method {
        Method::Get | Method::Put | Method::Delete | Method::Patch => Idempotent::Yes,
        Method::Post => {
            let tail = r.url.rsplit('/').next().unwrap_or("");
            if matches!(
                tail,
                "start" | "pause" | "validateCredentials" | "provisionOnDemand"
            ) {
                Idempotent::Yes
            } else {
                Idempotent::No
            }
        }
    }
}

/// When the gallery job's last cycle ended (bound after the pause).
const GALLERY_ENDED: &str = "galleryLastCycleEnded";

/// The SCIM token placeholder's full name.
const SECRET: &str = "secret:scimToken";

/// Text of a value for the screen and the journal: the SCIM token never.
pub fn redact(s: &str, secret: Option<&Secret>) -> String {
    match secret {
        Some(t) if !t.is_empty() => s.replace(t.expose(), "(secret)"),
        _ => s.to_string(),
    }
}

/// The executor over one plan and one run.
pub struct Executor<'a> {
    pub plan: &'a Plan,
    pub plan_path: &'a std::path::Path,
    pub t: &'a Transport,
    pub opts: ExecOptions,
    /// The journal (`None` for a dry run, which writes nothing).
    pub(super) journal: Option<Journal>,
    pub resume: Resume,
    pub reporter: &'a dyn Reporter,
    pub asker: &'a mut dyn Asker,
    /// Reads the SCIM token when a step first needs it.
    pub token: &'a mut dyn FnMut() -> Result<Secret>,
    pub interrupt: Arc<AtomicBool>,
    bound: Bound,
    secret: Option<Secret>,
    all: bool,
    /// `apply` or `rollback`, for the journal.
    pub(super) command: &'static str,
    /// Steps this run found or made done.
    pub(super) finished_steps: usize,
}

impl<'a> Executor<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &'a Plan,
        plan_path: &'a std::path::Path,
        t: &'a Transport,
        opts: ExecOptions,
        journal: Option<Journal>,
        resume: Resume,
        reporter: &'a dyn Reporter,
        asker: &'a mut dyn Asker,
        token: &'a mut dyn FnMut() -> Result<Secret>,
        interrupt: Arc<AtomicBool>,
        assume_all: bool,
    ) -> Executor<'a> {
        let bound = resume.bound.clone();
        Executor {
            plan,
            plan_path,
            t,
            opts,
            journal,
            resume,
            reporter,
            asker,
            token,
            interrupt,
            bound,
            secret: None,
            all: assume_all,
            command: "apply",
            finished_steps: 0,
        }
    }

    /// The steps this run covers, in order; unknown `--only`/`--from` refused.
    pub fn selected(&self) -> Result<Vec<&'a Step>> {
        let steps = &self.plan.steps;
        let ids = || {
            steps
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |flag: &str, id: &str| {
            steps.iter().position(|s| s.id == id).ok_or_else(|| {
                Error::usage(format!(
                    "{flag} {id}: the plan has no such step (its steps: {})",
                    ids()
                ))
            })
        };
        if let Some(id) = &self.opts.only {
            let i = find("--only", id)?;
            return Ok(vec![&steps[i]]);
        }
        let from = match &self.opts.from {
            Some(id) => find("--from", id)?,
            None => 0,
        };
        Ok(steps[from..].iter().collect())
    }

    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    pub(super) fn append_record(&mut self, record: Record) -> Result<()> {
        self.append(record)
    }

    fn append(&mut self, record: Record) -> Result<()> {
        match &mut self.journal {
            Some(j) => j.append(&record),
            None => Ok(()),
        }
    }

    fn stopped(&self) -> bool {
        self.interrupt.load(Ordering::SeqCst)
    }

    /// Run the selected steps.
    pub async fn run(&mut self) -> Result<Outcome> {
        let steps = self.selected()?;
        self.check_earlier(steps.first().map(|s| s.id.as_str()))
            .await?;
        let mut would_change = Vec::new();
        for step in steps {
            if self.stopped() {
                return self.stop(&step.id);
            }
            if self.resume.done.contains(&step.id) {
                self.reporter.event(&Event::StepSkipped {
                    step: &step.id,
                    why: "done earlier (journal)",
                });
                continue;
            }
            match self.step(step).await? {
                StepEnd::Done | StepEnd::Skipped => {}
                StepEnd::Quit => return self.stop(&step.id),
                StepEnd::WouldChange => would_change.push(step.id.clone()),
            }
        }
        if self.t.is_read_only() && !would_change.is_empty() {
            return Ok(Outcome::WouldChange {
                steps: would_change,
            });
        }
        Ok(Outcome::Done)
    }

    /// With `--only`/`--from`: every step before `first` must be done — by
    /// the journal, or by its done-check read live now (which also gives
    /// what it binds). Refused with the first one that is not.
    async fn check_earlier(&mut self, first: Option<&str>) -> Result<()> {
        let plan = self.plan;
        let Some(first) = first else { return Ok(()) };
        for step in plan.steps.iter().take_while(|s| s.id != first) {
            if self.resume.done.contains(&step.id) || !step.action.is_change() {
                continue;
            }
            let (ok, answer) = self.check(step).await?;
            if !ok {
                return Err(Error::usage(format!(
                    "step {} comes before {first} and is not done (neither the journal nor live state says so): run apply without --only/--from, or --from {}",
                    step.id, step.id
                )));
            }
            if self.t.is_read_only() {
                let mut scratch = BoundValues::new();
                self.bind_from(&step.done_when.request, &answer, &mut scratch, false);
            } else {
                self.found_done(step, &answer).await?;
            }
        }
        Ok(())
    }

    fn stop(&mut self, step: &str) -> Result<Outcome> {
        self.append(Record::Interrupted {
            at: now(),
            step: step.to_string(),
        })?;
        Ok(Outcome::Stopped {
            step: step.to_string(),
        })
    }

    /// Fill a value, the SCIM token read (and checked) on first use.
    async fn fill(&mut self, v: &Value) -> Result<Value> {
        self.need_secret_for(v).await?;
        fill(v, &self.bound).map_err(|name| self.unbound(&name))
    }

    fn fill_url(&mut self, s: &str) -> Result<String> {
        fill_str(s, &self.bound).map_err(|name| self.unbound(&name))
    }

    fn unbound(&self, name: &str) -> Error {
        Error::input(format!(
            "the plan needs {{{name}}} here, which an earlier step binds: run that step first (it was skipped, or --only/--from left it out)"
        ))
    }

    /// Read the SCIM token when `v` needs it, and check it with a harmless
    /// SCIM GET against the plan's BaseAddress before it goes to Graph.
    async fn need_secret_for(&mut self, v: &Value) -> Result<()> {
        let mut names = Vec::new();
        crate::plan::placeholder::names_in_value(v, &mut names);
        if names.contains(&SECRET) && !self.bound.contains_key(SECRET) {
            let token = (self.token)()?;
            let base = self
                .opts
                .token_check_base
                .clone()
                .or_else(|| super::base_address(self.plan));
            if let Some(base) = base {
                crate::scim::ScimClient::new(&base, token.clone())?
                    .get_path("Users?startIndex=1&count=1")
                    .await
                    .map_err(|e| {
                        Error::auth(format!(
                            "the SCIM token was not sent to Graph, because the target refused it: {e}"
                        ))
                    })?;
            }
            self.bound
                .insert(SECRET.to_string(), Value::from(token.expose()));
            self.secret = Some(token);
        }
        Ok(())
    }

    /// One read of a step's done-check: (holds, status, body).
    async fn check(&mut self, step: &Step) -> Result<(bool, Answer)> {
        let dw = &step.done_when;
        let url = match fill_str(&dw.request.url, &self.bound) {
            Ok(u) => u,
            // Its inputs are not bound yet (an earlier step was not run): not done.
            Err(_) => return Ok((false, Answer::not_sent())),
        };
        let paged = dw.expect.iter().any(|e| match &e.subject {
            crate::plan::model::Subject::Probe(p) => p.paged(),
            _ => false,
        });
        let answer = if paged {
            self.t.get_all_pages(dw.request.target, &url).await?
        } else {
            self.t
                .send(dw.request.target, Method::Get, &url, None, Idempotent::Yes)
                .await?
        };
        let ok = all_hold(&dw.expect, answer.status, &answer.body, &self.bound);
        Ok((ok, answer))
    }

    /// Bind what a request's response gives; a done-check's read does not
    /// replace what the step's own answers bound (the start's `Date`).
    fn bind_from(
        &mut self,
        req: &Request,
        answer: &Answer,
        into: &mut BoundValues,
        overwrite: bool,
    ) {
        for b in &req.binds {
            let v = match &b.from {
                BindFrom::Pointer(p) => p.resolve(&answer.body).cloned(),
                BindFrom::Select(s) => s.resolve(&answer.body).cloned(),
                BindFrom::Header(h) => answer.header(h).map(Value::from),
            };
            if let Some(v) = v.filter(|v| !v.is_null()) {
                if !overwrite && self.bound.contains_key(&b.name) {
                    continue;
                }
                self.bound.insert(b.name.clone(), v.clone());
                into.insert(b.name.clone(), v);
            }
        }
    }

    /// Poll a step's done-check until it holds (`consecutive` times in a
    /// row when asked) or `limit` passes.
    async fn poll_done(
        &mut self,
        step: &Step,
        limit: Duration,
        on_poll: &mut dyn FnMut(&Answer),
    ) -> Result<Option<Answer>> {
        let need = step.done_when.consecutive.unwrap_or(1).max(1);
        let every = self
            .opts
            .poll
            .unwrap_or_else(|| Duration::from_secs(step.done_when.poll_seconds.unwrap_or(2).into()))
            .max(Duration::from_millis(50));
        let start = Instant::now();
        let mut in_a_row = 0;
        loop {
            if self.stopped() {
                return Ok(None);
            }
            let (ok, answer) = self.check(step).await?;
            on_poll(&answer);
            if ok {
                in_a_row += 1;
                if in_a_row >= need {
                    return Ok(Some(answer));
                }
            } else {
                in_a_row = 0;
            }
            if start.elapsed() >= limit {
                return Ok(None);
            }
            tokio::time::sleep(
                every
                    .min(limit.saturating_sub(start.elapsed()))
                    .max(Duration::from_millis(20)),
            )
            .await;
        }
    }

    async fn step(&mut self, step: &Step) -> Result<StepEnd> {
        self.reporter.event(&Event::StepStarted { step });
        // Only a create that cannot be listed reliably is worth waiting for:
        // repeats of idempotent writes are harmless, and assignments are
        // listed before each batch (a repeat answers "already exists").
        let in_doubt: Vec<usize> = self
            .resume
            .in_doubt
            .iter()
            .filter(|(s, i)| {
                *s == step.id
                    && step.requests.get(*i).is_some_and(|r| {
                        idempotency(r) == Idempotent::No && !super::find::is_assignment_batch(r)
                    })
            })
            .map(|(_, i)| *i)
            .collect();
        // Live state first: already done (by an interrupted run, by hand)?
        if step.action.is_change() {
            let (ok, answer) = self.check(step).await?;
            // A step whose writes may be repeated (PUT, start, pause,
            // on-demand) is sent until the journal holds an answer to each of
            // them: its done-check can hold before it ran (the custom app's
            // default schema already matches on userName ← UPN; a pilot group
            // the target already had), and sending it again is harmless. Only
            // creates, which must never be repeated, are trusted to live state.
            let writes: Vec<usize> = step
                .requests
                .iter()
                .enumerate()
                .filter(|(_, r)| r.method != Method::Get)
                .map(|(i, _)| i)
                .collect();
            let repeatable = !writes.is_empty()
                && writes.iter().all(|i| {
                    let r = &step.requests[*i];
                    idempotency(r) == Idempotent::Yes && !super::find::is_assignment_batch(r)
                });
            let answered = writes
                .iter()
                .all(|i| self.resume.answered.contains(&(step.id.clone(), *i)));
            if ok && (!repeatable || answered) {
                return self.found_done(step, &answer).await;
            }
            if !in_doubt.is_empty() && !self.t.is_read_only() {
                self.reporter.event(&Event::Note {
                    text: &format!(
                        "step {} was interrupted after sending a write whose answer was not journaled: looking for its result for up to {}s before sending anything again",
                        step.id,
                        self.opts.in_doubt_wait.as_secs()
                    ),
                });
                let limit = self.opts.in_doubt_wait;
                if let Some(answer) = self.poll_done(step, limit, &mut |_| {}).await? {
                    return self.found_done(step, &answer).await;
                }
            }
            let live = super::diff::live_lines(step, answer.status, &answer.body, &self.bound);
            self.reporter.event(&Event::Diff { step, live: &live });
            if !self.all {
                match self.asker.ask(step)? {
                    Choice::Yes => {}
                    Choice::All => self.all = true,
                    Choice::No => {
                        self.reporter.event(&Event::StepSkipped {
                            step: &step.id,
                            why: "answered no",
                        });
                        return Ok(StepEnd::Skipped);
                    }
                    Choice::Quit => return Ok(StepEnd::Quit),
                }
            }
        }
        if self.t.is_read_only() {
            return self.dry_run(step).await;
        }
        let mut step_bound = BoundValues::new();
        for (i, req) in step.requests.iter().enumerate() {
            if self.stopped() {
                return Ok(StepEnd::Quit);
            }
            // Answered before (its binds are restored from the journal): a
            // read is not repeated either, so `schemaBeforeApply` stays the
            // schema from before the PUT.
            let rebuilt = step.details.get("builtLive") == Some(&Value::Bool(true));
            if !rebuilt && self.resume.answered.contains(&(step.id.clone(), i)) {
                continue;
            }
            self.send_request(step, i, req, &mut step_bound).await?;
            if step.requests.len() > 2 {
                self.reporter.event(&Event::Progress {
                    task: &step.id,
                    done: i as u64 + 1,
                    total: Some(step.requests.len() as u64),
                });
            }
        }
        if step.requests.len() > 2 {
            self.reporter.event(&Event::Finished { task: &step.id });
        }
        // Waits and the target's checks follow the first cycles (--wait); the
        // rest wait for replication.
        let limit =
            if step.action == crate::plan::model::Action::Check && step.id != "wait-replication" {
                self.opts.wait
            } else {
                self.opts.in_doubt_wait
            };
        let reporter = self.reporter;
        let step_id = step.id.clone();
        let mut on_poll = |a: &Answer| {
            if step_id == "wait-steady-state" {
                cutover::report_cycle(reporter, &a.body);
            }
        };
        let answer = match self.poll_done(step, limit, &mut on_poll).await? {
            Some(a) => a,
            None if self.stopped() => return Ok(StepEnd::Quit),
            None => return Err(self.not_done(step).await),
        };
        self.finish_step(step, &answer, step_bound, false).await
    }

    /// A step's done-check holds: bind what it binds, do what the cutover
    /// needs after the step (whether this run or an earlier one sent it),
    /// journal the step done.
    async fn finish_step(
        &mut self,
        step: &Step,
        answer: &Answer,
        mut step_bound: BoundValues,
        found: bool,
    ) -> Result<StepEnd> {
        self.bind_from(
            &step.done_when.request.clone(),
            answer,
            &mut step_bound,
            false,
        );
        if step.id == "create-app" {
            super::find::refuse_twins(step, &answer.body)?;
        }
        let job_url = fill_str(&step.done_when.request.url, &self.bound).unwrap_or_default();
        if step.id == "pause-gallery-job" && !self.bound.contains_key(GALLERY_ENDED) {
            let ended = cutover::wait_cycle_end(
                self.t,
                &job_url,
                "gallery",
                self.reporter,
                self.opts.wait,
                self.opts.poll,
            )
            .await?;
            let v = ended.map_or(Value::Null, Value::from);
            step_bound.insert(GALLERY_ENDED.into(), v.clone());
            self.bound.insert(GALLERY_ENDED.into(), v);
            let seen = Value::from(now());
            step_bound.insert(cutover::SEEN_ENDED.into(), seen.clone());
            self.bound.insert(cutover::SEEN_ENDED.into(), seen);
        }
        if step.details.get("waitForCycleEnd") == Some(&Value::Bool(true)) {
            cutover::wait_cycle_end(
                self.t,
                &job_url,
                "custom",
                self.reporter,
                self.opts.wait,
                self.opts.poll,
            )
            .await?;
        }
        if step.id == "start-custom-job" && self.resume.cutover.is_none() {
            let gap = cutover::Gap::measure(&self.bound);
            self.reporter.event(&Event::Gap { gap: &gap });
            self.append(Record::Cutover {
                at: now(),
                gallery_last_cycle_ended: gap.gallery_last_cycle_ended.clone(),
                custom_job_started: gap.custom_job_started.clone(),
                gap_seconds: gap.gap_seconds,
                tool_seconds: gap.tool_seconds,
            })?;
            self.resume.cutover = Some(gap);
        }
        // What an undo step undoes is journaled before the step itself is
        // done, so a crash between them repeats the (idempotent) undo step
        // rather than losing the record.
        for undone in super::rollback::undoes(&step.id) {
            // Only steps still done need the record (a resumed run skips the rest).
            if self.resume.done.remove(*undone) {
                self.append(Record::StepUndone {
                    at: now(),
                    step: undone.to_string(),
                })?;
            }
        }
        self.append(Record::StepDone {
            at: now(),
            step: step.id.clone(),
            found,
            bound: step_bound,
        })?;
        self.finished_steps += 1;
        self.reporter.event(&Event::StepDone {
            step: &step.id,
            found,
        });
        Ok(StepEnd::Done)
    }

    /// Why a step's done-check does not hold after its requests: the last read, in words.
    async fn not_done(&mut self, step: &Step) -> Error {
        let (_, answer) = match self.check(step).await {
            Ok(x) => x,
            Err(e) => return e,
        };
        if step.id == "wait-steady-state"
            && let Some(q) = answer
                .body
                .pointer("/status/quarantine")
                .filter(|q| !q.is_null())
        {
            return Error::remote(format!(
                "the custom job is in quarantine ({}): fix the cause, or go back with `scimshift rollback {}`",
                q.get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given"),
                self.plan_path.display()
            ));
        }
        let live = super::diff::live_lines(step, answer.status, &answer.body, &self.bound);
        let failing: Vec<String> = live
            .iter()
            .filter(|l| !l.holds)
            .map(|l| format!("{} is {} (expected {})", l.what, l.live, l.want))
            .collect();
        Error::remote(format!(
            "step {} did not take effect within {}s: {}; run apply again to resume",
            step.id,
            if step.id == "wait-steady-state" {
                self.opts.wait.as_secs()
            } else {
                self.opts.in_doubt_wait.as_secs()
            },
            if failing.is_empty() {
                format!("its check answered HTTP {}", answer.status)
            } else {
                failing.join("; ")
            }
        ))
    }

    async fn found_done(&mut self, step: &Step, answer: &Answer) -> Result<StepEnd> {
        self.finish_step(step, answer, BoundValues::new(), true)
            .await
    }

    /// A dry run of a step: its requests as they would be sent (filled where
    /// the values are known, secrets redacted), through the read-only transport.
    async fn dry_run(&mut self, step: &Step) -> Result<StepEnd> {
        for req in &step.requests {
            let url = fill_str(&req.url, &self.bound).unwrap_or_else(|_| req.url.clone());
            let body = req
                .body
                .as_ref()
                .map(|b| fill(b, &self.bound).unwrap_or_else(|_| b.clone()));
            if req.method == Method::Get && fill_str(&req.url, &self.bound).is_ok() {
                let _ = self
                    .t
                    .send(req.target, Method::Get, &url, None, Idempotent::Yes)
                    .await;
            } else if req.method != Method::Get {
                self.t
                    .send(
                        req.target,
                        req.method,
                        &url,
                        body.as_ref(),
                        idempotency(req),
                    )
                    .await?;
            }
            self.reporter.event(&Event::Request {
                step: &step.id,
                method: req.method.as_str(),
                target: req.target,
                url: &url,
                body: body.as_ref(),
                sent: req.method == Method::Get,
            });
        }
        Ok(if step.action.is_change() {
            StepEnd::WouldChange
        } else {
            StepEnd::Skipped
        })
    }

    /// Send one request of a step: intent, send (with the replication
    /// retries), result.
    async fn send_request(
        &mut self,
        step: &Step,
        i: usize,
        req: &Request,
        step_bound: &mut BoundValues,
    ) -> Result<()> {
        let url = self.fill_url(&req.url)?;
        let mut body = match &req.body {
            Some(b) => Some(self.fill(b).await?),
            None => None,
        };
        let mut principals = Vec::new();
        if super::find::is_assignment_batch(req) {
            let (kept, have) =
                super::find::missing_assignments(self.t, &self.bound, body.as_ref()).await?;
            for (p, id) in &have {
                let name = crate::plan::placeholder::named("assignmentId", p);
                self.bound.insert(name.clone(), Value::from(id.clone()));
                step_bound.insert(name, Value::from(id.clone()));
            }
            principals = kept.iter().map(|(_, p)| p.clone()).collect();
            body = Some(json!({"requests": kept.into_iter().map(|(r, _)| r).collect::<Vec<_>>()}));
        }
        // An intent already journaled (and unanswered) is not journaled again.
        let key = (step.id.clone(), i);
        if req.method != Method::Get && !self.resume.in_doubt.contains(&key) {
            self.append(Record::Intent {
                at: now(),
                step: step.id.clone(),
                request: i,
                method: req.method.as_str().to_string(),
                url: req.url.clone(),
                principals: principals.clone(),
            })?;
        }
        self.reporter.event(&Event::Request {
            step: &step.id,
            method: req.method.as_str(),
            target: req.target,
            url: &url,
            body: None,
            sent: true,
        });
        if step.id == "pilot-on-demand" {
            cutover::pace_on_demand().await;
        }
        let answer = self.send_replicated(req, &url, body.as_ref()).await?;
        let mut bound = BoundValues::new();
        self.bind_from(req, &answer, &mut bound, true);
        if step.id == "start-custom-job" {
            let at = Value::from(now());
            self.bound
                .insert(cutover::START_ANSWERED.into(), at.clone());
            bound.insert(cutover::START_ANSWERED.into(), at);
        }
        if req.url == "/$batch" {
            super::find::check_batch(&answer.body, body.as_ref())?;
        }
        if step.id == "pilot-on-demand" {
            cutover::report_on_demand(self.reporter, &answer.body);
        }
        self.resume.in_doubt.remove(&key);
        step_bound.extend(bound.clone());
        // Big values (a whole schema) are journaled once, with the result.
        self.append(Record::Result {
            at: now(),
            step: step.id.clone(),
            request: i,
            status: answer.status,
            bound,
        })?;
        Ok(())
    }

    /// Send, retrying the answers Graph gives right after a create while it
    /// replicates (404, 403 and 409 under a new object), bounded.
    async fn send_replicated(
        &mut self,
        req: &Request,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(200);
        let fresh = req.url.contains("{customSpId}") || req.url.contains("{customAppId}");
        loop {
            let answer = self
                .t
                .send(req.target, req.method, url, body, idempotency(req))
                .await?;
            // A removal of what is already gone is done (a repeated DELETE).
            if answer.is_success() || (req.method == Method::Delete && answer.status == 404) {
                return Ok(answer);
            }
            let replicating = fresh && matches!(answer.status, 403 | 404 | 409);
            if !replicating || start.elapsed() >= self.opts.in_doubt_wait {
                let detail = crate::graph::error::GraphError::parse(
                    answer.status,
                    req.method.as_str(),
                    url.split('?').next().unwrap_or(""),
                    &answer.body,
                    None,
                )
                .into_error();
                return Err(Error::remote(redact(&detail.message, self.secret.as_ref())));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// How one step ended.
enum StepEnd {
    Done,
    Skipped,
    Quit,
    WouldChange,
}

/// The principals an assignments `$batch` body carries, in order.
pub fn batch_principals(body: &Value) -> BTreeSet<String> {
    body.get("requests")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.pointer("/body/principalId").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
