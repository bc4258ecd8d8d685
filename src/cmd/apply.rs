//! `scimshift apply` and `scimshift status`: flags into [`crate::apply`]'s
//! inputs, credentials, how events look (text with bars on stderr, or one
//! JSON object per line), the y/n/a/q prompt, Ctrl-C, and exit codes.

use crate::apply::exec::{ExecOptions, Outcome};
use crate::apply::{Asker, Choice, Event, Reporter};
use crate::cli::{ApplyArgs, RollbackArgs, StatusArgs};
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::plan::model::{Plan, Target};
use crate::scim::ScimClient;
use crate::twin::faults::parse_duration;
use serde_json::{Value, json};
use std::time::Duration;

fn duration(flag: &str, v: &str) -> Result<Duration> {
    parse_duration(v).map_err(|e| Error::usage(format!("{flag}: {e}")))
}

/// `--wait`, `--poll` and `--in-doubt-wait` as the executor's options.
fn exec_options(w: &crate::cli::WaitArgs) -> Result<ExecOptions> {
    Ok(ExecOptions {
        wait: duration("--wait", &w.wait)?,
        poll: w
            .poll
            .as_deref()
            .map(|p| duration("--poll", p))
            .transpose()?,
        in_doubt_wait: duration("--in-doubt-wait", &w.in_doubt_wait)?,
        ..ExecOptions::default()
    })
}

/// The exit code of a run's outcome, and the outcome in words.
fn exit_and_words(outcome: &Outcome) -> (i32, String) {
    match outcome {
        Outcome::Done => (exit::OK, "done".to_string()),
        Outcome::Stopped { step } => (exit::INTERRUPTED, format!("stopped at {step}")),
        Outcome::WouldChange { steps } => (
            exit::CHANGES,
            format!("dry run: {} steps would change something", steps.len()),
        ),
    }
}

/// Refuse at once when a step-by-step command has no one to ask.
fn require_answerer(ctx: &Context, dry_run: bool, what: &str) -> Result<()> {
    if !dry_run && !ctx.assume_yes && !ctx.interactive {
        return Err(Error::usage(format!(
            "{what} asks before each step, and no one can answer here (stdin is not a terminal): pass --yes to answer yes to every step, or --dry-run to only look"
        )));
    }
    Ok(())
}

/// The SCIM URL (`--scim-url`, else the plan's BaseAddress), checked, and
/// the Graph client from the Graph flags.
fn endpoints(
    plan: &Plan,
    scim: &crate::cli::ScimArgs,
    graph: &crate::cli::GraphArgs,
) -> Result<(Option<String>, crate::graph::GraphClient)> {
    let scim_url = scim
        .scim_url
        .clone()
        .or_else(|| crate::apply::base_address(plan));
    if let Some(u) = &scim_url {
        crate::net::checked_url(u, "the SCIM URL")?;
    }
    let (settings, notes) = super::credentials::graph(graph)?;
    super::print_notes(&notes);
    Ok((scim_url, settings.client()?))
}

/// How events look, and who answers the y/n/a/q question.
fn reporter_and_asker(ctx: &Context, dry_run: bool) -> (Box<dyn Reporter>, Box<dyn Asker>) {
    let reporter: Box<dyn Reporter> = if ctx.json() {
        Box::new(JsonLines)
    } else {
        Box::new(Text::default())
    };
    let asker: Box<dyn Asker> = if ctx.assume_yes || dry_run {
        Box::new(crate::apply::Always(Choice::All))
    } else {
        Box::new(crate::apply::Prompt)
    };
    (reporter, asker)
}

