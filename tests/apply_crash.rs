//! Crash safety of `scimshift apply`: the process is SIGKILLed at every
//! journal point of a whole apply in turn (`SCIMSHIFT_TEST_KILL_AT`: each run
//! dies just before its Nth journal record, so each run adds one record and
//! dies at the next point — between a create's sending and its result, between
//! two assignment batches, inside the cutover…), re-run each time, and must
//! converge: exactly one custom app, the plan's assignments, no duplicate
//! user, the same end state as an uninterrupted apply. Then the same on a
//! twin that injects 429s, 503s, connection resets and latency.

mod common;

use common::migration::{Migration, assert_migrated, yes_fast};
use scimshift::twin::faults::Faults;
use scimshift::twin::server::TwinOptions;
use std::os::unix::process::ExitStatusExt;

/// Kill apply at successive journal points until a run completes; returns
/// (SIGKILLed runs, runs that failed otherwise, total runs).
async fn kill_loop(m: &Migration, max_runs: usize) -> (usize, usize, usize) {
    kill_loop_of(m, max_runs, |m| {
        let args = yes_fast();
        m.apply_cmd(&args)
    })
    .await
}

/// [`kill_loop`] for any command of the migration.
async fn kill_loop_of(
    m: &Migration,
    max_runs: usize,
    command: impl Fn(&Migration) -> assert_cmd::Command,
) -> (usize, usize, usize) {
    let (mut killed, mut failed) = (0, 0);
    for run in 1..=max_runs {
        let mut c = command(m);
        // Record 1 is this run's `started`; dying before record 3 lets each
        // run journal exactly one step of progress.
        c.env("SCIMSHIFT_TEST_KILL_AT", "3");
        let t0 = std::time::Instant::now();
        let o = common::cli::run(c).await;
        eprintln!(
            "run {run}: {:?} in {:.1} s",
            o.status,
            t0.elapsed().as_secs_f64()
        );
        match (o.status.code(), o.status.signal()) {
            (Some(0), _) => return (killed, failed, run),
            (_, Some(9)) => killed += 1,
            (code, _) => {
                failed += 1;
                let (out, err) = common::cli::text(&o);
                assert!(
                    failed <= max_runs / 3,
                    "too many failed runs (last exit {code:?}):\n{out}\n{err}"
                );
            }
        }
        // Every run leaves the journal readable (a run that failed before its
        // first record, e.g. its stale-plan capture beaten by injected faults,
        // leaves it empty).
        scimshift::journal::read(&m.plan).expect("the journal reads back");
    }
    panic!("apply did not complete within {max_runs} runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_killed_at_every_journal_point_converges() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let before = m.target().await.0.len();
    let (killed, failed, runs) = kill_loop(&m, 80).await;
    assert!(
        killed >= 25,
        "killed at {killed} distinct points (runs {runs})"
    );
    assert_eq!(failed, 0, "without faults no run fails on its own");
    assert_migrated(&m, before).await;
    // Every kill point is distinct: each killed run added one record.
    let records = scimshift::journal::read(&m.plan).unwrap();
    let starts = records
        .iter()
        .filter(|r| matches!(r, scimshift::journal::Record::Started { .. }))
        .count();
    assert_eq!(starts, runs, "one started record per run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_killed_repeatedly_under_faults_and_lag_converges() {
    let opts = TwinOptions {
        faults: Some(Faults::parse("429:0.1,503:0.05,reset:0.02,latency:20ms").unwrap()),
        ..TwinOptions::default()
    };
    // Faults would strike the test's own snapshot and checks too: only apply meets them.
    let m = Migration::new(opts, None).await;
    m.twin.pause_faults(true);
    let before = m.target().await.0.len();
    m.twin.pause_faults(false);
    let (killed, _failed, runs) = kill_loop(&m, 150).await;
    assert!(killed >= 25, "killed at {killed} points (runs {runs})");
    m.twin.pause_faults(true);
    assert_migrated(&m, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_killed_at_every_journal_point_converges() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let gallery_sp = m.plan_json()["app"]["galleryServicePrincipalId"]
        .as_str()
        .unwrap()
        .to_string();
    let gallery_assignments = m.assignments_of(&gallery_sp);
    let args = yes_fast();
    let o = m.apply(&args).await;
    assert_eq!(o.status.code(), Some(0), "{}", common::cli::text(&o).1);
    let (killed, failed, runs) = kill_loop_of(&m, 60, |m| {
        let mut c = m.bin();
        c.arg("rollback")
            .arg(&m.plan)
            .args(["--yes", "--poll", "100ms", "--in-doubt-wait", "8s"]);
        c
    })
    .await;
    assert!(killed >= 10, "killed at {killed} points (runs {runs})");
    assert_eq!(failed, 0);
    assert!(m.custom_apps().await.is_empty(), "the custom app is gone");
    assert_eq!(m.assignments_of(&gallery_sp), gallery_assignments);
    let t = m.twin.twin.tenant();
    let job = t.synchronization[&gallery_sp].jobs.values().next().unwrap();
    assert_eq!(job.schedule_state, "Active", "the gallery job runs again");
}
