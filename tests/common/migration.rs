//! A migration on the twin as an admin runs it: the twin in-process (realism
//! on), `scimshift snapshot` and `scimshift plan` through the binary into a
//! temp folder, then `scimshift apply` with the twin's credentials; and the
//! end-state facts apply's tests assert (custom apps, assignments, target
//! users and groups).

use super::cli;
use scimshift::graph::GraphClient;
use scimshift::twin::server::{RunningTwin, TwinOptions};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Output;

/// Apply against the twin's speed: poll often, look for a lost create for
/// longer than the twin's replication window.
pub const FAST: &[&str] = &["--poll", "100ms", "--in-doubt-wait", "8s", "--wait", "2m"];

/// `--yes` and [`FAST`]: an unattended apply against the twin.
pub fn yes_fast() -> Vec<&'static str> {
    let mut args = vec!["--yes"];
    args.extend(FAST);
    args
}

/// Default twin options with a request log in a temp folder (kept alive by the returned dir).
pub fn logged_twin() -> (tempfile::TempDir, PathBuf, TwinOptions) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let opts = TwinOptions {
        request_log: Some(log.clone()),
        ..TwinOptions::default()
    };
    (dir, log, opts)
}

pub struct Migration {
    pub twin: RunningTwin,
    /// Checked against docs/schemas when dropped ([`super::schemas::Dir`]).
    pub dir: super::schemas::Dir,
    pub snapshot: PathBuf,
    pub plan: PathBuf,
    /// The SCIM target's URL and token (the twin's store, or scim2-server).
    pub scim_url: String,
    pub scim_token: String,
}

impl Migration {
    /// Start a twin with `opts`, snapshot it and plan the Coda migration.
    pub async fn new(opts: TwinOptions, scim: Option<(String, String)>) -> Migration {
        Migration::with_plan_args(opts, scim, &[]).await
    }

    /// [`Migration::new`] with more `scimshift plan` flags (`--pilot-group G`).
    pub async fn with_plan_args(
        opts: TwinOptions,
        scim: Option<(String, String)>,
        plan_args: &[&str],
    ) -> Migration {
        Migration::prepared(opts, scim, plan_args, async |_| {}).await
    }

    /// [`Migration::with_plan_args`], with `setup` run on the started twin
    /// before the snapshot (the tenant's state since the gallery's last export).
    pub async fn prepared(
        opts: TwinOptions,
        scim: Option<(String, String)>,
        plan_args: &[&str],
        setup: impl AsyncFnOnce(&RunningTwin),
    ) -> Migration {
        let twin = super::twin::with(opts).await;
        setup(&twin).await;
        // The snapshot and plan are the admin's yesterday: no injected faults.
        twin.pause_faults(true);
        let (scim_url, scim_token) =
            scim.unwrap_or_else(|| (twin.scim_url.clone(), twin.scim_token.expose().to_string()));
        let dir = super::schemas::tempdir();
        let m = Migration {
            snapshot: dir.path().join("snapshot.json"),
            plan: dir.path().join("plan.json"),
            twin,
            dir,
            scim_url,
            scim_token,
        };
        let mut c = m.bin();
        c.args([
            "snapshot",
            "--app",
            "Coda",
            "--scim-url",
            &m.scim_url,
            "--out",
        ])
        .arg(&m.snapshot);
        let o = cli::run(c).await;
        assert!(o.status.success(), "snapshot: {:?}", cli::text(&o));
        let mut c = m.bin();
        c.args(["plan", "--profile", "coda", "--snapshot"])
            .arg(&m.snapshot)
            .arg("--out")
            .arg(&m.plan)
            .args(plan_args);
        let o = cli::run(c).await;
        // 2: the plan has changes pending.
        assert_eq!(o.status.code(), Some(2), "plan: {}", cli::text(&o).1);
        m.twin.pause_faults(false);
        m
    }

