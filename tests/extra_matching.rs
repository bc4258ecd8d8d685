//! Plans that prevent duplicates, end to end: a tenant where some people were
//! renamed after the gallery app provisioned them (their old UPN is still the
//! target's userName; the target's externalId is what the gallery mapped,
//! their object id). Snapshot and plan run through the `scimshift` binary
//! against the twin; the twin's engine then runs the custom job's first cycle
//! with the schema each plan would PUT, against the embedded store and against
//! the independent scim2-server.
//!
//! - The default plan matches also on `externalId ← [objectId]`, predicts 0
//!   duplicates, and lists the renames (with the Coda profile's note); the
//!   engine creates nobody and renames the three accounts.
//! - `--no-extra-matching` keeps the gallery's matching: the plan predicts
//!   exactly the three duplicates the engine then creates.
//! - When only the target's work email holds a renamed person's address (the
//!   UPN changed, the mail did not), the plan matches also on
//!   `emails[type eq "work"].value`, and both servers answer that filter.
//! - When the secondary attribute's values are not unique in the target
//!   (`externalId ← [mailNickname]`, two accounts holding one nickname), the
//!   plan adds nothing, says why, and predicts the duplicates the engine makes.

mod common;

use common::cli::{bin, run, text};
use scimshift::plan::{Plan, UserAction};
use scimshift::twin::engine;
use scimshift::twin::lag::Lag;
use scimshift::twin::seed::{Seed, SeedSpec};
use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use scimshift::twin::state::{ServicePrincipal, SyncJob, Synchronization};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Indices (into the synthetic users) of the people renamed since the gallery
/// provisioned them; user 8 is a contractor (out of the gallery's scope).
const RENAMED: [usize; 3] = [1, 4, 10];
const USERS: usize = 12;

fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}
fn old_upn(i: usize) -> String {
    format!("user{i:07}@synthetic.example")
}
fn new_upn(i: usize) -> String {
    format!("renamed{i:02}@synthetic.example")
}

/// Which source the gallery maps into the target's externalId.
#[derive(Clone, Copy, PartialEq)]
enum ExternalId {
    ObjectId,
    /// The mail nickname, with a second target account holding user 1's.
    SharedNickname,
    /// No externalId at all; the renamed people kept their mail (only the
    /// UPN changed), which the target holds in emails.
    None,
}

/// The synthetic Coda tenant, its gallery job mapping `userName ←
/// [userPrincipalName]` (matching), `externalId` and `emails ← [mail]`, the
/// target holding what the gallery provisioned back then, and three people
/// renamed since (new UPN and mail).
fn renamed_seed(ext: ExternalId) -> Seed {
    let mut seed = scimshift::twin::seed::synthetic(USERS, 2);
    let t = &mut seed.tenant;
    let mut schema = scimshift::twin::schemas::coda_gallery_schema();
    let ext_source = match ext {
        ExternalId::ObjectId => Some("objectId"),
        ExternalId::SharedNickname => Some("mailNickname"),
        ExternalId::None => None,
    };
    {
        let attrs = schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"]
            .as_array_mut()
            .unwrap();
        attrs[0]["source"] = json!({"type": "Attribute", "name": "userPrincipalName", "expression": "[userPrincipalName]", "parameters": []});
        let mapped = [
            ext_source.map(|s| ("externalId", s)),
            Some(("emails[type eq \"work\"].value", "mail")),
        ];
        for (target, source) in mapped.into_iter().flatten() {
            attrs.push(json!({"targetAttributeName": target, "matchingPriority": 0, "flowType": "Always",
                "flowBehavior": "FlowWhenChanged", "defaultValue": null, "exportMissingReferences": false,
                "source": {"type": "Attribute", "name": source, "expression": format!("[{source}]"), "parameters": []}}));
        }
    }
    for s in t.synchronization.values_mut() {
        for j in s.jobs.values_mut() {
            let id = j.schema["id"].clone();
            j.schema = schema.clone();
            j.schema["id"] = id;
        }
    }
    // What the gallery provisioned: everyone in its scope, with their values then.
    for i in 0..USERS {
        let u = &t.users[&user_id(i)];
        if u.department.as_deref() == Some("Contractors") {
            continue;
        }
        let mut record = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": old_upn(i), "active": true,
            "name": {"givenName": u.given_name, "familyName": u.surname},
            "emails": [{"type": "work", "primary": true, "value": old_upn(i)}]
        });
        match ext {
            ExternalId::ObjectId => record["externalId"] = json!(u.id),
            ExternalId::SharedNickname => record["externalId"] = json!(u.mail_nickname),
            ExternalId::None => {}
        }
        seed.target.users.push(record);
    }
    if ext == ExternalId::SharedNickname {
        // Someone else's account holding user 1's nickname as its externalId.
        let nick = t.users[&user_id(RENAMED[0])].mail_nickname.clone().unwrap();
        seed.target.users.push(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "namesake@partner.example", "externalId": nick, "active": true,
            "emails": [{"type": "work", "primary": true, "value": "namesake@partner.example"}]
        }));
    }
    // Renamed in Entra since: new UPN and (but for `None`) mail; object id and nickname stay.
    for i in RENAMED {
        let u = t.users.get_mut(&user_id(i)).unwrap();
        u.user_principal_name = new_upn(i);
        if ext != ExternalId::None {
            u.mail = Some(new_upn(i));
        }
    }
    seed
}