pub async fn apply(ctx: &Context, args: &ApplyArgs) -> Result<i32> {
    // Everything that can be refused is refused before anything is read remotely.
    let plan = Plan::load(&args.plan)?;
    // A dry run only looks: it shows the errors instead of refusing.
    if let Some(note) =
        crate::apply::error_gate(&plan, &args.plan, args.accept_errors, args.dry_run)?
    {
        super::print_notes(&[note]);
    }
    let exec = ExecOptions {
        only: args.only.clone(),
        from: args.from.clone(),
        ..exec_options(&args.waits)?
    };
    let snapshot = match &args.snapshot {
        Some(p) => Some(crate::snapshot::model::Snapshot::load(p)?),
        None => None,
    };
    require_answerer(ctx, args.dry_run, "apply")?;
    let (scim_url, graph) = endpoints(&plan, &args.scim, &args.graph)?;
    let token = match &scim_url {
        Some(_) => Some(super::credentials::scim_token(
            ctx,
            args.scim.scim_token_file.as_deref(),
        )?),
        None => None,
    };
    let scim = match (&scim_url, &token) {
        (Some(u), Some(t)) => Some(ScimClient::new(u, t.clone())?),
        _ => None,
    };
    let mut give_token = || {
        token.clone().ok_or_else(|| {
            Error::usage("the plan writes the SCIM token, but it has no SCIM URL: give --scim-url")
        })
    };
    let interrupt = super::interrupt::watch(
        "finishing the request in flight and journaling it",
        "the journal is consistent, run the same command again to resume",
    );
    let (reporter, mut asker) = reporter_and_asker(ctx, args.dry_run);
    let observer = super::progress::observer(ctx);
    let report = crate::apply::apply(
        crate::apply::Inputs {
            plan_path: &args.plan,
            plan: &plan,
            snapshot: snapshot.as_ref(),
            profile: args.profile.as_deref(),
            graph,
            scim,
            dry_run: args.dry_run,
            exec,
        },
        reporter.as_ref(),
        asker.as_mut(),
        &mut give_token,
        interrupt,
        ctx.assume_yes || args.dry_run,
        observer.as_ref(),
    )
    .await?;
    let resume = format!(
        "scimshift apply {}{}",
        args.plan.display(),
        args.snapshot
            .as_ref()
            .map(|s| format!(" --snapshot {}", s.display()))
            .unwrap_or_default()
    );
    let (code, outcome) = exit_and_words(&report.outcome);
    if ctx.json() {
        // The last of the JSON lines: compact, like every event before it.
        println!(
            "{}",
            json!({
                "event": "summary",
                "outcome": outcome,
                "stepsDone": report.applied.done(),
                "steps": report.applied.steps.len(),
                "seconds": report.seconds,
                "graphWrites": report.graph_writes,
                "gap": report.applied.gap,
                "keptWrites": report.kept.len(),
                "journal": report.journal,
                "applied": report.applied_md,
            })
        );
    } else {
        println!();
        println!(
            "Apply {outcome}: {} of {} steps done, {:.1} s, {} Graph writes (limit 3000 per 150 s).",
            report.applied.done(),
            report.applied.steps.len(),
            report.seconds,
            report.graph_writes
        );
        if let Some(g) = &report.applied.gap {
            println!("Provisioning gap: {}.", crate::apply::record::gap_text(g));
        }
        if args.dry_run {
            println!(
                "Nothing was sent: {} writes were shown, not sent.",
                report.kept.len()
            );
        } else {
            println!("Journal: {}", report.journal.display());
            if let Some(p) = &report.applied_md {
                println!("Change record: {}", p.display());
            }
        }
        if code == exit::INTERRUPTED {
            println!("Resume with: {resume}");
        }
    }
    Ok(code)
}