    /// Stop the twin and keep what the admin has on disk: the folder, the
    /// snapshot and the plan (a rehearsal rebuilds the tenant from them).
    pub async fn into_files(self) -> (super::schemas::Dir, PathBuf, PathBuf) {
        self.twin.shutdown().await;
        (self.dir, self.snapshot, self.plan)
    }

    /// The binary with the twin's Graph and SCIM credentials.
    pub fn bin(&self) -> assert_cmd::Command {
        let mut c = cli::bin();
        c.env("AZURE_TENANT_ID", &self.twin.tenant_id)
            .env("AZURE_CLIENT_ID", &self.twin.client_id)
            .env("AZURE_CLIENT_SECRET", self.twin.client_secret.expose())
            .env("SCIMSHIFT_GRAPH_URL", &self.twin.graph_url)
            .env("SCIMSHIFT_AUTHORITY_URL", &self.twin.authority_url)
            .env("SCIM_TOKEN", &self.scim_token);
        c
    }

    /// `scimshift apply PLAN --snapshot SNAP <args>`.
    pub fn apply_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = self.bin();
        c.arg("apply")
            .arg(&self.plan)
            .arg("--snapshot")
            .arg(&self.snapshot);
        c.args(args);
        c
    }

    /// [`Migration::apply_cmd`] as a plain process (to signal it while it runs).
    pub fn apply_process(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(cli::bin_path());
        for k in cli::ENV {
            c.env_remove(k);
        }
        c.env("AZURE_TENANT_ID", &self.twin.tenant_id)
            .env("AZURE_CLIENT_ID", &self.twin.client_id)
            .env("AZURE_CLIENT_SECRET", self.twin.client_secret.expose())
            .env("SCIMSHIFT_GRAPH_URL", &self.twin.graph_url)
            .env("SCIMSHIFT_AUTHORITY_URL", &self.twin.authority_url)
            .env("SCIM_TOKEN", &self.scim_token)
            .stdin(std::process::Stdio::null());
        c.arg("apply")
            .arg(&self.plan)
            .arg("--snapshot")
            .arg(&self.snapshot);
        c.args(args);
        c
    }

    pub async fn apply(&self, args: &[&str]) -> Output {
        cli::run(self.apply_cmd(args)).await
    }

    pub fn plan_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.plan).unwrap()).unwrap()
    }

    pub fn graph(&self) -> GraphClient {
        super::twin::admin_graph(&self.twin)
    }

    /// Service principals named like the plan's custom app.
    pub async fn custom_apps(&self) -> Vec<Value> {
        let name = self.plan_json()["app"]["customAppName"]
            .as_str()
            .unwrap()
            .to_string();
        // Straight from the tenant: Graph lists may hide a new app for a while.
        let t = self.twin.twin.tenant();
        t.service_principals
            .values()
            .filter(|sp| sp.display_name == name)
            .map(|sp| serde_json::json!({"id": sp.id, "appId": sp.app_id}))
            .collect()
    }

    /// The custom app's assignments, straight from the tenant.
    pub fn assignments_of(&self, sp: &str) -> Vec<String> {
        let t = self.twin.twin.tenant();
        let mut v: Vec<String> = t
            .assignments
            .values()
            .filter(|a| a.resource_id == sp)
            .map(|a| a.principal_id.clone())
            .collect();
        v.sort();
        v
    }

    /// Every user and group of the SCIM target.
    pub async fn target(&self) -> (Vec<Value>, Vec<Value>) {
        let scim = scimshift::scim::ScimClient::new(
            &self.scim_url,
            scimshift::secret::Secret::new(self.scim_token.clone()),
        )
        .unwrap();
        let users = scim
            .list_all(scimshift::scim::client::Resource::Users, 100)
            .await
            .unwrap();
        let groups = scim
            .list_all(scimshift::scim::client::Resource::Groups, 100)
            .await
            .unwrap();
        (users, groups)
    }
}

