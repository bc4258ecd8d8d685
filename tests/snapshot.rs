//! `scimshift snapshot` and `snapshot diff` against a mock Graph (Coda-like
//! gallery app with direct, group, nested-group and Microsoft 365
//! assignments) and the independent scim2-server as the target: content,
//! determinism, no secret in the file, mode 0600, errors an admin sees, and
//! the binary's exit codes.

mod common;

use common::mock_graph;

use mock_graph::{
    CLIENT_ID, CLIENT_SECRET, CODA_SP, Fault, G_M365, G_NESTED, G_SALES, SECRET_TOKEN_VALUE,
    TENANT, user_id,
};
use scimshift::graph::{Credential, GraphClient};
use scimshift::net::RetryPolicy;
use scimshift::scim::{Resource, ScimClient};
use scimshift::secret::Secret;
use scimshift::snapshot::model::GroupKind;
use scimshift::snapshot::{Snapshot, capture, diff, summary};
use serde_json::{Value, json};
use std::time::Duration;

fn graph(base: &str) -> GraphClient {
    GraphClient::from_urls(
        &format!("{base}/v1.0"),
        base,
        Credential::ClientSecret {
            tenant: TENANT.into(),
            client_id: CLIENT_ID.into(),
            secret: Secret::new(CLIENT_SECRET),
        },
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    })
}

fn scim_user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true, "name": {"givenName": "U", "familyName": "N"}})
}

