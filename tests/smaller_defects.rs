//! The smaller defects of #15 (defect 8), each through the binary: a
//! `Retry-After` past the cap fails at once with the wait in words; every
//! retry is one line at default verbosity; `--no-color` leaves no ANSI code in
//! `-vv` logs.

mod common;

use axum::body::Body;
use axum::http::Response;
use common::cli::{bin, run, text};
use common::hostile::{self, Asked};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn export(scim_url: &str, out: &std::path::Path) -> assert_cmd::Command {
    let mut c = bin();
    c.env("SCIM_TOKEN", "hostile-test-token")
        .args([
            "users",
            "export",
            "--scim-url",
            scim_url,
            "--format",
            "scim",
            "--out",
        ])
        .arg(out);
    c
}

fn with_retry_after(status: u16, secs: &str) -> Response<Body> {
    let mut r = hostile::json(status, json!({"detail": "slow down"}));
    r.headers_mut().insert("retry-after", secs.parse().unwrap());
    r
}

fn empty_page() -> Response<Body> {
    hostile::json(
        200,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 0, "itemsPerPage": 0, "startIndex": 1, "Resources": [],
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_past_the_cap_fails_at_once_with_the_wait_in_words() {
    let server = hostile::serve(Arc::new(|_: &Asked| with_retry_after(429, "100000")));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.csv");
    // No wall-clock bound: a run that waited would be killed by this timeout,
    // and a killed process has no exit code 1 and not the sentence below.
    let mut c = export(&format!("{}/scim/v2", server.base), &out);
    c.timeout(Duration::from_secs(120));
    let o = run(c).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("asking to wait 1 day 3 h"), "{err}");
    assert!(err.contains("Retry-After: 100000 s"), "{err}");
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    assert!(!out.exists());
}

/// A server that answers 503 (Retry-After: 0) to its first two requests.
fn flaky() -> hostile::Hostile {
    hostile::serve(Arc::new(|a: &Asked| {
        if a.nth < 2 {
            with_retry_after(503, "0")
        } else {
            empty_page()
        }
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_retry_is_one_line_at_default_verbosity() {
    let server = flaky();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.csv");
    let o = run(export(&format!("{}/scim/v2", server.base), &out)).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("trying again in"))
        .collect();
    assert_eq!(lines.len(), 2, "one line per retry: {err}");
    assert!(
        lines[0].contains("answered 503") && lines[0].contains("attempt 2 of"),
        "{err}"
    );
    assert!(!lines[0].contains("hostile-test-token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_leaves_no_ansi_code_in_debug_logs() {
    let server = flaky();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.csv");
    let mut c = export(&format!("{}/scim/v2", server.base), &out);
    c.args(["--no-color", "-vv"]);
    let o = run(c).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("WARN"), "the retry lines are logged: {err}");
    assert!(!err.contains('\u{1b}'), "ANSI codes in: {err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_a_line_break_is_named_and_never_sent() {
    let server = hostile::serve(Arc::new(|_: &Asked| empty_page()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.csv");
    let mut c = export(&format!("{}/scim/v2", server.base), &out);
    c.env("SCIM_TOKEN", "first-half\nsecond-half");
    let o = run(c).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the SCIM token contains a line break (at character 11)"),
        "{err}"
    );
    assert!(
        !err.contains("connection") && !err.contains("half"),
        "{err}"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_in_a_url_is_never_repeated() {
    let server = hostile::serve(Arc::new(|_: &Asked| empty_page()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.csv");
    let url = server.base.replace("http://", "http://admin:hunter2@") + "/scim/v2";
    let o = run(export(&url, &out)).await;
    let (stdout, err) = text(&o);
    assert_eq!(o.status.code(), Some(64), "{err}");
    assert!(err.contains("has a user name or password in it"), "{err}");
    assert!(
        !err.contains("hunter2") && !stdout.contains("hunter2"),
        "{err}"
    );
    assert!(server.requests().is_empty());
}
