//! The fuzz targets, each the same path the product takes with what it reads:
//! - `csv`: decode, parse, detect the layout and validate a users CSV (what
//!   `users import` does before anything is sent), then write the valid rows
//!   back out as an export would;
//! - `scim`: every ScimClient call against a server answering from the input;
//! - `graph`: GraphClient reads, paging, `$batch`, writes and the
//!   provisionOnDemand report against a Graph answering from the input;
//! - `snapshot`, `plan`, `journal`: the file loaders, and behind them what
//!   runs on a file that loads (a resealed snapshot is planned and rendered;
//!   a resealed plan is rendered; a journal is read as apply resumes it).

use crate::http::Loopback;
use crate::oracle::{self, Violation};
use reqwest::Method;
use scimshift_core::error::Result;
use serde_json::json;
use std::path::Path;

/// One target, ready to run inputs (it may hold servers and a runtime).
pub trait Harness {
    /// Run one input; the outcome's signature, or what an oracle refused.
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation>;
}

/// A mutator: a parent input, the corpus (for splices), the size limit.
pub type Mutator = fn(&mut crate::mutate::Rng, &[u8], &[Vec<u8>], usize) -> Vec<u8>;

/// The targets by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Csv,
    Scim,
    Graph,
    Snapshot,
    Plan,
    Journal,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Csv,
        Target::Scim,
        Target::Graph,
        Target::Snapshot,
        Target::Plan,
        Target::Journal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Csv => "csv",
            Target::Scim => "scim",
            Target::Graph => "graph",
            Target::Snapshot => "snapshot",
            Target::Plan => "plan",
            Target::Journal => "journal",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// A fresh harness (servers started, runtime built).
    pub fn harness(self) -> Box<dyn Harness> {
        match self {
            Target::Csv => Box::new(Csv),
            Target::Scim => Box::new(Scim::new()),
            Target::Graph => Box::new(Graph::new()),
            Target::Snapshot => Box::new(SnapshotFile),
            Target::Plan => Box::new(PlanFile),
            Target::Journal => Box::new(JournalFile::new()),
        }
    }

    pub fn mutator(self) -> Mutator {
        match self {
            Target::Csv => crate::csv_mutate::mutate_csv,
            Target::Scim | Target::Graph => crate::http::mutate_script,
            Target::Snapshot | Target::Plan => crate::mutate::mutate_json_bytes,
            Target::Journal => crate::mutate::mutate_jsonl,
        }
    }
}

/// Fold one result into the outcome: `ok` or the error's signature.
fn outcome<T>(sig: &mut Vec<String>, r: Result<T>) -> std::result::Result<Option<T>, Violation> {
    match r {
        Ok(v) => {
            sig.push("ok".into());
            Ok(Some(v))
        }
        Err(e) => {
            sig.push(oracle::error(&e)?);
            Ok(None)
        }
    }
}

struct Csv;

impl Harness for Csv {
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation> {
        use scimshift_core::users::{formats, read, validate};
        let file = "fuzz.csv";
        let mut sig = Vec::new();
        if input.is_empty() {
            return Ok("empty".into());
        }
        let Some((text, bom)) = outcome(&mut sig, read::decode(input, file))? else {
            return Ok(sig.join("|"));
        };
        let Some((table, diags)) = outcome(&mut sig, read::parse(&text, file, bom))? else {
            return Ok(sig.join("|"));
        };
        let format = match formats::detect(&table.header, table.version_line.is_some()) {
            Ok(f) => f,
            Err(m) => {
                oracle::sentence(&m)?;
                return Ok(format!(
                    "detect:{}",
                    m.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
                ));
            }
        };
        let v = validate::validate(&table, format);
        for d in diags.iter().chain(v.diags.iter()) {
            oracle::sentence(&d.render(file))?;
        }
        // What an export writes from these rows: no cell may start a formula.
        let writer = formats::Writer::new(format, 2);
        for row in &v.rows {
            for cell in writer.row(row) {
                if cell.starts_with(['=', '+', '-', '@']) && formats::unguard(&cell) == cell {
                    return Err(format!(
                        "an export cell starts a formula unguarded: {cell:?}"
                    ));
                }
            }
        }
        Ok(format!(
            "{format:?}:{} rows:{} errors",
            v.rows.len().min(3),
            v.error_count().min(3)
        ))
    }
}