/// userNames (lower case) held by more than one target user.
pub fn duplicate_user_names(users: &[Value]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for u in users {
        if let Some(n) = u["userName"].as_str() {
            *seen.entry(n.to_lowercase()).or_default() += 1;
        }
    }
    let mut d: Vec<String> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect();
    d.sort();
    d
}

/// The end state the Done-when names, checked against the tenant and the target.
pub async fn assert_migrated(m: &Migration, users_before: usize) {
    let plan = m.plan_json();
    let apps = m.custom_apps().await;
    assert_eq!(apps.len(), 1, "exactly one custom app: {apps:?}");
    let sp = apps[0]["id"].as_str().unwrap();
    let planned: BTreeSet<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "assignments")
        .unwrap()["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let t = d["after"].as_str().unwrap();
            t[t.rfind('(').unwrap() + 1..t.rfind(')').unwrap()].to_string()
        })
        .collect();
    let have: BTreeSet<String> = m.assignments_of(sp).into_iter().collect();
    assert_eq!(have, planned, "the plan's assignments, each once");
    assert_eq!(m.assignments_of(sp).len(), planned.len());

    let (users, groups) = m.target().await;
    assert!(duplicate_user_names(&users).is_empty(), "no duplicates");
    assert_eq!(users.len(), users_before, "0 creates predicted, none made");
    let by_id: HashMap<&str, &Value> = users
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u))
        .collect();
    let matched: Vec<&Value> = plan["impact"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["action"] == "match")
        .collect();
    assert_eq!(matched.len(), 155);
    for u in &matched {
        let t = by_id
            .get(u["targetId"].as_str().unwrap())
            .unwrap_or_else(|| panic!("matched user {} is gone", u["userPrincipalName"]));
        assert_ne!(
            t["active"],
            Value::Bool(false),
            "{} deactivated",
            t["userName"]
        );
    }
    // Every pushed group, once, with the Entra group's direct provisioned members.
    let tenant_groups: Vec<(String, String, Vec<String>)> = {
        let t = m.twin.twin.tenant();
        t.groups
            .values()
            .map(|g| (g.id.clone(), g.display_name.clone(), g.members.clone()))
            .collect()
    };
    let entra_to_target: HashMap<&str, &str> = matched
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u["targetId"].as_str().unwrap()))
        .collect();
    let expected: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "verify")
        .unwrap()["details"]["expectedGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 4);
    for name in &expected {
        let in_target: Vec<&Value> = groups
            .iter()
            .filter(|g| g["displayName"] == *name)
            .collect();
        assert_eq!(in_target.len(), 1, "group {name} once in the target");
        let members: BTreeSet<&str> = in_target[0]["members"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["value"].as_str()).collect())
            .unwrap_or_default();
        let (_, _, entra_members) = tenant_groups.iter().find(|(_, n, _)| n == name).unwrap();
        let want: BTreeSet<&str> = entra_members
            .iter()
            .filter_map(|id| entra_to_target.get(id.as_str()).copied())
            .collect();
        assert!(!want.is_empty(), "{name} has provisioned members");
        assert_eq!(members, want, "members of {name}");
    }
    // The gallery job paused; the custom job active and steady after its start.
    let t = m.twin.twin.tenant();
    let gallery_sp = plan["app"]["galleryServicePrincipalId"].as_str().unwrap();
    let job_of = |sp: &str| {
        t.synchronization
            .get(sp)
            .and_then(|s| s.jobs.values().next())
            .cloned()
            .unwrap()
    };
    let gallery = job_of(gallery_sp);
    assert_eq!(gallery.status["code"], "Paused");
    let custom = job_of(sp);
    assert_eq!(custom.schedule_state, "Active");
    assert_ne!(
        custom.status["steadyStateLastAchievedTime"],
        "0001-01-01T00:00:00Z"
    );
    assert!(custom.status["quarantine"].is_null());
}
