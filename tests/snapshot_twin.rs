//! End to end: `snapshot` against the twin (demo seed) over real HTTP — the
//! library call, the binary, device-code sign-in, a reader without
//! Synchronization.Read.All — checked against the twin's own tenant model.
//!
//! The first test reads the twin's own SCIM target (the embedded store the
//! demo's initial cycle provisioned into); the binary test uses the
//! independent scim2-server as the target.

mod common;

use scimshift::graph::{Credential, GraphClient};
use scimshift::scim::ScimClient;
use scimshift::secret::Secret;
use scimshift::snapshot::model::GroupKind;
use scimshift::snapshot::{capture, diff, summary};
use scimshift::twin::seed::SeedSpec;
use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use std::collections::BTreeSet;

async fn demo_twin(pending_polls: u32) -> RunningTwin {
    start(TwinOptions {
        seed: SeedSpec::Demo,
        device_code_pending_polls: pending_polls,
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_of_the_demo_tenant_matches_the_twin() {
    let t = demo_twin(1).await;
    let g = common::twin::admin_graph(&t);
    let scim = ScimClient::new(&t.scim_url, t.scim_token.clone()).unwrap();
    let snap = capture::capture(&g, "Coda", Some(&scim)).await.unwrap();

    let tenant = t.twin.tenant().clone();
    let sp = tenant
        .service_principals
        .values()
        .find(|s| s.display_name == "Coda")
        .unwrap();
    assert_eq!(snap.app.service_principal_id, sp.id);
    assert_eq!(snap.source.tenant_id.as_deref(), Some(t.tenant_id.as_str()));

    // The job and its schema, verbatim.
    let sync = &tenant.synchronization[&sp.id];
    let job = sync.jobs.values().next().unwrap();
    assert_eq!(snap.app.jobs.len(), 1);
    assert_eq!(snap.app.jobs[0].id, job.id);
    assert_eq!(snap.app.jobs[0].schema, job.schema);
    let summary = summary::Summary::of(&snap, None);
    assert_eq!(summary.jobs[0].matching, ["userName <- [mail]"]);
    assert_eq!(
        summary.jobs[0].scoping,
        "department NOT EQUALS \"Contractors\""
    );
    assert!(!summary.jobs[0].pushes_groups);

    // Settings without credentials.
    assert!(
        snap.app
            .settings
            .iter()
            .any(|kv| kv.key == "SyncAll" && kv.value == "false")
    );
    assert!(
        snap.app
            .credential_keys_present
            .contains(&"SecretToken".to_string())
    );
    assert!(snap.app.settings.iter().all(|kv| kv.key != "SecretToken"));

    // Assignments and groups as the twin holds them.
    let assigned: BTreeSet<&str> = tenant
        .assignments
        .values()
        .filter(|a| a.resource_id == sp.id)
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(
        snap.app
            .assignments
            .iter()
            .map(|a| a.id.as_str())
            .collect::<BTreeSet<_>>(),
        assigned
    );
    let groups: Vec<&str> = tenant
        .assigned_groups(&sp.id)
        .iter()
        .map(|g| g.id.as_str())
        .collect();
    assert_eq!(
        snap.groups
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>(),
        groups
    );
    let launch = snap
        .groups
        .iter()
        .find(|g| g.display_name == "Product Launch 2026")
        .unwrap();
    assert_eq!(launch.kind, GroupKind::Microsoft365);
    let eng = snap
        .groups
        .iter()
        .find(|g| g.display_name == "Coda Engineering")
        .unwrap();
    let guild = eng
        .members
        .iter()
        .find(|m| m.kind() == "group")
        .expect("nested Platform Guild");
    assert_eq!(guild.display_name(), Some("Platform Guild"));
    assert_eq!(eng.transitive_user_count, 68);

    // Users: those the twin's engine would consider (before scoping) are exactly
    // the ones reached directly or through a direct group membership; the 8
    // Platform Guild members are flagged nested.
    let expected: BTreeSet<String> = tenant
        .users_in_assignment_scope(&sp.id)
        .iter()
        .map(|u| u.id.clone())
        .collect();
    let reachable: BTreeSet<String> = snap
        .users
        .iter()
        .filter(|u| u.via.iter().any(|v| !v.starts_with("nested:")))
        .map(|u| u.id.clone())
        .collect();
    assert_eq!(reachable, expected);
    let nested_only: Vec<_> = snap
        .users
        .iter()
        .filter(|u| u.via.iter().all(|v| v.starts_with("nested:")))
        .collect();
    assert_eq!(nested_only.len(), 8);
    assert!(
        nested_only
            .iter()
            .all(|u| u.via == [format!("nested:{}", guild.id())])
    );
    assert!(snap.users.iter().any(
        |u| u.attributes.str("userPrincipalName") == Some("siobhan.o'brien@northwind.example")
    ));

    // Target: what the gallery's initial cycle provisioned, plus the seed's
    // hand-made users and its `Coda Finance` group.
    let target = snap.target.as_ref().unwrap();
    for hand_made in [
        "coda.admin@northwind.example",
        "auditor@kpmg-partner.example",
        "former.intern@northwind.example",
    ] {
        assert!(
            target.users.iter().any(|u| u["userName"] == hand_made),
            "{hand_made}"
        );
    }
    assert!(
        target
            .groups
            .iter()
            .any(|g| g["displayName"] == "Coda Finance")
    );
    assert_eq!(
        target.users.len(),
        155 + 3,
        "155 in scope provisioned + 3 hand-made"
    );
    assert!(
        target
            .users
            .windows(2)
            .all(|w| w[0]["id"].as_str() < w[1]["id"].as_str())
    );

    // No secret in the file.
    let text = String::from_utf8(snap.to_bytes()).unwrap();
    assert!(!text.contains(t.scim_token.expose()));
    assert!(!text.contains(t.client_secret.expose()));

    // Same tenant, same content.
    let mut again = capture::capture(&g, &sp.app_id, Some(&scim)).await.unwrap();
    again.taken_at = snap.taken_at.clone();
    again.seal();
    assert!(
        diff::diff(&snap, &again).identical,
        "{:#?}",
        diff::diff(&snap, &again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_without_sync_permission_and_device_code() {
    let t = demo_twin(1).await;
    let reader = t
        .clients
        .iter()
        .find(|c| c.display_name == "scimshift-reader")
        .unwrap();
    let g = GraphClient::from_urls(
        &t.graph_url,
        &t.authority_url,
        Credential::ClientSecret {
            tenant: t.tenant_id.clone(),
            client_id: reader.client_id.clone(),
            secret: Secret::new(reader.client_secret.clone()),
        },
    )
    .unwrap();
    let e = capture::capture(&g, "Coda", None).await.unwrap_err();
    assert!(
        e.message.contains("grant Synchronization.Read.All"),
        "{}",
        e.message
    );

    let wrong = GraphClient::from_urls(
        &t.graph_url,
        &t.authority_url,
        Credential::ClientSecret {
            tenant: t.tenant_id.clone(),
            client_id: t.client_id.clone(),
            secret: Secret::new("not-the-secret"),
        },
    )
    .unwrap();
    let e = capture::capture(&wrong, "Coda", None).await.unwrap_err();
    assert!(
        e.message.contains("the client secret is wrong or expired"),
        "{}",
        e.message
    );

    let endpoints = scimshift::graph::Endpoints::resolve(
        scimshift::graph::Cloud::Global,
        Some(&t.graph_url),
        Some(&t.authority_url),
    )
    .unwrap();
    let provider = scimshift::graph::TokenProvider::new(
        Credential::DeviceCode {
            tenant: t.tenant_id.clone(),
            client_id: t.client_id.clone(),
        },
        endpoints.clone(),
        reqwest::Client::new(),
    )
    .with_prompt(std::sync::Arc::new(|_: &str| {}));
    let dc = GraphClient::with_provider(endpoints, provider).unwrap();
    let snap = capture::capture(&dc, "Coda", None).await.unwrap();
    assert_eq!(snap.app.display_name, "Coda");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_snapshots_the_twin() {
    let t = demo_twin(1).await;
    let server = common::start_scim2_server();
    let dir = common::schemas::tempdir();
    let out = dir.path().join("demo.json");
    let mut c = common::cli::bin();
    c.env_remove("SCIMSHIFT_GRAPH_TOKEN")
        .env("AZURE_TENANT_ID", &t.tenant_id)
        .env("AZURE_CLIENT_ID", &t.client_id)
        .env("AZURE_CLIENT_SECRET", t.client_secret.expose())
        .env("SCIM_TOKEN", &server.token)
        .args([
            "snapshot",
            "--app",
            "Coda",
            "--graph-url",
            &t.graph_url,
            "--authority-url",
            &t.authority_url,
            "--scim-url",
            &server.base_url,
            "--out",
        ])
        .arg(&out);
    let output = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("matching: userName <- [mail]"), "{stdout}");
    assert!(stdout.contains("only through nested groups"), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let loaded = scimshift::snapshot::Snapshot::load(&out).unwrap();
    assert_eq!(loaded.app.display_name, "Coda");
}

/// `capture_with` reports each phase to the observer (what the command draws
/// as spinners and bars) and ends every phase it starts; it draws nothing itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_reports_its_phases_to_an_observer() {
    let t = demo_twin(1).await;
    let g = common::twin::admin_graph(&t);
    let scim = ScimClient::new(&t.scim_url, t.scim_token.clone()).unwrap();
    let rec = scimshift::progress::Recorder::default();
    let snap = capture::capture_with(&g, "Coda", Some(&scim), &rec)
        .await
        .unwrap();
    let lines = rec.lines.lock().unwrap().clone();
    let started: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("started "))
        .collect();
    let finished = lines.iter().filter(|l| l.starts_with("finished ")).count();
    assert_eq!(finished, started.len(), "{lines:#?}");
    for phase in [
        "reading provisioning jobs ?",
        "reading assignments ?",
        "reading target Users ?",
        "reading target Groups ?",
    ] {
        assert!(started.contains(&phase), "{phase}: {lines:#?}");
    }
    let groups = snap
        .app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .map(|a| a.principal_id.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    assert!(
        lines.contains(&format!("finished reading assigned groups {groups}")),
        "{lines:#?}"
    );
}

/// A tenant whose read quota is far below what one snapshot reads (20
/// resource units per 10 s for ~26 reads), and a client allowed no retry at
/// all by its policy: the snapshot still completes, because a throttled read
/// is retried for as long as the run makes progress, and reads are paced at
/// the quota learnt from the first 429 (few 429s, no storm of them). The
/// progress lines carry the ETA the quota implies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_completes_under_a_tiny_read_quota() {
    let t = start(TwinOptions {
        seed: SeedSpec::Synthetic {
            users: 600,
            groups: 20,
        },
        // 8,000 RU per 10 s for a tenant over 500 users: 20 RU per 10 s.
        quota_scale: 0.0025,
        ..Default::default()
    })
    .await
    .unwrap();
    let (limit, window) = t
        .quota(scimshift::twin::throttle::Quota::ResourceUnits)
        .unwrap();
    assert_eq!((limit, window.as_secs()), (20, 10));
    // Graph's default pacer learns no quota below Graph's smallest (3,500
    // RU); the twin's scaled one is far below it.
    let g = common::twin::admin_graph(&t)
        .with_retry(scimshift::net::RetryPolicy {
            max_attempts: 1,
            base_delay: std::time::Duration::from_millis(10),
            max_delay: std::time::Duration::from_secs(20),
        })
        .with_read_pacer(scimshift::graph::ReadPacer::new(
            scimshift::graph::pacer::RU_LIMIT,
            scimshift::graph::pacer::RU_WINDOW,
        ));
    let rec = scimshift::progress::Recorder::default();
    let started = std::time::Instant::now();
    let snap = capture::capture_with(&g, "Coda", None, &rec).await.unwrap();
    let wall = started.elapsed();
    assert_eq!((snap.users.len(), snap.groups.len()), (600, 20));
    let usage = t.usage();
    let admitted = usage.admitted[&scimshift::twin::throttle::Quota::ResourceUnits];
    let refused = usage
        .refused
        .get(&scimshift::twin::throttle::Quota::ResourceUnits)
        .copied()
        .unwrap_or(0);
    assert!(
        admitted > limit as u64,
        "the reads need more than one window: {usage:?}"
    );
    assert!(refused >= 1, "the quota was reached: {usage:?}");
    // One burst of 429s while the quota is learnt (every read in flight), not
    // one per retry of every read.
    assert!(
        refused <= admitted,
        "{refused} reads answered 429 for {admitted} admitted: {usage:?}"
    );
    let stats = g.read_pacer().stats();
    assert_eq!(stats.limit, Some(limit as f64), "{stats:?}");
    assert!(wall >= window, "{wall:?}");
    let lines = rec.lines.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("eta reading assigned groups ") && !l.ends_with(" 0s")),
        "{lines:#?}"
    );
}