pub async fn rollback(ctx: &Context, args: &RollbackArgs) -> Result<i32> {
    let plan = Plan::load(&args.plan)?;
    let opts = exec_options(&args.waits)?;
    if crate::journal::read(&args.plan)?.is_empty() {
        return Err(Error::input(format!(
            "{} has no journal beside it ({}): apply has not run, so there is nothing to roll back",
            args.plan.display(),
            crate::journal::path_for(&args.plan).display()
        )));
    }
    require_answerer(ctx, args.dry_run, "rollback")?;
    let (scim_url, graph) = endpoints(&plan, &args.scim, &args.graph)?;
    // The target is only read (for the residue): its token when one is given.
    let token = args
        .scim
        .scim_token_file
        .as_deref()
        .map(crate::secret::read_secret_file)
        .transpose()?
        .or_else(super::credentials::scim_token_env);
    let scim = match (&scim_url, token) {
        (Some(u), Some(t)) => Some(ScimClient::new(u, t)?),
        _ => None,
    };
    let interrupt = super::interrupt::watch(
        "finishing the request in flight and journaling it",
        "the journal is consistent, run the same command again to resume",
    );
    let (reporter, mut asker) = reporter_and_asker(ctx, args.dry_run);
    let report = crate::apply::rollback::run(
        &args.plan,
        &plan,
        graph,
        scim,
        args.dry_run,
        opts,
        reporter.as_ref(),
        asker.as_mut(),
        interrupt,
        ctx.assume_yes || args.dry_run,
    )
    .await?;
    let (code, outcome) = exit_and_words(&report.outcome);
    if ctx.json() {
        println!(
            "{}",
            json!({
                "event": "summary",
                "outcome": outcome,
                "steps": report.scope.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
                "restores": report.scope.restores,
                "leaves": report.scope.leaves,
                "residue": report.residue.iter().map(|(n, r)| json!({"group": n, "remove": r})).collect::<Vec<_>>(),
                "keptWrites": report.kept,
            })
        );
    } else {
        println!("\nRollback {outcome}.");
        if !report.residue.is_empty() {
            println!(
                "Left in the target (groups the custom job pushed; remove them there if you want them gone):"
            );
            for (name, req) in &report.residue {
                println!("  {name}: {req}");
            }
        }
        if args.dry_run {
            println!(
                "Nothing was sent: {} writes were shown, not sent.",
                report.kept
            );
        }
        if code == exit::INTERRUPTED {
            println!("Resume with: scimshift rollback {}", args.plan.display());
        }
    }
    Ok(code)
}

/// One JSON object per event on stdout.
struct JsonLines;

impl Reporter for JsonLines {
    fn event(&self, event: &Event<'_>) {
        if let Ok(line) = serde_json::to_string(event) {
            println!("{line}");
        }
    }
}

/// Text on stdout, waits as bars on stderr.
#[derive(Default)]
struct Text {
    bars: super::progress::Bars,
    open: std::sync::Mutex<std::collections::HashSet<String>>,
}

fn curl(method: &str, target: Target, url: &str, body: Option<&Value>) -> String {
    let base = match target {
        Target::Graph => "$GRAPH",
        Target::Scim => "$SCIM",
    };
    let mut s = format!("    {method} {base}{url}");
    if let Some(b) = body {
        let text = serde_json::to_string(b).unwrap_or_default();
        let text = if text.chars().count() > 400 {
            format!(
                "{}… ({} bytes)",
                text.chars().take(400).collect::<String>(),
                text.len()
            )
        } else {
            text
        };
        s.push_str(&format!("\n      {text}"));
    }
    s
}

impl Reporter for Text {
    fn event(&self, event: &Event<'_>) {
        use crate::progress::{Event as P, Observer};
        use crate::text::{clean, clean_lines};
        use console::style;
        match event {
            Event::StepStarted { step } => {
                println!(
                    "\n{} {} {}",
                    style(step.action.symbol()).bold(),
                    style(&step.id).bold(),
                    clean(&step.title)
                );
            }
            Event::Diff { live, .. } => {
                for l in live.iter() {
                    let mark = if l.holds { "=" } else { "~" };
                    let what = if l.what.is_empty() {
                        "HTTP status"
                    } else {
                        &l.what
                    };
                    println!(
                        "    {mark} {}: {} → {}",
                        clean(what),
                        clean(&l.live),
                        clean(&l.want)
                    );
                }
            }
            Event::Request {
                method,
                target,
                url,
                body,
                sent,
                ..
            } => {
                if !sent || body.is_some() {
                    println!("{}", curl(method, *target, url, *body));
                }
            }
            Event::StepDone { step, found } => {
                if *found {
                    println!("  {} {step}: already done (live state)", style("✓").green());
                } else {
                    println!("  {} {step}: done", style("✓").green());
                }
            }
            Event::StepSkipped { step, why } => println!("  · {step}: {}", clean(why)),
            Event::Progress { task, done, total } => {
                let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                if open.insert(task.to_string()) {
                    self.bars.event(&P::Started {
                        task,
                        total: *total,
                    });
                }
                self.bars.event(&P::Progress {
                    task,
                    done: *done,
                    total: *total,
                });
            }
            Event::Finished { task } => {
                self.open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(*task);
                self.bars.event(&P::Finished { task, done: 0 });
            }
            Event::Gap { gap } => {
                println!(
                    "  provisioning gap: {}",
                    crate::apply::record::gap_text(gap)
                );
            }
            Event::Note { text } => println!("  note: {}", clean_lines(text)),
        }
    }
}

