//! `scimshift rehearse`: run a plan against a twin rebuilt from the plan's
//! own snapshot and check the plan's per-user predictions.
//!
//! The twin starts in-process on loopback from [`crate::twin::seed::from_snapshot`]
//! (bound to the port of the snapshot's BaseAddress when that is loopback, so
//! the plan's URLs and ids resolve unchanged; for a real tenant's `https://`
//! BaseAddress, on a free port with that address served by the twin's own
//! store, so neither the tenant nor the target is needed), the plan goes through [`crate::apply::apply`] over
//! HTTP exactly as `scimshift apply` sends it (stale-plan check, every step,
//! the wait for the custom job's first cycle and verify), and then each
//! user's prediction (`plan.impact`) is compared with what the engine did:
//! the custom job's link for that user and the target user it points to;
//! each pushed group's (`plan.groupImpact`): created or adopted, and its
//! members; and every target user's `active` flag (nobody may be deactivated).
//!
//! `--mapping default` rehearses the wrong turn instead: the same migration
//! re-planned with Entra's default user mapping (nothing carried over from
//! the gallery, no secondary matching), so the admin sees the duplicates it
//! makes — and that the plan foretold exactly those.
//!
//! This module and the command layer are the only product code that names
//! the twin (tests/architecture.rs).

use crate::error::{Error, Result};
use crate::graph::GraphClient;
use crate::graph::auth::Credential;
use crate::plan::model::{GroupAction, Plan, UserAction};
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
    /// `plan` (the plan as given) or `default` (`--mapping default`).
    pub mapping: String,
    pub rows: Vec<Row>,
    /// One row per group the plan pushes.
    pub groups: Vec<GroupRow>,
    /// Target users whose `active` went from true to false (nobody should).
    pub deactivated: Vec<String>,
    /// (predicted, outcome) → count.
    pub table: BTreeMap<String, BTreeMap<String, usize>>,
    pub agreements: usize,
    pub disagreements: usize,
    /// apply's final verify on the rebuilt twin (run again when the
    /// rehearsal waited for escrow retries and the first one failed).
    pub verify: Verify,
    /// Cycles the rehearsal waited, past the custom job's first, for Entra's
    /// escrow retries before comparing (0: the first cycle left no more
    /// objects in escrow than the plan predicts to fail).
    pub escrow_retry_cycles: usize,
    /// Verify right after the first cycle, when it failed and was run again
    /// after the escrow retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_verify: Option<Verify>,
    /// Steps apply found already done on the rebuilt twin (their done-check
    /// held before anything was sent), from its journal.
    pub steps_found_done: Vec<String>,
    pub seconds: f64,
}

/// What the engine did with one pushed group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    /// `create`, `adopt` or `fail`.
    pub predicted: String,
    pub predicted_target_id: Option<String>,
    /// `created`, `adopted`, `adopted-other` or `not-pushed`.
    pub outcome: String,
    pub target_id: Option<String>,
    pub members_predicted: usize,
    /// Entra ids predicted as members but not members of the target group.
    pub members_missing: Vec<String>,
    /// Entra ids the engine made members although not predicted.
    pub members_unexpected: Vec<String>,
    pub agrees: bool,
}

/// Which mapping the rehearsal runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// The plan as given.
    Plan,
    /// The wrong turn: Entra's default user mapping, nothing carried over.
    Default,
}

/// How to rehearse.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The profile the plan was made with, when it was a file.
    pub profile: Option<&'a str>,
    pub mapping: Mapping,
    /// Twin faults during the rehearsal (`429:0.05,503:0.02,latency:10ms`).
    pub faults: Option<crate::twin::faults::Faults>,
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
        UserAction::Match => outcome == Outcome::Matched && target == u.target_id(),
        UserAction::Create => outcome == Outcome::Created,
        UserAction::Skip | UserAction::Fail => outcome == Outcome::NotProvisioned,
    }
}

