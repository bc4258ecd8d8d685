//! `scimshift demo`: the migration story on the built-in twin. It starts a
//! simulated tenant in-process (the demo seed: a Coda gallery app that has
//! provisioned ~150 people, and seven traps), then does what an admin would:
//! snapshot it over Graph and SCIM, plan the move to a custom app, apply the
//! plan (auto-confirmed unless `--interactive`) and follow the custom job's
//! first cycle, then show the target the morning after. Nothing leaves this
//! machine; files go to a temp folder.

use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::graph::GraphClient;
use crate::graph::auth::Credential;
use crate::scim::ScimClient;
use crate::twin::server::{RunningTwin, TwinOptions};
use console::style;
use serde_json::json;
use std::path::PathBuf;

/// What `scimshift demo` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoOptions {
    /// Pause between chapters and wait for Enter.
    pub interactive: bool,
}

pub async fn run(ctx: &Context, args: DemoOptions) -> Result<i32> {
    if args.interactive && !ctx.interactive {
        return Err(Error::usage(
            "--interactive needs a terminal to wait for Enter; run `scimshift demo` without it here",
        ));
    }
    let dir = demo_dir()?;
    let story = Story {
        text: !ctx.json(),
        interactive: args.interactive,
    };

    story.chapter(
        1,
        "A simulated tenant",
        "scimshift carries a twin of Entra ID: Microsoft Graph, its token endpoint, the \
         provisioning engine and a SCIM app, all on 127.0.0.1. This one is the demo organisation.",
    );
    let twin = crate::twin::server::start(TwinOptions::default()).await?;
    story.say(&describe_tenant(&twin));
    story.pause()?;

    story.chapter(
        2,
        "Snapshot: what the gallery app provisions, and what the app holds",
        "Read over Graph (client credentials) and SCIM (bearer token), exactly as against a real tenant:\n  \
         scimshift snapshot --app Coda --scim-url URL --out snapshot.json",
    );
    let graph = GraphClient::from_urls(
        &twin.graph_url,
        &twin.authority_url,
        Credential::ClientSecret {
            tenant: twin.tenant_id.clone(),
            client_id: twin.client_id.clone(),
            secret: twin.client_secret.clone(),
        },
    )?;
    let scim = ScimClient::new(&twin.scim_url, twin.scim_token.clone())?;
    let snap = crate::snapshot::capture::capture(&graph, "Coda", Some(&scim)).await?;
    let snap_path = dir.join("snapshot.json");
    crate::output::write_private_file(&snap_path, &snap.to_bytes())?;
    let summary = crate::snapshot::summary::Summary::of(&snap, Some(&snap_path));
    story.say(&summary.render_text());
    story.pause()?;

    story.chapter(
        3,
        "Plan: what moving to a custom app would do, to whom, in what order",
        "A pure function of the snapshot and the Coda profile; no request is sent:\n  \
         scimshift plan --snapshot snapshot.json --profile coda --out plan.json --report plan.md",
    );
    let (profile, _) = crate::plan::choose_profile(&snap, Some("coda"))?;
    let opts = crate::plan::PlanOptions::default();
    let plan = crate::plan::build(&snap, &profile, &opts)?;
    let plan_path = dir.join("plan.json");
    let report_path = dir.join("plan.md");
    crate::output::write_private_file(&plan_path, &plan.to_bytes())?;
    crate::plan::write_report(&plan, &report_path)?;
    story.say(&crate::plan::render_text(&plan));

    // What the same plan would have predicted with Entra's default mapping.
    let mut upn = profile.clone();
    for m in upn
        .user_mappings
        .iter_mut()
        .filter(|m| m.target == "userName")
    {
        m.source = "userPrincipalName".into();
        m.copy_from_gallery = false;
    }
    let naive = crate::plan::build(&snap, &upn, &opts)?;
    let naive_dups = naive.impact.iter().filter(|u| u.duplicate).count();
    let dups = plan.impact.iter().filter(|u| u.duplicate).count();
    story.say(&format!(
        "Why the mapping matters: with Entra's default mapping (userName <- userPrincipalName) the \
         custom app's first cycle would create {naive_dups} duplicate people in Coda; with the \
         gallery's mapping carried over, as planned above, it creates {dups}."
    ));
    story.pause()?;

    story.chapter(
        4,
        "Apply: build the custom app, cut over, follow the first cycle",
        "Each step's live state is read first, each write journaled before it is sent:\n  \
         scimshift apply plan.json --snapshot snapshot.json",
    );
    let reporter = DemoReporter { text: !ctx.json() };
    let mut auto = crate::apply::Always(crate::apply::Choice::All);
    let mut prompt = crate::apply::Prompt;
    let asker: &mut dyn crate::apply::Asker = if args.interactive {
        &mut prompt
    } else {
        &mut auto
    };
    let token = twin.scim_token.clone();
    let mut give = || Ok(token.clone());
    let report = crate::apply::apply(
        crate::apply::Inputs {
            plan_path: &plan_path,
            plan: &plan,
            snapshot: Some(&snap),
            profile: None,
            graph: graph.clone(),
            scim: Some(scim.clone()),
            dry_run: false,
            exec: crate::apply::exec::ExecOptions {
                poll: Some(std::time::Duration::from_millis(200)),
                in_doubt_wait: std::time::Duration::from_secs(20),
                wait: std::time::Duration::from_secs(180),
                ..Default::default()
            },
        },
        &reporter,
        asker,
        &mut give,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        !args.interactive,
        &crate::progress::Silent,
    )
    .await?;
    let gap = report
        .applied
        .gap
        .as_ref()
        .map(crate::apply::record::gap_text)
        .unwrap_or_else(|| "not measured".into());
    story.say(&format!(
        "\n{} of {} steps done in {:.1} s with {} Graph writes. Provisioning gap: {gap}.",
        report.applied.done(),
        report.applied.steps.len(),
        report.seconds,
        report.graph_writes
    ));
    story.pause()?;

    story.chapter(
        5,
        "The morning after",
        "The target as the custom app left it, read over SCIM:",
    );
    let after = crate::snapshot::capture::capture_target(&scim).await?;
    let mut names = std::collections::HashMap::<String, usize>::new();
    for u in &after.users {
        if let Some(n) = u.get("userName").and_then(serde_json::Value::as_str) {
            *names.entry(n.to_lowercase()).or_default() += 1;
        }
    }
    let duplicates = names.values().filter(|n| **n > 1).count();
    let mut groups: Vec<String> = after
        .groups
        .iter()
        .map(|g| {
            format!(
                "{} ({} members)",
                g.get("displayName")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?"),
                g.get("members")
                    .and_then(serde_json::Value::as_array)
                    .map_or(0, Vec::len)
            )
        })
        .collect();
    groups.sort();
    story.say(&format!(
        "{} users ({} before; {duplicates} userNames held twice), {} groups: {}.\n\
         The gallery job is paused, not deleted: SSO stays on it. Next: `scimshift verify` \
         before removing anything, or `scimshift rollback` to go back.",
        after.users.len(),
        snap.target.as_ref().map_or(0, |t| t.users.len()),
        after.groups.len(),
        groups.join(", ")
    ));
    story.say(&format!(
        "Files:\n  {}\n  {}\n  {}\n  {}\n  {}\n(They hold the demo's made-up people; mode 0600.)",
        snap_path.display(),
        plan_path.display(),
        report_path.display(),
        report.journal.display(),
        report
            .applied_md
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));

    if ctx.json() {
        crate::output::print_json(&json!({
            "snapshot": { "file": snap_path, "digest": snap.digest, "summary": summary },
            "plan": {
                "file": plan_path,
                "report": report_path,
                "summary": plan.summary,
                "findings": plan.findings.iter().map(|f| json!({"severity": f.severity, "code": f.code})).collect::<Vec<_>>(),
                "duplicates": dups,
                "duplicatesWithDefaultMapping": naive_dups,
            },
            "apply": {
                "stepsDone": report.applied.done(),
                "steps": report.applied.steps.len(),
                "graphWrites": report.graph_writes,
                "gap": report.applied.gap,
                "journal": report.journal,
            },
            "after": {
                "users": after.users.len(),
                "groups": after.groups.len(),
                "duplicateUserNames": duplicates,
            }
        }));
    }
    twin.shutdown().await;
    Ok(exit::OK)
}

