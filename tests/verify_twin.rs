//! `scimshift verify` end to end on the twin, into the twin's own SCIM
//! store and into the independent scim2-server: after the demo apply verify
//! passes (exit 0) with one CSV row per user and group; after tampering with
//! the target by hand — a user deactivated, a duplicate account added, a
//! group member removed, an orphan edited — it fails (exit 1, one sentence)
//! and its CSV names exactly those four objects.

mod common;

use common::migration::{FAST, Migration};
use scimshift::scim::{Resource, ScimClient};
use scimshift::secret::Secret;
use scimshift::twin::server::TwinOptions;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

async fn applied(opts: TwinOptions, scim: Option<(String, String)>) -> Migration {
    let m = Migration::new(opts, scim).await;
    let mut args = vec!["--yes"];
    args.extend(FAST);
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "apply: {out}\n{err}");
    m
}

async fn verify(m: &Migration, csv: &Path, json: bool) -> std::process::Output {
    let mut c = m.bin();
    c.arg("verify")
        .arg(&m.plan)
        .arg("--snapshot")
        .arg(&m.snapshot)
        .arg("--csv")
        .arg(csv);
    if json {
        c.args(["--output", "json"]);
    }
    common::cli::run(c).await
}

/// The CSV as (kind, id, status) triples, all rows and the failing ones.
fn csv_rows(path: &Path) -> Vec<(String, String, String)> {
    let mut rd = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "kind", "id", "name", "expected", "found", "status", "detail"
        ]
    );
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[5].to_string())
        })
        .collect()
}

