//! `scimshift twin serve` as a process: prints one JSON line when ready,
//! serves Graph, and refuses bad flags with one sentence.

mod common;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long `twin serve` may take to print its ready line (it builds the
/// seed first; a cold debug build on a busy 2-core machine is slow).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The child's first stdout line, read on a thread so the wait is bounded:
/// a child that never prints fails the test instead of hanging it (the
/// `Kill` guard then ends the child, which closes the pipe and the thread).
fn first_line(child: &mut Kill) -> String {
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = tx.send(read);
    });
    match rx.recv_timeout(READY_WITHIN) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => panic!("reading the ready line: {e}"),
        Err(_) => panic!("no ready line within {READY_WITHIN:?}"),
    }
}

#[test]
fn serve_prints_the_ready_line_and_answers_graph() {
    let child = Command::cargo_bin("scimshift")
        .unwrap()
        .args([
            "twin",
            "serve",
            "--seed",
            "synthetic:users=40,groups=4",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let line = first_line(&mut child);
    let ready: Value = serde_json::from_str(&line).expect("one JSON line");
    let graph = ready["graph_url"].as_str().unwrap().to_string();
    assert!(graph.starts_with("http://127.0.0.1:") && graph.ends_with("/v1.0"));
    assert_eq!(
        ready["scim_url"].as_str().unwrap(),
        graph.replace("/v1.0", "/scim/v2")
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let token = common::twin::token_from_ready_line(&ready).await;
        let users: Value = http
            .get(format!("{graph}/users?$top=999"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(users["value"].as_array().unwrap().len(), 40);
    });
    #[cfg(unix)]
    {
        // SIGTERM ends it cleanly, within a bound (polled, not a blocking wait).
        let pid = libc::pid_t::try_from(child.0.id()).unwrap();
        // SAFETY: signals the child this test spawned, by its pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "kill -TERM");
        let deadline = std::time::Instant::now() + READY_WITHIN;
        let status = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running {READY_WITHIN:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn bad_flags_fail_with_one_sentence() {
    // Bad usage exits 64; a seed file that cannot be read is an error (1).
    for (args, needle, code) in [
        (vec!["--faults", "teapot:0.1"], "--faults", 64),
        (
            vec!["--seed", "/nonexistent/seed.json"],
            "/nonexistent/seed.json",
            1,
        ),
        (
            vec!["--replication-delay", "soon"],
            "--replication-delay",
            64,
        ),
        (vec!["--quota-scale=-1"], "--quota-scale", 64),
        (vec!["--time-scale=-5"], "--time-scale", 64),
        (vec!["--assignment-lag", "later"], "--assignment-lag", 64),
        (vec!["--one-scim-token", "maybe"], "--one-scim-token", 64),
        (
            vec!["--scim-target", "http://example.com/scim"],
            "SCIM_TOKEN",
            64,
        ),
    ] {
        let out = Command::cargo_bin("scimshift")
            .unwrap()
            .args(["twin", "serve"])
            .args(&args)
            .env_remove("SCIM_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

/// The example seed file in tests/data/twin loads through `--seed PATH`.
#[test]
fn serve_loads_a_seed_file() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/twin/minimal-seed.json"
    );
    let child = Command::cargo_bin("scimshift")
        .unwrap()
        .args(["twin", "serve", "--seed", seed])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let line = first_line(&mut child);
    let ready: Value = serde_json::from_str(&line).expect("one JSON line");
    assert_eq!(ready["tenant_id"], "0c0ffee0-1111-4222-8333-444444444444");
}
