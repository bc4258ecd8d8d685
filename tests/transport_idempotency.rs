//! The transport never sends a create twice. Against the twin with scripted
//! faults: an `instantiate` whose answer is held back until the client times
//! out (the app *was* created) is not re-sent, so one instantiate makes one
//! app; the caller looks at the live state instead, as it must after the
//! `instantiate404` fault too. The same timeout on a read is retried (so the
//! fault does reach the retry path), and a `$batch` of creates is not re-sent
//! either.

mod common;

use reqwest::Method;
use scimshift::graph::cloud::GLOBAL_NON_GALLERY_TEMPLATE_ID;
use scimshift::graph::{BatchRequest, GraphClient};
use scimshift::twin::faults::{Faults, Scripted, Strike};
use scimshift::twin::seed::SeedSpec;
use scimshift::twin::server::{RunningTwin, TwinOptions};
use serde_json::json;
use std::time::Duration;

/// Far longer than the client waits: the client surely times out first.
const HOLD: Duration = Duration::from_secs(20);
const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);

async fn twin(faults: Faults) -> RunningTwin {
    common::twin::with(TwinOptions {
        seed: SeedSpec::parse("synthetic:users=5,groups=1").unwrap(),
        faults: Some(faults),
        provision_at_start: false,
        ..TwinOptions::default()
    })
    .await
}

fn client(twin: &RunningTwin) -> GraphClient {
    common::twin::admin_graph(twin).with_timeout(CLIENT_TIMEOUT)
}

fn apps_named(twin: &RunningTwin, name: &str) -> usize {
    twin.twin
        .tenant()
        .applications
        .values()
        .filter(|a| a.display_name == name)
        .count()
}

fn instantiate_path() -> String {
    format!("/applicationTemplates/{GLOBAL_NON_GALLERY_TEMPLATE_ID}/instantiate")
}

#[tokio::test]
async fn a_timed_out_instantiate_is_not_sent_again_and_makes_one_app() {
    let faults = Faults {
        scripted: vec![Scripted::once(
            "POST",
            "/instantiate",
            Strike::Timeout(HOLD),
        )],
        ..Faults::default()
    };
    let twin = twin(faults).await;
    let g = client(&twin);
    let name = "Coda (SCIM) timed out";
    let err = g
        .request(
            Method::POST,
            &instantiate_path(),
            Some(&json!({ "displayName": name })),
        )
        .await
        .unwrap_err();
    assert!(
        err.message.contains("did not answer in time"),
        "{}",
        err.message
    );
    // The caller re-checks the live state: Graph did create the app, once.
    assert_eq!(apps_named(&twin, name), 1);
    // The twin counted the requests the fault rule matched: one, not two.
    assert_eq!(twin.scripted_matches(), [1], "the create was re-sent");
    twin.shutdown().await;
}

#[tokio::test]
async fn the_same_timeout_on_a_read_is_retried() {
    let faults = Faults {
        scripted: vec![Scripted::once(
            "GET",
            "/servicePrincipals",
            Strike::Timeout(HOLD),
        )],
        ..Faults::default()
    };
    let twin = twin(faults).await;
    let g = client(&twin);
    let sps = g.list("/servicePrincipals").await.unwrap();
    assert!(!sps.is_empty());
    // Struck once, sent again, answered.
    assert_eq!(twin.scripted_matches(), [2]);
    twin.shutdown().await;
}

#[tokio::test]
async fn instantiate_404_after_creating_leaves_one_app_for_the_lookup_to_find() {
    let faults = Faults {
        instantiate_404: 1.0,
        ..Faults::default()
    };
    let twin = twin(faults).await;
    let g = client(&twin);
    let name = "Coda (SCIM) 404";
    let reply = g
        .request(
            Method::POST,
            &instantiate_path(),
            Some(&json!({ "displayName": name })),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
    // Answered 404 although created: the lookup finds the one app.
    assert_eq!(apps_named(&twin, name), 1);
    twin.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_batch_of_creates_is_not_sent_again() {
    let faults = Faults {
        scripted: vec![Scripted::once("POST", "/$batch", Strike::Timeout(HOLD))],
        ..Faults::default()
    };
    let twin = twin(faults).await;
    let g = client(&twin);
    let user = |n: u32| {
        json!({
            "accountEnabled": true,
            "displayName": format!("Batch {n}"),
            "mailNickname": format!("batch{n}"),
            "userPrincipalName": format!("batch{n}@synthetic.example"),
            "passwordProfile": {"password": "Xy7!xy7!Xy7!", "forceChangePasswordNextSignIn": true},
        })
    };
    let reqs = (0..3)
        .map(|n| BatchRequest::post(n.to_string(), "/users", user(n)))
        .collect();
    assert!(g.batch(reqs).await.is_err());
    let created = twin
        .twin
        .tenant()
        .users
        .values()
        .filter(|u| {
            u.display_name
                .as_deref()
                .is_some_and(|n| n.starts_with("Batch "))
        })
        .count();
    assert_eq!(created, 3);
    assert_eq!(twin.scripted_matches(), [1], "the batch was re-sent");
    twin.shutdown().await;
}
