//! Benchmark (not a timed test): `scimshift snapshot` of a 100,000-user,
//! 5,000-group tenant; the target is under 20 s and 300 MB.
//!
//! Run with `cargo test --release --test snapshot_bench -- --ignored --nocapture`.
//! By default the twin is started in-process with `synthetic:users=N,groups=M`
//! (BENCH_USERS, BENCH_GROUPS; Graph's real quotas unless BENCH_QUOTA_SCALE;
//! BENCH_OUT keeps the snapshot file);
//! BENCH_SOURCE=mock uses the mock Graph of `tests/mock_graph` instead; or point
//! SCIMSHIFT_BENCH_GRAPH_URL / SCIMSHIFT_BENCH_AUTHORITY_URL / AZURE_* at a
//! running `scimshift twin serve`. The snapshot runs as the `scimshift`
//! binary; wall time and peak RSS of that process come from bench/timed.
//! Against the twin it prints a `RESULT {json}` line (requests, RU, the
//! minimal request plan, 429s, quota time) that `bench/run` collects.

mod common;

use common::mock_graph;

use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored"]
async fn snapshot_of_100k_users_5k_groups() {
    let users: usize = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let groups: usize = std::env::var("BENCH_GROUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let mut twin_handle: Option<scimshift::twin::server::RunningTwin> = None;
    let (graph_url, authority, app, creds, _mock) = match std::env::var("SCIMSHIFT_BENCH_GRAPH_URL")
    {
        Ok(url) => {
            let authority = std::env::var("SCIMSHIFT_BENCH_AUTHORITY_URL")
                .expect("SCIMSHIFT_BENCH_AUTHORITY_URL");
            let app = std::env::var("SCIMSHIFT_BENCH_APP").unwrap_or_else(|_| "Coda".into());
            let creds: Vec<(String, String)> =
                ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]
                    .iter()
                    .map(|k| (k.to_string(), std::env::var(k).unwrap_or_default()))
                    .collect();
            (
                url,
                authority,
                app,
                creds,
                None::<Box<dyn std::any::Any + Send>>,
            )
        }
        Err(_) if std::env::var("BENCH_SOURCE").as_deref() != Ok("mock") => {
            let t = Instant::now();
            let quota_scale = std::env::var("BENCH_QUOTA_SCALE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1.0);
            let twin = scimshift::twin::server::start(scimshift::twin::server::TwinOptions {
                seed: scimshift::twin::seed::SeedSpec::Synthetic { users, groups },
                quota_scale,
                ..Default::default()
            })
            .await
            .unwrap();
            eprintln!(
                "twin seeded with synthetic:users={users},groups={groups} in {:?} (quota scale {quota_scale})",
                t.elapsed()
            );
            let creds = vec![
                ("AZURE_TENANT_ID".to_string(), twin.tenant_id.clone()),
                ("AZURE_CLIENT_ID".to_string(), twin.client_id.clone()),
                (
                    "AZURE_CLIENT_SECRET".to_string(),
                    twin.client_secret.expose().to_string(),
                ),
            ];
            let urls = (twin.graph_url.clone(), twin.authority_url.clone());
            twin_handle = Some(twin);
            (
                urls.0,
                urls.1,
                "Coda".to_string(),
                creds,
                None::<Box<dyn std::any::Any + Send>>,
            )
        }
        Err(_) => {
            let t = Instant::now();
            let (mock, base) = mock_graph::start(mock_graph::synthetic_seed(users, groups)).await;
            eprintln!(
                "mock Graph seeded with {users} users / {groups} groups in {:?}",
                t.elapsed()
            );
            let creds = vec![
                (
                    "AZURE_TENANT_ID".to_string(),
                    mock_graph::TENANT.to_string(),
                ),
                (
                    "AZURE_CLIENT_ID".to_string(),
                    mock_graph::CLIENT_ID.to_string(),
                ),
                (
                    "AZURE_CLIENT_SECRET".to_string(),
                    mock_graph::CLIENT_SECRET.to_string(),
                ),
            ];
            (
                format!("{base}/v1.0"),
                base,
                "Coda".to_string(),
                creds,
                Some(Box::new(mock) as Box<dyn std::any::Any + Send>),
            )
        }
    };
    let dir = tempfile::tempdir().unwrap();
    // BENCH_OUT keeps the snapshot there (bench/run plans the million-user one).
    let out = std::env::var("BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.json"));
    let bin = assert_cmd::cargo::cargo_bin("scimshift");
    let mut cmd = common::bench::timed_wrapped(&bin);
    cmd.args([
        "--output",
        "json",
        "snapshot",
        "--app",
        &app,
        "--graph-url",
        &graph_url,
        "--authority-url",
        &authority,
        "--out",
    ])
    .arg(&out)
    .env_remove("SCIMSHIFT_GRAPH_TOKEN");
    if let Ok(v) = std::env::var("BENCH_MALLOC_ARENA_MAX") {
        cmd.env("MALLOC_ARENA_MAX", v);
    }
    for (k, v) in creds {
        cmd.env(k, v);
    }
    let before = twin_handle.as_ref().map(|t| t.usage());
    let t = Instant::now();
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let wall = t.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let size = std::fs::metadata(&out).unwrap().len();
    eprintln!(
        "snapshot: {} users in scope, {} groups, file {:.1} MB, {wall:?} wall (the Graph server shares the 2 cores)\n{}",
        summary["users"]["inScope"],
        summary["groups"]["total"],
        size as f64 / 1e6,
        stderr
            .lines()
            .find(|l| l.starts_with("BENCH"))
            .unwrap_or("")
    );
    // Against the twin: what the run cost in Graph requests and resource units,
    // and its wall time against the time Graph's quota allows for those units.
    if let (Some(twin), Some(before)) = (&twin_handle, before) {
        use scimshift::twin::throttle::Quota;
        let after = twin.usage();
        let requests = after.requests - before.requests;
        let get = |m: &std::collections::HashMap<Quota, u64>| {
            m.get(&Quota::ResourceUnits).copied().unwrap_or(0)
        };
        let ru = get(&after.admitted) - get(&before.admitted);
        let refused = get(&after.refused) - get(&before.refused);
        // The quota in force (unscaled when throttling is off: 8,000 RU / 10 s).
        let (limit, window) = twin
            .quota(Quota::ResourceUnits)
            .unwrap_or((8000, std::time::Duration::from_secs(10)));
        let rate = limit as f64 / window.as_secs_f64();
        let quota_s = ru as f64 / rate;
        let time = common::bench::timing_line(&stderr);
        let field = |name: &str| common::bench::field(time, name);
        let (wall_s, rss_kb) = (field("wall="), field("maxrss="));
        // The reads no snapshot of this tenant can avoid: the app lookup, the
        // assignment pages (999 a page), group details 15 ids a read (Graph's
        // `in` limit), one member page per 999 members of each group; with no
        // groups, the directly assigned users 15 ids a read.
        let div = |a: usize, b: usize| a.div_ceil(b);
        let minimal_ru = if groups > 0 {
            1 + div(groups, 999) + div(groups, 15) + groups * div(div(users, groups), 999).max(1)
        } else {
            1 + div(users, 999) + div(users, 15)
        };
        eprintln!(
            "graph: {requests} requests ($batch and inner), {ru} RU admitted ({:.2} of the minimal {minimal_ru}), {refused} answered 429; quota {limit} RU / {window:?} -> {quota_s:.1} s for those RU; wall / quota time = {:.2}",
            ru as f64 / minimal_ru as f64,
            wall_s / quota_s
        );
        println!(
            "RESULT {}",
            serde_json::json!({
                "bench": "snapshot",
                "users": users,
                "groups": groups,
                "requests": requests,
                "ru": ru,
                "refused": refused,
                "quota_ru": limit,
                "quota_window_s": window.as_secs_f64(),
                "quota_s": quota_s,
                "minimal_ru": minimal_ru,
                "cpu_s": field("user=") + field("sys="),
                "wall_s": wall_s,
                "rss_kb": rss_kb,
                "file_bytes": size,
            })
        );
    }
}
