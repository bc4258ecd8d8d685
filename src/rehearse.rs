//! `scimshift rehearse`: run a plan against a twin rebuilt from the plan's
//! own snapshot and check the plan's per-user predictions.
//!
//! The twin starts in-process on loopback from [`crate::twin::seed::from_snapshot`]
//! (bound to the port of the snapshot's BaseAddress, so the plan's URLs and
//! ids resolve unchanged), the plan goes through [`crate::apply::apply`] over
//! HTTP exactly as `scimshift apply` sends it (stale-plan check, every step,
//! the wait for the custom job's first cycle and verify), and then each
//! user's prediction (`plan.impact`) is compared with what the engine did:
//! the custom job's link for that user and the target user it points to.
//!
//! This module and the command layer are the only product code that names
//! the twin (tests/architecture.rs).

use crate::error::{Error, Result};
use crate::graph::GraphClient;
use crate::graph::auth::Credential;
use crate::plan::model::{Plan, UserAction};
use crate::scim::ScimClient;
use crate::snapshot::model::Snapshot;
use crate::twin::seed::{SeedSpec, from_snapshot};
use crate::twin::server::TwinOptions;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the engine did with one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Linked to the target user the plan named.
    Matched,
    /// Linked to a target user that was not in the snapshot's target.
    Created,
    /// Linked to another target user the snapshot held (not the predicted one).
    MatchedOther,
    /// No link: not provisioned.
    NotProvisioned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::Created => "created",
            Outcome::MatchedOther => "matched-other",
            Outcome::NotProvisioned => "not-provisioned",
        }
    }
}

/// One user's prediction and outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub id: String,
    pub user_principal_name: String,
    pub predicted: String,
    pub predicted_target_id: Option<String>,
    pub outcome: Outcome,
    pub target_id: Option<String>,
    pub agrees: bool,
}

/// A rehearsal's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rehearsal {
    pub rows: Vec<Row>,
    /// (predicted, outcome) → count.
    pub table: BTreeMap<String, BTreeMap<String, usize>>,
    pub agreements: usize,
    pub disagreements: usize,
    /// apply's final verify on the rebuilt twin.
    pub verify: Verify,
    /// Steps apply found already done on the rebuilt twin (their done-check
    /// held before anything was sent), from its journal.
    pub steps_found_done: Vec<String>,
    pub seconds: f64,
}

/// How apply's final verify went on the rebuilt twin.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verify {
    /// `None`: verify did not run.
    pub passed: Option<bool>,
    /// Its worst finding (or apply's message when it failed).
    pub worst: Option<String>,
}

/// The prediction's name in the table: `duplicate` for a create the plan
/// says makes a second account.
fn predicted(u: &crate::plan::model::UserImpact) -> &'static str {
    match u.action {
        UserAction::Create if u.duplicate => "duplicate",
        a => a.as_str(),
    }
}

/// Does the outcome bear the prediction out?
fn agrees(u: &crate::plan::model::UserImpact, outcome: Outcome, target: Option<&str>) -> bool {
    match u.action {
        UserAction::Match => outcome == Outcome::Matched && target == u.target_id.as_deref(),
        UserAction::Create => outcome == Outcome::Created,
        UserAction::Skip | UserAction::Fail => outcome == Outcome::NotProvisioned,
    }
}

/// The loopback port of the snapshot's BaseAddress: the rebuilt twin serves there.
fn loopback_port(snap: &Snapshot) -> Result<u16> {
    let base = snap
        .app
        .settings
        .iter()
        .find(|kv| kv.key.eq_ignore_ascii_case("BaseAddress"))
        .map(|kv| kv.value.clone())
        .ok_or_else(|| {
            Error::input("the snapshot has no BaseAddress for the gallery app, so rehearse cannot tell where the plan sends SCIM")
        })?;
    let url = url::Url::parse(&base).map_err(|e| {
        Error::input(format!(
            "the snapshot's BaseAddress {base} is not a URL: {e}"
        ))
    })?;
    let loopback = matches!(
        url.host_str(),
        Some("127.0.0.1") | Some("localhost") | Some("[::1]")
    );
    match (loopback, url.port()) {
        (true, Some(p)) => Ok(p),
        _ => Err(Error::input(format!(
            "rehearse can only rebuild a target whose BaseAddress is a loopback URL with a port for now (the snapshot's is {base})"
        ))),
    }
}

