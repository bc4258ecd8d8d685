//! The Graph client against a mock Graph + token endpoint: paging, throttling
//! inside and outside `$batch`, 424/400 batch answers, replication polling,
//! error sentences, token caching and refresh, device code, az CLI, and the
//! transport policy.

mod common;

use common::mock_graph;

use mock_graph::{CLIENT_ID, CLIENT_SECRET, Fault, Scope, TENANT};
use scimshift::graph::{
    AuthSettings, BatchRequest, Credential, Endpoints, GraphClient, ReadPacer, ReplicationPolicy,
    TokenProvider, WritePacer, cloud::Cloud,
};
use scimshift::net::RetryPolicy;
use scimshift::secret::Secret;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn secret_cred() -> Credential {
    Credential::ClientSecret {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        secret: Secret::new(CLIENT_SECRET),
    }
}

fn client(base: &str, cred: Credential) -> GraphClient {
    GraphClient::from_urls(&format!("{base}/v1.0"), base, cred)
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(5),
        })
}

#[tokio::test]
async fn follows_next_link_verbatim_and_keeps_select() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(250)).await;
    let c = client(&base, secret_cred());
    let users = c.list("/users?$select=id,mail&$top=100").await.unwrap();
    assert_eq!(users.len(), 250);
    let ids: std::collections::BTreeSet<_> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 250, "no duplicates across pages");
    let gets: Vec<String> = mock
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET /v1.0/users"))
        .collect();
    assert_eq!(gets.len(), 3, "{gets:?}");
    assert!(
        gets[1].contains("$skiptoken=100") && gets[1].contains("$select=id%2Cmail"),
        "{gets:?}"
    );
    // One token for all three pages.
    assert_eq!(c.auth().fetch_count(), 1);
}

#[tokio::test]
async fn retries_429_with_retry_after_outside_batch() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    mock.add_fault(
        Fault::new("/users/10000000-0000-0000-0000-000000000001", 429, 1).retry_after("1"),
    );
    let c = client(&base, secret_cred());
    let t = Instant::now();
    let u = c
        .get(&format!("/users/{}", mock_graph::user_id(1)))
        .await
        .unwrap();
    assert_eq!(u["userPrincipalName"], "user1@contoso.com");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "Retry-After honoured: {:?}",
        t.elapsed()
    );
    assert_eq!(
        mock.count("GET /v1.0/users/10000000-0000-0000-0000-000000000001"),
        2
    );

    // A throttled read is retried past `max_attempts` while the run makes
    // progress: 6 429s in a row (the policy allows 4 attempts), then the answer.
    mock.add_fault(
        Fault::new("/users/10000000-0000-0000-0000-000000000003", 429, 6).retry_after("0"),
    );
    let u = c
        .get(&format!("/users/{}", mock_graph::user_id(3)))
        .await
        .unwrap();
    assert_eq!(u["userPrincipalName"], "user3@contoso.com");
    assert_eq!(
        mock.count("GET /v1.0/users/10000000-0000-0000-0000-000000000003"),
        7
    );

    // Throttled with no read answered for longer than the pacer's stall
    // deadline: one sentence, no panic.
    let c = c.with_read_pacer(ReadPacer::graph_default().with_stall(Duration::from_millis(300)));
    mock.add_fault(
        Fault::new("/users/10000000-0000-0000-0000-000000000002", 429, 1000).retry_after("0.05"),
    );
    let t = Instant::now();
    let e = c
        .get(&format!("/users/{}", mock_graph::user_id(2)))
        .await
        .unwrap_err();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert!(
        mock.count("GET /v1.0/users/10000000-0000-0000-0000-000000000002") < 100,
        "paced by Retry-After, not a hot loop"
    );
    assert!(
        e.message.contains("429") && e.message.contains("throttling"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn batch_splits_by_20_and_retries_inner_429_with_its_own_retry_after() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(45)).await;
    mock.add_fault(
        Fault::new("/users/10000000-0000-0000-0000-000000000007", 429, 1)
            .retry_after("1")
            .scope(Scope::Inner),
    );
    let c = client(&base, secret_cred());
    let reqs: Vec<BatchRequest> = (0..45)
        .map(|i| {
            BatchRequest::get(
                format!("r{i}"),
                format!("/users/{}?$select=id", mock_graph::user_id(i)),
            )
        })
        .collect();
    let t = Instant::now();
    let answers = c.batch(reqs.clone()).await.unwrap();
    assert_eq!(answers.len(), 45);
    for (i, (a, r)) in answers.iter().zip(&reqs).enumerate() {
        assert_eq!(a.id, r.id, "answers come back in request order");
        assert_eq!(a.status, 200, "request {i}");
        assert_eq!(a.body["id"], mock_graph::user_id(i).as_str());
    }
    assert_eq!(
        mock.count("POST /v1.0/$batch"),
        4,
        "3 batches (20+20+5) and one retry"
    );
    assert_eq!(
        mock.count("BATCH GET /users/10000000-0000-0000-0000-000000000007"),
        2
    );
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn an_inner_retry_after_past_the_cap_fails_at_once_with_the_wait_in_words() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    mock.add_fault(
        Fault::new("/users/10000000-0000-0000-0000-000000000001", 429, 1)
            .retry_after("100000")
            .scope(Scope::Inner),
    );
    let c = client(&base, secret_cred());
    let reqs: Vec<BatchRequest> = (0..3)
        .map(|i| {
            BatchRequest::get(
                format!("r{i}"),
                format!("/users/{}", mock_graph::user_id(i)),
            )
        })
        .collect();
    // Waiting would take 1 day (or the 120 s cap): a 30 s deadline tells.
    let e = tokio::time::timeout(Duration::from_secs(30), c.batch(reqs))
        .await
        .expect("no wait for the Retry-After")
        .unwrap_err();
    assert!(
        e.message
            .contains("asking to wait 1 day 3 h (Retry-After: 100000 s)"),
        "{}",
        e.message
    );
    assert_eq!(mock.count("POST /v1.0/$batch"), 1);
}

