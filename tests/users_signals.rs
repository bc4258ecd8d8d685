//! SIGINT/SIGTERM during `users import` and `users export`, sent with
//! `libc::kill` to the real binary working against a twin slowed with
//! faults: the first signal lets the requests in flight finish, writes the
//! results for the rows done, exits 130 and leaves no temp file; a second one
//! stops at once, while the twin still holds the answers in flight.

mod common;

use scimshift::twin::faults::Faults;
use scimshift::twin::server::{RunningTwin, TwinOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn csv_50() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/csv/synthetic/jumpcloud_import_50.csv")
}

async fn slow_twin(dir: &Path, faults: &str) -> (RunningTwin, PathBuf) {
    let log = dir.join("requests.jsonl");
    let twin = scimshift::twin::server::start(TwinOptions {
        request_log: Some(log.clone()),
        faults: Some(Faults::parse(faults).unwrap()),
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    (twin, log)
}

fn writes(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"write\":true"))
        .count()
}

/// How many users the twin's SCIM store holds.
async fn stored_users(scim: &scimshift::scim::ScimClient) -> u64 {
    let (_, body) = scim.get_path("Users?count=0").await.unwrap();
    body["totalResults"].as_u64().unwrap()
}

fn spawn(twin: &RunningTwin, args: &[&str]) -> Child {
    Command::new(common::cli::bin_path())
        .env("SCIM_TOKEN", twin.scim_token.expose())
        .env_remove("HTTP_PROXY")
        .args(args)
        .args(["--scim-url", &twin.scim_url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: libc::c_int) {
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

/// Poll until `cond` or the deadline.
async fn until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Wait for the exit (deadline 20 s; killed past it) and return code, stdout, stderr.
async fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let exited = until(20, || child.try_wait().unwrap().is_some()).await;
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        exited,
        "the command did not exit within 20 s after the signal"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

async fn interrupted_import(sig: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let (twin, log) = slow_twin(dir.path(), "latency:150ms").await;
    let before = twin.twin.scim_store.users().len();
    let results = dir.path().join("results.csv");
    let file = csv_50();
    let child = spawn(
        &twin,
        &[
            "users",
            "import",
            file.to_str().unwrap(),
            "--yes",
            "--no-bulk",
            "--concurrency",
            "2",
            "--results",
            results.to_str().unwrap(),
        ],
    );
    // Some writes landed, most are still to come (50 at 2 per 150 ms ≈ 3.8 s).
    assert!(
        until(20, || writes(&log) >= 4).await,
        "no write reached the twin"
    );
    signal(&child, sig);
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(130), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("interrupted: no new write starts"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Interrupted: ") && stdout.contains("not sent"),
        "{stdout}"
    );
    assert!(stdout.contains("Resume: run the same"), "{stdout}");

    let created = twin.twin.scim_store.users().len() - before;
    let text = std::fs::read_to_string(&results).expect("the results file is written");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 50, "one results row per input row");
    let ok = rows.iter().filter(|r| r.contains(",create,ok,")).count();
    let not_sent = rows
        .iter()
        .filter(|r| r.contains(",create,not sent,"))
        .count();
    assert_eq!(
        ok, created,
        "every user created is `ok` in the results:\n{text}"
    );
    assert!((4..50).contains(&created), "created {created}");
    assert_eq!(ok + not_sent, 50, "{text}");
    // No write started after the in-flight ones finished.
    assert_eq!(writes(&log), created, "a write was sent after the signal");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );

    // Resuming sends only the rest.
    let out = tokio::task::block_in_place(|| {
        let mut c = common::cli::bin();
        c.env("SCIM_TOKEN", twin.scim_token.expose())
            .args(["users", "import"])
            .arg(&file)
            .args(["--scim-url", &twin.scim_url, "--yes"]);
        c.output().unwrap()
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(twin.twin.scim_store.users().len() - before, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_import_finishes_in_flight_writes_results_and_exits_130() {
    interrupted_import(libc::SIGINT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_import_does_the_same() {
    interrupted_import(libc::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_the_import_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // The first two creates are answered; the twin does every later one but
    // holds its answer for 10 minutes. The first signal alone would wait for
    // them, so only the second can end the run within `finish`'s deadline.
    let (twin, log) = slow_twin(
        dir.path(),
        "at:POST:/Users:timeout=600s:skip=2:times=1000000",
    )
    .await;
    let file = csv_50();
    let scim = common::twin::scim(&twin);
    let before = stored_users(&scim).await;
    let child = spawn(
        &twin,
        &[
            "users",
            "import",
            file.to_str().unwrap(),
            "--yes",
            "--no-bulk",
        ],
    );
    // A create whose answer is held is in flight: the twin stores a user
    // before it holds the answer, and it answers only the first two. (Waiting
    // for one answered write was not enough: on a loaded machine the first
    // signal could come while only lookups were in flight, and the import then
    // rightly ended by itself.)
    assert!(
        until(30, || writes(&log) >= 1).await,
        "no write reached the twin"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored_users(&scim).await < before + 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        stored_users(&scim).await >= before + 3,
        "no create with a held answer reached the twin"
    );
    // stderr read as it comes: the second signal is sent once the first is
    // acknowledged (two signals sent before the handler runs count as one).
    let mut child = child;
    let mut pipe = child.stderr.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    signal(&child, libc::SIGINT);
    assert!(
        until(20, || seen
            .lock()
            .unwrap()
            .contains("interrupted: no new write starts"))
        .await,
        "the first signal was not acknowledged: {}",
        seen.lock().unwrap()
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import ended while its answers were held: {}",
        seen.lock().unwrap()
    );
    signal(&child, libc::SIGINT);
    let (code, _, _) = finish(child).await;
    reader.join().unwrap();
    let stderr = seen.lock().unwrap().clone();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("stopped at once"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_export_writes_nothing_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let (twin, log) = slow_twin(dir.path(), "latency:1s").await;
    let out = dir.path().join("users.csv");
    let mut child = spawn(
        &twin,
        &[
            "users",
            "export",
            "--format",
            "scim",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let reading = until(20, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.lines().count() >= 1)
            || child.try_wait().unwrap().is_some()
    })
    .await;
    assert!(
        reading && child.try_wait().unwrap().is_none(),
        "the export did not start reading: {:?}",
        child.wait_with_output()
    );
    signal(&child, libc::SIGTERM);
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("nothing was written to"), "{stderr}");
    assert!(!out.exists());
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}