/// Rehearse `plan` (read from `plan_path`) on a twin rebuilt from `snap`.
/// `profile`: the profile file the plan was made with, if it was one.
pub async fn rehearse(
    plan_path: &Path,
    plan: &Plan,
    snap: &Snapshot,
    profile: Option<&str>,
) -> Result<Rehearsal> {
    if snap.digest != plan.snapshot_digest {
        return Err(Error::input(format!(
            "--snapshot is not the snapshot this plan was made from (its digest is {}, the plan's is {})",
            snap.digest, plan.snapshot_digest
        )));
    }
    let port = loopback_port(snap)?;
    let seed = from_snapshot(snap)?;
    let started = std::time::Instant::now();
    // Apply journals next to the plan: rehearse on a copy in a temp folder.
    let dir = std::env::temp_dir().join(format!(
        "scimshift-rehearse-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io_at(&dir, e))?;
    let copy = dir.join("plan.json");
    std::fs::copy(plan_path, &copy).map_err(|e| Error::io_at(plan_path, e))?;
    let result = run(&copy, plan, snap, port, seed, profile).await;
    let _ = std::fs::remove_dir_all(&dir);
    let mut r = result?;
    r.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}

async fn run(
    copy: &Path,
    plan: &Plan,
    snap: &Snapshot,
    port: u16,
    seed: crate::twin::seed::Seed,
    profile: Option<&str>,
) -> Result<Rehearsal> {
    let twin = crate::twin::server::start(TwinOptions {
        listen: format!("127.0.0.1:{port}"),
        seed: SeedSpec::Data(Box::new(seed)),
        ..Default::default()
    })
    .await?;
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
    let token = twin.scim_token.clone();
    let mut give = || Ok(token.clone());
    let mut auto = crate::apply::Always(crate::apply::Choice::All);
    let result = crate::apply::apply(
        crate::apply::Inputs {
            plan_path: copy,
            plan,
            snapshot: Some(snap),
            profile,
            graph,
            scim: Some(scim),
            dry_run: false,
            exec: crate::apply::exec::ExecOptions {
                poll: Some(std::time::Duration::from_millis(200)),
                in_doubt_wait: std::time::Duration::from_secs(20),
                wait: std::time::Duration::from_secs(180),
                ..Default::default()
            },
        },
        &Quiet,
        &mut auto,
        &mut give,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        true,
        &crate::progress::Silent,
    )
    .await;
    // With every step done apply runs verify, and a failed verify is an
    // error; for a rehearsal it is an outcome to report (a wrong-turn plan
    // is expected to leave duplicates), so it is kept and the comparison goes on.
    let verify = match result {
        Ok(r) if matches!(r.outcome, crate::apply::exec::Outcome::Done) => Verify {
            passed: r.verified.as_ref().map(|v| v.passed),
            worst: r.verified.and_then(|v| v.worst),
        },
        Ok(_) => {
            twin.shutdown().await;
            return Err(Error::input(
                "the plan's apply on the rebuilt twin stopped before its last step",
            ));
        }
        Err(e) => {
            let all_done = crate::journal::read(copy).ok().is_some_and(|records| {
                let applied = crate::apply::record::Applied::from_journal(plan, &records);
                applied.done() == applied.steps.len()
            });
            if !all_done {
                twin.shutdown().await;
                return Err(Error::input(format!(
                    "the plan did not apply to the rebuilt twin: {}",
                    e.message
                )));
            }
            Verify {
                passed: Some(false),
                worst: Some(e.message),
            }
        }
    };
    let steps_found_done: Vec<String> = crate::journal::read(copy)
        .map(|records| {
            crate::apply::record::Applied::from_journal(plan, &records)
                .steps
                .into_iter()
                .filter(|s| s.state == "found done")
                .map(|s| s.id)
                .collect()
        })
        .unwrap_or_default();
    // The custom app: the service principal the plan named, other than the gallery's.
    let links: BTreeMap<String, String> = {
        let t = twin.twin.tenant();
        t.service_principals
            .values()
            .filter(|sp| {
                sp.display_name == plan.app.custom_app_name
                    && sp.id != plan.app.gallery_service_principal_id
            })
            .filter_map(|sp| t.synchronization.get(&sp.id))
            .flat_map(|s| s.jobs.values())
            .flat_map(|j| j.user_links.clone())
            .collect()
    };
    twin.shutdown().await;
    let before: BTreeSet<&str> = snap
        .target
        .as_ref()
        .map(|t| {
            t.users
                .iter()
                .filter_map(|u| u.get("id").and_then(serde_json::Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut rows = Vec::new();
    let mut table: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for u in &plan.impact {
        let target = links.get(&u.id).map(String::as_str);
        let outcome = match target {
            None => Outcome::NotProvisioned,
            Some(t) if u.target_id.as_deref() == Some(t) && before.contains(t) => Outcome::Matched,
            Some(t) if before.contains(t) => Outcome::MatchedOther,
            Some(_) => Outcome::Created,
        };
        let ok = agrees(u, outcome, target);
        *table
            .entry(predicted(u).to_string())
            .or_default()
            .entry(outcome.as_str().to_string())
            .or_default() += 1;
        rows.push(Row {
            id: u.id.clone(),
            user_principal_name: u.user_principal_name.clone(),
            predicted: predicted(u).to_string(),
            predicted_target_id: u.target_id.clone(),
            outcome,
            target_id: target.map(str::to_string),
            agrees: ok,
        });
    }
    let agreements = rows.iter().filter(|r| r.agrees).count();
    Ok(Rehearsal {
        disagreements: rows.len() - agreements,
        agreements,
        rows,
        table,
        verify,
        steps_found_done,
        seconds: 0.0,
    })
}

impl Rehearsal {
    /// The agreement table: predictions down, outcomes across.
    pub fn render_text(&self) -> String {
        let outcomes = [
            Outcome::Matched,
            Outcome::Created,
            Outcome::MatchedOther,
            Outcome::NotProvisioned,
        ];
        let mut s = format!("{:<12}", "predicted");
        for o in outcomes {
            s.push_str(&format!(" {:>16}", o.as_str()));
        }
        s.push('\n');
        for (p, row) in &self.table {
            s.push_str(&format!("{p:<12}"));
            for o in outcomes {
                s.push_str(&format!(
                    " {:>16}",
                    row.get(o.as_str()).copied().unwrap_or(0)
                ));
            }
            s.push('\n');
        }
        let total = self.rows.len().max(1);
        s.push_str(&match (self.verify.passed, &self.verify.worst) {
            (Some(true), _) => "\nverify on the rebuilt twin: passed\n".to_string(),
            (Some(false), w) => format!(
                "\nverify on the rebuilt twin: failed: {}\n",
                w.as_deref().unwrap_or("see `scimshift verify`")
            ),
            (None, _) => "\nverify on the rebuilt twin: not run\n".to_string(),
        });
        s.push_str(&format!(
            "\n{} of {} users as predicted ({:.1} %), {} disagreement(s); rehearsed in {:.1} s.\n",
            self.agreements,
            self.rows.len(),
            100.0 * self.agreements as f64 / total as f64,
            self.disagreements,
            self.seconds
        ));
        s
    }

    /// The disagreements as CSV.
    pub fn disagreements_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "id",
            "userPrincipalName",
            "predicted",
            "predictedTargetId",
            "outcome",
            "targetId",
        ]);
        for r in self.rows.iter().filter(|r| !r.agrees) {
            let _ = w.write_record([
                r.id.as_str(),
                r.user_principal_name.as_str(),
                r.predicted.as_str(),
                r.predicted_target_id.as_deref().unwrap_or(""),
                r.outcome.as_str(),
                r.target_id.as_deref().unwrap_or(""),
            ]);
        }
        w.into_inner().unwrap_or_default()
    }
}

/// Apply's events are not shown: the rehearsal prints its own table.
struct Quiet;

impl crate::apply::Reporter for Quiet {
    fn event(&self, _event: &crate::apply::Event<'_>) {}
}