#[tokio::test]
async fn batch_reports_424_and_inner_400_one_by_one() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    let c = client(&base, secret_cred());
    let reqs = vec![
        BatchRequest::post("1", "/users", json!({"displayName": "no upn"})),
        BatchRequest::post(
            "2",
            format!("/groups/{}/members/$ref", mock_graph::G_SALES),
            c.member_ref("x"),
        )
        .depends_on(&["1"]),
        BatchRequest::get("3", format!("/users/{}", mock_graph::user_id(0))),
        BatchRequest::get("4", "/users/does-not-exist"),
    ];
    let answers = c.batch(reqs.clone()).await.unwrap();
    assert_eq!(
        answers.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![400, 424, 200, 404]
    );
    let e1 = answers[0].clone().into_result(&reqs[0]).unwrap_err();
    assert!(
        e1.message.contains("userPrincipalName") && e1.message.contains("POST /users"),
        "{}",
        e1.message
    );
    let e2 = answers[1].clone().into_result(&reqs[1]).unwrap_err();
    assert!(
        e2.message.contains("424") && e2.message.contains("depends on (1)"),
        "{}",
        e2.message
    );
    assert!(answers[2].clone().into_result(&reqs[2]).is_ok());
    let e4 = answers[3].clone().into_result(&reqs[3]).unwrap_err();
    assert!(
        e4.message.contains("Request_ResourceNotFound") && e4.message.contains("req-0001"),
        "{}",
        e4.message
    );
    // Duplicate ids are refused before anything is sent.
    let before = mock.count("$batch");
    let dup = vec![
        BatchRequest::get("a", "/users"),
        BatchRequest::get("a", "/users"),
    ];
    assert!(
        c.batch(dup)
            .await
            .unwrap_err()
            .message
            .contains("used twice")
    );
    assert_eq!(mock.count("$batch"), before);
}