/// Where the rebuilt twin serves. A snapshot of a twin (BaseAddress on
/// loopback with a port): that port, so the plan's URLs resolve unchanged. A
/// real tenant's (`https://…`): a free loopback port, the BaseAddress kept
/// as the jobs' setting and served by the twin's own store, so nothing leaves
/// loopback.
enum Serve {
    Port(u16),
    Alias(String),
}

fn serve_of(snap: &Snapshot) -> Result<Serve> {
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
    match (loopback, url.port(), url.scheme()) {
        (true, Some(p), _) => Ok(Serve::Port(p)),
        (false, _, "https") => Ok(Serve::Alias(base)),
        _ => Err(Error::input(format!(
            "the snapshot's BaseAddress {base} is neither https nor a loopback URL with a port, so rehearse cannot stand in for it"
        ))),
    }
}

/// Rehearse `plan` (read from `plan_path`) on a twin rebuilt from `snap`.
pub async fn rehearse(
    plan_path: &Path,
    plan: &Plan,
    snap: &Snapshot,
    opts: Options<'_>,
) -> Result<Rehearsal> {
    crate::apply::drift::check_snapshot(plan, snap, "--snapshot")?;
    let serve = serve_of(snap)?;
    let mut seed = from_snapshot(snap)?;
    if let Serve::Alias(base) = &serve
        && let Some(sync) = seed
            .tenant
            .synchronization
            .get_mut(&snap.app.service_principal_id)
    {
        sync.secrets.insert("BaseAddress".into(), base.clone());
    }
    let started = std::time::Instant::now();
    // Apply journals next to the plan: rehearse on a copy in a private temp folder.
    let dir = std::env::temp_dir().join(format!(
        "scimshift-rehearse-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io_at(&dir, e))?;
    }
    let result = async {
        let copy = dir.join("plan.json");
        let (plan, profile) = match opts.mapping {
            Mapping::Plan => {
                std::fs::copy(plan_path, &copy).map_err(|e| Error::io_at(plan_path, e))?;
                (plan.clone(), opts.profile.map(str::to_string))
            }
            Mapping::Default => {
                let (wrong, profile) = default_mapping_plan(plan, snap, opts.profile, &dir)?;
                crate::output::write_private_file(&copy, &wrong.to_bytes())?;
                (wrong, Some(profile))
            }
        };
        let mut r = run(
            &copy,
            &plan,
            snap,
            &serve,
            seed,
            profile.as_deref(),
            opts.faults,
        )
        .await?;
        r.mapping = match opts.mapping {
            Mapping::Plan => "plan",
            Mapping::Default => "default",
        }
        .into();
        Ok::<_, Error>(r)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let mut r = result?;
    r.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}

/// The wrong turn: `plan` re-planned from `snap` with Entra's default user
/// mapping (no mapping carried over from the gallery job) and no secondary
/// matching. The profile is written as a file in `dir` so that apply's
/// stale-plan check re-plans it the same way. Returns the plan and that path.
fn default_mapping_plan(
    plan: &Plan,
    snap: &Snapshot,
    profile: Option<&str>,
    dir: &Path,
) -> Result<(Plan, String)> {
    let spec = profile.unwrap_or(&plan.app.profile);
    let (mut p, _) = crate::plan::choose_profile(snap, Some(spec))?;
    for m in &mut p.user_mappings {
        m.copy_from_gallery = false;
    }
    let text = toml::to_string(&p).map_err(|e| {
        Error::internal(format!(
            "the default-mapping profile does not serialise: {e}"
        ))
    })?;
    let path = dir.join(format!("{}-default-mapping.toml", p.name));
    crate::output::write_private_file(&path, text.as_bytes())?;
    let path = path.display().to_string();
    let p = crate::plan::Profile::load(&path)?;
    let opts = crate::apply::drift::options_of(plan);
    let wrong = crate::plan::build_with(snap, &p, &opts, crate::plan::ExtraMatching::Off)?;
    Ok((wrong, path))
}

async fn run(
    copy: &Path,
    plan: &Plan,
    snap: &Snapshot,
    serve: &Serve,
    seed: crate::twin::seed::Seed,
    profile: Option<&str>,
    faults: Option<crate::twin::faults::Faults>,
) -> Result<Rehearsal> {
    let (listen, scim_alias) = match serve {
        Serve::Port(p) => (format!("127.0.0.1:{p}"), None),
        Serve::Alias(base) => ("127.0.0.1:0".to_string(), Some(base.clone())),
    };
    let twin = crate::twin::server::start(TwinOptions {
        listen,
        seed: SeedSpec::Data(Box::new(seed)),
        faults,
        scim_alias,
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
    let reader = graph.clone();
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
            scim: Some(scim.clone()),
            dry_run: false,
            exec: crate::apply::exec::ExecOptions {
                poll: Some(std::time::Duration::from_millis(200)),
                in_doubt_wait: std::time::Duration::from_secs(20),
                wait: std::time::Duration::from_secs(600),
                token_check_base: Some(twin.scim_url.clone()),
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
    let mut verify = match verify_of(copy, plan, result) {
        Ok(v) => v,
        Err(e) => {
            twin.shutdown().await;
            return Err(e);
        }
    };
    let escrow_retry_cycles = settle_escrows(&twin.twin, plan).await;
    let mut first_verify = None;
    if escrow_retry_cycles > 0 && verify.passed == Some(false) {
        match verify_again(copy, plan, snap, &reader, &scim).await {
            Ok(again) => first_verify = Some(std::mem::replace(&mut verify, again)),
            Err(e) => {
                twin.shutdown().await;
                return Err(e);
            }
        }
    }
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
    // What the engine did: the custom job's links (the service principal the
    // plan named, other than the gallery's) and the target as SCIM serves it.
    let (links, group_links) = {
        let t = twin.twin.tenant();
        let jobs = custom_jobs(&t, plan);
        let users: BTreeMap<String, String> =
            jobs.iter().flat_map(|j| j.user_links.clone()).collect();
        let groups: BTreeMap<String, String> =
            jobs.iter().flat_map(|j| j.group_links.clone()).collect();
        (users, groups)
    };
    let target = async {
        use crate::scim::client::Resource;
        let users = scim.list_all(Resource::Users, 100).await?;
        let groups = scim.list_all(Resource::Groups, 100).await?;
        Ok::<_, Error>((users, groups))
    }
    .await;
    twin.shutdown().await;
    let (after_users, after_groups) = target?;
    let before_users: &[serde_json::Value] = snap.target.as_ref().map_or(&[], |t| &t.users);
    let before_groups: &[serde_json::Value] = snap.target.as_ref().map_or(&[], |t| &t.groups);
    let before: BTreeSet<&str> = before_users.iter().filter_map(id_of).collect();
    let mut rows = Vec::new();
    let mut table: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for u in &plan.impact {
        let target = links.get(u.id()).map(String::as_str);
        let outcome = match target {
            None => Outcome::NotProvisioned,
            Some(t) if u.target_id() == Some(t) && before.contains(t) => Outcome::Matched,
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
            id: u.id().to_string(),
            user_principal_name: u.user_principal_name().to_string(),
            predicted: predicted(u).to_string(),
            predicted_target_id: u.target_id().map(str::to_string),
            outcome,
            target_id: target.map(str::to_string),
            agrees: ok,
        });
    }
    let groups = compare_groups(plan, &links, &group_links, before_groups, &after_groups);
    let deactivated = deactivated(before_users, &after_users);
    let agreements = rows.iter().filter(|r| r.agrees).count();
    let disagreements =
        rows.len() - agreements + groups.iter().filter(|g| !g.agrees).count() + deactivated.len();
    Ok(Rehearsal {
        mapping: String::new(),
        disagreements,
        agreements,
        rows,
        groups,
        deactivated,
        table,
        verify,
        escrow_retry_cycles,
        first_verify,
        steps_found_done,
        seconds: 0.0,
    })
}

/// The custom app's jobs on the rebuilt twin: the service principal the
/// plan names, other than the gallery's.
fn custom_jobs<'t>(
    t: &'t crate::twin::state::Tenant,
    plan: &Plan,
) -> Vec<&'t crate::twin::state::SyncJob> {
    t.service_principals
        .values()
        .filter(|sp| {
            sp.display_name == plan.app.custom_app_name
                && sp.id != plan.app.gallery_service_principal_id
        })
        .filter_map(|sp| t.synchronization.get(&sp.id))
        .flat_map(|s| s.jobs.values())
        .collect()
}

/// Cycles past the first that the rehearsal waits for escrow retries.
const ESCROW_RETRY_CYCLES: usize = 3;

/// Entra retries an object its cycle escrowed in the next cycles (with
/// back-off). A transient failure in the custom job's first cycle (a 503
/// from the target four times running, as `--faults` makes) is therefore not
/// a wrong prediction: while the custom jobs' last cycles left more objects
/// in escrow than the plan predicts to fail, wait for the next cycle, up to
/// [`ESCROW_RETRY_CYCLES`] of them and 60 s. Whatever is still wrong after
/// that is compared, and counted, as it is. Returns the cycles waited.
async fn settle_escrows(twin: &crate::twin::Twin, plan: &Plan) -> usize {
    let predicted_failures = plan
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Fail)
        .count()
        + plan
            .group_impact
            .iter()
            .filter(|g| g.action == GroupAction::Fail)
            .count();
    // (objects in escrow after each job's last cycle, when those cycles ended)
    let state = || {
        let t = twin.tenant();
        let jobs = custom_jobs(&t, plan);
        let at = |j: &crate::twin::state::SyncJob, k: &str| j.status.pointer(k).cloned();
        let escrowed: u64 = jobs
            .iter()
            .filter_map(|j| at(j, "/lastExecution/countEscrowed")?.as_u64())
            .sum();
        let ended: Vec<_> = jobs
            .iter()
            .map(|j| at(j, "/lastExecution/timeEnded"))
            .collect();
        (escrowed as usize, ended)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut waited = 0;
    let (mut escrowed, mut ended) = state();
    while escrowed > predicted_failures
        && waited < ESCROW_RETRY_CYCLES
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (e, now) = state();
        if now != ended {
            waited += 1;
            ended = now;
        }
        escrowed = e;
    }
    waited
}

/// Verify again, with what apply journaled, after the escrow retries.
async fn verify_again(
    copy: &Path,
    plan: &Plan,
    snap: &Snapshot,
    graph: &GraphClient,
    scim: &ScimClient,
) -> Result<Verify> {
    let records = crate::journal::read(copy)?;
    let report = crate::verify::verify(
        plan,
        &crate::verify::Before::from_snapshot(snap, plan),
        crate::verify::Readers { graph, scim },
        &crate::verify::options_from_journal(&records),
        &crate::progress::Silent,
    )
    .await?;
    Ok(Verify {
        passed: Some(report.passed),
        worst: report.worst,
    })
}

/// apply's outcome as the rehearsal reports it. With every step done apply
/// runs verify, and a failed verify is an error; for a rehearsal it is an
/// outcome to report (a wrong-turn plan is expected to leave duplicates).
fn verify_of(copy: &Path, plan: &Plan, result: Result<crate::apply::Report>) -> Result<Verify> {
    match result {
        Ok(r) if matches!(r.outcome, crate::apply::exec::Outcome::Done) => Ok(Verify {
            passed: r.verified.as_ref().map(|v| v.passed),
            worst: r.verified.and_then(|v| v.worst),
        }),
        Ok(_) => Err(Error::input(
            "the plan's apply on the rebuilt twin stopped before its last step",
        )),
        Err(e) => {
            let all_done = crate::journal::read(copy).ok().is_some_and(|records| {
                let applied = crate::apply::record::Applied::from_journal(plan, &records);
                applied.done() == applied.steps.len()
            });
            if !all_done {
                return Err(Error::input(format!(
                    "the plan did not apply to the rebuilt twin: {}",
                    e.message
                )));
            }
            Ok(Verify {
                passed: Some(false),
                worst: Some(e.message),
            })
        }
    }
}

fn id_of(v: &serde_json::Value) -> Option<&str> {
    v.get("id").and_then(serde_json::Value::as_str)
}

/// Each pushed group's prediction against the target group the custom job
/// linked it to: created or adopted, and its members (as Entra ids, through
/// the job's user links; members the engine did not put there — an adopted
/// group's own — are left out).
fn compare_groups(
    plan: &Plan,
    links: &BTreeMap<String, String>,
    group_links: &BTreeMap<String, String>,
    before: &[serde_json::Value],
    after: &[serde_json::Value],
) -> Vec<GroupRow> {
    let by_target: BTreeMap<&str, &str> = links
        .iter()
        .map(|(s, t)| (t.as_str(), s.as_str()))
        .collect();
    let existed: BTreeSet<&str> = before.iter().filter_map(id_of).collect();
    let now: BTreeMap<&str, &serde_json::Value> =
        after.iter().filter_map(|g| Some((id_of(g)?, g))).collect();
    plan.group_impact
        .iter()
        .map(|g| {
            let tid = group_links
                .get(&g.id)
                .filter(|t| now.contains_key(t.as_str()));
            let outcome = match tid {
                None => "not-pushed",
                Some(t) if g.target_id.as_deref() == Some(t.as_str()) => "adopted",
                Some(t) if existed.contains(t.as_str()) => "adopted-other",
                Some(_) => "created",
            };
            let members: BTreeSet<&str> = tid
                .and_then(|t| now.get(t.as_str()))
                .and_then(|v| v.get("members"))
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("value").and_then(serde_json::Value::as_str))
                .filter_map(|t| by_target.get(t).copied())
                .collect();
            let predicted: BTreeSet<&str> = g.members.iter().collect();
            let missing: Vec<String> = predicted
                .difference(&members)
                .map(|s| s.to_string())
                .collect();
            let unexpected: Vec<String> = members
                .difference(&predicted)
                .map(|s| s.to_string())
                .collect();
            let action_ok = matches!(
                (g.action, outcome),
                (GroupAction::Create, "created")
                    | (GroupAction::Adopt, "adopted")
                    | (GroupAction::Fail, "not-pushed")
            );
            // Two Entra groups under one name overwrite each other's members:
            // only that both reach the one target group is foretold.
            let merged = g.reason.as_deref() == Some("merged");
            let members_ok = merged
                || g.action == GroupAction::Fail
                || (missing.is_empty() && unexpected.is_empty());
            GroupRow {
                id: g.id.clone(),
                display_name: g.display_name.clone(),
                predicted: g.action.as_str().into(),
                predicted_target_id: g.target_id.clone(),
                outcome: outcome.into(),
                target_id: tid.cloned(),
                members_predicted: g.members.len(),
                members_missing: missing,
                members_unexpected: unexpected,
                agrees: (action_ok || (merged && outcome != "not-pushed")) && members_ok,
            }
        })
        .collect()
}