fn options(seed: Seed, scim_target: Option<&common::Scim2Server>) -> TwinOptions {
    TwinOptions {
        seed: SeedSpec::Data(Box::new(seed)),
        lag: Lag::off(),
        time_scale: None,
        quota_scale: 0.0,
        scim_target: scim_target.map(|s| {
            (
                s.base_url.clone(),
                scimshift::secret::Secret::new(s.token.clone()),
            )
        }),
        ..TwinOptions::default()
    }
}

/// `scimshift snapshot` then `scimshift plan` (with `extra` flags) through the binary.
async fn snapshot_cli(t: &RunningTwin, dir: &Path) -> std::path::PathBuf {
    let snap = dir.join("snapshot.json");
    let mut c = bin();
    c.args([
        "snapshot",
        "--app",
        "Coda",
        "--scim-url",
        &t.scim_url,
        "--out",
    ])
    .arg(&snap)
    .args([
        "--graph-url",
        &t.graph_url,
        "--authority-url",
        &t.authority_url,
    ])
    .env("AZURE_TENANT_ID", &t.tenant_id)
    .env("AZURE_CLIENT_ID", &t.client_id)
    .env("AZURE_CLIENT_SECRET", t.client_secret.expose())
    .env("SCIM_TOKEN", t.scim_token.expose())
    .timeout(Duration::from_secs(300));
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    snap
}

async fn plan_cli(snap: &Path, dir: &Path, name: &str, extra: &[&str]) -> (Plan, String) {
    let out = dir.join(format!("{name}.json"));
    let report = dir.join(format!("{name}.md"));
    let mut c = bin();
    c.args(["plan", "--profile", "coda", "--snapshot"])
        .arg(snap)
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .args(extra)
        .timeout(Duration::from_secs(120));
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "changes planned: {:?}", text(&o));
    (
        Plan::load(&out).unwrap(),
        std::fs::read_to_string(&report).unwrap(),
    )
}

fn schema_of(p: &Plan) -> Value {
    p.steps
        .iter()
        .find(|s| s.id == "put-schema")
        .and_then(|s| s.requests.iter().find(|r| r.method.as_str() == "PUT"))
        .and_then(|r| r.body.clone())
        .expect("a put-schema step")
}