#[tokio::test]
async fn batch_writes_are_paced_and_typed_writes_work() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    let c = client(&base, secret_cred()).with_pacer(WritePacer::new(5, Duration::from_millis(400)));
    let reqs: Vec<BatchRequest> = (0..8)
        .map(|i| {
            BatchRequest::post(
                format!("{i}"),
                "/users",
                json!({"userPrincipalName": format!("n{i}@contoso.com")}),
            )
        })
        .collect();
    let t = Instant::now();
    let answers = c.batch(reqs).await.unwrap();
    assert!(answers.iter().all(|a| a.status == 201));
    assert!(
        t.elapsed() >= Duration::from_millis(390),
        "8 writes with 5 per 400 ms must wait: {:?}",
        t.elapsed()
    );
    assert!(c.pacer().waited() > Duration::ZERO);
    let u = c
        .create_user(&json!({"userPrincipalName": "solo@contoso.com"}))
        .await
        .unwrap();
    let uid = u["id"].as_str().unwrap();
    c.add_group_member(mock_graph::G_SALES, uid).await.unwrap();
    let e = c
        .add_group_member(mock_graph::G_SALES, uid)
        .await
        .unwrap_err();
    assert!(e.message.contains("already exist"), "{}", e.message);
    let a = c
        .assign_app_role(mock_graph::CODA_SP, uid, mock_graph::ROLE_USER)
        .await
        .unwrap();
    assert_eq!(a["principalId"], uid);
    assert!(mock.count("POST /v1.0/groups/") >= 2);
}

#[tokio::test]
async fn replication_wait_treats_404_as_not_yet() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    let c = client(&base, secret_cred());
    let path = format!("/servicePrincipals/{}", mock_graph::CODA_SP);
    // 404 ×2, then OK, then 404 again (another replica), then OK ×3.
    mock.add_fault(Fault::new(mock_graph::CODA_SP, 404, 2));
    mock.add_fault(Fault::new(mock_graph::CODA_SP, 404, 1).skip(1));
    let policy = ReplicationPolicy {
        consecutive: 3,
        interval: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
    };
    let r = c.wait_until_replicated(&path, &policy).await.unwrap();
    assert_eq!(r.value["displayName"], "Coda");
    assert_eq!((r.reads, r.not_found), (7, 3));

    // Never there: a sentence that says it is not lost.
    let policy = ReplicationPolicy {
        consecutive: 2,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(200),
    };
    let e = c
        .wait_until_replicated("/servicePrincipals/never", &policy)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("not lost") && e.message.contains("404"),
        "{}",
        e.message
    );

    // Any other error stops at once.
    mock.add_fault(Fault::new("/servicePrincipals/forbidden", 403, 5));
    let e = c
        .wait_until_replicated("/servicePrincipals/forbidden", &policy)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("grant Application.Read.All"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn error_sentences_name_the_fix() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    let c = client(&base, secret_cred());
    mock.add_fault(Fault::new("/synchronization/jobs", 403, 1));
    let e = c
        .get(&format!(
            "/servicePrincipals/{}/synchronization/jobs",
            mock_graph::CODA_SP
        ))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("Authorization_RequestDenied"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("grant Synchronization.Read.All"),
        "{}",
        e.message
    );
    assert!(e.message.contains("req-0001"), "{}", e.message);

    // The sync service's JSON-in-message.
    let inner = json!({"error": {"code": "InvalidNotificationSettings", "message": "The notification settings are invalid."}}).to_string();
    mock.add_fault(
        Fault::new("/synchronization/secrets", 400, 1)
            .body(json!({"error": {"code": "UnknownError", "message": inner}})),
    );
    let e = c
        .get(&format!(
            "/servicePrincipals/{}/synchronization/secrets",
            mock_graph::CODA_SP
        ))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("InvalidNotificationSettings")
            && e.message.contains("notification settings are invalid"),
        "{}",
        e.message
    );

    // A static token that Graph refuses: 401 advice, no retry loop.
    let bad = client(
        &base,
        Credential::StaticToken(Secret::new("not-a-valid-token")),
    );
    let e = bad.get("/users").await.unwrap_err();
    assert!(
        e.message.contains("401") && e.message.contains("AZURE_CLIENT_SECRET"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("not-a-valid-token"));

    // Wrong client secret at the token endpoint.
    let wrong = client(
        &base,
        Credential::ClientSecret {
            tenant: TENANT.into(),
            client_id: CLIENT_ID.into(),
            secret: Secret::new("wrong-secret-xyz"),
        },
    );
    let e = wrong.get("/users").await.unwrap_err();
    assert!(
        e.message.contains("the client secret is wrong or expired"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("wrong-secret-xyz"));
    let e = client(
        &base,
        Credential::ClientSecret {
            tenant: "nope".into(),
            client_id: CLIENT_ID.into(),
            secret: Secret::new("x"),
        },
    )
    .get("/users")
    .await
    .unwrap_err();
    assert!(e.message.contains("tenant was not found"), "{}", e.message);
}

#[tokio::test]
async fn tokens_are_cached_refreshed_before_expiry_and_renewed_after_401() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    *mock.token_lifetime.lock().unwrap() = 2;
    let endpoints =
        Endpoints::resolve(Cloud::Global, Some(&format!("{base}/v1.0")), Some(&base)).unwrap();
    let provider = TokenProvider::new(secret_cred(), endpoints.clone(), reqwest::Client::new())
        .with_settings(AuthSettings {
            refresh_margin: Duration::from_millis(800),
            ..Default::default()
        });
    let c = GraphClient::with_provider(endpoints, provider).unwrap();
    for _ in 0..3 {
        c.get("/users").await.unwrap();
    }
    assert_eq!(c.auth().fetch_count(), 1, "cached");
    tokio::time::sleep(Duration::from_millis(1300)).await; // past the refresh point (2 s - 0.8 s)
    c.get("/users").await.unwrap();
    assert_eq!(c.auth().fetch_count(), 2, "refreshed before it expired");
    mock.revoke_tokens();
    c.get("/users").await.unwrap();
    assert_eq!(
        c.auth().fetch_count(),
        3,
        "a 401 gets one new token and one retry"
    );
}

