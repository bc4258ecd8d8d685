//! `scimshift rehearse` end to end: the demo tenant is snapshotted and
//! planned through the binary (tests/common/migration.rs), its twin stopped,
//! and the plan rehearsed on a twin rebuilt from the snapshot alone. With the
//! gallery's mapping carried over every user's prediction must hold; with
//! Entra's default mapping (userName ← userPrincipalName) the plan predicts
//! 12 duplicates and the engine must create exactly those 12.

mod common;

use common::cli;
use common::migration::Migration;
use scimshift::twin::server::TwinOptions;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Snapshot and plan the demo tenant, then stop its twin (the rehearsal
/// rebuilds the tenant from the snapshot on the same loopback port).
async fn captured(
    plan_args: &[&str],
) -> (common::schemas::Dir, std::path::PathBuf, std::path::PathBuf) {
    Migration::with_plan_args(TwinOptions::default(), None, plan_args)
        .await
        .into_files()
        .await
}

async fn rehearse(
    plan: &Path,
    snapshot: &Path,
    extra: &[&str],
    csv: &Path,
) -> std::process::Output {
    let mut c = cli::bin();
    c.arg("rehearse")
        .arg(plan)
        .arg("--snapshot")
        .arg(snapshot)
        .arg("--csv")
        .arg(csv)
        .args(extra);
    cli::run(c).await
}

fn plan_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_plan_rehearses_with_full_agreement() {
    let (dir, snapshot, plan) = captured(&[]).await;
    let csv = dir.path().join("disagreements.csv");
    let o = rehearse(&plan, &snapshot, &["--output", "json"], &csv).await;
    let (out, err) = cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "stdout: {out}\nstderr: {err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["disagreements"], 0, "{out}");
    let impact = plan_json(&plan)["impact"].as_array().unwrap().len();
    assert_eq!(r["agreements"].as_u64().unwrap() as usize, impact);
    // 155 matched to the predicted target ids, the rest not provisioned.
    assert_eq!(r["table"]["match"]["matched"], 155, "{}", r["table"]);
    assert!(r["table"]["create"].is_null(), "{}", r["table"]);
    // apply's final verify passed on the rebuilt twin.
    assert_eq!(r["verify"]["passed"], Value::Bool(true), "{}", r["verify"]);
    // Groups: the four assigned groups pushed as predicted; the target's own
    // "Coda Finance" adopted (same id), the others created, every predicted
    // member there and no other.
    let groups = r["groups"].as_array().unwrap();
    let by_name = |n: &str| groups.iter().find(|g| g["displayName"] == n).unwrap();
    assert_eq!(groups.len(), 4, "{groups:?}");
    assert!(
        groups.iter().all(|g| g["agrees"] == Value::Bool(true)),
        "{groups:?}"
    );
    let finance = by_name("Coda Finance");
    assert_eq!(finance["outcome"], "adopted", "{finance}");
    assert_eq!(
        finance["targetId"], finance["predictedTargetId"],
        "{finance}"
    );
    assert_eq!(finance["membersPredicted"], 15, "{finance}");
    assert_eq!(by_name("Coda Engineering")["outcome"], "created");
    // Platform Guild's 8 (nested) are not members: 60 direct users only.
    assert_eq!(by_name("Coda Engineering")["membersPredicted"], 60);
    assert_eq!(
        r["deactivated"],
        serde_json::json!([]),
        "{}",
        r["deactivated"]
    );
    // The CSV holds the header only, private.
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The text form prints the agreement table.
    let o = rehearse(&plan, &snapshot, &[], &csv).await;
    let (out, err) = cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("predicted") && out.contains("matched"),
        "{out}"
    );
    assert!(
        out.contains("(100.0 %), 4 of 4 groups, 0 deactivated; 0 disagreement(s)"),
        "{out}"
    );
    assert!(out.contains("verify on the rebuilt twin: passed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_mapping_plan_rehearses_its_twelve_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let coda =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/coda.toml"))
            .unwrap();
    let from = r#"source = "userPrincipalName", match = 1, copy_from_gallery = true"#;
    assert!(coda.contains(from));
    let naive = coda.replace(
        from,
        r#"source = "userPrincipalName", match = 1, copy_from_gallery = false"#,
    );
    let profile = dir.path().join("coda-default-mapping.toml");
    std::fs::write(&profile, naive).unwrap();
    let profile = profile.to_str().unwrap().to_string();
    let (mdir, snapshot, _) = captured(&[]).await;
    let plan = mdir.path().join("plan-default.json");
    let mut c = cli::bin();
    c.args(["plan", "--profile", &profile, "--snapshot"])
        .arg(&snapshot)
        .arg("--out")
        .arg(&plan);
    let o = cli::run(c).await;
    assert_eq!(o.status.code(), Some(2), "plan: {}", cli::text(&o).1);
    let p = plan_json(&plan);
    let predicted: BTreeSet<String> = p["impact"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["duplicate"] == Value::Bool(true))
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(predicted.len(), 12);

    let csv = mdir.path().join("disagreements.csv");
    let o = rehearse(
        &plan,
        &snapshot,
        &["--output", "json", "--profile", &profile],
        &csv,
    )
    .await;
    let (out, err) = cli::text(&o);
    let r: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}\n{err}"));
    // What the brief asked for holds: the 12 predicted duplicates are exactly
    // the 12 users the engine created.
    assert_eq!(r["table"]["duplicate"]["created"], 12, "{}", r["table"]);
    assert_eq!(r["table"]["match"]["matched"], 143, "{}", r["table"]);
    // The wrong turn fails verify (the duplicates), which the rehearsal reports.
    assert_eq!(r["verify"]["passed"], Value::Bool(false), "{}", r["verify"]);
    assert!(
        r["verify"]["worst"]
            .as_str()
            .unwrap()
            .contains("more than one account"),
        "{}",
        r["verify"]
    );
    let created: BTreeSet<String> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["outcome"] == "created" && x["predicted"] == "duplicate")
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        created, predicted,
        "the engine created exactly the predicted duplicates"
    );
    // Full agreement. (The rehearsal found apply skipping put-schema when the
    // custom app's default schema already passed its done-check — userName ←
    // userPrincipalName — so the carried scoping filter never reached the
    // job and 12 predicted skips were created; apply now sends a repeatable
    // step until the journal holds its answers.)
    let found: Vec<&str> = r["stepsFoundDone"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !found.contains(&"put-schema"),
        "put-schema is sent: {found:?}"
    );
    let wrong: Vec<&Value> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["agrees"] == Value::Bool(false))
        .collect();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(wrong.is_empty(), "{} (found done: {found:?})", r["table"]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_turn_makes_exactly_the_duplicates_an_independent_plan_predicts() {
    // The prediction, made by `scimshift plan` with a profile that carries
    // nothing over from the gallery (what an admin clicking "create app"
    // gets), and the rehearsal of the real plan with `--mapping default`.
    let (dir, snapshot, plan) = captured(&[]).await;
    let profile = common::data::naive_coda_profile(dir.path());
    let naive = dir.path().join("naive.json");
    let mut c = cli::bin();
    c.args(["plan", "--no-extra-matching", "--profile"])
        .arg(&profile)
        .arg("--snapshot")
        .arg(&snapshot)
        .arg("--out")
        .arg(&naive);
    let o = cli::run(c).await;
    assert_eq!(o.status.code(), Some(2), "plan: {}", cli::text(&o).1);
    let predicted: BTreeSet<String> = plan_json(&naive)["impact"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["duplicate"] == Value::Bool(true))
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_string())
        .collect();
    let wingtip: BTreeSet<String> = common::data::DEMO_WINGTIP
        .iter()
        .map(|(upn, _)| upn.to_string())
        .collect();
    assert_eq!(predicted, wingtip, "the 12 Wingtip users");

    let csv = dir.path().join("wrong.csv");
    let report = dir.path().join("wrong.md");
    let o = {
        let mut c = cli::bin();
        c.arg("rehearse")
            .arg(&plan)
            .arg("--snapshot")
            .arg(&snapshot)
            .args(["--mapping", "default", "--output", "json", "--csv"])
            .arg(&csv)
            .arg("--report")
            .arg(&report);
        cli::run(c).await
    };
    let (out, err) = cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["mapping"], "default");
    let created: BTreeSet<String> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["outcome"] == "created")
        .map(|x| x["userPrincipalName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        created, predicted,
        "the engine created exactly the predicted duplicates"
    );
    assert_eq!(r["disagreements"], 0, "{}", r["table"]);
    // The report names each duplicate for the change record.
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("## Duplicates made (12)"), "{md}");
    for upn in &predicted {
        assert!(md.contains(&format!("`{upn}`")), "{upn} in {md}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_under_faults_reaches_the_same_end_state() {
    // 429s, 503s and latency on every route of the rebuilt twin: apply
    // retries through them and the engine's outcome is the one without faults.
    let (dir, snapshot, plan) = captured(&[]).await;
    let csv = dir.path().join("disagreements.csv");
    let clean = rehearse(&plan, &snapshot, &["--output", "json"], &csv).await;
    let faulty = rehearse(
        &plan,
        &snapshot,
        &[
            "--output",
            "json",
            "--faults",
            "429:0.05,503:0.02,latency:10ms",
        ],
        &csv,
    )
    .await;
    let (out, err) = cli::text(&faulty);
    assert_eq!(faulty.status.code(), Some(0), "{out}\n{err}");
    let a: Value = serde_json::from_str(&cli::text(&clean).0).unwrap();
    let b: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(b["disagreements"], 0, "{}", b["table"]);
    assert_eq!(a["table"], b["table"]);
    let targets = |r: &Value| -> Vec<(Value, Value)> {
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["id"].clone(), x["targetId"].clone()))
            .collect()
    };
    assert_eq!(
        targets(&a),
        targets(&b),
        "each user linked to the same target user"
    );
    let groups = |r: &Value| -> Vec<(Value, Value, Value)> {
        r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["id"].clone(),
                    g["outcome"].clone(),
                    g["membersMissing"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(groups(&a), groups(&b));
    assert_eq!(b["verify"]["passed"], Value::Bool(true), "{}", b["verify"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_escrowed_by_a_transient_failure_is_compared_after_the_retry_cycle() {
    // The target answers the custom job's first group PATCHes 503 four times
    // running: the engine gives up on that group (escrow) in the first cycle
    // and, as Entra does, retries it in the next. That is not a wrong
    // prediction: the rehearsal waits for the retry and compares then.
    let (dir, snapshot, plan) = captured(&[]).await;
    let csv = dir.path().join("disagreements.csv");
    let out = rehearse(
        &plan,
        &snapshot,
        &[
            "--output",
            "json",
            "--faults",
            "at:PATCH:/Groups/:503:times=4",
        ],
        &csv,
    )
    .await;
    let (text, err) = cli::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["disagreements"], 0, "{}\n{}", r["table"], r["groups"]);
    assert!(
        r["escrowRetryCycles"].as_u64().unwrap() >= 1,
        "the first cycle escrowed a group: {}",
        r["escrowRetryCycles"]
    );
    let missing: Vec<&Value> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| !g["membersMissing"].as_array().unwrap().is_empty())
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
    assert_eq!(r["verify"]["passed"], Value::Bool(true), "{}", r["verify"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_serve_serves_the_tenant_a_snapshot_recorded() {
    use tokio::io::AsyncBufReadExt;
    let (_dir, snapshot, _) = captured(&[]).await;
    let snap: Value = serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    let mut child = tokio::process::Command::new(assert_cmd::cargo::cargo_bin("scimshift"))
        .args(["twin", "serve", "--listen", "127.0.0.1:0", "--seed"])
        .arg(format!("snapshot:{}", snapshot.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(120), lines.next_line())
        .await
        .expect("the ready line within 2 minutes")
        .unwrap()
        .expect("a ready line");
    let ready: Value = serde_json::from_str(&line).unwrap();
    let http = reqwest::Client::new();
    let get = async |url: String, token: &str| -> Value {
        http.get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    // The target as captured: the same users, by id.
    let scim = ready["scim_url"].as_str().unwrap();
    let token = ready["scim_token"].as_str().unwrap();
    let users = get(format!("{scim}/Users?startIndex=1&count=1000"), token).await;
    let ids = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&users["Resources"]), ids(&snap["target"]["users"]));
    // The gallery app and its job, under the snapshot's ids.
    let token = common::twin::token_from_ready_line(&ready).await;
    let sp = snap["app"]["servicePrincipalId"].as_str().unwrap();
    let jobs = get(
        format!(
            "{}/servicePrincipals/{sp}/synchronization/jobs",
            ready["graph_url"].as_str().unwrap()
        ),
        &token,
    )
    .await;
    assert_eq!(
        jobs["value"][0]["id"], snap["app"]["jobs"][0]["id"],
        "{jobs}"
    );
    let _ = child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_tenants_snapshot_rehearses_without_the_tenant_or_the_target() {
    // The demo snapshot as if captured from a real tenant whose gallery app
    // provisions into Coda: BaseAddress and the target's URL are https on
    // coda.io. Neither is reachable from here; the rehearsal must not need them.
    let (dir, snapshot, _) = captured(&[]).await;
    let mut snap = scimshift::snapshot::model::Snapshot::load(&snapshot).unwrap();
    let coda = "https://coda.io/scim/v2/organizations/org-4711";
    for kv in &mut snap.app.settings {
        if kv.key == "BaseAddress" {
            kv.value = coda.to_string();
        }
    }
    snap.target.as_mut().unwrap().base_url = coda.to_string();
    snap.seal();
    let real = dir.path().join("real-snapshot.json");
    std::fs::write(&real, snap.to_bytes()).unwrap();
    let plan = dir.path().join("real-plan.json");
    let mut c = cli::bin();
    c.args(["plan", "--profile", "coda", "--snapshot"])
        .arg(&real)
        .arg("--out")
        .arg(&plan);
    let o = cli::run(c).await;
    assert_eq!(o.status.code(), Some(2), "plan: {}", cli::text(&o).1);
    let body = std::fs::read_to_string(&plan).unwrap();
    assert!(body.contains(coda), "the plan writes the real BaseAddress");

    let csv = dir.path().join("real.csv");
    let o = rehearse(&plan, &real, &["--output", "json"], &csv).await;
    let (out, err) = cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["disagreements"], 0, "{}", r["table"]);
    assert_eq!(r["table"]["match"]["matched"], 155, "{}", r["table"]);
    assert_eq!(r["verify"]["passed"], Value::Bool(true), "{}", r["verify"]);
}