fn describe_tenant(twin: &RunningTwin) -> String {
    let t = twin.twin.tenant();
    let gallery = t
        .service_principals
        .values()
        .find(|sp| sp.display_name == "Coda")
        .map(|sp| sp.id.clone())
        .unwrap_or_default();
    let in_scope = t.users_in_assignment_scope(&gallery).len();
    let groups = t.assigned_groups(&gallery).len();
    let job_state = t
        .synchronization
        .get(&gallery)
        .and_then(|s| s.jobs.values().next())
        .map(|j| format!("job {} is {}", j.template_id, j.schedule_state))
        .unwrap_or_else(|| "no job".into());
    let (users, dir_groups) = (t.users.len(), t.groups.len());
    drop(t);
    use crate::twin::scim_store::Kind;
    let target_users = twin.twin.scim_store.count(Kind::User);
    let target_groups = twin.twin.scim_store.count(Kind::Group);
    format!(
        "{} users and {} groups in Entra. The Coda gallery app has {} users in its assignment scope \
         ({} groups assigned); its provisioning {}.\nThe Coda side (SCIM at {}) holds {} users and {} \
         group(s): the gallery app pushes users only, which is why the admin wants a custom app.",
        users, dir_groups, in_scope, groups, job_state, twin.scim_url, target_users, target_groups,
    )
}

/// Apply's events as the story's lines: each step as it ends, and the notes.
struct DemoReporter {
    text: bool,
}

impl crate::apply::Reporter for DemoReporter {
    fn event(&self, event: &crate::apply::Event<'_>) {
        use crate::apply::Event;
        if !self.text {
            return;
        }
        match event {
            Event::StepStarted { step } => {
                println!("  {} {}", step.action.symbol(), step.title)
            }
            Event::StepDone { found: true, .. } => println!("      already done (live state)"),
            Event::Gap { gap } => println!(
                "      provisioning gap: {}",
                crate::apply::record::gap_text(gap)
            ),
            Event::Note { text } => println!("      note: {text}"),
            _ => {}
        }
    }
}

/// Prints chapters for people; silent in JSON mode.
struct Story {
    text: bool,
    interactive: bool,
}

impl Story {
    fn chapter(&self, n: u32, title: &str, intro: &str) {
        if self.text {
            println!(
                "\n{} {}\n",
                style(format!("{n}.")).bold().cyan(),
                style(title).bold()
            );
            println!("{intro}\n");
        }
    }
    fn say(&self, text: &str) {
        if self.text {
            println!("{}", text.trim_end());
        }
    }
    fn pause(&self) -> Result<()> {
        if self.interactive {
            eprint!("\n[Enter to continue] ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Error::io(format!("could not read from the terminal: {e}")))?;
        }
        Ok(())
    }
}

/// A fresh folder for the demo's files.
fn demo_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("scimshift-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io_at(&dir, e))?;
    Ok(dir)
}