#[tokio::test]
async fn device_code_polls_through_pending_and_slow_down() {
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    mock.device_script.lock().unwrap().extend([
        "authorization_pending",
        "slow_down",
        "authorization_pending",
    ]);
    let endpoints =
        Endpoints::resolve(Cloud::Global, Some(&format!("{base}/v1.0")), Some(&base)).unwrap();
    let shown = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = shown.clone();
    let provider = TokenProvider::new(
        Credential::DeviceCode {
            tenant: TENANT.into(),
            client_id: CLIENT_ID.into(),
        },
        endpoints.clone(),
        reqwest::Client::new(),
    )
    .with_settings(AuthSettings {
        slow_down_step: Duration::from_millis(30),
        ..Default::default()
    })
    .with_prompt(Arc::new(move |m: &str| {
        sink.lock().unwrap().push(m.to_string())
    }));
    let c = GraphClient::with_provider(endpoints.clone(), provider).unwrap();
    c.get("/users").await.unwrap();
    assert!(shown.lock().unwrap()[0].contains("ABCD-EFGH"));
    let polls = mock.count("/oauth2/v2.0/token");
    assert_eq!(polls, 4, "pending, slow_down, pending, success");

    for (err, want) in [
        ("authorization_declined", "declined"),
        ("expired_token", "expired"),
    ] {
        mock.device_script.lock().unwrap().push_back(err);
        let provider = TokenProvider::new(
            Credential::DeviceCode {
                tenant: TENANT.into(),
                client_id: CLIENT_ID.into(),
            },
            endpoints.clone(),
            reqwest::Client::new(),
        )
        .with_prompt(Arc::new(|_: &str| {}));
        let e = provider.token().await.unwrap_err();
        assert!(e.message.contains(want), "{}", e.message);
    }
}

#[tokio::test]
async fn az_cli_missing_or_present() {
    let endpoints = Endpoints::resolve(Cloud::Usgov, None, None).unwrap();
    let missing = TokenProvider::new(Credential::AzCli, endpoints.clone(), reqwest::Client::new())
        .with_settings(AuthSettings {
            az_program: "/nonexistent/bin/az".into(),
            ..Default::default()
        });
    let e = missing.token().await.unwrap_err();
    assert!(e.message.contains("`az` is not on PATH"), "{}", e.message);

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("az");
    let args_file = dir.path().join("args");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\necho '{{\"accessToken\":\"az-token-1\",\"expires_on\":4102444800,\"tokenType\":\"Bearer\"}}'\n",
            args_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let az = TokenProvider::new(Credential::AzCli, endpoints, reqwest::Client::new())
        .with_settings(AuthSettings {
            az_program: script.display().to_string(),
            ..Default::default()
        });
    assert_eq!(az.token().await.unwrap().expose(), "az-token-1");
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.contains("--resource https://graph.microsoft.us"),
        "{args}"
    );
}