/// A runtime and a client against the loopback servers.
struct Served<C> {
    rt: tokio::runtime::Runtime,
    here: Loopback,
    elsewhere: Loopback,
    client: C,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Fast retries: the paths are exercised, no time is spent waiting.
fn fast_retry() -> scimshift_core::net::RetryPolicy {
    scimshift_core::net::RetryPolicy {
        max_attempts: 2,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(1),
    }
}

impl<C> Served<C> {
    fn start(client: impl FnOnce(&str) -> C) -> Served<C> {
        let here = Loopback::start().expect("a loopback server");
        let elsewhere = Loopback::start().expect("a second loopback server");
        let client = client(here.base());
        Served {
            rt: runtime(),
            here,
            elsewhere,
            client,
        }
    }

    fn load(&self, input: &[u8]) {
        self.here.load(crate::http::answers(
            input,
            self.here.base(),
            self.elsewhere.base(),
        ));
        self.elsewhere.load(Vec::new());
    }

    /// The other origin must never see a token.
    fn check_elsewhere(&self) -> std::result::Result<(), Violation> {
        match self.elsewhere.requests_with_token() {
            0 => Ok(()),
            n => Err(format!(
                "{n} request(s) carrying a token reached another origin"
            )),
        }
    }
}

struct Scim(Served<scimshift_core::scim::client::ScimClient>);

impl Scim {
    fn new() -> Scim {
        use scimshift_core::{scim::client::ScimClient, secret::Secret};
        Scim(Served::start(|base| {
            ScimClient::new(&format!("{base}/scim/v2"), Secret::new("fuzz-scim-token"))
                .expect("a SCIM client for loopback")
                .with_retry(fast_retry())
        }))
    }
}

impl Harness for Scim {
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation> {
        use scimshift_core::scim::client::{BulkOp, Resource};
        let s = &self.0;
        s.load(input);
        let c = &s.client;
        let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@example.com", "active": true});
        let mut sig = Vec::new();
        s.rt.block_on(async {
            outcome(&mut sig, c.service_provider_config().await)?;
            if let Some(all) = outcome(&mut sig, c.list_all(Resource::Users, 50).await)? {
                let _ = scimshift_core::scim::client::by_id(&all);
            }
            outcome(
                &mut sig,
                c.find_eq(Resource::Users, "userName", "a\"b@example.com")
                    .await,
            )?;
            outcome(&mut sig, c.get(Resource::Users, "u/1").await)?;
            outcome(&mut sig, c.create(Resource::Users, &user).await)?;
            let ops = vec![json!({"op": "replace", "path": "active", "value": false})];
            outcome(&mut sig, c.patch(Resource::Users, "u1", ops).await)?;
            let ops = vec![json!({"op": "add", "path": "members", "value": [{"value": "u1"}]})];
            outcome(&mut sig, c.patch(Resource::Groups, "g1", ops).await)?;
            outcome(&mut sig, c.replace(Resource::Users, "u1", &user).await)?;
            outcome(&mut sig, c.delete(Resource::Users, "u1").await)?;
            let bulk = [
                BulkOp {
                    method: Method::POST,
                    path: "/Users".into(),
                    bulk_id: Some("b1".into()),
                    data: Some(user.clone()),
                },
                BulkOp {
                    method: Method::PATCH,
                    path: "/Users/u2".into(),
                    bulk_id: None,
                    data: Some(json!({"Operations": []})),
                },
            ];
            outcome(&mut sig, c.bulk(&bulk, Some(1)).await)?;
            outcome(
                &mut sig,
                c.get_path("Groups?filter=displayName%20eq%20%22x%22").await,
            )?;
            Ok::<(), Violation>(())
        })?;
        s.check_elsewhere()?;
        Ok(sig.join("|"))
    }
}

struct Graph(Served<scimshift_core::graph::client::GraphClient>);

impl Graph {
    fn new() -> Graph {
        use scimshift_core::graph::auth::Credential;
        use scimshift_core::graph::client::GraphClient;
        use scimshift_core::graph::pacer::{ReadPacer, WritePacer};
        use scimshift_core::secret::Secret;
        Graph(Served::start(|base| {
            GraphClient::from_urls(
                &format!("{base}/v1.0"),
                base,
                Credential::StaticToken(Secret::new("fuzz-graph-token")),
            )
            .expect("a Graph client for loopback")
            .with_retry(fast_retry())
            .with_pacer(WritePacer::unlimited())
            .with_read_pacer(ReadPacer::unlimited())
            .with_concurrency(1)
        }))
    }
}

/// Collects the notes apply would print (they are cleaned when printed).
struct Notes(std::sync::Mutex<Vec<String>>);

impl scimshift_core::apply::Reporter for Notes {
    fn event(&self, event: &scimshift_core::apply::Event<'_>) {
        if let scimshift_core::apply::Event::Note { text } = event {
            self.0.lock().expect("notes").push(text.to_string());
        }
    }
}

impl Harness for Graph {
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation> {
        use scimshift_core::graph::batch::BatchRequest;
        let s = &self.0;
        s.load(input);
        let c = &s.client;
        let mut sig = Vec::new();
        s.rt.block_on(async {
            outcome(&mut sig, c.get("/servicePrincipals/sp1").await)?;
            outcome(&mut sig, c.list("/servicePrincipals/sp1/synchronization/jobs").await)?;
            outcome(&mut sig, c.get_opt("/applications/a1").await)?;
            let requests = vec![
                BatchRequest::get("1", "/groups/g1?$select=id,displayName"),
                BatchRequest::get("2", "/groups/g1/members?$select=id"),
                BatchRequest::post("3", "/users", json!({"displayName": "x"})),
            ];
            if let Some(answers) = outcome(&mut sig, c.batch(requests.clone()).await)? {
                for (a, r) in answers.into_iter().zip(&requests) {
                    let _ = a.retry_after();
                    outcome(&mut sig, a.into_result(r))?;
                }
            }
            let body = json!({"parameters": [{"ruleId": "r", "subjects": [{"objectId": "u1", "objectTypeName": "User"}]}]});
            let path = "/servicePrincipals/sp1/synchronization/jobs/j1/provisionOnDemand";
            if let Some(v) = outcome(&mut sig, c.post(path, &body).await)? {
                let notes = Notes(Default::default());
                scimshift_core::apply::cutover::report_on_demand(&notes, &v);
            }
            outcome(&mut sig, c.patch("/applications/a1", &json!({"displayName": "y"})).await)?;
            outcome(&mut sig, c.put("/servicePrincipals/sp1/synchronization/secrets", &json!({"value": []})).await)?;
            outcome(&mut sig, c.delete("/servicePrincipals/sp1/appRoleAssignedTo/x").await)?;
            Ok::<(), Violation>(())
        })?;
        s.check_elsewhere()?;
        Ok(sig.join("|"))
    }
}

struct SnapshotFile;

impl Harness for SnapshotFile {
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation> {
        use scimshift_core::snapshot::model::{FORMAT, Snapshot};
        let path = Path::new("fuzz-snapshot.json");
        let mut sig = Vec::new();
        outcome(&mut sig, Snapshot::from_bytes(input.to_vec(), path))?;
        // A file whose digest was not the point: seal it as `snapshot` would,
        // then it must load, plan and render like any snapshot.
        let Ok(mut snap) = serde_json::from_slice::<Snapshot>(input) else {
            return Ok(sig.join("|"));
        };
        if snap.format != FORMAT {
            return Ok(sig.join("|"));
        }
        snap.seal();
        let snap = match Snapshot::from_bytes(snap.to_bytes(), path) {
            Ok(s) => s,
            Err(e) => {
                return Err(format!(
                    "a snapshot scimshift sealed does not load: {}",
                    e.message
                ));
            }
        };
        let Some((profile, _)) =
            outcome(&mut sig, scimshift_core::plan::choose_profile(&snap, None))?
        else {
            return Ok(sig.join("|"));
        };
        let opts = scimshift_core::plan::options::PlanOptions::default();
        if let Some(plan) = outcome(
            &mut sig,
            scimshift_core::plan::build::build(&snap, &profile, &opts),
        )? {
            render(&plan);
            sig.push(shape(&plan));
        }
        Ok(sig.join("|"))
    }
}

/// A plan's shape for the outcome signature: its steps, the kinds of user
/// and group predictions it makes, and its finding codes.
fn shape(plan: &scimshift_core::plan::model::Plan) -> String {
    use std::collections::BTreeSet;
    let users: BTreeSet<&str> = plan.impact.iter().map(|u| u.action.as_str()).collect();
    let groups: BTreeSet<&str> = plan
        .group_impact
        .iter()
        .map(|g| g.action.as_str())
        .collect();
    let codes: BTreeSet<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
    format!(
        "{} steps users:{users:?} groups:{groups:?} findings:{codes:?}",
        plan.steps.len()
    )
}

fn render(plan: &scimshift_core::plan::model::Plan) {
    use scimshift_core::plan::render;
    let _ = render::render_text(plan);
    let _ = render::render_markdown(plan, Some("impact.csv"));
    let _ = render::impact_csv(plan);
}

struct PlanFile;

impl Harness for PlanFile {
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation> {
        use scimshift_core::plan::model::{FORMAT, Plan};
        let path = Path::new("fuzz-plan.json");
        let mut sig = Vec::new();
        outcome(&mut sig, Plan::from_bytes(input.to_vec(), path))?;
        let Ok(mut plan) = serde_json::from_slice::<Plan>(input) else {
            return Ok(sig.join("|"));
        };
        if plan.format != FORMAT {
            return Ok(sig.join("|"));
        }
        plan.seal();
        let bytes = serde_json::to_vec_pretty(&plan)
            .map_err(|e| format!("a plan does not serialise: {e}"))?;
        let plan = match Plan::from_bytes(bytes, path) {
            Ok(p) => p,
            Err(e) => {
                return Err(format!(
                    "a plan scimshift sealed does not load: {}",
                    e.message
                ));
            }
        };
        render(&plan);
        sig.push(shape(&plan));
        let records = Vec::new();
        let _ = scimshift_core::apply::record::Applied::from_journal(&plan, &records);
        Ok(sig.join("|"))
    }
}

/// The demo's plan, against which journals are read.
struct JournalFile {
    plan: Option<scimshift_core::plan::model::Plan>,
}

impl JournalFile {
    fn new() -> JournalFile {
        let bytes = include_bytes!("../corpus/plan/demo-plan.json").to_vec();
        JournalFile {
            plan: scimshift_core::plan::model::Plan::from_bytes(bytes, Path::new("demo-plan.json"))
                .ok(),
        }
    }
}

impl Harness for JournalFile {
    fn exec(&mut self, input: &[u8]) -> std::result::Result<String, Violation> {
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok("not utf-8".into());
        };
        let mut sig = Vec::new();
        let path = Path::new("fuzz.journal.jsonl");
        if let Some(records) = outcome(&mut sig, scimshift_core::journal::parse(text, path))? {
            let _ = scimshift_core::journal::bound_digest(&records);
            let resume = scimshift_core::apply::exec::Resume::from_records(&records);
            // What resume makes of it, coarsely: steps done, requests in
            // doubt, cutover, verify.
            sig.push(format!(
                "done:{} doubt:{} cut:{} verified:{} past:{}",
                resume.done.len(),
                resume.in_doubt.len().min(3),
                resume.cutover.is_some(),
                resume.verified,
                resume.past_cutover
            ));
            if let Some(plan) = &self.plan {
                let applied = scimshift_core::apply::record::Applied::from_journal(plan, &records);
                let _ = serde_json::to_string(&applied);
                let _ = applied.render_markdown(plan);
                // Each step's state as `status` shows it.
                sig.push(
                    applied
                        .steps
                        .iter()
                        .map(|s| s.state.chars().next().unwrap_or('-'))
                        .collect(),
                );
            }
        }
        Ok(sig.join("|"))
    }
}