fn failing(rows: &[(String, String, String)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .filter(|(_, _, s)| {
            !matches!(
                s.as_str(),
                "ok" | "skipped" | "predicted-fail" | "unexpected" | "not-checked"
            )
        })
        .cloned()
        .collect()
}

async fn passes_then_names_exactly_the_tampered_objects(m: Migration) {
    let plan = m.plan_json();
    let snap: Value = serde_json::from_slice(&std::fs::read(&m.snapshot).unwrap()).unwrap();
    let csv = m.dir.path().join("verify.csv");

    // (1) Right after apply: passes, one row per user, orphan and pushed group.
    let o = verify(&m, &csv, false).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("Verify passed"), "{out}");
    let rows = csv_rows(&csv);
    let impact = plan["impact"].as_array().unwrap();
    let orphans: Vec<&str> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "orphan-target-user")
        .unwrap()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "targetUser")
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    let groups = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "verify")
        .unwrap()["details"]["expectedGroups"]
        .as_array()
        .unwrap()
        .clone();
    let count = |k: &str| rows.iter().filter(|r| r.0 == k).count();
    assert_eq!(count("user"), impact.len());
    assert_eq!(count("targetUser"), orphans.len());
    assert_eq!(count("group"), groups.len());
    assert_eq!(rows.len(), impact.len() + orphans.len() + groups.len());
    assert!(failing(&rows).is_empty(), "{:?}", failing(&rows));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Journaled beside the plan, so `status` shows it; the custom job's start
    // came from apply's journal.
    let journal = std::fs::read_to_string(m.plan.with_extension("journal.jsonl")).unwrap();
    let last: Value = serde_json::from_str(
        journal
            .lines()
            .rev()
            .find(|l| l.contains("\"event\":\"verify\""))
            .expect("a verify record"),
    )
    .unwrap();
    assert_eq!(last["passed"], true, "{last}");
    assert_eq!(
        last["counts"]["usersFound"],
        last["counts"]["usersExpected"]
    );
    let mut c = m.bin();
    c.args(["status", "--output", "json"]).arg(&m.plan);
    let o = common::cli::run(c).await;
    let (sout, serr) = common::cli::text(&o);
    assert!(o.status.success(), "{sout}\n{serr}");
    let st: Value = serde_json::from_str(sout.trim()).unwrap();
    assert_eq!(st["applied"]["lastVerify"]["passed"], true, "{st}");
    let o = verify(&m, &csv, true).await;
    let v: Value = serde_json::from_str(common::cli::text(&o).0.trim()).unwrap();
    assert!(
        v["job"]["since"].is_string(),
        "apply's start from the journal: {}",
        v["job"]
    );
    assert!(v["job"]["servicePrincipalId"].is_string());

    // (2) Tamper with the target by hand.
    let scim = ScimClient::new(&m.scim_url, Secret::new(m.scim_token.clone())).unwrap();
    let matched: Vec<&Value> = impact.iter().filter(|u| u["action"] == "match").collect();
    let (deactivated, duplicated) = (matched[0], matched[1]);
    scim.patch(
        Resource::Users,
        deactivated["targetId"].as_str().unwrap(),
        vec![json!({"op": "replace", "path": "active", "value": false})],
    )
    .await
    .unwrap();
    let mail = duplicated["mail"].as_str().unwrap();
    scim.create(
        Resource::Users,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("second.account.{mail}"),
            "active": true,
            "emails": [{"value": mail, "type": "work"}],
        }),
    )
    .await
    .unwrap();
    // A member out of a pushed group: Coda Engineering's first member.
    let name = "Coda Engineering";
    let entra_group = snap["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["displayName"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let target_group = scim
        .find_eq(Resource::Groups, "displayName", name)
        .await
        .unwrap()
        .remove(0);
    let gid = target_group["id"].as_str().unwrap();
    let full = scim.get(Resource::Groups, gid).await.unwrap().unwrap();
    let member = full["members"][0]["value"].as_str().unwrap().to_string();
    assert_ne!(member, deactivated["targetId"].as_str().unwrap());
    scim.patch(
        Resource::Groups,
        gid,
        vec![json!({"op": "remove", "path": format!("members[value eq \"{member}\"]")})],
    )
    .await
    .unwrap();
    let orphan = orphans[0];
    scim.patch(
        Resource::Users,
        orphan,
        vec![json!({"op": "replace", "path": "displayName", "value": "Edited By Hand"})],
    )
    .await
    .unwrap();

    // (3) verify fails, with one sentence, naming exactly those objects.
    let o = verify(&m, &csv, false).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    if std::env::var_os("VERIFY_SHOW").is_some() {
        eprintln!("{out}{err}");
    }
    let err_lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(err_lines.len(), 1, "one sentence: {err}");
    assert!(
        err_lines[0].starts_with("error: verify failed: 1 user is unexpectedly inactive ("),
        "{err}"
    );
    let want: BTreeSet<(String, String, String)> = [
        ("user", deactivated["id"].as_str().unwrap(), "inactive"),
        ("user", duplicated["id"].as_str().unwrap(), "duplicate"),
        ("group", entra_group.as_str(), "group-members"),
        ("targetUser", orphan, "orphan-changed"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(failing(&csv_rows(&csv)), want, "{out}");

    // The same as JSON.
    let o = verify(&m, &csv, true).await;
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(common::cli::text(&o).0.trim()).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["counts"]["inactive"], 1);
    assert_eq!(v["counts"]["duplicate"], 1);
    assert_eq!(v["counts"]["groupMemberDifferences"], 1);
    assert_eq!(v["counts"]["changedOrphans"], 1);
    let detail = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "targetUser" && r["id"] == orphan)
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("displayName"), "{detail}");
    let journal = std::fs::read_to_string(m.plan.with_extension("journal.jsonl")).unwrap();
    let last: Value = serde_json::from_str(
        journal
            .lines()
            .rev()
            .find(|l| l.contains("\"event\":\"verify\""))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["passed"], false);
    assert!(
        last["worst"]
            .as_str()
            .unwrap()
            .starts_with("verify failed: 1 user is unexpectedly inactive"),
        "{last}"
    );
    assert!(!journal.contains(&m.scim_token), "no secret in the journal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_on_the_embedded_store() {
    let m = applied(TwinOptions::default(), None).await;
    passes_then_names_exactly_the_tampered_objects(m).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_on_scim2_server() {
    let server = common::start_scim2_server();
    let opts = TwinOptions {
        scim_target: Some((server.base_url.clone(), Secret::new(server.token.clone()))),
        ..TwinOptions::default()
    };
    let m = applied(opts, Some((server.base_url.clone(), server.token.clone()))).await;
    passes_then_names_exactly_the_tampered_objects(m).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_apply_verify_fails_saying_the_custom_app_is_not_there() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let csv = m.dir.path().join("verify.csv");
    let o = verify(&m, &csv, false).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.starts_with("error: verify failed: the custom app \"Coda (SCIM custom)\" is not in the tenant: has the plan been applied?"),
        "{err}"
    );
    // A snapshot of another plan is refused before anything is read.
    // (Beside the migration's folder: that one holds only what scimshift wrote.)
    let edited = tempfile::tempdir().unwrap();
    let other = edited.path().join("other.json");
    let mut s: Value = serde_json::from_slice(&std::fs::read(&m.snapshot).unwrap()).unwrap();
    s["digest"] = json!("sha256:0000");
    std::fs::write(&other, serde_json::to_vec(&s).unwrap()).unwrap();
    let mut c = m.bin();
    c.arg("verify").arg(&m.plan).arg("--snapshot").arg(&other);
    let o = common::cli::run(c).await;
    assert_eq!(o.status.code(), Some(1));
    let err = common::cli::text(&o).1;
    assert!(err.contains("has been edited since it was taken"), "{err}");
}