/// Target users active in the snapshot and inactive (or gone) after.
fn deactivated(before: &[serde_json::Value], after: &[serde_json::Value]) -> Vec<String> {
    let active = |v: &serde_json::Value| v.get("active").and_then(serde_json::Value::as_bool);
    let now: BTreeMap<&str, &serde_json::Value> =
        after.iter().filter_map(|u| Some((id_of(u)?, u))).collect();
    before
        .iter()
        .filter(|u| active(u) != Some(false))
        .filter(|u| id_of(u).is_some_and(|id| now.get(id).is_none_or(|a| active(a) == Some(false))))
        .filter_map(|u| {
            u.get("userName")
                .and_then(serde_json::Value::as_str)
                .or(id_of(u))
                .map(str::to_string)
        })
        .collect()
}

impl Rehearsal {
    /// The agreement table (predictions down, outcomes across), the groups,
    /// deactivations, verify and the verdict.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        if self.mapping == "default" {
            s.push_str("The wrong turn: the same migration with Entra's default user mapping (nothing carried over from the gallery job).\n\n");
        }
        s.push_str(&self.user_table(false));
        if !self.groups.is_empty() {
            s.push('\n');
            s.push_str(&self.group_table(false));
        }
        s.push_str(&self.verdict());
        s
    }

    /// The same as Markdown, for the change record.
    pub fn render_markdown(&self) -> String {
        let mut s = String::from("# Rehearsal\n\n");
        s.push_str(if self.mapping == "default" {
            "The wrong turn: the plan's migration re-planned with Entra's default user mapping (nothing carried over from the gallery job, no secondary matching), run against a twin rebuilt from the snapshot.\n\n"
        } else {
            "The plan run through `scimshift apply` against a twin rebuilt from its own snapshot, then each prediction compared with what the provisioning engine did.\n\n"
        });
        s.push_str("## Users\n\n");
        s.push_str(&self.user_table(true));
        if !self.groups.is_empty() {
            s.push_str("\n## Groups\n\n");
            s.push_str(&self.group_table(true));
        }
        let dup: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.outcome == Outcome::Created && r.predicted == "duplicate")
            .collect();
        if !dup.is_empty() {
            s.push_str(&format!(
                "\n## Duplicates made ({})\n\nEach of these people already had an account in the target; the first cycle created a second one, as the plan predicted.\n\n",
                dup.len()
            ));
            for r in dup {
                s.push_str(&format!(
                    "- `{}` (already `{}`)\n",
                    md(&r.user_principal_name),
                    md(r.predicted_target_id.as_deref().unwrap_or("?"))
                ));
            }
        }
        let wrong: Vec<&Row> = self.rows.iter().filter(|r| !r.agrees).collect();
        if !wrong.is_empty() {
            s.push_str("\n## Disagreements\n\n| user | predicted | outcome | predicted target | target |\n|---|---|---|---|---|\n");
            for r in wrong {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    md(&r.user_principal_name),
                    r.predicted,
                    r.outcome.as_str(),
                    md(r.predicted_target_id.as_deref().unwrap_or("")),
                    md(r.target_id.as_deref().unwrap_or(""))
                ));
            }
        }
        s.push_str("\n## Verdict\n");
        s.push_str(&self.verdict());
        s
    }

    fn user_table(&self, markdown: bool) -> String {
        let outcomes = [
            Outcome::Matched,
            Outcome::Created,
            Outcome::MatchedOther,
            Outcome::NotProvisioned,
        ];
        let cells = |first: &str, rest: Vec<String>| -> String {
            if markdown {
                format!("| {first} | {} |\n", rest.join(" | "))
            } else {
                let mut l = format!("{first:<12}");
                for c in rest {
                    l.push_str(&format!(" {c:>16}"));
                }
                l.push('\n');
                l
            }
        };
        let mut s = cells(
            "predicted",
            outcomes.iter().map(|o| o.as_str().to_string()).collect(),
        );
        if markdown {
            s.push_str(&format!("|---|{}\n", "---:|".repeat(outcomes.len())));
        }
        for (p, row) in &self.table {
            s.push_str(&cells(
                p,
                outcomes
                    .iter()
                    .map(|o| row.get(o.as_str()).copied().unwrap_or(0).to_string())
                    .collect(),
            ));
        }
        s
    }

    fn group_table(&self, markdown: bool) -> String {
        let mut s = String::new();
        if markdown {
            s.push_str("| group | predicted | outcome | members predicted | missing | unexpected | agrees |\n|---|---|---|---:|---:|---:|---|\n");
        } else {
            s.push_str(&format!(
                "{:<32} {:>9} {:>14} {:>8} {:>8} {:>11}\n",
                "group", "predicted", "outcome", "members", "missing", "unexpected"
            ));
        }
        for g in &self.groups {
            let name = crate::text::clean(&g.display_name);
            if markdown {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    md(&name),
                    g.predicted,
                    g.outcome,
                    g.members_predicted,
                    g.members_missing.len(),
                    g.members_unexpected.len(),
                    if g.agrees { "yes" } else { "**no**" }
                ));
            } else {
                s.push_str(&format!(
                    "{:<32} {:>9} {:>14} {:>8} {:>8} {:>11}{}\n",
                    name,
                    g.predicted,
                    g.outcome,
                    g.members_predicted,
                    g.members_missing.len(),
                    g.members_unexpected.len(),
                    if g.agrees { "" } else { "  ✗" }
                ));
            }
        }
        s
    }

    fn verdict(&self) -> String {
        let mut s = String::new();
        s.push_str(&match (self.verify.passed, &self.verify.worst) {
            (Some(true), _) => "\nverify on the rebuilt twin: passed\n".to_string(),
            (Some(false), w) => format!(
                "\nverify on the rebuilt twin: failed: {}\n",
                crate::text::clean(w.as_deref().unwrap_or("see `scimshift verify`"))
            ),
            (None, _) => "\nverify on the rebuilt twin: not run\n".to_string(),
        });
        if self.escrow_retry_cycles > 0 {
            s.push_str(&format!(
                "the custom job's first cycle left objects in escrow that the plan does not predict to fail; as Entra does, its next {} retried them before the comparison{}\n",
                if self.escrow_retry_cycles == 1 { "cycle".to_string() } else { format!("{} cycles", self.escrow_retry_cycles) },
                match &self.first_verify {
                    Some(Verify { worst: Some(w), .. }) => format!(
                        " (verify right after the first cycle: failed: {})",
                        crate::text::clean(w)
                    ),
                    _ => String::new(),
                }
            ));
        }
        if !self.deactivated.is_empty() {
            s.push_str(&format!(
                "target users deactivated (none should be): {}\n",
                self.deactivated
                    .iter()
                    .map(|u| crate::text::clean(u).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let total = self.rows.len().max(1);
        let groups_ok = self.groups.iter().filter(|g| g.agrees).count();
        s.push_str(&format!(
            "\n{} of {} users as predicted ({:.1} %), {} of {} groups, {} deactivated; {} disagreement(s); rehearsed in {:.1} s.\n",
            self.agreements,
            self.rows.len(),
            100.0 * self.agreements as f64 / total as f64,
            groups_ok,
            self.groups.len(),
            self.deactivated.len(),
            self.disagreements,
            self.seconds
        ));
        s
    }

    /// The disagreements as CSV: users, groups and deactivated target users.
    pub fn disagreements_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "kind",
            "id",
            "name",
            "predicted",
            "predictedTargetId",
            "outcome",
            "targetId",
            "detail",
        ]);
        for r in self.rows.iter().filter(|r| !r.agrees) {
            let _ = w.write_record([
                "user",
                r.id.as_str(),
                r.user_principal_name.as_str(),
                r.predicted.as_str(),
                r.predicted_target_id.as_deref().unwrap_or(""),
                r.outcome.as_str(),
                r.target_id.as_deref().unwrap_or(""),
                "",
            ]);
        }
        for g in self.groups.iter().filter(|g| !g.agrees) {
            let detail = format!(
                "missing members: {}; unexpected members: {}",
                g.members_missing.join(" "),
                g.members_unexpected.join(" ")
            );
            let _ = w.write_record([
                "group",
                g.id.as_str(),
                g.display_name.as_str(),
                g.predicted.as_str(),
                g.predicted_target_id.as_deref().unwrap_or(""),
                g.outcome.as_str(),
                g.target_id.as_deref().unwrap_or(""),
                detail.as_str(),
            ]);
        }
        for u in &self.deactivated {
            let _ = w.write_record([
                "target-user",
                "",
                u.as_str(),
                "untouched",
                "",
                "deactivated",
                "",
                "",
            ]);
        }
        w.into_inner().unwrap_or_default()
    }
}

/// Text for a Markdown table cell: clean, pipes and backticks escaped.
fn md(s: &str) -> String {
    crate::text::clean(s).replace('|', "\\|").replace('`', "'")
}

/// Apply's events are not shown: the rehearsal prints its own table.
struct Quiet;

impl crate::apply::Reporter for Quiet {
    fn event(&self, _event: &crate::apply::Event<'_>) {}
}
