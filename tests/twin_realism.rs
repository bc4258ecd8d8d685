//! The twin behaves like a real tenant at cutover (issue 10): running cycles
//! finish after a pause, `start` resumes incrementally, the accidental-deletion
//! threshold, quarantine back-off and recovery, Microsoft's on-demand answer,
//! assignment and replication lag, shuffled `$batch` answers, the time scale,
//! and Coda's one token at a time. Each test drives the twin over HTTP the
//! way `apply` will, on the demo tenant (about 150 Coda users) with a time
//! scale that keeps every wait to a few seconds; every wait is a bounded poll.

use reqwest::StatusCode;
use scimshift::twin::lag::Lag;
use scimshift::twin::seed::SeedSpec;
use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap()
        })
        .clone()
}

/// The demo tenant, nothing provisioned yet, at `time_scale`.
async fn twin(time_scale: f64, lag: Lag) -> RunningTwin {
    start(TwinOptions {
        seed: SeedSpec::Demo,
        provision_at_start: false,
        time_scale: Some(time_scale),
        lag,
        ..TwinOptions::default()
    })
    .await
    .unwrap()
}

async fn call(t: &RunningTwin, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut rb = http()
        .request(method.parse().unwrap(), format!("{}{path}", t.graph_url))
        .bearer_auth(t.admin_token().expose());
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The Coda gallery app's service principal and job.
fn coda(t: &RunningTwin) -> (String, String) {
    let tenant = t.twin.tenant();
    let sp = tenant
        .service_principals
        .values()
        .find(|s| s.display_name == "Coda")
        .unwrap()
        .id
        .clone();
    let job = tenant.synchronization[&sp]
        .jobs
        .keys()
        .next()
        .unwrap()
        .clone();
    (sp, job)
}

/// A user the job has provisioned (linked).
fn linked_user(t: &RunningTwin, sp: &str, job: &str) -> String {
    t.twin.tenant().synchronization[sp].jobs[job]
        .user_links
        .keys()
        .next()
        .expect("the job has provisioned users")
        .clone()
}

fn job_path(sp: &str, job: &str) -> String {
    format!("/servicePrincipals/{sp}/synchronization/jobs/{job}")
}

async fn status(t: &RunningTwin, sp: &str, job: &str) -> Value {
    let (s, v) = call(t, "GET", &job_path(sp, job), None).await;
    assert_eq!(s, 200, "{v}");
    v["status"].clone()
}

/// Poll the job's status until `done` holds (bounded).
async fn wait_status(
    t: &RunningTwin,
    sp: &str,
    job: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(t, sp, job).await;
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

fn in_flight(s: &Value) -> bool {
    let p = &s["progress"][0];
    p["completedUnits"].as_u64() < p["totalUnits"].as_u64()
}

fn scim_users(t: &RunningTwin) -> usize {
    t.twin
        .scim_store
        .count(scimshift::twin::scim_store::Kind::User)
}

#[tokio::test]
async fn pause_lets_the_running_cycle_finish_and_start_resumes_incrementally() {
    // ~150 objects × 0.6–4.8 s / 150 ≈ 2.7 s for the initial cycle.
    let t = twin(150.0, Lag::off()).await;
    let (sp, job) = coda(&t);
    assert_eq!(
        call(&t, "POST", &format!("{}/start", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    // A fresh job has no steady state until its first cycle ends (what the
    // planner's wait-steady-state must not mistake for done).
    let s = wait_status(&t, &sp, &job, "the cycle to export", |_| {
        scim_users(&t) >= 10
    })
    .await;
    assert!(
        s["steadyStateLastAchievedTime"]
            .as_str()
            .unwrap()
            .starts_with("0001"),
        "{s}"
    );
    let (code, _) = call(&t, "POST", &format!("{}/pause", job_path(&sp, &job)), None).await;
    assert_eq!(code, 204);
    let paused_at = chrono::Utc::now();
    let at_pause = scim_users(&t);
    let s = status(&t, &sp, &job).await;
    assert_eq!(s["code"], "Paused");
    assert!(in_flight(&s), "the cycle should still be running: {s}");

    // The cycle keeps exporting after the pause, then ends; lastExecution shows it.
    let s = wait_status(&t, &sp, &job, "the paused cycle to end", |s| {
        !in_flight(s) && s["lastExecution"]["timeEnded"].is_string()
    })
    .await;
    assert_eq!(s["code"], "Paused");
    assert!(time(&s["lastExecution"]["timeEnded"]) >= paused_at, "{s}");
    assert!(
        scim_users(&t) > at_pause,
        "nothing was exported after the pause"
    );
    let rt = t.twin.engine.runtime(&sp, &job);
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.twin.engine.is_running(&sp, &job) || rt.cycle_running() {
        assert!(
            Instant::now() < deadline,
            "the loop did not stop after the pause"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first = rt.last_report().unwrap();
    assert!(first.full && first.paused, "{first:?}");

    // start resumes: an incremental cycle that only touches what changed.
    let someone = linked_user(&t, &sp, &job);
    t.twin.tenant().users.get_mut(&someone).unwrap().surname = Some("Resumed".into());
    let before = first.cycle_id.clone();
    assert_eq!(
        call(&t, "POST", &format!("{}/start", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let second = loop {
        if let Some(r) = rt.last_report().filter(|r| r.cycle_id != before) {
            break r;
        }
        assert!(Instant::now() < deadline, "no cycle after start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!second.full, "start ran a full cycle: {second:?}");
    assert_eq!(second.writes().len(), 1, "{:#?}", second.writes());

    // A credentials change makes the next cycle a full one, as Entra does.
    assert_eq!(
        call(&t, "POST", &format!("{}/pause", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    let (s, secrets) = call(
        &t,
        "GET",
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let mut value: Vec<Value> = secrets["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|kv| kv["key"] != "SecretToken")
        .cloned()
        .collect();
    let new_token = t.issue_scim_token();
    value.push(json!({"key": "SecretToken", "value": new_token.expose()}));
    let (s, v) = call(
        &t,
        "PUT",
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": value})),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.twin.engine.is_running(&sp, &job) || rt.cycle_running() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = rt.last_report().unwrap().cycle_id;
    assert_eq!(
        call(&t, "POST", &format!("{}/start", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let third = loop {
        if let Some(r) = rt.last_report().filter(|r| r.cycle_id != before) {
            break r;
        }
        assert!(Instant::now() < deadline, "no cycle after the second start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        third.full,
        "new credentials must force a full cycle: {third:?}"
    );
}

#[tokio::test]
async fn deletion_threshold_quarantines_holds_the_disables_and_force_deletes_releases_them() {
    // Fast cycles: a 0.5 s interval.
    let t = twin(4800.0, Lag::off()).await;
    let (sp, job) = coda(&t);
    let secrets = json!({"value": [
        {"key": "BaseAddress", "value": t.scim_url},
        {"key": "SecretToken", "value": t.scim_token.expose()},
        {"key": "SyncAll", "value": "false"},
        {"key": "SyncNotificationSettings", "value": json!({"Enabled": false, "DeleteThresholdEnabled": true, "DeleteThresholdValue": 5}).to_string()},
    ]});
    let (s, v) = call(
        &t,
        "PUT",
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(secrets),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(
        call(&t, "POST", &format!("{}/start", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    wait_status(&t, &sp, &job, "the initial cycle", |s| {
        s["lastExecution"]["state"] == "Succeeded"
    })
    .await;

    // Block sign-in for six provisioned users: six disables, over the threshold of 5.
    let blocked: Vec<String> = {
        let mut tenant = t.twin.tenant();
        let links: Vec<String> = tenant.synchronization[&sp].jobs[&job]
            .user_links
            .keys()
            .take(6)
            .cloned()
            .collect();
        for id in &links {
            tenant.users.get_mut(id).unwrap().account_enabled = false;
        }
        links
            .iter()
            .map(|id| tenant.synchronization[&sp].jobs[&job].user_links[id].clone())
            .collect()
    };
    let s = wait_status(&t, &sp, &job, "the TooManyDeletes quarantine", |s| {
        s["quarantine"]["reason"] == "TooManyDeletes"
    })
    .await;
    assert_eq!(s["code"], "Quarantine");
    let active = |id: &str| {
        t.twin
            .scim_store
            .get(scimshift::twin::scim_store::Kind::User, id)
            .unwrap()["active"]
            == json!(true)
    };
    assert!(
        blocked.iter().all(|id| active(id)),
        "a held disable was sent"
    );
    let staged = t
        .twin
        .tenant()
        .provisioning_log
        .iter()
        .filter(|e| e["provisioningAction"] == "stagedDelete")
        .count();
    assert!(
        staged >= 6,
        "the held disables are not logged as stagedDelete ({staged})"
    );

    // Allow the deletes.
    let (s, v) = call(
        &t,
        "POST",
        &format!("{}/restart", job_path(&sp, &job)),
        Some(json!({"criteria": {"resetScope": "ForceDeletes"}})),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while blocked.iter().any(|id| active(id)) {
        assert!(
            Instant::now() < deadline,
            "ForceDeletes did not release the disables"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = wait_status(&t, &sp, &job, "the job to be healthy", |s| {
        s["code"] == "Active" && s["quarantine"].is_null()
    })
    .await;
    assert_eq!(s["lastExecution"]["state"], "Succeeded");
}

#[tokio::test]
async fn quarantine_retries_on_a_growing_back_off_and_lifts_when_the_target_recovers() {
    // Retries at 6 h, 12 h, 24 h / 36,000 = 0.6 s, 1.2 s, 2.4 s.
    let t = twin(36_000.0, Lag::off()).await;
    let (sp, job) = coda(&t);
    assert!(
        t.twin.scim_store.one_token_at_a_time(),
        "the demo (Coda) store keeps one token"
    );
    assert_eq!(
        call(&t, "POST", &format!("{}/start", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    wait_status(&t, &sp, &job, "the initial cycle", |s| {
        s["lastExecution"]["state"] == "Succeeded"
    })
    .await;

    // Someone generates a new Coda token: the job's token stops working, as
    // the next cycle with something to send finds out.
    let fresh = t.issue_scim_token();
    let someone = linked_user(&t, &sp, &job);
    t.twin.tenant().users.get_mut(&someone).unwrap().surname = Some("Changed".into());
    let first = wait_status(&t, &sp, &job, "the quarantine", |s| {
        s["code"] == "Quarantine" && s["quarantine"]["nextAttempt"].is_string()
    })
    .await;
    let q = &first["quarantine"];
    assert_eq!(q["reason"], "EncounteredQuarantineException");
    assert!(
        q["currentBegan"].is_string() && q["error"]["message"].as_str().unwrap().contains("401"),
        "{q}"
    );
    let gap = |q: &Value| time(&q["nextAttempt"]) - time(&q["currentBegan"]);
    let second = wait_status(&t, &sp, &job, "a second attempt", |s| {
        s["quarantine"]["seriesCount"].as_i64() >= Some(2)
            && s["quarantine"]["nextAttempt"].is_string()
    })
    .await;
    assert!(
        gap(&second["quarantine"]) > gap(q),
        "the back-off does not grow: {q} then {}",
        second["quarantine"]
    );
    assert!(time(&second["quarantine"]["nextAttempt"]) > time(&q["nextAttempt"]));

    // Fix the credentials (no start): the next attempt succeeds and lifts the quarantine.
    let value = json!({"value": [
        {"key": "BaseAddress", "value": t.scim_url},
        {"key": "SecretToken", "value": fresh.expose()},
    ]});
    let (s, v) = call(
        &t,
        "PUT",
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(value),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let s = wait_status(&t, &sp, &job, "recovery", |s| {
        s["code"] == "Active" && s["quarantine"].is_null()
    })
    .await;
    assert_eq!(s["lastExecution"]["state"], "Succeeded");
}

#[tokio::test]
async fn one_token_at_a_time_revokes_the_old_token_only_when_on() {
    for (one, old_still_works) in [(Some(true), false), (Some(false), true)] {
        let t = start(TwinOptions {
            lag: Lag::off(),
            one_scim_token: one,
            provision_at_start: false,
            ..TwinOptions::default()
        })
        .await
        .unwrap();
        let old = t.scim_token.clone();
        let users = |tok: String| {
            let url = format!("{}/Users", t.scim_url);
            async move {
                http()
                    .get(url)
                    .bearer_auth(tok)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(users(old.expose().to_string()).await, StatusCode::OK);
        let authority = &t.authority_url;
        let r = http()
            .post(format!("{authority}/scim/tokens"))
            .bearer_auth(old.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let new = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(users(new).await, StatusCode::OK);
        let want = if old_still_works {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(
            users(old.expose().to_string()).await,
            want,
            "one token at a time = {one:?}"
        );
        // Issuing needs a current token.
        let r = http()
            .post(format!("{authority}/scim/tokens"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

fn pod(rule: &str, user: &str) -> Value {
    json!({"parameters": [{"ruleId": rule, "subjects": [{"objectId": user, "objectTypeName": "User"}]}]})
}

fn rule_of(t: &RunningTwin, sp: &str, job: &str) -> String {
    t.twin.tenant().synchronization[sp].jobs[job].schema["synchronizationRules"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn on_demand_answers_like_microsofts_example_and_lags_behind_new_assignments() {
    let t = start(TwinOptions {
        lag: Lag {
            replication: Duration::ZERO,
            assignment: Duration::from_secs(120),
            ..Lag::realistic()
        },
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    let (sp, job) = coda(&t);
    let rule = rule_of(&t, &sp, &job);
    let linked = linked_user(&t, &sp, &job);
    let (s, v) = call(
        &t,
        "POST",
        &format!("{}/provisionOnDemand", job_path(&sp, &job)),
        Some(pod(&rule, &linked)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let key: Value = serde_json::from_str(v["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Skipped", "{key}");
    assert_eq!(key["details"]["errorCode"], "RedundantExport");
    assert!(
        key["details"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("already match")
    );
    let value: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["action"], "Other");
    assert_eq!(value["statusInfo"]["status"], "Skipped");
    for k in ["changeId", "startTime", "endTime", "reportableIdentifier"] {
        assert!(value[k].is_string(), "{k} missing: {value}");
    }
    assert_eq!(value["sourceIdentity"]["type"], "User");
    assert_eq!(value["sourceIdentity"]["id"], linked);
    assert_eq!(value["sourceSystem"]["name"], "Azure Active Directory");
    assert_eq!(value["targetSystem"]["name"], "customappsso");
    let steps = value["provisioningSteps"].as_array().unwrap();
    for st in steps {
        for k in ["name", "type", "status", "description", "timestamp"] {
            assert!(st[k].is_string(), "step without {k}: {st}");
        }
    }
    let last = steps.last().unwrap();
    assert_eq!(
        (&last["type"], &last["status"]),
        (&json!("Export"), &json!("Skipped"))
    );
    assert_eq!(last["details"]["SkipReason"], "RedundantExport");

    // A user assigned just now: on-demand does not see the assignment yet.
    let (newcomer, role) = {
        let tenant = t.twin.tenant();
        let assigned: std::collections::HashSet<String> = tenant
            .users_in_assignment_scope(&sp)
            .into_iter()
            .map(|u| u.id.clone())
            .collect();
        let u = tenant
            .users
            .values()
            .find(|u| {
                !assigned.contains(&u.id)
                    && u.account_enabled
                    && u.department.as_deref() != Some("Contractors")
            })
            .unwrap()
            .id
            .clone();
        let role = tenant.service_principals[&sp].app_roles[0].id.clone();
        (u, role)
    };
    let (s, v) = call(
        &t,
        "POST",
        &format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
        Some(json!({"principalId": newcomer, "resourceId": sp, "appRoleId": role})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &t,
        "POST",
        &format!("{}/provisionOnDemand", job_path(&sp, &job)),
        Some(pod(&rule, &newcomer)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let key: Value = serde_json::from_str(v["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Skipped", "{key}");
    assert!(
        key["details"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not assigned"),
        "{key}"
    );
    // And a cycle leaves the user out too.
    let r = scimshift::twin::engine::run_incremental_cycle(&t.twin, &sp, &job)
        .await
        .unwrap();
    assert!(
        r.requests.iter().all(|q| !q.contains("POST /Users")),
        "{:#?}",
        r.requests
    );
}

#[tokio::test]
async fn new_jobs_flap_and_sync_calls_fail_transiently_right_after_creation() {
    let t = start(TwinOptions {
        lag: Lag {
            replication: Duration::from_secs(2),
            ..Lag::realistic()
        },
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    let (sp, _) = coda(&t);
    let (s, v) = call(
        &t,
        "POST",
        &format!("/servicePrincipals/{sp}/synchronization/jobs"),
        Some(json!({"templateId": "coda"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let job = v["id"].as_str().unwrap().to_string();
    // Right after creation: 403 or 409 (what Terraform's azuread provider retries), or 404.
    let (s, v) = call(&t, "GET", &job_path(&sp, &job), None).await;
    assert!([403, 404, 409].contains(&s), "{s}: {v}");
    // Bounded polling until five reads in a row succeed.
    let mut seen = std::collections::BTreeSet::new();
    let (mut in_a_row, deadline) = (0, Instant::now() + Duration::from_secs(20));
    while in_a_row < 5 {
        assert!(Instant::now() < deadline, "the job never became readable");
        let (s, _) = call(&t, "GET", &job_path(&sp, &job), None).await;
        seen.insert(s);
        in_a_row = if s == 200 { in_a_row + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen.iter().any(|s| [403, 409].contains(s)),
        "no transient sync error: {seen:?}"
    );
}

#[tokio::test]
async fn batch_answers_come_back_shuffled_and_pair_by_id() {
    let t = start(TwinOptions {
        lag: Lag::off(),
        provision_at_start: false,
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    let users: Vec<String> = t.twin.tenant().users.keys().take(12).cloned().collect();
    let requests: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{u}")}))
        .collect();
    let (s, v) = call(&t, "POST", "/$batch", Some(json!({"requests": requests}))).await;
    assert_eq!(s, 200, "{v}");
    let answers = v["responses"].as_array().unwrap();
    let order: Vec<&str> = answers.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let asked: Vec<String> = (0..users.len()).map(|i| i.to_string()).collect();
    assert_ne!(order, asked, "answers came back in request order");
    for a in answers {
        let i: usize = a["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            a["body"]["id"],
            users[i].as_str(),
            "answer {i} is not its request's"
        );
    }
}

#[tokio::test]
async fn time_scale_sets_the_interval_and_paces_the_initial_cycle() {
    let t = twin(600.0, Lag::off()).await;
    assert_eq!(t.twin.engine.interval(), Some(Duration::from_secs(4)));
    let (sp, job) = coda(&t);
    assert_eq!(
        call(&t, "POST", &format!("{}/start", job_path(&sp, &job)), None)
            .await
            .0,
        204
    );
    let s = wait_status(&t, &sp, &job, "the initial cycle", |s| {
        s["lastExecution"]["state"] == "Succeeded"
    })
    .await;
    let took = time(&s["lastExecution"]["timeEnded"]) - time(&s["lastExecution"]["timeBegan"]);
    let objects = s["progress"][0]["totalUnits"].as_u64().unwrap() as i64;
    // Microsoft: at least 0.01 min per object, i.e. 0.6 s / 600 = 1 ms each.
    assert!(
        took >= chrono::Duration::milliseconds(objects),
        "{objects} objects in {took}: not paced"
    );
}
