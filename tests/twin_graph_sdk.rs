//! The twin's Graph side judged by Microsoft's own models: a probe
//! (tests/python/graph_sdk_probe.py) walks the twin's routes through
//! msgraph-sdk's typed request builders (installed pinned by
//! scripts/install-checkers.sh) and reports every property the SDK's Kiota
//! models would misplace (unknown to Graph's model) or lose, and every route
//! the SDK models that the twin refuses. The probe's known SDK limitations are
//! its own `sdk_limitation`, each with the reason.

mod common;

use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The routes the probe walks; a route missing from its answer was not reached.
const ROUTES: &[&str] = &[
    "GET /applications",
    "GET /applications/{id}",
    "GET /auditLogs/provisioning",
    "GET /groups",
    "GET /groups/$count",
    "GET /groups/{id}",
    "GET /groups/{id}/members",
    "GET /groups/{id}/members/$count",
    "GET /groups/{id}/members/microsoft.graph.group",
    "GET /groups/{id}/members/microsoft.graph.user",
    "GET /groups/{id}/transitiveMembers",
    "GET /groups/{id}/transitiveMembers/$count",
    "GET /groups/{id}/transitiveMembers/microsoft.graph.group",
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user",
    "GET /servicePrincipals",
    "GET /servicePrincipals/{id}",
    "GET /servicePrincipals/{id}/appRoleAssignedTo",
    "GET /users",
    "GET /users/$count",
    "GET /users/{id}",
    "GET …/jobs/{id}",
    "GET …/jobs/{id}/schema",
    "GET …/synchronization/jobs",
    "GET …/synchronization/templates",
    "POST …/jobs/{id}/pause",
    "POST …/jobs/{id}/restart",
    "POST …/jobs/{id}/start",
];

/// An access token of the twin's admin client.
async fn admin_token(twin: &RunningTwin) -> String {
    let graph = common::twin::admin_graph(twin);
    graph
        .auth()
        .token()
        .await
        .expect("a token")
        .expose()
        .to_string()
}

fn python() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/msgraph/bin/python");
    assert!(
        bin.exists(),
        "msgraph-sdk is not installed at {}: run scripts/install-checkers.sh (scripts/test.sh does)",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgraph_sdk_models_every_twin_answer_without_loss() {
    let twin = start(TwinOptions {
        quota_scale: 0.0,
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    let token = admin_token(&twin).await;
    let (py, url) = (python(), twin.graph_url.clone());
    let probe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/graph_sdk_probe.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(probe)
            .env("GRAPH_URL", url)
            .env("GRAPH_TOKEN", token)
            .output()
            .expect("run the probe")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the probe's JSON");
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems.is_empty(),
        "msgraph-sdk finds {} problem(s) with the twin's answers:\n{}",
        problems.len(),
        serde_json::to_string_pretty(problems).unwrap()
    );
    let routes: Vec<&str> = report["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(routes, ROUTES);
}

/// Graph serves `$count` on directory collections only as an advanced query
/// (`ConsistencyLevel: eventual`), as plain text; a type-cast segment keeps
/// only the members of that type, under either namespace spelling.
#[tokio::test]
async fn count_needs_eventual_consistency_and_casts_keep_one_type() {
    let twin = start(TwinOptions {
        quota_scale: 0.0,
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let token = admin_token(&twin).await;
    let get = |path: String, eventual: bool| {
        let mut rb = http
            .get(format!("{}{path}", twin.graph_url))
            .bearer_auth(&token);
        if eventual {
            rb = rb.header("ConsistencyLevel", "eventual");
        }
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = get("/users/$count".into(), false).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Request_BadRequest"), "{body}");
    let users = twin.twin.tenant().users.len();
    assert_eq!(
        get("/users/$count".into(), true).await,
        (200, users.to_string())
    );

    // The demo's nested group: a group whose members include a group.
    let (gid, direct_users, direct_groups) = {
        let t = twin.twin.tenant();
        let g = t
            .groups
            .values()
            .find(|g| g.members.iter().any(|m| t.groups.contains_key(m)))
            .expect("the demo has a nested group");
        let groups = g
            .members
            .iter()
            .filter(|m| t.groups.contains_key(*m))
            .count();
        let users = g
            .members
            .iter()
            .filter(|m| t.users.contains_key(*m))
            .count();
        (g.id.clone(), users, groups)
    };
    for (cast, want, ty) in [
        (
            "microsoft.graph.user",
            direct_users,
            "#microsoft.graph.user",
        ),
        ("graph.user", direct_users, "#microsoft.graph.user"),
        (
            "microsoft.graph.group",
            direct_groups,
            "#microsoft.graph.group",
        ),
    ] {
        let (status, body) = get(format!("/groups/{gid}/members/{cast}?$top=999"), false).await;
        assert_eq!(status, 200, "{cast}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let items = page["value"].as_array().unwrap();
        assert_eq!(items.len(), want, "{cast}");
        assert!(
            items.iter().all(|m| m["@odata.type"] == ty),
            "{cast}: {body}"
        );
    }
    assert_eq!(
        get(format!("/groups/{gid}/members/$count"), true).await,
        (200, (direct_users + direct_groups).to_string())
    );
}
