//! HTTP tests of the twin's Graph side, against twins started in-process.

use reqwest::StatusCode;
use scimshift::twin::faults::Faults;
use scimshift::twin::lag::Lag;
use scimshift::twin::seed::{Seed, SeedSpec};
use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use serde_json::{Value, json};
use std::time::Duration;

/// One client for the whole file (building one costs ~35 ms in debug); no
/// pooling, so no connection outlives the test runtime that opened it.
fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap()
        })
        .clone()
}

/// Endpoint-semantics tests run without lag (`Lag::off()`); the tests that
/// are about lag turn it on themselves.
fn quiet() -> TwinOptions {
    TwinOptions {
        lag: Lag::off(),
        ..TwinOptions::default()
    }
}

async fn demo() -> RunningTwin {
    start(quiet()).await.unwrap()
}

async fn with(opts: TwinOptions) -> RunningTwin {
    start(opts).await.unwrap()
}

/// Send a Graph request with the admin token; (status, headers, JSON body or Null).
async fn call(
    t: &RunningTwin,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    call_as(t, t.admin_token().expose(), method, path, body).await
}

async fn call_as(
    t: &RunningTwin,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", t.graph_url)
    };
    let mut rb = http()
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, headers, v)
}

async fn get(t: &RunningTwin, path: &str) -> (StatusCode, Value) {
    let (s, _, v) = call(t, "GET", path, None).await;
    (s, v)
}

fn assert_graph_error(v: &Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    let inner = &v["error"]["innerError"];
    assert!(
        inner["request-id"].is_string()
            && inner["date"].is_string()
            && inner["client-request-id"].is_string(),
        "{v}"
    );
}

async fn coda(t: &RunningTwin) -> Value {
    let (s, v) = get(t, "/servicePrincipals?$filter=displayName%20eq%20'Coda'").await;
    assert_eq!(s, 200, "{v}");
    v["value"][0].clone()
}

