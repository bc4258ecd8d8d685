//! Benchmark (not a timed test): `scimshift verify` on a 100,000-user,
//! 5,000-group migration; the target is under 30 s and 300 MB.
//!
//! Run with `cargo test --release --test verify_bench -- --ignored --nocapture`
//! (BENCH_USERS, BENCH_GROUPS change the size; BENCH_OUTPUT=text prints the
//! parity table instead of the whole report as JSON). The twin runs in-process
//! with `synthetic:users=N,groups=M` and Graph's real throttling quotas; its
//! gallery job's cycle fills the embedded SCIM store, `scimshift snapshot`
//! and `scimshift plan` run as the binary, then a custom app is set up in
//! the tenant as apply leaves it (the gallery's user mappings carried over,
//! groups pushed, the same assignments) and its first cycle run. Finally
//! `scimshift verify` runs as the binary under `bench/timed`, which
//! reports its wall time and peak RSS (the twin serving it shares the two
//! cores); the `RESULT` line goes to bench/RESULTS.md through `bench/run`.

mod common;

use scimshift::twin::engine;
use scimshift::twin::schemas;
use scimshift::twin::state::{ServicePrincipal, SyncJob, Synchronization};
use serde_json::{Value, json};
use std::time::Instant;

fn env_or(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored"]
async fn verify_of_100k_users_5k_groups() {
    let users = env_or("BENCH_USERS", 100_000);
    let groups = env_or("BENCH_GROUPS", 5_000);
    let t0 = Instant::now();
    let running = scimshift::twin::server::start(scimshift::twin::server::TwinOptions {
        seed: scimshift::twin::seed::SeedSpec::Synthetic { users, groups },
        lag: scimshift::twin::lag::Lag::off(),
        time_scale: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let twin = running.twin.clone();
    twin.engine.set_interval(None);
    let (gallery_sp, gallery_job, gallery_schema) = {
        let t = twin.tenant();
        t.synchronization
            .iter()
            .find_map(|(sp, s)| {
                s.jobs
                    .values()
                    .next()
                    .map(|j| (sp.clone(), j.id.clone(), j.schema.clone()))
            })
            .unwrap()
    };
    let r = engine::run_cycle_report(&twin, &gallery_sp, &gallery_job)
        .await
        .unwrap();
    eprintln!(
        "gallery cycle: {} users created in {:?}",
        r.users_created,
        t0.elapsed()
    );

    let dir = common::schemas::tempdir();
    let snap = dir.path().join("snap.json");
    let plan = dir.path().join("plan.json");
    let bin = || {
        let mut c = common::cli::bin();
        c.env("AZURE_TENANT_ID", &running.tenant_id)
            .env("AZURE_CLIENT_ID", &running.client_id)
            .env("AZURE_CLIENT_SECRET", running.client_secret.expose())
            .env("SCIMSHIFT_GRAPH_URL", &running.graph_url)
            .env("SCIMSHIFT_AUTHORITY_URL", &running.authority_url)
            .env("SCIM_TOKEN", running.scim_token.expose());
        c
    };
    let mut c = bin();
    c.args([
        "snapshot",
        "--app",
        "Coda",
        "--scim-url",
        &running.scim_url,
        "--out",
    ])
    .arg(&snap);
    let o = common::cli::run(c).await;
    assert!(o.status.success(), "{:?}", common::cli::text(&o));
    let mut c = bin();
    c.args(["plan", "--profile", "coda", "--snapshot"])
        .arg(&snap)
        .arg("--out")
        .arg(&plan);
    let o = common::cli::run(c).await;
    assert_eq!(o.status.code(), Some(2), "{:?}", common::cli::text(&o));
    let plan_json: Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let name = plan_json["app"]["customAppName"]
        .as_str()
        .unwrap()
        .to_string();
    eprintln!("snapshot and plan done at {:?}", t0.elapsed());

    // The custom app as apply leaves it.
    let mut schema = schemas::default_scim_schema();
    let gallery_users = gallery_schema["synchronizationRules"][0]["objectMappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sourceObjectName"] == "User")
        .unwrap()
        .clone();
    let u = &mut schema["synchronizationRules"][0]["objectMappings"][0];
    u["attributeMappings"] = gallery_users["attributeMappings"].clone();
    u["scope"] = gallery_users["scope"].clone();
    {
        let mut t = twin.tenant();
        let secrets = t.synchronization[&gallery_sp].secrets.clone();
        t.service_principals.insert(
            "sp-custom".into(),
            serde_json::from_value::<ServicePrincipal>(
                json!({"id": "sp-custom", "appId": "app-custom", "displayName": name}),
            )
            .unwrap(),
        );
        let mut sync = Synchronization {
            secrets,
            ..Default::default()
        };
        sync.jobs.insert(
            "scim.job".into(),
            SyncJob {
                id: "scim.job".into(),
                template_id: "scim".into(),
                schedule_state: "Active".into(),
                status: json!({"code": "NotRun"}),
                schema,
                user_links: Default::default(),
                group_links: Default::default(),
            },
        );
        t.synchronization.insert("sp-custom".into(), sync);
        let copies: Vec<_> = t
            .assignments
            .values()
            .filter(|a| a.resource_id == gallery_sp)
            .cloned()
            .map(|mut a| {
                a.id = format!("custom-{}", a.principal_id);
                a.resource_id = "sp-custom".into();
                a
            })
            .collect();
        for a in copies {
            t.assignments.insert(a.id.clone(), a);
        }
    }
    let r = engine::run_cycle_report(&twin, "sp-custom", "scim.job")
        .await
        .unwrap();
    eprintln!(
        "custom cycle: {} created, {} groups created, escrowed {} at {:?}",
        r.users_created,
        r.groups_created,
        r.escrowed,
        t0.elapsed()
    );

    let csv = dir.path().join("verify.csv");
    // BENCH_OUTPUT=text: the parity table only (json prints every row).
    let output = std::env::var("BENCH_OUTPUT").unwrap_or_else(|_| "json".into());
    let mut cmd = common::bench::timed_wrapped(&assert_cmd::cargo::cargo_bin("scimshift"));
    cmd.args(["--output", &output, "verify"])
        .arg(&plan)
        .arg("--snapshot")
        .arg(&snap)
        .arg("--csv")
        .arg(&csv)
        .env("AZURE_TENANT_ID", &running.tenant_id)
        .env("AZURE_CLIENT_ID", &running.client_id)
        .env("AZURE_CLIENT_SECRET", running.client_secret.expose())
        .env("SCIMSHIFT_GRAPH_URL", &running.graph_url)
        .env("SCIMSHIFT_AUTHORITY_URL", &running.authority_url)
        .env("SCIM_TOKEN", running.scim_token.expose())
        .env_remove("SCIMSHIFT_GRAPH_TOKEN");
    let load1 = common::bench::load1();
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    let bench = common::bench::timing_line(&err);
    eprintln!("verify of {users} users / {groups} groups: {bench} (load before: {load1})");
    if output == "json" {
        let v: Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
        eprintln!("passed={} counts={}", v["passed"], v["counts"]);
        assert_eq!(v["passed"], true, "{}", v["worst"]);
    } else {
        eprintln!("{out}");
        assert_eq!(o.status.code(), Some(0), "{err}");
    }
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    eprintln!("CSV rows: {rows}");
    let field = |name| common::bench::field(bench, name);
    common::bench::result(json!({
        "bench": "verify",
        "users": users,
        "groups": groups,
        "wall_s": field("wall="),
        "cpu_s": field("user=") + field("sys="),
        "rss_kb": field("maxrss="),
        // The asserts above end the benchmark when verify did not pass.
        "passed": true,
        "csv_rows": rows,
        "load1": load1,
    }));
    running.shutdown().await;
}