pub async fn status(ctx: &Context, args: &StatusArgs) -> Result<i32> {
    let plan = Plan::load(&args.plan)?;
    let records = crate::journal::read(&args.plan)?;
    let applied = crate::apply::record::Applied::from_journal(&plan, &records);
    let mut jobs = Vec::new();
    if !args.offline {
        let (settings, notes) = super::credentials::graph(&args.graph)?;
        super::print_notes(&notes);
        let graph = settings.client()?;
        let custom_sp = applied
            .ids
            .iter()
            .find(|(k, _)| k == "customSpId")
            .map(|(_, v)| v.clone());
        let custom_job = applied
            .ids
            .iter()
            .find(|(k, _)| k == "customJobId")
            .map(|(_, v)| v.clone());
        let gallery = format!(
            "/servicePrincipals/{}/synchronization/jobs/{}",
            plan.app.gallery_service_principal_id, plan.app.gallery_job_id
        );
        jobs.push(("gallery", Some(gallery)));
        jobs.push((
            "custom",
            match (custom_sp, custom_job) {
                (Some(sp), Some(j)) => {
                    Some(format!("/servicePrincipals/{sp}/synchronization/jobs/{j}"))
                }
                _ => None,
            },
        ));
        let mut live = Vec::new();
        for (name, url) in jobs.drain(..) {
            let v = match url {
                Some(u) => match graph.get(&u).await {
                    Ok(j) => job_summary(&j),
                    Err(e) => json!({"error": e.message}),
                },
                None => json!({"state": "not created yet"}),
            };
            live.push((name, v));
        }
        return print_status(ctx, &plan, &applied, &live);
    }
    print_status(ctx, &plan, &applied, &[])
}

fn job_summary(j: &Value) -> Value {
    let s = |p: &str| j.pointer(p).cloned().unwrap_or(Value::Null);
    json!({
        "schedule": s("/schedule/state"),
        "status": s("/status/code"),
        "lastCycleEnded": s("/status/lastExecution/timeEnded"),
        "lastCycleState": s("/status/lastExecution/state"),
        "lastCycleExported": s("/status/lastExecution/countExported"),
        "steadyState": s("/status/steadyStateLastAchievedTime"),
        "escrows": s("/status/countSuccessiveCompleteFailures"),
        "quarantine": s("/status/quarantine"),
    })
}

fn print_status(
    ctx: &Context,
    plan: &Plan,
    applied: &crate::apply::record::Applied,
    live: &[(&str, Value)],
) -> Result<i32> {
    if ctx.json() {
        crate::output::print_json(&json!({
            "plan": plan.plan_digest,
            "applied": applied,
            "jobs": live.iter().map(|(n, v)| (n.to_string(), v.clone())).collect::<serde_json::Map<_, _>>(),
        }));
        return Ok(exit::OK);
    }
    println!(
        "{} → {}: {} of {} steps done ({} apply run{}){}",
        plan.app.gallery_display_name,
        plan.app.custom_app_name,
        applied.done(),
        applied.steps.len(),
        applied.runs,
        if applied.runs == 1 { "" } else { "s" },
        applied
            .last_outcome
            .as_deref()
            .map(|o| format!("; last: {o}"))
            .unwrap_or_default()
    );
    print!("{}", crate::text::for_terminal(&applied.render_text()));
    for (name, v) in live {
        println!(
            "  {name} job: {}",
            serde_json::to_string(v).unwrap_or_default()
        );
    }
    match &applied.last_verify {
        Some(v) => println!("  last verify: {v}"),
        None => println!("  last verify: none yet"),
    }
    Ok(exit::OK)
}
