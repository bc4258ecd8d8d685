//! The CLI against servers that misbehave on purpose (tests/common/hostile):
//! redirects are not followed, proxies from the environment never see a
//! loopback or plain-http request, bodies are bounded while streaming (gzip
//! included), and pagers that never stop are stopped with one sentence.

mod common;

use common::cli::{bin, run, text};
use common::hostile::{self, Asked, Capture, export};
use serde_json::json;
use std::sync::Arc;

fn snapshot(
    graph_url: &str,
    authority_url: &str,
    scim_url: &str,
    out: &std::path::Path,
) -> assert_cmd::Command {
    let mut c = bin();
    c.env("SCIM_TOKEN", "hostile-test-token")
        .args([
            "snapshot",
            "--app",
            "Coda",
            "--graph-url",
            graph_url,
            "--authority-url",
            authority_url,
            "--scim-url",
            scim_url,
            "--out",
        ])
        .arg(out);
    c
}

fn one_sentence_exit_1(o: &std::process::Output, needle: &str) -> String {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert!(err.contains(needle), "wanted `{needle}` in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(err.trim().lines().count() <= 2, "one sentence, got: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_follows_a_redirect() {
    let other = Capture::start();
    let target = format!("{}/elsewhere", other.url());
    let t = target.clone();
    let server = hostile::serve(Arc::new(move |_: &Asked| hostile::redirect(302, &t)));
    let dir = tempfile::tempdir().unwrap();
    let sentence = format!("redirecting to `{target}`");

    // SCIM client.
    let out = dir.path().join("users.json");
    let o = run(export(&format!("{}/scim/v2", server.base), &out)).await;
    one_sentence_exit_1(&o, &sentence);
    assert!(!out.exists());

    // Token client (client secret sign-in against a redirecting authority).
    let mut c = snapshot(
        &server.base,
        &server.base,
        &format!("{}/scim/v2", server.base),
        &dir.path().join("s.json"),
    );
    c.env("AZURE_TENANT_ID", "t")
        .env("AZURE_CLIENT_ID", "c")
        .env("AZURE_CLIENT_SECRET", "s3cret-value");
    let o = run(c).await;
    let err = one_sentence_exit_1(&o, &sentence);
    assert!(!err.contains("s3cret-value"));

    // Graph client (a token given directly).
    let mut c = snapshot(
        &server.base,
        &server.base,
        &format!("{}/scim/v2", server.base),
        &dir.path().join("s.json"),
    );
    c.env("SCIMSHIFT_GRAPH_TOKEN", "graph-token-value");
    let o = run(c).await;
    one_sentence_exit_1(&o, &sentence);

    assert!(server.requests().len() >= 3, "{:?}", server.requests());
    assert_eq!(other.count(), 0, "a request reached the redirect's target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_never_see_loopback_or_plain_http() {
    let proxy = Capture::start();
    let twin = common::twin::demo().await;
    let dir = common::schemas::tempdir();
    let with_proxies = |c: &mut assert_cmd::Command| {
        for k in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            c.env(k, proxy.url());
        }
    };
    let out = dir.path().join("users.json");
    let mut c = export(&twin.scim_url, &out);
    c.env("SCIM_TOKEN", twin.scim_token.expose());
    with_proxies(&mut c);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(out.exists());

    let snap = dir.path().join("snap.json");
    let mut c = snapshot(&twin.graph_url, &twin.authority_url, &twin.scim_url, &snap);
    c.env("SCIM_TOKEN", twin.scim_token.expose())
        .env("AZURE_TENANT_ID", &twin.tenant_id)
        .env("AZURE_CLIENT_ID", &twin.client_id)
        .env("AZURE_CLIENT_SECRET", twin.client_secret.expose());
    with_proxies(&mut c);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(snap.exists());
    assert_eq!(proxy.count(), 0, "the proxy saw a loopback request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_cut_off_while_streaming() {
    let server = hostile::serve(Arc::new(|_: &Asked| hostile::endless_body()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let mut c = export(&format!("{}/scim/v2", server.base), &out);
    c.env("SCIMSHIFT_MAX_RESPONSE_BYTES", "1048576");
    let o = run(c).await;
    one_sentence_exit_1(&o, "sent an answer larger than 1 MiB");
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_counts_its_inflated_size() {
    let bomb = hostile::gzip_bomb_bytes(8);
    assert!(bomb.len() < 64 * 1024, "the bomb is small on the wire");
    let server = hostile::serve(Arc::new(move |_: &Asked| hostile::gzip_body(bomb.clone())));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let mut c = export(&format!("{}/scim/v2", server.base), &out);
    c.env("SCIMSHIFT_MAX_RESPONSE_BYTES", "1048576");
    let o = run(c).await;
    one_sentence_exit_1(&o, "sent an answer larger than 1 MiB");
}

/// A ListResponse of `ids` whose `totalResults` says `total`.
fn scim_page(ids: std::ops::Range<usize>, total: usize) -> axum::http::Response<axum::body::Body> {
    let users: Vec<_> = ids
        .map(|i| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": format!("u{i}"), "userName": format!("user{i}@example.com"), "active": true}))
        .collect();
    hostile::json(
        200,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total,
            "itemsPerPage": users.len(),
            "startIndex": 1,
            "Resources": users,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_pager_repeating_its_page_is_stopped() {
    let server = hostile::serve(Arc::new(|a: &Asked| {
        if a.path_and_query.contains("ServiceProviderConfig") {
            return hostile::json(404, json!({}));
        }
        scim_page(0..5, 1_000)
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let o = run(export(&format!("{}/scim/v2", server.base), &out)).await;
    one_sentence_exit_1(&o, "all seen on earlier pages");
    assert!(server.requests().len() < 10, "{:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_scim_pager_stops_at_the_ceiling() {
    let server = hostile::serve(Arc::new(|a: &Asked| {
        if a.path_and_query.contains("ServiceProviderConfig") {
            return hostile::json(404, json!({}));
        }
        // Always one page more to come.
        scim_page(a.nth * 100..a.nth * 100 + 100, a.nth * 100 + 200)
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let mut c = export(&format!("{}/scim/v2", server.base), &out);
    c.env("SCIMSHIFT_MAX_OBJECTS", "500");
    let o = run(c).await;
    one_sentence_exit_1(&o, "past 500 objects");
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_announced_past_the_ceiling_is_refused_on_its_first_page() {
    let server = hostile::serve(Arc::new(|a: &Asked| {
        if a.path_and_query.contains("ServiceProviderConfig") {
            return hostile::json(404, json!({}));
        }
        scim_page(a.nth * 100..a.nth * 100 + 100, 1_000_000_000)
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let o = run(export(&format!("{}/scim/v2", server.base), &out)).await;
    let line = one_sentence_exit_1(&o, "says the list holds 1000000000 objects");
    assert!(
        line.contains("(150000)") && line.contains("SCIMSHIFT_MAX_OBJECTS=1000000000"),
        "{line}"
    );
    let lists = server
        .requests()
        .iter()
        .filter(|r| r.contains("/Users"))
        .count();
    assert_eq!(lists, 1, "{:?}", server.requests());
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_nextlink_loop_is_stopped() {
    let server = hostile::serve(Arc::new(|a: &Asked| {
        let link = format!("{}/v1.0/servicePrincipals?page=again", a.base);
        hostile::json(
            200,
            json!({
                "value": [{"id": format!("sp-{}", a.nth), "displayName": "Coda", "appId": format!("app-{}", a.nth)}],
                "@odata.nextLink": link,
            }),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut c = snapshot(
        &format!("{}/v1.0", server.base),
        &server.base,
        &format!("{}/scim/v2", server.base),
        &dir.path().join("s.json"),
    );
    c.env("SCIMSHIFT_GRAPH_TOKEN", "graph-token-value");
    let o = run(c).await;
    one_sentence_exit_1(&o, "sent a nextLink it had sent before");
    assert!(server.requests().len() < 10, "{:?}", server.requests());
}