async fn seeded_target(server: &common::Scim2Server) -> ScimClient {
    let c = ScimClient::new(&server.base_url, Secret::new(server.token.clone())).unwrap();
    let mut ids = Vec::new();
    for i in [2, 3, 4] {
        let u = c
            .create(Resource::Users, &scim_user(&format!("user{i}@contoso.com")))
            .await
            .unwrap();
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales", "members": [{"value": ids[0]}]});
    c.create(Resource::Groups, &g).await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_the_gallery_app_and_the_target() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(20)).await;
    let server = common::start_scim2_server();
    let scim = seeded_target(&server).await;
    let g = graph(&base);
    let snap = capture::capture(&g, "Coda", Some(&scim)).await.unwrap();

    assert_eq!(snap.format, "scimshift.snapshot/v2");
    assert_eq!(snap.digest, snap.compute_digest());
    assert_eq!(snap.source.tenant_id.as_deref(), Some(TENANT));
    assert_eq!(snap.app.service_principal_id, CODA_SP);
    assert_eq!(snap.app.display_name, "Coda");
    assert!(snap.app.service_principal.get("@odata.type").is_none());
    let role_ids: Vec<&str> = snap
        .app
        .app_roles
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        role_ids.windows(2).all(|w| w[0] <= w[1]),
        "app roles sorted"
    );

    // Job, status and schema verbatim.
    assert_eq!(snap.app.jobs.len(), 1);
    let job = &snap.app.jobs[0];
    assert_eq!(job.template_id, "coda");
    assert_eq!(job.job["schedule"]["state"], "Active");
    assert_eq!(job.schema, mock_graph::coda_schema());
    assert_eq!(snap.app.templates.len(), 1);
    assert!(snap.app.templates[0].get("schema").is_none());

    // Settings kept, credentials only as present.
    let keys: Vec<&str> = snap.app.settings.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["BaseAddress", "SyncAll", "SyncNotificationSettings"]);
    assert_eq!(snap.app.credential_keys_present, ["SecretToken"]);

    // Assignments, groups (kinds, members, nested, transitive counts).
    assert_eq!(snap.app.assignments.len(), 5);
    assert!(snap.app.assignments.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(
        snap.groups
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>(),
        [G_SALES, G_M365]
    );
    let sales = &snap.groups[0];
    assert_eq!(sales.kind, GroupKind::Security);
    assert_eq!(sales.members.len(), 7);
    assert_eq!(
        sales
            .members
            .iter()
            .filter(|m| m.kind() == "group")
            .map(|m| m.id())
            .collect::<Vec<_>>(),
        [G_NESTED]
    );
    assert_eq!(sales.transitive_user_count, 10);
    assert!(sales.members.windows(2).all(|w| w[0].id() < w[1].id()));
    let m365 = &snap.groups[1];
    assert_eq!(
        (m365.kind, m365.members.len(), m365.transitive_user_count),
        (GroupKind::Microsoft365, 4, 4)
    );

    // Users in scope: 0..=13, with how they get there.
    assert_eq!(
        snap.users.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        (0..14).map(user_id).collect::<Vec<_>>()
    );
    let via = |i: usize| {
        snap.users
            .iter()
            .find(|u| u.id == user_id(i))
            .unwrap()
            .via
            .clone()
    };
    assert_eq!(via(0), ["direct"]);
    assert_eq!(via(2), ["direct".to_string(), format!("group:{G_SALES}")]);
    assert_eq!(
        via(6),
        [format!("group:{G_SALES}"), format!("group:{G_M365}")]
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(via(11), [format!("nested:{G_NESTED}")]);
    let u0 = &snap.users[0].attributes;
    assert_eq!(u0.str("userPrincipalName"), Some("user0@contoso.com"));
    assert_eq!(u0.str("department"), Some("Contractors"));
    assert!(u0.get("@odata.type").is_none());

    // Group and user reads went through $batch, never one GET each: the two
    // assigned groups' details in one `id in (…)` read, then their members,
    // then the nested group's transitive members.
    assert_eq!(mock.count("BATCH GET /groups?"), 1, "{:?}", mock.log());
    assert_eq!(mock.count("BATCH GET /groups/"), 3, "{:?}", mock.log());
    assert_eq!(mock.count("GET /v1.0/groups/"), 0);
    assert!(mock.count("BATCH GET /users/") >= 1);

    // Target, sorted by id.
    let t = snap.target.as_ref().unwrap();
    assert_eq!(t.base_url, server.base_url);
    assert_eq!(t.users.len(), 3);
    assert!(
        t.users
            .windows(2)
            .all(|w| w[0]["id"].as_str() < w[1]["id"].as_str())
    );
    assert_eq!(t.groups.len(), 1);
    assert_eq!(t.groups[0]["members"].as_array().unwrap().len(), 1);
    assert!(t.service_provider_config.get("patch").is_some());

    // The file: no secret, mode 0600, loads back.
    let dir = common::schemas::tempdir();
    let path = dir.path().join("coda.json");
    scimshift::output::write_private_file(&path, &snap.to_bytes()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        SECRET_TOKEN_VALUE,
        CLIENT_SECRET,
        server.token.as_str(),
        "header.",
    ] {
        assert!(
            !text.contains(secret),
            "the snapshot holds a secret: {secret}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(Snapshot::load(&path).unwrap(), snap);

    // Deterministic: the same tenant gives the same bytes (but for the time).
    let mut again = capture::capture(&g, CODA_SP, Some(&scim)).await.unwrap();
    again.taken_at = snap.taken_at.clone();
    again.seal();
    assert_eq!(again.to_bytes(), snap.to_bytes());
    let d = diff::diff(&snap, &again);
    assert!(d.identical);
    assert_eq!(d.render_text(50), "No differences.\n");

    // Text summary.
    let s = summary::Summary::of(&snap, Some(&path)).render_text();
    assert!(s.contains("matching: userName <- [mail]"), "{s}");
    assert!(
        s.contains("scoping filter: department NOT EQUALS \"Contractors\""),
        "{s}"
    );
    assert!(s.contains("users in scope: 14 (3 assigned directly, 8 through groups, 4 only through nested groups)"), "{s}");
    assert!(
        s.contains("groups: 2 (1 security, 1 Microsoft 365, 0 other; 1 with nested groups)"),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_what_changed() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(20)).await;
    let server = common::start_scim2_server();
    let scim = seeded_target(&server).await;
    let g = graph(&base);
    let a = capture::capture(&g, "Coda", Some(&scim)).await.unwrap();
    {
        let mut d = mock.data.lock().unwrap();
        d.groups.get_mut(G_SALES).unwrap()["members"]
            .as_array_mut()
            .unwrap()
            .push(json!(user_id(15)));
        d.users.get_mut(&user_id(3)).unwrap()["department"] = json!("Marketing");
        d.assignments.retain(|x| x["id"] != "asg-002");
        let job = &mut d.jobs.get_mut(CODA_SP).unwrap()[0];
        job["schedule"]["state"] = json!("Paused");
        let om = &mut job["schema"]["synchronizationRules"][0]["objectMappings"][0];
        om["attributeMappings"][0]["source"] = json!({"type": "Attribute", "name": "userPrincipalName", "expression": "[userPrincipalName]", "parameters": []});
        om["scope"] = json!({"groups": []});
        om["attributeMappings"].as_array_mut().unwrap().push(json!({"targetAttributeName": "externalId", "matchingPriority": 2, "flowType": "Always", "source": {"type": "Attribute", "name": "objectId", "expression": "[objectId]", "parameters": []}}));
        d.secrets
            .get_mut(CODA_SP)
            .unwrap()
            .push(json!({"key": "SkipOutOfScopeDeletions", "value": "true"}));
    }
    scim.create(Resource::Users, &scim_user("late@contoso.com"))
        .await
        .unwrap();
    let b = capture::capture(&g, "Coda", Some(&scim)).await.unwrap();
    let d = diff::diff(&a, &b);
    assert!(!d.identical);
    let find = |v: &Vec<diff::Change>, id: &str| {
        v.iter()
            .find(|c| c.id.contains(id))
            .cloned()
            .unwrap_or_else(|| panic!("no change for {id} in {v:#?}"))
    };
    assert_eq!(find(&d.users, &user_id(15)).kind, diff::ChangeKind::Added);
    assert_eq!(find(&d.users, &user_id(1)).kind, diff::ChangeKind::Removed);
    let u3 = find(&d.users, &user_id(3));
    assert!(
        u3.details
            .iter()
            .any(|x| x == "department: \"Sales\" -> \"Marketing\""),
        "{u3:?}"
    );
    let sales = find(&d.groups, G_SALES);
    assert!(
        sales
            .details
            .iter()
            .any(|x| x.starts_with("+ member user User 15")),
        "{sales:?}"
    );
    assert!(
        sales
            .details
            .iter()
            .any(|x| x == "transitive users: 10 -> 11"),
        "{sales:?}"
    );
    assert_eq!(
        find(&d.assignments, "asg-002").kind,
        diff::ChangeKind::Removed
    );
    assert_eq!(d.schema.len(), 1);
    let sch = &d.schema[0].details;
    assert!(
        sch.iter()
            .any(|x| x == "~ mapping userName: source [mail] -> [userPrincipalName]"),
        "{sch:?}"
    );
    assert!(
        sch.iter()
            .any(|x| x.starts_with("+ mapping externalId <- [objectId] [matching, priority 2]")),
        "{sch:?}"
    );
    assert!(
        sch.iter().any(
            |x| x.starts_with("scoping changed: department NOT EQUALS \"Contractors\" -> none")
        ),
        "{sch:?}"
    );
    assert!(
        find(&d.jobs, mock_graph::CODA_JOB)
            .details
            .iter()
            .any(|x| x == "schedule: \"Active\" -> \"Paused\"")
    );
    assert_eq!(
        find(&d.settings, "SkipOutOfScopeDeletions").kind,
        diff::ChangeKind::Added
    );
    assert_eq!(d.target_users.len(), 1);
    assert_eq!(d.target_users[0].subject, "late@contoso.com");
    let text = d.render_text(50);
    assert!(
        text.contains("Users: 1 added, 1 removed, 1 changed"),
        "{text}"
    );
    assert!(diff::diff(&b, &b).identical);
}

#[tokio::test]
async fn bad_input_gets_one_sentence() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(20)).await;
    let g = graph(&base);
    let e = capture::capture(&g, "Nope", None).await.unwrap_err();
    assert!(
        e.message
            .contains("no enterprise app (service principal) is named \"Nope\""),
        "{}",
        e.message
    );
    let e = capture::capture(&g, "Cod", None).await.unwrap_err();
    assert!(
        e.message
            .contains("did you mean \"Coda\" (id c0da0000-0000-0000-0000-000000000001"),
        "{}",
        e.message
    );
    let e = capture::capture(&g, "Dup", None).await.unwrap_err();
    assert!(
        e.message.contains("2 enterprise apps are named \"Dup\"")
            && e.message.contains("d0000000-0000-0000-0000-000000000000")
            && e.message.contains("d0000000-0000-0000-0000-000000000001")
            && e.message.contains("pass the object id"),
        "{}",
        e.message
    );
    let e = capture::capture(&g, "00000000-0000-0000-0000-000000000999", None)
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("no enterprise app (service principal) has the object id or appId"),
        "{}",
        e.message
    );
    let by_app_id = capture::capture(&g, mock_graph::CODA_APP_ID, None)
        .await
        .unwrap();
    assert_eq!(by_app_id.app.service_principal_id, CODA_SP);

    mock.add_fault(Fault::new("/synchronization/jobs", 403, 1));
    let e = capture::capture(&g, "Coda", None).await.unwrap_err();
    assert!(
        e.message.contains("grant Synchronization.Read.All"),
        "{}",
        e.message
    );

    let refusing = common::net::refusing_port();
    let closed = ScimClient::new(&refusing.url("/v2"), Secret::new("t"))
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(10),
            ..Default::default()
        });
    let e = capture::capture(&g, "Coda", Some(&closed))
        .await
        .unwrap_err();
    assert!(e.message.contains("could not connect"), "{}", e.message);
    let not_scim = ScimClient::new(&base, Secret::new("t")).unwrap();
    let e = capture::capture(&g, "Coda", Some(&not_scim))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("does not look like a SCIM"),
        "{}",
        e.message
    );
}