#[tokio::test]
async fn token_endpoint_client_credentials() {
    let t = demo().await;
    let form = |secret: &str| {
        vec![
            ("client_id", t.client_id.clone()),
            ("client_secret", secret.to_string()),
            ("scope", "https://graph.microsoft.com/.default".to_string()),
            ("grant_type", "client_credentials".to_string()),
        ]
    };
    let ok = http()
        .post(t.token_url())
        .form(&form(t.client_secret.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap().to_string();
    let (s, _, v) = call_as(&t, &token, "GET", "/servicePrincipals", None).await;
    assert_eq!(s, 200, "{v}");

    let bad = http()
        .post(t.token_url())
        .form(&form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: Invalid client secret provided")
    );

    let other = format!(
        "{}/{}/oauth2/v2.0/token",
        t.authority_url, "11111111-2222-3333-4444-555555555555"
    );
    let body: Value = http()
        .post(other)
        .form(&form(t.client_secret.expose()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error_codes"], json!([90002]));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90002")
    );
}

#[tokio::test]
async fn device_code_is_pending_twice_then_succeeds() {
    let t = demo().await;
    let dc: Value = http()
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            t.authority_url, t.tenant_id
        ))
        .form(&[
            ("client_id", t.client_id.as_str()),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in [
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(!dc[k].is_null(), "{k} missing in {dc}");
    }
    let poll = || {
        http().post(t.token_url()).form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", t.client_id.as_str()),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ])
    };
    for _ in 0..2 {
        let r = poll().send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "authorization_pending"
        );
    }
    let r = poll().send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
}

#[tokio::test]
async fn graph_needs_a_valid_bearer_token_and_the_right_permission() {
    let t = demo().await;
    let r = http()
        .get(format!("{}/servicePrincipals", t.graph_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_graph_error(&r.json().await.unwrap(), "InvalidAuthenticationToken");
    let (s, _, v) = call_as(&t, "not-a-token", "GET", "/servicePrincipals", None).await;
    assert_eq!(s, 401);
    assert_graph_error(&v, "InvalidAuthenticationToken");
    let (s, _, v) = call_as(&t, "a.b.c", "GET", "/servicePrincipals", None).await;
    assert_eq!(s, 401, "{v}");

    // The reader client may read apps but not synchronization.
    let reader = t
        .clients
        .iter()
        .find(|c| c.display_name == "scimshift-reader")
        .unwrap();
    let tok = t.token_for(&reader.client_id).unwrap();
    let sp = coda(&t).await;
    let (s, _, _) = call_as(&t, tok.expose(), "GET", "/servicePrincipals", None).await;
    assert_eq!(s, 200);
    let (s, _, v) = call_as(
        &t,
        tok.expose(),
        "GET",
        &format!(
            "/servicePrincipals/{}/synchronization/jobs",
            sp["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(s, 403);
    assert_graph_error(&v, "Authorization_RequestDenied");
}

#[tokio::test]
async fn service_principals_filter_select_top_and_paging() {
    let t = demo().await;
    let sp = coda(&t).await;
    assert_eq!(sp["displayName"], "Coda");
    assert_eq!(sp["appRoles"].as_array().unwrap().len(), 2);
    let (_, v) = get(
        &t,
        &format!(
            "/servicePrincipals?$filter=appId eq '{}'&$select=id,appId",
            sp["appId"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert_eq!(v["value"][0].as_object().unwrap().len(), 2, "{v}");
    let (_, v) = get(&t, "/servicePrincipals?$filter=startswith(displayName,'S')").await;
    let mut names: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["displayName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Salesforce", "Slack"]);
    let (s, v) = get(&t, "/servicePrincipals?$top=1000").await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
    let (s, _) = get(&t, "/servicePrincipals?$filter=displayName ne 'Coda'").await;
    assert_eq!(s, 400);
    // Paging with absolute nextLinks.
    let (_, p1) = get(&t, "/servicePrincipals?$top=2").await;
    assert_eq!(p1["value"].as_array().unwrap().len(), 2);
    let next = p1["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&t.graph_url) && next.contains("$skiptoken="),
        "{next}"
    );
    let (_, p2) = get(&t, next).await;
    assert_eq!(p2["value"].as_array().unwrap().len(), 1);
    assert!(p2.get("@odata.nextLink").is_none());
    let (s, v) = get(
        &t,
        "/servicePrincipals/00000000-0000-0000-0000-000000000000",
    )
    .await;
    assert_eq!(s, 404);
    assert_graph_error(&v, "Request_ResourceNotFound");
}

#[tokio::test]
async fn instantiate_replicates_then_answers_and_gets_a_scim_template() {
    let delay = Duration::from_secs(2);
    let t = with(TwinOptions {
        lag: Lag {
            replication: delay,
            ..Lag::realistic()
        },
        ..quiet()
    })
    .await;
    let sent = std::time::Instant::now();
    let (s, _, v) = call(
        &t,
        "POST",
        "/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
        Some(json!({"displayName": "Coda (SCIM)"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let sp_id = v["servicePrincipal"]["id"].as_str().unwrap().to_string();
    let app_id = v["application"]["id"].as_str().unwrap().to_string();
    let roles: Vec<(&str, &str)> = v["servicePrincipal"]["appRoles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["displayName"].as_str().unwrap(),
                r["id"].as_str().unwrap(),
            )
        })
        .collect();
    // Entra's fixed role ids on every non-gallery instance.
    assert_eq!(
        roles,
        [
            ("User", "18d14569-c3bd-439b-9a66-3a2aee01d14f"),
            ("msiam_access", "b9632174-c057-4f7e-951b-be3adc52bfe6")
        ]
    );
    // The first fifth of the window never sees it (when this machine is
    // quick enough to ask inside it), in Graph's words.
    let (s, v) = get(&t, &format!("/servicePrincipals/{sp_id}")).await;
    if sent.elapsed() < delay / 5 {
        assert_eq!(s, 404);
        assert_eq!(
            v["error"]["message"],
            format!(
                "Resource '{sp_id}' does not exist or one of its queried reference-property objects are not present."
            )
        );
    }
    // Poll as a client must: until several reads in a row succeed.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut in_a_row = 0;
    while in_a_row < 10 {
        assert!(std::time::Instant::now() < deadline, "never replicated");
        let (s, _) = get(&t, &format!("/servicePrincipals/{sp_id}")).await;
        in_a_row = if s == 200 { in_a_row + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Sync calls may still answer 403/409 at the end of the window: retry them, bounded.
    let mut templates = Value::Null;
    for _ in 0..50 {
        let (s, v) = get(
            &t,
            &format!("/servicePrincipals/{sp_id}/synchronization/templates"),
        )
        .await;
        if s == 200 {
            templates = v;
            break;
        }
        assert!([403, 404, 409].contains(&s.as_u16()), "{s}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = templates;
    assert_eq!(v["value"][0]["id"], "scim");
    let m = scimshift::mapping::schema::Mappings::from_schema(&v["value"][0]["schema"]).unwrap();
    assert!(m.pushes_groups());
    // Deleting the application removes its service principal.
    let (s, _, _) = call(&t, "DELETE", &format!("/applications/{app_id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = get(&t, &format!("/servicePrincipals/{sp_id}")).await;
    assert_eq!(s, 404);
    // Malformed JSON and unknown segments.
    let r = http()
        .post(format!(
            "{}/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
            t.graph_url
        ))
        .bearer_auth(t.admin_token().expose())
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_graph_error(&r.json().await.unwrap(), "BadRequest");
    let (s, v) = get(&t, "/nothingHere").await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Resource not found for the segment 'nothingHere'."
    );
}

async fn new_custom_app(t: &RunningTwin) -> String {
    let (s, _, v) = call(
        t,
        "POST",
        "/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
        Some(json!({"displayName": "Coda custom"})),
    )
    .await;
    assert_eq!(s, 201);
    v["servicePrincipal"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn jobs_lifecycle_and_schema_put_patch() {
    let t = demo().await;
    let sp = new_custom_app(&t).await;
    let base = format!("/servicePrincipals/{sp}/synchronization/jobs");
    let (s, _, job) = call(&t, "POST", &base, Some(json!({"templateId": "scim"}))).await;
    assert_eq!(s, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    assert!(
        id.starts_with(&format!("scim.{}.", t.tenant_id.replace('-', ""))),
        "{id}"
    );
    assert_eq!(job["status"]["code"], "NotConfigured");
    assert_eq!(job["schedule"]["state"], "Disabled");
    let (s, _, v) = call(&t, "POST", &base, Some(json!({"templateId": "nope"}))).await;
    assert_eq!(s, 400, "{v}");
    let (_, list) = get(&t, &base).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);

    let (s, _, _) = call(&t, "POST", &format!("{base}/{id}/pause"), None).await;
    assert_eq!(s, 204);
    let (_, j) = get(&t, &format!("{base}/{id}")).await;
    assert_eq!(
        (
            j["schedule"]["state"].as_str(),
            j["status"]["code"].as_str()
        ),
        (Some("Paused"), Some("Paused"))
    );
    let (s, _, _) = call(&t, "POST", &format!("{base}/{id}/start"), None).await;
    assert_eq!(s, 204);
    let (_, j) = get(&t, &format!("{base}/{id}")).await;
    assert_eq!(j["schedule"]["state"], "Active");
    let (s, _, _) = call(
        &t,
        "POST",
        &format!("{base}/{id}/restart"),
        Some(json!({"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = call(
        &t,
        "POST",
        &format!("{base}/{id}/restart"),
        Some(json!({"criteria": {"resetScope": "Bogus"}})),
    )
    .await;
    assert_eq!(s, 400);

    let (_, mut schema) = get(&t, &format!("{base}/{id}/schema")).await;
    schema["synchronizationRules"][0]["objectMappings"][1]["enabled"] = json!(false);
    let (s, _, v) = call(
        &t,
        "PUT",
        &format!("{base}/{id}/schema"),
        Some(schema.clone()),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (_, back) = get(&t, &format!("{base}/{id}/schema")).await;
    assert_eq!(
        back["synchronizationRules"][0]["objectMappings"][1]["enabled"],
        false
    );
    let (s, _, v) = call(&t, "PATCH", &format!("{base}/{id}/schema"), Some(schema)).await;
    assert_eq!(s, 404);
    assert_graph_error(&v, "UnknownError");
    let inner: Value = serde_json::from_str(v["error"]["message"].as_str().unwrap()).unwrap();
    assert!(inner["Message"].as_str().unwrap().starts_with("No HTTP resource was found that matches the request URI 'https://syncfabric.windowsazure.com/"));

    // provisionOnDemand: rule must be the job's; at most 5 members per group.
    let members: Vec<Value> = (0..6)
        .map(|i| json!({"objectId": format!("{i}"), "objectTypeName": "User"}))
        .collect();
    let body = json!({"parameters": [{"ruleId": scimshift::twin::schemas::SCIM_RULE_ID, "subjects": [{"objectId": "g", "objectTypeName": "Group", "links": {"members": members}}]}]});
    let (s, _, v) = call(
        &t,
        "POST",
        &format!("{base}/{id}/provisionOnDemand"),
        Some(body),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let body = json!({"parameters": [{"ruleId": "", "subjects": [{"objectId": "u", "objectTypeName": "User"}]}]});
    let (s, _, v) = call(
        &t,
        "POST",
        &format!("{base}/{id}/provisionOnDemand"),
        Some(body),
    )
    .await;
    assert_eq!(
        (s.as_u16(), v["error"]["code"].as_str()),
        (400, Some("RequestParameterInvalid"))
    );

    let (s, _, _) = call(&t, "DELETE", &format!("{base}/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = get(&t, &format!("{base}/{id}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn secrets_are_replaced_whole_and_masked_on_read() {
    let t = demo().await;
    let sp = coda(&t).await;
    let path = format!(
        "/servicePrincipals/{}/synchronization/secrets",
        sp["id"].as_str().unwrap()
    );
    let (_, v) = get(&t, &path).await;
    let find = |v: &Value, k: &str| {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == k)
            .map(|i| i["value"].clone())
    };
    assert_eq!(find(&v, "SecretToken"), Some(json!("*")));
    assert_eq!(find(&v, "BaseAddress"), Some(json!(t.scim_url)));
    assert_eq!(find(&v, "SyncAll"), Some(json!("false")));
    let (s, _, _) = call(&t, "PUT", &path, Some(json!({"value": [{"key": "BaseAddress", "value": "https://x.example/scim"}, {"key": "SecretToken", "value": "tok"}]}))).await;
    assert_eq!(s, 204);
    let (_, v) = get(&t, &path).await;
    assert_eq!(v["value"].as_array().unwrap().len(), 2, "replace-all: {v}");
    assert_eq!(find(&v, "SecretToken"), Some(json!("*")));
    assert!(!v.to_string().contains("\"tok\""));
    let (s, _, _) = call(
        &t,
        "PUT",
        &path,
        Some(json!({"value": [{"key": "NotAKey", "value": "x"}]})),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn assignments_create_duplicate_and_unknown_principal() {
    let t = demo().await;
    let sp = new_custom_app(&t).await;
    let (_, spv) = get(&t, &format!("/servicePrincipals/{sp}")).await;
    let role = spv["appRoles"][0]["id"].as_str().unwrap().to_string();
    let (_, users) = get(
        &t,
        "/users?$filter=userPrincipalName eq 'siobhan.o''brien@northwind.example'",
    )
    .await;
    assert_eq!(users["value"].as_array().unwrap().len(), 1, "{users}");
    let user = users["value"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/servicePrincipals/{sp}/appRoleAssignedTo");
    let body = json!({"principalId": user, "resourceId": sp, "appRoleId": role});
    let (s, _, v) = call(&t, "POST", &path, Some(body.clone())).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["principalType"], "User");
    assert_eq!(v["principalDisplayName"], "Siobhan O'Brien");
    assert_eq!(v["resourceDisplayName"], "Coda custom");
    let (s, _, v) = call(&t, "POST", &path, Some(body)).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Permission being assigned already exists on the object"
    );
    let (s, _, _) = call(&t, "POST", &path, Some(json!({"principalId": "5a5a5a5a-0000-4000-8000-000000000000", "resourceId": sp, "appRoleId": role}))).await;
    assert_eq!(s, 404);
    let (s, _, _) = call(&t, "POST", &path, Some(json!({"principalId": user, "resourceId": sp, "appRoleId": "00000000-0000-0000-0000-000000000000"}))).await;
    assert_eq!(s, 400, "default role refused on an app that has roles");
    let (_, list) = get(&t, &path).await;
    let a = list["value"][0]["id"].as_str().unwrap().to_string();
    let (s, _, _) = call(&t, "DELETE", &format!("{path}/{a}"), None).await;
    assert_eq!(s, 204);
    let (_, list) = get(&t, &path).await;
    assert!(list["value"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn users_groups_members_and_transitive_members() {
    let t = demo().await;
    let (_, g) = get(&t, "/groups?$filter=displayName eq 'Coda Engineering'").await;
    let eng = g["value"][0]["id"].as_str().unwrap().to_string();
    let (_, m) = get(&t, &format!("/groups/{eng}/members?$top=999")).await;
    let members = m["value"].as_array().unwrap();
    assert_eq!(members.len(), 61);
    assert_eq!(
        members
            .iter()
            .filter(|x| x["@odata.type"] == "#microsoft.graph.group")
            .count(),
        1
    );
    let (_, tm) = get(&t, &format!("/groups/{eng}/transitiveMembers?$top=999")).await;
    assert_eq!(tm["value"].as_array().unwrap().len(), 69);
    let (_, u) = get(&t, "/users?$top=150").await;
    assert_eq!(u["value"].as_array().unwrap().len(), 150);
    let (_, u2) = get(&t, u["@odata.nextLink"].as_str().unwrap()).await;
    assert_eq!(u2["value"].as_array().unwrap().len(), 50);
    let (s, v) = get(
        &t,
        "/users/siobhan.o'brien@northwind.example?$select=id,mail",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, _, v) = call(&t, "POST", "/users", Some(json!({"accountEnabled": true, "displayName": "New Hire", "mailNickname": "new.hire",
        "userPrincipalName": "new.hire@northwind.example", "passwordProfile": {"password": "Welcome-2026!", "forceChangePasswordNextSignIn": true}}))).await;
    assert_eq!(s, 201, "{v}");
    let uid = v["id"].as_str().unwrap();
    let (s, _, _) = call(
        &t,
        "POST",
        &format!("/groups/{eng}/members/$ref"),
        Some(json!({"@odata.id": format!("{}/directoryObjects/{uid}", t.graph_url)})),
    )
    .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn provisioning_logs_filter_by_job() {
    let t = demo().await;
    t.twin
        .tenant()
        .provisioning_log
        .push(json!({"id": "1", "jobId": "coda.x.y", "provisioningAction": "create"}));
    t.twin
        .tenant()
        .provisioning_log
        .push(json!({"id": "2", "jobId": "scim.x.y", "provisioningAction": "update"}));
    let (s, v) = get(&t, "/auditLogs/provisioning?$filter=jobId eq 'scim.x.y'").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert_eq!(v["value"][0]["id"], "2");
}

#[tokio::test]
async fn batch_limits_ids_and_dependencies() {
    let t = demo().await;
    let reqs: Vec<Value> = (0..20).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/servicePrincipals?$select=id"})).collect();
    let (s, _, v) = call(&t, "POST", "/$batch", Some(json!({"requests": reqs}))).await;
    assert_eq!(s, 200, "{v}");
    let responses = v["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 20);
    assert!(
        responses
            .iter()
            .all(|r| r["status"] == 200 && r["body"]["value"].is_array())
    );
    let reqs: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let (s, _, v) = call(&t, "POST", "/$batch", Some(json!({"requests": reqs}))).await;
    assert_eq!(s, 400, "{v}");
    let dup = json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/groups"}]});
    let (s, _, _) = call(&t, "POST", "/$batch", Some(dup)).await;
    assert_eq!(s, 400);
    let deps = json!({"requests": [
        {"id": "a", "method": "GET", "url": "/servicePrincipals/00000000-0000-0000-0000-000000000001"},
        {"id": "b", "method": "GET", "url": "/users", "dependsOn": ["a"]},
        {"id": "c", "method": "POST", "url": "/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
         "headers": {"Content-Type": "application/json"}, "body": {"displayName": "via batch"}}
    ]});
    let (s, _, v) = call(&t, "POST", "/$batch", Some(deps)).await;
    assert_eq!(s, 200);
    let status = |id: &str| {
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((status("a"), status("b"), status("c")), (404, 424, 201));
    // Inner requests are authenticated like any other.
    let r = http()
        .post(format!("{}/$batch", t.graph_url))
        .json(&json!({"requests": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn writes_are_throttled_with_retry_after_also_inside_batch() {
    // 0.001 × 3,000 writes per 150 s = 3 writes.
    let t = with(TwinOptions {
        quota_scale: 0.001,
        ..quiet()
    })
    .await;
    let sp = coda(&t).await;
    let job = get(
        &t,
        &format!(
            "/servicePrincipals/{}/synchronization/jobs",
            sp["id"].as_str().unwrap()
        ),
    )
    .await
    .1["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pause = format!(
        "/servicePrincipals/{}/synchronization/jobs/{job}/pause",
        sp["id"].as_str().unwrap()
    );
    for _ in 0..3 {
        assert_eq!(call(&t, "POST", &pause, None).await.0, 204);
    }
    let (s, h, v) = call(&t, "POST", &pause, None).await;
    assert_eq!(s, 429);
    assert_graph_error(&v, "TooManyRequests");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=150).contains(&retry), "{retry}");
    assert!(h.contains_key("x-ms-throttle-scope") && h.contains_key("x-ms-throttle-information"));
    // Reads are not writes.
    assert_eq!(get(&t, "/servicePrincipals").await.0, 200);
    let (s, _, v) = call(
        &t,
        "POST",
        "/$batch",
        Some(json!({"requests": [{"id": "1", "method": "POST", "url": pause}]})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["responses"][0]["status"], 429);
    assert!(
        v["responses"][0]["headers"]["Retry-After"].is_string(),
        "{v}"
    );
}

#[tokio::test]
async fn injected_faults_throttle_fail_and_drop() {
    let t = with(TwinOptions {
        faults: Some(Faults::parse("429:1").unwrap()),
        ..quiet()
    })
    .await;
    let (s, h, v) = call(&t, "GET", "/servicePrincipals", None).await;
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "1");
    assert_graph_error(&v, "TooManyRequests");
    // Token requests are never faulted.
    let r = http()
        .post(t.token_url())
        .form(&[
            ("client_id", t.client_id.as_str()),
            ("client_secret", t.client_secret.expose()),
            ("scope", "x/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let t = with(TwinOptions {
        faults: Some(Faults::parse("503:1").unwrap()),
        ..quiet()
    })
    .await;
    let r = http()
        .get(format!("{}/Users", t.scim_url))
        .bearer_auth(t.scim_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    let t = with(TwinOptions {
        faults: Some(Faults::parse("reset:1").unwrap()),
        ..quiet()
    })
    .await;
    // The connection is closed before a single byte of the answer: no status line at all.
    let err = http()
        .get(format!("{}/servicePrincipals", t.graph_url))
        .bearer_auth(t.admin_token().expose())
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request(), "{err:?}");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(b"GET /v1.0/users HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    assert_eq!(
        s.read(&mut buf).await.unwrap(),
        0,
        "{}",
        String::from_utf8_lossy(&buf)
    );
}

#[tokio::test]
async fn request_log_has_one_line_per_request_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let t = with(TwinOptions {
        request_log: Some(log.clone()),
        ..quiet()
    })
    .await;
    let body: Value = http()
        .post(t.token_url())
        .form(&[
            ("client_id", t.client_id.as_str()),
            ("client_secret", t.client_secret.expose()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    call_as(
        &t,
        &token,
        "GET",
        "/servicePrincipals?$filter=displayName eq 'Coda'&client_secret=leaky",
        None,
    )
    .await;
    call_as(
        &t,
        &token,
        "POST",
        "/$batch",
        Some(json!({"requests": [{"id": "1", "method": "GET", "url": "/users?$top=1"}]})),
    )
    .await;
    let _ = http()
        .get(format!(
            "{}/Users?filter=userName%20eq%20%22x%22",
            t.scim_url
        ))
        .bearer_auth(t.scim_token.expose())
        .send()
        .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let paths: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap().into(),
                l["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        paths.contains(&("POST".into(), format!("/{}/oauth2/v2.0/token", t.tenant_id))),
        "{paths:?}"
    );
    assert!(paths.contains(&("GET".into(), "/v1.0/servicePrincipals".into())));
    assert!(paths.contains(&("POST".into(), "/v1.0/$batch".into())));
    assert!(
        paths.contains(&("GET".into(), "/v1.0/users".into())),
        "inner batch requests are logged"
    );
    assert!(paths.contains(&("GET".into(), "/scim/v2/Users".into())));
    for l in &lines {
        assert!(
            l["status"].is_u64() && l["ts"].is_string() && l["write"].is_boolean(),
            "{l}"
        );
    }
    // Only reads were sent: no line is a write.
    assert!(lines.iter().all(|l| l["write"] == false), "{text}");
    call_as(
        &t,
        &token,
        "POST",
        "/$batch",
        Some(json!({"requests": [{"id": "1", "method": "POST",
        "url": "/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
        "headers": {"Content-Type": "application/json"}, "body": {"displayName": "x"}}]})),
    )
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    let writes: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["write"] == true)
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["via"], "$batch");
    let sp_line = lines
        .iter()
        .find(|l| l["path"] == "/v1.0/servicePrincipals")
        .unwrap();
    assert_eq!(
        sp_line["query"],
        "$filter=displayName eq 'Coda'&client_secret=(redacted)"
    );
    for secret in [
        t.client_secret.expose(),
        &token,
        t.scim_token.expose(),
        "leaky",
    ] {
        assert!(!text.contains(secret), "the request log holds a secret");
    }
}

#[tokio::test]
async fn seeds_built_in_code_start_and_bad_specs_fail_in_one_sentence() {
    let mut seed = scimshift::twin::seed::synthetic(30, 3);
    seed.tenant.tenant_id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into();
    let t = with(TwinOptions {
        seed: SeedSpec::Data(Box::new(seed)),
        ..quiet()
    })
    .await;
    assert_eq!(t.tenant_id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    let (_, v) = get(&t, "/users?$count=true&$top=10").await;
    assert_eq!(v["@odata.count"], 30);
    let mut broken = Seed::default();
    broken.run_jobs.push(scimshift::twin::seed::JobRef {
        service_principal_id: "x".into(),
        job_id: "y".into(),
        link_only: false,
    });
    let e = start(TwinOptions {
        seed: SeedSpec::Data(Box::new(broken)),
        ..quiet()
    })
    .await
    .unwrap_err();
    assert!(
        !e.message.contains('\n') && e.message.contains("runJobs"),
        "{}",
        e.message
    );
    let e = start(TwinOptions {
        listen: "nonsense".into(),
        ..quiet()
    })
    .await
    .unwrap_err();
    assert!(
        e.message.starts_with("could not listen on nonsense"),
        "{}",
        e.message
    );
}

#[test]
fn synthetic_100k_builds() {
    let started = std::time::Instant::now();
    let s = scimshift::twin::seed::synthetic(100_000, 5_000);
    let took = started.elapsed();
    assert_eq!(s.tenant.users.len(), 100_000);
    assert_eq!(s.tenant.groups.len(), 5_000);
    // The time is a figure for bench/, not a pass/fail bound on a loaded machine.
    eprintln!("synthetic 100k users / 5k groups built in {took:?}");
}

#[test]
fn running_twin_debug_hides_secrets() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = demo().await;
        let dbg = format!("{t:?}");
        assert!(!dbg.contains(t.client_secret.expose()) && !dbg.contains(t.scim_token.expose()));
        let line: Value = serde_json::from_str(&t.ready_line()).unwrap();
        for k in [
            "graph_url",
            "authority_url",
            "tenant_id",
            "client_id",
            "client_secret",
            "scim_url",
            "scim_token",
        ] {
            assert!(line[k].as_str().is_some_and(|v| !v.is_empty()), "{k}");
        }
    });
}

#[tokio::test]
async fn provision_on_demand_and_reports_have_their_own_quotas() {
    let t = demo().await;
    let sp = coda(&t).await;
    let sp_id = sp["id"].as_str().unwrap();
    let (_, jobs) = get(
        &t,
        &format!("/servicePrincipals/{sp_id}/synchronization/jobs"),
    )
    .await;
    let job = jobs["value"][0]["id"].as_str().unwrap();
    let pod = format!("/servicePrincipals/{sp_id}/synchronization/jobs/{job}/provisionOnDemand");
    let body = json!({"parameters": [{"ruleId": scimshift::twin::schemas::CODA_RULE_ID,
        "subjects": [{"objectId": "00000000-0000-0000-0000-000000000001", "objectTypeName": "User"}]}]});
    for _ in 0..5 {
        let (s, _, v) = call(&t, "POST", &pod, Some(body.clone())).await;
        assert_ne!(s, 429, "{v}");
    }
    let (s, h, _) = call(&t, "POST", &pod, Some(body)).await;
    assert_eq!(s, 429);
    assert_eq!(
        h["x-ms-throttle-information"],
        "ProvisionOnDemandLimitExceeded"
    );
    for _ in 0..5 {
        assert_eq!(get(&t, "/auditLogs/provisioning").await.0, 200);
    }
    assert_eq!(get(&t, "/auditLogs/provisioning").await.0, 429);
    // Other reads are not affected.
    assert_eq!(get(&t, "/users?$top=1").await.0, 200);
}

#[tokio::test]
async fn object_ids_that_are_not_guids_are_refused_like_graph() {
    let t = demo().await;
    let (s, v) = get(&t, "/servicePrincipals/Coda").await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["message"], "Invalid object identifier 'Coda'.");
    let (s, v) = get(&t, "/groups/not-a-guid/members").await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = get(&t, "/users/nobody@northwind.example").await;
    assert_eq!(s, 404);
}

mod common;

/// With `--scim-target`, the gallery secrets point at that server and the
/// seed's hand-made users and group are created there over SCIM.
#[tokio::test]
async fn external_scim_target_gets_the_hand_made_objects() {
    let server = common::start_scim2_server();
    let t = with(TwinOptions {
        scim_target: Some((
            server.base_url.clone(),
            scimshift::secret::Secret::new(server.token.clone()),
        )),
        ..quiet()
    })
    .await;
    assert_eq!(t.scim_url, server.base_url);
    assert_eq!(t.scim_token.expose(), server.token);
    let sp = coda(&t).await;
    let (_, v) = get(
        &t,
        &format!(
            "/servicePrincipals/{}/synchronization/secrets",
            sp["id"].as_str().unwrap()
        ),
    )
    .await;
    assert!(v.to_string().contains(&server.base_url), "{v}");
    let find = |filter: &str, kind: &str| {
        http()
            .get(format!("{}/{kind}", server.base_url))
            .query(&[("filter", filter)])
            .bearer_auth(&server.token)
            .send()
    };
    let users: Value = find("userName eq \"coda.admin@northwind.example\"", "Users")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["totalResults"], 1, "{users}");
    let groups: Value = find("displayName eq \"Coda Finance\"", "Groups")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups["totalResults"], 1, "{groups}");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[tokio::test]
async fn reads_spend_resource_units_sized_by_tenant() {
    // Demo tenant: 200 users → 5,000 RU per 10 s; × 0.001 = 5 RU. /applications costs 2.
    let t = with(TwinOptions {
        quota_scale: 0.001,
        ..quiet()
    })
    .await;
    for _ in 0..2 {
        let (s, h, _) = call(&t, "GET", "/applications", None).await;
        assert_eq!(s, 200);
        assert_eq!(h["x-ms-resource-unit"], "2");
    }
    let (s, h, v) = call(&t, "GET", "/applications", None).await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(h["x-ms-throttle-information"], "ResourceUnitLimitExceeded");
    // One unit left: a 1-RU read still fits, then nothing does.
    assert_eq!(get(&t, "/users?$top=1").await.0, 200);
    assert_eq!(get(&t, "/users?$top=1").await.0, 429);
}

#[tokio::test]
async fn instantiate_can_answer_404_yet_create_the_app() {
    let t = with(TwinOptions {
        faults: Some(Faults::parse("instantiate404:1").unwrap()),
        ..quiet()
    })
    .await;
    let (s, _, v) = call(
        &t,
        "POST",
        "/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
        Some(json!({"displayName": "Coda (tmp-7f3a)"})),
    )
    .await;
    assert_eq!(s, 404, "{v}");
    let (_, v) = get(&t, "/applications?$filter=applicationTemplateId eq '8adf8e6e-67b2-4cf2-a259-e3dc5476c621' and displayName eq 'Coda (tmp-7f3a)'").await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1, "{v}");
    let app_id = v["value"][0]["appId"].as_str().unwrap();
    let (_, v) = get(
        &t,
        &format!("/servicePrincipals?$filter=appId eq '{app_id}'"),
    )
    .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn service_principal_by_app_id_alternate_key() {
    let t = demo().await;
    let sp = coda(&t).await;
    let app_id = sp["appId"].as_str().unwrap();
    let (s, v) = get(
        &t,
        &format!("/servicePrincipals(appId='{app_id}')?$select=id,displayName"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], sp["id"]);
    let (s, _) = get(
        &t,
        "/servicePrincipals(appId='00000000-0000-0000-0000-00000000abcd')",
    )
    .await;
    assert_eq!(s, 404);
    let r = http()
        .get(format!(
            "{}/servicePrincipals(appId='{app_id}')",
            t.graph_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
