//! Benchmarks of `scimshift apply` (not timed tests; `bench/run` collects
//! their `RESULT` lines into bench/RESULTS.md):
//!
//! (a) the assignment remap: `synthetic:users=N,groups=0` (every user assigned
//!     directly to the gallery app, N = BENCH_USERS, default 10,000) with
//!     Graph's real write quota (3,000 writes per 150 s per app and tenant),
//!     or BENCH_QUOTA_SCALE; apply's achieved writes/s during the
//!     `assignments` step against the quota's 20/s, and the share of inner
//!     requests answered 429 (from the twin's request log);
//! (b) the demo's provisioning gap: apply's own time between seeing the
//!     gallery's last cycle end and the custom job's start answered, over
//!     BENCH_RUNS (default 5) demo applies.
//!
//! Run with `cargo test --release --test apply_bench -- --ignored --nocapture --test-threads 1`.

mod common;

use common::migration::Migration;
use scimshift::twin::seed::SeedSpec;
use scimshift::twin::server::TwinOptions;
use serde_json::Value;

fn env_num(k: &str, default: f64) -> f64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn at(r: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(r["at"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored"]
async fn assignment_remap_throughput_against_the_write_quota() {
    let users = env_num("BENCH_USERS", 10_000.0) as usize;
    let scale = env_num("BENCH_QUOTA_SCALE", 1.0);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let opts = TwinOptions {
        seed: SeedSpec::Synthetic { users, groups: 0 },
        quota_scale: scale,
        request_log: Some(log.clone()),
        ..TwinOptions::default()
    };
    let m = Migration::new(opts, None).await;
    let o = m
        .apply(&[
            "--yes",
            "--poll",
            "500ms",
            "--in-doubt-wait",
            "30s",
            "--wait",
            "20m",
        ])
        .await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let journal: Vec<Value> = std::fs::read_to_string(m.plan.with_extension("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of_step: Vec<&Value> = journal
        .iter()
        .filter(|r| r["step"] == "assignments")
        .collect();
    let first_intent = of_step.iter().find(|r| r["event"] == "intent").unwrap();
    let last_result = of_step
        .iter()
        .rev()
        .find(|r| r["event"] == "result")
        .unwrap();
    let seconds = (at(last_result) - at(first_intent)).num_milliseconds() as f64 / 1000.0;
    let writes = users as f64;
    let quota = 20.0 * scale;
    let inner: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| {
            r["via"] == "$batch"
                && r["method"] == "POST"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/appRoleAssignedTo"))
        })
        .collect();
    let throttled = inner.iter().filter(|r| r["status"] == 429).count();
    println!(
        "BENCH apply assignments: {users} assignments in {seconds:.1} s = {:.2} writes/s against {quota:.0}/s ({:.3} of the quota); {} inner requests, {throttled} answered 429 ({:.2} %)",
        writes / seconds,
        writes / seconds / quota,
        inner.len(),
        100.0 * throttled as f64 / inner.len().max(1) as f64
    );
    common::bench::result(serde_json::json!({
        "bench": "apply_remap",
        "assignments": users,
        "quota_scale": scale,
        "seconds": seconds,
        "writes_per_s": writes / seconds,
        "share_of_quota": writes / seconds / quota,
        "inner_requests": inner.len(),
        "throttled": throttled,
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored"]
async fn demo_provisioning_gap() {
    let runs = env_num("BENCH_RUNS", 5.0) as usize;
    let mut tool = Vec::new();
    let mut gap = Vec::new();
    for _ in 0..runs {
        let o = common::cli::bin()
            .args(["demo", "--output", "json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        tool.push(v["apply"]["gap"]["toolSeconds"].as_f64().unwrap());
        gap.push(v["apply"]["gap"]["gapSeconds"].as_f64().unwrap());
    }
    tool.sort_by(f64::total_cmp);
    gap.sort_by(f64::total_cmp);
    println!(
        "BENCH demo gap over {runs} runs: apply's own time min {:.2} / median {:.2} / max {:.2} s; whole gap (gallery's last cycle end -> custom start, 1 s Date resolution) min {:.1} / median {:.1} / max {:.1} s",
        tool[0],
        tool[runs / 2],
        tool[runs - 1],
        gap[0],
        gap[runs / 2],
        gap[runs - 1]
    );
    common::bench::result(serde_json::json!({
        "bench": "demo_gap",
        "runs": runs,
        "tool_s": [tool[0], tool[runs / 2], tool[runs - 1]],
        "gap_s": [gap[0], gap[runs / 2], gap[runs - 1]],
    }));
}