fn cmd(base: &str) -> assert_cmd::Command {
    let mut c = common::cli::bin();
    c.env("NO_COLOR", "1")
        .env("SCIMSHIFT_GRAPH_URL", format!("{base}/v1.0"))
        .env("SCIMSHIFT_AUTHORITY_URL", base);
    c
}

async fn run(c: assert_cmd::Command) -> std::process::Output {
    let mut c = c;
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_snapshots_and_diffs_them_with_exit_codes() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(20)).await;
    let server = common::start_scim2_server();
    let _ = seeded_target(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let creds = |mut c: assert_cmd::Command| {
        c.env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
            .env("SCIM_TOKEN", &server.token);
        c
    };
    let mut c = creds(cmd(&base));
    c.args([
        "snapshot",
        "--app",
        "Coda",
        "--scim-url",
        &server.base_url,
        "--out",
    ])
    .arg(&a);
    let out = run(c).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Snapshot of \"Coda\"") && stdout.contains("target http://127.0.0.1"),
        "{stdout}"
    );
    assert!(
        !std::fs::read_to_string(&a)
            .unwrap()
            .contains(SECRET_TOKEN_VALUE)
    );

    let mut c = cmd(&base);
    c.args(["snapshot", "diff"]).arg(&a).arg(&a);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "No differences.\n");

    mock.data
        .lock()
        .unwrap()
        .users
        .get_mut(&user_id(0))
        .unwrap()["jobTitle"] = json!("CFO");
    let mut c = creds(cmd(&base));
    c.args([
        "--output",
        "json",
        "snapshot",
        "--app",
        mock_graph::CODA_SP,
        "--out",
    ])
    .arg(&b);
    let out = run(c).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["users"]["inScope"], 14);
    assert_eq!(summary["jobs"][0]["matching"][0], "userName <- [mail]");

    let mut c = cmd(&base);
    c.args(["--output", "json", "snapshot", "diff"])
        .arg(&a)
        .arg(&b);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(2));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["identical"], false);
    assert!(
        d["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["details"][0] == "jobTitle: (none) -> \"CFO\""),
        "{d}"
    );
    assert_eq!(d["targetUsers"].as_array().unwrap().len(), 0);

    // What the binary wrote (before the test edits one).
    let written = common::schemas::check_written(dir.path());
    assert_eq!(written.snapshots, [a.clone(), b.clone()]);

    // An edited snapshot is refused.
    let edited = std::fs::read_to_string(&a)
        .unwrap()
        .replace("user0@contoso.com", "evil@contoso.com");
    std::fs::write(&b, edited).unwrap();
    let mut c = cmd(&base);
    c.args(["snapshot", "diff"]).arg(&a).arg(&b);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has been edited"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_explains_credential_problems() {
    let (_mock, base) = mock_graph::start(mock_graph::coda_seed(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("s.json");

    let mut c = cmd(&base);
    c.args(["snapshot", "--app", "Coda", "--out"])
        .arg(&out_file);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or use --device-code"
        ),
        "{err}"
    );

    let mut c = cmd(&base);
    c.env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", "expired-secret-999");
    c.args(["snapshot", "--app", "Coda", "--out"])
        .arg(&out_file);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the client secret is wrong or expired")
            && !err.contains("expired-secret-999"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    assert!(!out_file.exists());

    let mut c = cmd(&base);
    c.env("SCIMSHIFT_GRAPH_URL", "http://graph.example.com/v1.0")
        .env("SCIMSHIFT_GRAPH_TOKEN", "t");
    c.args(["snapshot", "--app", "Coda", "--out"])
        .arg(&out_file);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https is required"));
}
