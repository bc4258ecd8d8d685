//! The smaller defects of #15 (defect 8), each through the binary: a
//! `Retry-After` past the cap fails at once with the wait in words; every
//! retry is one line at default verbosity; `--no-color` leaves no ANSI code in
//! `-vv` logs.

mod common;

use axum::body::Body;
use axum::http::Response;
use common::cli::{run, text};
use common::hostile::{self, Asked, export};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

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

/// An https server on loopback with the self-signed certificate of
/// tests/fixtures/certs/app.pem; counts the connections it accepts.
async fn untrusted_https() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certs/app.pem");
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(&pem)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pem).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/scim/v2", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_named_and_not_retried() {
    let (url, accepted) = untrusted_https().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.csv");
    let o = run(export(&url, &out)).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("TLS verification failed for"), "{err}");
    assert!(!err.contains("is the server up"), "{err}");
    assert!(!err.contains("trying again"), "{err}");
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "{err}"
    );
}