/// The matching attributes of the schema's User mapping, `(target, priority)` in precedence order.
fn matching_of(schema: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = schema["synchronizationRules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["objectMappings"].as_array().unwrap().clone())
        .filter(|m| m["sourceObjectName"] == "User")
        .flat_map(|m| m["attributeMappings"].as_array().unwrap().clone())
        .filter_map(|a| {
            let p = a["matchingPriority"].as_i64().unwrap_or(0);
            (p > 0).then(|| (a["targetAttributeName"].as_str().unwrap().to_string(), p))
        })
        .collect();
    out.sort_by_key(|(_, p)| *p);
    out
}

/// The custom app's job with `schema`, on the gallery's assignments and
/// target, run once; returns the userNames it created and the cycle report.
async fn first_cycle(t: &RunningTwin, schema: Value) -> (BTreeSet<String>, engine::CycleReport) {
    let twin = &t.twin;
    twin.engine.set_interval(None);
    twin.engine.set_concurrency(1);
    let sp = "sp-custom";
    {
        let mut ten = twin.tenant();
        let gallery_sp = ten
            .service_principals
            .values()
            .find(|s| s.display_name == "Coda")
            .unwrap()
            .id
            .clone();
        let secrets = ten.synchronization[&gallery_sp].secrets.clone();
        ten.service_principals.insert(
            sp.into(),
            serde_json::from_value::<ServicePrincipal>(
                json!({"id": sp, "appId": "app-custom", "displayName": "Coda (SCIM custom)"}),
            )
            .unwrap(),
        );
        let mut sync = Synchronization {
            secrets,
            ..Default::default()
        };
        sync.jobs.insert(
            "scim.job".into(),
            SyncJob {
                id: "scim.job".into(),
                template_id: "scim".into(),
                schedule_state: "Disabled".into(),
                status: json!({"code": "NotRun"}),
                schema,
                user_links: Default::default(),
                group_links: Default::default(),
            },
        );
        ten.synchronization.insert(sp.into(), sync);
        let copies: Vec<_> = ten
            .assignments
            .values()
            .filter(|a| a.resource_id == gallery_sp)
            .cloned()
            .map(|mut a| {
                a.id = format!("{sp}-{}", a.principal_id);
                a.resource_id = sp.into();
                a
            })
            .collect();
        for a in copies {
            ten.assignments.insert(a.id.clone(), a);
        }
    }
    let r = engine::run_cycle_report(twin, sp, "scim.job")
        .await
        .unwrap();
    assert_eq!(r.quarantined, None, "{r:#?}");
    let created = r
        .requests
        .iter()
        .filter(|q| q.starts_with("POST /Users"))
        .filter_map(|q| {
            let body = q.split_once(' ')?.1.split_once(' ')?.1;
            serde_json::from_str::<Value>(body).ok()
        })
        .filter_map(|b| b["userName"].as_str().map(str::to_string))
        .collect();
    (created, r)
}

/// The target's userNames now, read over SCIM.
async fn target_user_names(t: &RunningTwin) -> BTreeSet<String> {
    let scim = common::twin::scim(t);
    scim.list_all(scimshift::scim::Resource::Users, 100)
        .await
        .unwrap()
        .iter()
        .filter_map(|u| u["userName"].as_str().map(str::to_lowercase))
        .collect()
}

fn renamed_new() -> BTreeSet<String> {
    RENAMED.iter().map(|&i| new_upn(i)).collect()
}

/// The whole story on one kind of target: `scim2` false = the twin's embedded
/// store, true = scim2-server (one fresh server per cycle).
async fn renamed_users_story(scim2: bool) {
    let servers = scim2.then(|| (common::start_scim2_server(), common::start_scim2_server()));
    let seed = renamed_seed(ExternalId::ObjectId);
    let t = start(options(seed.clone(), servers.as_ref().map(|s| &s.0)))
        .await
        .unwrap();
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let dir = common::schemas::tempdir();
    let snap = snapshot_cli(&t, dir.path()).await;
    let (plan, report) = plan_cli(&snap, dir.path(), "plan", &[]).await;
    let (plain, plain_report) =
        plan_cli(&snap, dir.path(), "plain", &["--no-extra-matching"]).await;

    // The default plan: matched also on externalId <- objectId, no duplicates.
    let schema = schema_of(&plan);
    assert_eq!(
        matching_of(&schema),
        vec![("userName".to_string(), 1), ("externalId".to_string(), 2)],
        "{:#?}",
        plan.findings
    );
    assert_eq!(plan.summary.duplicates, 0, "{:#?}", plan.findings);
    assert_eq!(plan.summary.users_create, 0);
    let extra = plan
        .findings
        .iter()
        .find(|f| f.code == "extra-matching")
        .expect("an extra-matching finding");
    assert!(
        extra.message.contains("externalId ← [objectId]") && extra.message.contains("3 → 0"),
        "{}",
        extra.message
    );
    // Each renamed person: matched, and the update renames the account.
    for i in RENAMED {
        let u = plan.impact.iter().find(|u| u.id() == user_id(i)).unwrap();
        assert_eq!(u.action, UserAction::Match, "{u:?}");
        assert_eq!(u.rename(), Some((old_upn(i), new_upn(i))), "{u:?}");
    }
    let renamed_rows = plan.impact.iter().filter(|u| u.rename().is_some()).count();
    assert_eq!(
        renamed_rows,
        RENAMED.len(),
        "only the renamed people change userName"
    );
    let rf = plan
        .findings
        .iter()
        .find(|f| f.code == "user-renamed-in-target")
        .expect("a rename finding");
    assert!(
        rf.message.contains("JIT"),
        "Coda's rename note: {}",
        rf.message
    );
    let section = report
        .split("## Renamed in the target")
        .nth(1)
        .expect("the report has a section for renames");
    for i in RENAMED {
        assert!(
            section.contains(&format!("| {} | {} |", old_upn(i), new_upn(i))),
            "{section}"
        );
    }
    assert!(section.contains("JIT"), "{section}");
    assert!(
        report.contains("extra-matching"),
        "the proposal is in the report's findings"
    );

    // --no-extra-matching: the gallery's matching exactly, three duplicates.
    assert_eq!(
        matching_of(&schema_of(&plain)),
        vec![("userName".to_string(), 1)]
    );
    assert!(!plain.app.extra_matching);
    let predicted_dups: BTreeSet<String> = plain
        .impact
        .iter()
        .filter(|u| u.duplicate)
        .map(|u| u.user_principal_name().to_string())
        .collect();
    assert_eq!(predicted_dups, renamed_new());
    assert!(
        plain.findings.iter().any(|f| f.code == "extra-matching-off"
            && f.message.contains("3 predicted duplicates into 0")),
        "{:#?}",
        plain.findings
    );
    let tie = plain
        .findings
        .iter()
        .find(|f| f.code == "duplicate-tie")
        .expect("a finding per kind of tie that remains");
    assert!(
        tie.message.contains("objectId = target externalId")
            && tie.message.contains("without --no-extra-matching"),
        "{}",
        tie.message
    );
    assert!(!plain_report.contains("## Renamed in the target"));

    // The engine with the default plan's schema: nobody created, three renamed.
    let (created, r) = first_cycle(&t, schema).await;
    assert!(created.is_empty(), "created {created:?}: {r:#?}");
    assert_eq!(r.escrowed, 0, "{r:#?}");
    let names = target_user_names(&t).await;
    for i in RENAMED {
        assert!(names.contains(&new_upn(i)), "{names:?}");
        assert!(!names.contains(&old_upn(i)), "{names:?}");
    }
    t.shutdown().await;

    // The engine with --no-extra-matching's schema, on the same tenant afresh:
    // exactly the duplicates the plan predicted.
    let t = start(options(seed, servers.as_ref().map(|s| &s.1)))
        .await
        .unwrap();
    let (created, r) = first_cycle(&t, schema_of(&plain)).await;
    assert_eq!(created, predicted_dups, "{r:#?}");
    assert_eq!(r.users_created, plain.summary.users_create);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_users_are_matched_not_duplicated_on_the_embedded_store() {
    renamed_users_story(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_users_are_matched_not_duplicated_on_scim2_server() {
    renamed_users_story(true).await;
}

/// The secondary attribute's values are not unique in the target: a finding
/// naming the people and accounts, no extra matching attribute, and the plan
/// predicts exactly the duplicates the engine creates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_attribute_not_unique_in_the_target_is_not_added() {
    let t = start(options(renamed_seed(ExternalId::SharedNickname), None))
        .await
        .unwrap();
    let dir = common::schemas::tempdir();
    let snap = snapshot_cli(&t, dir.path()).await;
    let (plan, _) = plan_cli(&snap, dir.path(), "plan", &[]).await;
    assert_eq!(
        matching_of(&schema_of(&plan)),
        vec![("userName".to_string(), 1)]
    );
    let f = plan
        .findings
        .iter()
        .find(|f| f.code == "extra-matching-refused")
        .unwrap_or_else(|| panic!("{:#?}", plan.findings));
    assert!(
        f.message.contains("externalId ← [mailNickname]")
            && f.message.contains("held by several target users"),
        "{}",
        f.message
    );
    assert!(
        f.objects
            .iter()
            .any(|o| o.kind == "targetUser" && o.name == "namesake@partner.example"),
        "{:?}",
        f.objects
    );
    assert!(!plan.findings.iter().any(|f| f.code == "extra-matching"));
    let predicted: BTreeSet<String> = plan
        .impact
        .iter()
        .filter(|u| u.duplicate)
        .map(|u| u.user_principal_name().to_string())
        .collect();
    assert_eq!(predicted, renamed_new());
    let (created, _) = first_cycle(&t, schema_of(&plan)).await;
    assert_eq!(created, predicted);
    t.shutdown().await;
}

/// Only the target's emails hold the renamed people's address (their UPN
/// changed, their mail did not): the plan matches also on the work email,
/// and Entra's filter `emails[type eq "work"].value eq "…"` finds them, in
/// the embedded store and in scim2-server.
async fn matched_on_the_work_email(scim2: bool) {
    let server = scim2.then(common::start_scim2_server);
    let t = start(options(renamed_seed(ExternalId::None), server.as_ref()))
        .await
        .unwrap();
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let dir = common::schemas::tempdir();
    let snap = snapshot_cli(&t, dir.path()).await;
    let (plan, _) = plan_cli(&snap, dir.path(), "plan", &[]).await;
    let schema = schema_of(&plan);
    assert_eq!(
        matching_of(&schema),
        vec![
            ("userName".to_string(), 1),
            ("emails[type eq \"work\"].value".to_string(), 2)
        ],
        "{:#?}",
        plan.findings
    );
    assert_eq!(plan.summary.duplicates, 0, "{:#?}", plan.findings);
    for i in RENAMED {
        let u = plan.impact.iter().find(|u| u.id() == user_id(i)).unwrap();
        assert_eq!(u.action, UserAction::Match, "{u:?}");
        assert_eq!(u.rename(), Some((old_upn(i), new_upn(i))), "{u:?}");
    }
    let (created, r) = first_cycle(&t, schema).await;
    assert!(created.is_empty(), "created {created:?}: {r:#?}");
    assert_eq!(r.escrowed, 0, "{r:#?}");
    assert!(
        r.requests
            .iter()
            .any(|q| q
                .starts_with("GET /Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq")),
        "{:#?}",
        r.requests
    );
    let names = target_user_names(&t).await;
    for i in RENAMED {
        assert!(names.contains(&new_upn(i)), "{names:?}");
    }
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_users_are_matched_on_the_work_email_on_the_embedded_store() {
    matched_on_the_work_email(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_users_are_matched_on_the_work_email_on_scim2_server() {
    matched_on_the_work_email(true).await;
}