#[tokio::test]
async fn refuses_plain_http_and_foreign_next_links() {
    let e = GraphClient::from_urls(
        "http://graph.example.com/v1.0",
        "http://127.0.0.1:1",
        Credential::StaticToken(Secret::new("t")),
    )
    .unwrap_err();
    assert!(e.message.contains("https is required"), "{}", e.message);
    let e = GraphClient::from_urls(
        "http://127.0.0.1:1/v1.0",
        "http://login.example.com",
        Credential::StaticToken(Secret::new("t")),
    )
    .unwrap_err();
    assert!(e.message.contains("https is required"), "{}", e.message);

    let (mock, base) = mock_graph::start(mock_graph::coda_seed(150)).await;
    *mock.next_link_base.lock().unwrap() = Some(base.replace("127.0.0.1", "localhost"));
    let c = client(&base, Credential::StaticToken(Secret::new("static-token")));
    let e = c.list("/users?$top=100").await.unwrap_err();
    assert!(e.message.contains("another host"), "{}", e.message);
    assert_eq!(
        mock.count("GET /v1.0/users"),
        1,
        "the token never went to the other host"
    );
}

/// A committed self-signed RSA test certificate + key (tests/fixtures/certs,
/// made once with `openssl req -x509 -newkey rsa:2048 -nodes -days 36500`, used
/// nowhere else), copied into `dir` with mode 0600 (git keeps no modes).
/// No tool is needed at test time, so this test cannot be skipped.
fn make_certificate(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let from = common::data::fixture(&format!("certs/{name}.pem"));
    let pem = dir.join(format!("{name}.pem"));
    std::fs::copy(&from, &pem).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pem, std::fs::Permissions::from_mode(0o600)).unwrap();
    pem
}

#[tokio::test]
async fn certificate_sign_in_with_a_signed_assertion() {
    use scimshift::graph::cert::ClientCertificate;
    let dir = tempfile::tempdir().unwrap();
    let pem = make_certificate(dir.path(), "app");
    let (mock, base) = mock_graph::start(mock_graph::coda_seed(3)).await;
    let cert = ClientCertificate::load(&pem).unwrap();
    assert!(!format!("{cert:?}").contains("PRIVATE"));
    *mock.certificate.lock().unwrap() = Some((cert.public_key_der(), cert.thumbprint_s256.clone()));
    let cred = |c: ClientCertificate| Credential::ClientCertificate {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        certificate: Arc::new(c),
    };
    let c = client(&base, cred(cert));
    assert_eq!(
        c.get("/users").await.unwrap()["value"]
            .as_array()
            .unwrap()
            .len(),
        20
    );

    // A certificate the app does not know: Entra's AADSTS700027, as advice.
    let other = make_certificate(dir.path(), "other");
    let e = client(&base, cred(ClientCertificate::load(&other).unwrap()))
        .get("/users")
        .await
        .unwrap_err();
    assert!(
        e.message.contains("certificate is not registered"),
        "{}",
        e.message
    );

    // Files it refuses, with a sentence.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        ClientCertificate::load(&other)
            .unwrap_err()
            .message
            .contains("chmod 600")
    );
    let e = ClientCertificate::from_pem(&[0x30, 0x82, 0xff, 0xfe, 0x00], "cert.pfx").unwrap_err();
    assert!(
        e.message.contains("PKCS#12 is not supported yet"),
        "{}",
        e.message
    );
    let only_cert = std::fs::read_to_string(common::data::fixture("certs/app.crt")).unwrap();
    assert!(
        ClientCertificate::from_pem(only_cert.as_bytes(), "c.pem")
            .unwrap_err()
            .message
            .contains("no private key")
    );
    let enc =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBAA==\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert!(
        ClientCertificate::from_pem(format!("{only_cert}{enc}").as_bytes(), "k.pem")
            .unwrap_err()
            .message
            .contains("password-protected")
    );
}
