//! Scenario rehearsals: the demo tenant bent around one migration risk at a
//! time, snapshotted and planned through the binary, then rehearsed twice on
//! a twin rebuilt from the snapshot alone:
//! - with the plan as made: every user's and group's prediction must hold,
//!   nobody deactivated (`rehearse` exits 0);
//! - with the wrong turn (`--mapping default`: Entra's default user mapping,
//!   nothing carried over from the gallery): the users the plan then calls
//!   duplicates must be exactly the users the engine creates a second account
//!   for, and exactly the ones this file says by construction.
//!
//! Each scenario's expected duplicates are worked out here from the tenant's
//! design (who has which mail, city, department), not from the planner.

mod common;

use common::cli;
use common::migration::Migration;
use scimshift::twin::seed::{Seed, SeedSpec, demo};
use scimshift::twin::server::{RunningTwin, TwinOptions};
use scimshift::twin::state::{DirGroup, Tenant};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The demo's 12 Wingtip users (mail on the legacy domain): the duplicates
/// Entra's default mapping makes in the demo itself.
fn wingtip() -> BTreeSet<String> {
    common::data::DEMO_WINGTIP
        .iter()
        .map(|(upn, _)| upn.to_string())
        .collect()
}

fn opts(seed: Seed) -> TwinOptions {
    TwinOptions {
        seed: SeedSpec::Data(Box::new(seed)),
        ..TwinOptions::default()
    }
}

/// The Coda gallery app's synchronization (jobs and settings) in a seed.
fn gallery_sync(t: &mut Tenant) -> &mut scimshift::twin::state::Synchronization {
    let sp = t
        .service_principals
        .values()
        .find(|s| s.display_name == "Coda")
        .unwrap()
        .id
        .clone();
    t.synchronization.get_mut(&sp).unwrap()
}

/// The Coda gallery job's schema in a seed.
fn gallery_schema(t: &mut Tenant) -> &mut Value {
    &mut gallery_sync(t).jobs.values_mut().next().unwrap().schema
}

/// The gallery's user object mapping (the first of its rule).
fn user_mapping(schema: &mut Value) -> &mut Value {
    &mut schema["synchronizationRules"][0]["objectMappings"][0]
}

/// In-scope demo users (assigned through a group or directly, not
/// Contractors) whose mail is their UPN, sorted by UPN; the first `n`.
fn plain_users(t: &Tenant, dept: &str, n: usize) -> Vec<String> {
    let mut v: Vec<&scimshift::twin::state::DirUser> = t
        .users
        .values()
        .filter(|u| u.department.as_deref() == Some(dept))
        .filter(|u| u.mail.as_deref() == Some(u.user_principal_name.as_str()))
        .collect();
    v.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
    v.into_iter().take(n).map(|u| u.id.clone()).collect()
}

struct Outcome {
    /// Users the rehearsal of the plan as made matched, created, skipped.
    table: Value,
    groups: Vec<Value>,
}

/// Snapshot and plan the scenario's tenant, rehearse the plan and the wrong
/// turn, assert both, and give back the plan's rehearsal for more checks.
async fn rehearse_scenario(
    name: &str,
    seed: Seed,
    setup: impl AsyncFnOnce(&RunningTwin),
    plan_args: &[&str],
    wrong_turn_duplicates: BTreeSet<String>,
) -> Outcome {
    let (dir, snapshot, plan) = Migration::prepared(opts(seed), None, plan_args, setup)
        .await
        .into_files()
        .await;
    let run = async |extra: &[&str]| {
        let mut c = cli::bin();
        c.arg("rehearse")
            .arg(&plan)
            .arg("--snapshot")
            .arg(&snapshot)
            .args(["--output", "json", "--csv"])
            .arg(dir.path().join("disagreements.csv"))
            .args(extra);
        let o = cli::run(c).await;
        let (out, err) = cli::text(&o);
        let r: Value = serde_json::from_str(&out)
            .unwrap_or_else(|_| panic!("{name}: rehearse printed no JSON: {out}\n{err}"));
        (o.status.code(), r, err)
    };

    // The plan as made: full agreement.
    let (code, r, err) = run(&[]).await;
    let wrong_rows: Vec<&Value> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["agrees"] == Value::Bool(false))
        .collect();
    let wrong_groups: Vec<&Value> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["agrees"] == Value::Bool(false))
        .collect();
    assert!(
        wrong_rows.is_empty() && wrong_groups.is_empty(),
        "{name}: users {wrong_rows:#?}\ngroups {wrong_groups:#?}\ntable {}",
        r["table"]
    );
    assert_eq!(r["deactivated"], json!([]), "{name}");
    assert_eq!(r["disagreements"], 0, "{name}: {err}");
    assert_eq!(code, Some(0), "{name}: {err}");
    let outcome = Outcome {
        table: r["table"].clone(),
        groups: r["groups"].as_array().unwrap().clone(),
    };

    // The wrong turn: predicted duplicates = created duplicates = by design.
    let (code, r, err) = run(&["--mapping", "default"]).await;
    let rows = r["rows"].as_array().unwrap();
    let set = |f: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        rows.iter()
            .filter(|x| f(x))
            .map(|x| x["userPrincipalName"].as_str().unwrap().to_string())
            .collect()
    };
    let predicted = set(&|x| x["predicted"] == "duplicate");
    let made = set(&|x| x["predicted"] == "duplicate" && x["outcome"] == "created");
    let created = set(&|x| x["outcome"] == "created");
    let expected_creates = set(&|x| x["predicted"] == "create");
    assert_eq!(
        predicted, wrong_turn_duplicates,
        "{name}: predicted duplicates"
    );
    assert_eq!(
        made,
        wrong_turn_duplicates,
        "{name}: duplicates the engine made; the predicted duplicates' rows: {:#?}; verify {}; found done {}",
        rows.iter()
            .filter(|x| x["predicted"] == "duplicate")
            .take(3)
            .collect::<Vec<_>>(),
        r["verify"],
        r["stepsFoundDone"]
    );
    assert_eq!(
        created,
        &wrong_turn_duplicates | &expected_creates,
        "{name}: every create was foretold"
    );
    assert_eq!(r["disagreements"], 0, "{name}: {}", r["table"]);
    assert_eq!(code, Some(0), "{name}: {err}");
    outcome
}

/// 1. userName case: the app holds some userNames in another case than
///    Entra's values (Coda keeps what was sent years ago). SCIM userName is
///    not case-exact, so the engine matches them: no duplicate, an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_username_case_differences() {
    let seed = demo();
    let shouting = plain_users(&seed.tenant, "Sales", 8);
    let names: Vec<String> = shouting
        .iter()
        .map(|id| seed.tenant.users[id].user_principal_name.clone())
        .collect();
    let o = rehearse_scenario(
        "case",
        seed,
        async |t: &RunningTwin| {
            use scimshift::twin::scim_store::Kind;
            for n in &names {
                let mut u = t.twin.scim_store.user_by_username(n).unwrap();
                let id = u["id"].as_str().unwrap().to_string();
                u["userName"] = json!(n.to_uppercase());
                t.twin.scim_store.replace(Kind::User, &id, u).unwrap();
            }
        },
        &[],
        wingtip(),
    )
    .await;
    assert_eq!(o.table["match"]["matched"], 155, "{}", o.table);
}

/// 2. "Sync all users and groups" on both sides: every user the scoping
///    filter lets through is provisioned, assigned or not, and every group
///    in the tenant is pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_sync_all_scope() {
    let mut seed = demo();
    gallery_sync(&mut seed.tenant)
        .secrets
        .insert("SyncAll".into(), "true".into());
    let groups = seed.tenant.groups.len();
    let o = rehearse_scenario(
        "sync-all",
        seed,
        async |_| {},
        &["--scope", "all"],
        wingtip(),
    )
    .await;
    // 200 users less the 12 Contractors the scoping filter excludes.
    assert_eq!(o.table["match"]["matched"], 188, "{}", o.table);
    assert_eq!(o.groups.len(), groups, "every group is pushed");
}

/// 3. A scoping filter on several attributes, in two OR'ed clause groups:
///    (department ≠ Contractors AND city ≠ Berlin) OR (department =
///    Contractors AND city = London).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_scoping_filter_on_several_attributes() {
    let mut seed = demo();
    let clause = |op: &str, attr: &str, v: &str| json!({"operatorName": op, "sourceOperandName": attr, "targetOperand": {"values": [v]}});
    user_mapping(gallery_schema(&mut seed.tenant))["scope"] = json!({
        "groups": [
            {"name": "Staff outside Berlin", "clauses": [
                clause("NOT EQUALS", "department", "Contractors"),
                clause("NOT EQUALS", "city", "Berlin")]},
            {"name": "London contractors", "clauses": [
                clause("EQUALS", "department", "Contractors"),
                clause("EQUALS", "city", "London")]}
        ],
        "inputFilterGroups": [], "categoryFilterGroups": []
    });
    // Wingtip users outside Berlin are in scope and duplicated by the wrong turn.
    let berlin: BTreeSet<String> = seed
        .tenant
        .users
        .values()
        .filter(|u| u.city.as_deref() == Some("Berlin"))
        .map(|u| u.user_principal_name.clone())
        .collect();
    let expected: BTreeSet<String> = wingtip().difference(&berlin).cloned().collect();
    assert!(!expected.is_empty() && expected.len() < 12, "{expected:?}");
    let o = rehearse_scenario("scoping", seed, async |_| {}, &[], expected).await;
    assert!(
        o.table["skip"]["not-provisioned"].as_u64().unwrap() > 20,
        "{}",
        o.table
    );
}

/// 4. Users lacking the matching attribute: six provisioned users lost
///    their mail since the gallery's last export. The plan (userName ←
///    mail) cannot match or create them: predicted to fail, and the engine
///    provisions none of them (no duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_users_lacking_the_matching_attribute() {
    let seed = demo();
    let lost = plain_users(&seed.tenant, "Engineering", 6);
    let o = rehearse_scenario(
        "no-mail",
        seed,
        async |t: &RunningTwin| {
            let mut tenant = t.twin.tenant();
            for id in &lost {
                tenant.users.get_mut(id).unwrap().mail = None;
            }
        },
        &[],
        wingtip(),
    )
    .await;
    assert_eq!(o.table["fail"]["not-provisioned"], 6, "{}", o.table);
    assert_eq!(o.table["match"]["matched"], 149, "{}", o.table);
}

/// 5. Groups nested two levels: Coda Engineering ⊃ Platform Guild ⊃ Guild
///    Leads (three Legal staff assigned nowhere else). Entra provisions no
///    member of a nested group, at any depth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_groups_nested_two_levels() {
    let mut seed = demo();
    let leads = plain_users(&seed.tenant, "Legal", 3);
    let id = "0c0ffee0-0000-4000-8000-00000000a1ed".to_string();
    seed.tenant.groups.insert(
        id.clone(),
        DirGroup {
            id: id.clone(),
            display_name: "Guild Leads".into(),
            description: None,
            group_types: vec![],
            security_enabled: true,
            mail_enabled: false,
            members: leads,
        },
    );
    let guild = seed
        .tenant
        .groups
        .values_mut()
        .find(|g| g.display_name == "Platform Guild")
        .unwrap();
    guild.members.push(id);
    let o = rehearse_scenario("nested", seed, async |_| {}, &[], wingtip()).await;
    assert_eq!(o.table["match"]["matched"], 155, "{}", o.table);
    let eng = o
        .groups
        .iter()
        .find(|g| g["displayName"] == "Coda Engineering")
        .unwrap();
    assert_eq!(eng["membersPredicted"], 60, "{eng}");
}

/// 6. A target with orphans and a colliding group: besides the demo's three
///    hand-made users and its "Coda Finance", the app holds a service
///    account and a group "coda engineering" (another case) made by hand.
///    The orphans stay untouched and active; the group is adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_orphans_and_colliding_groups() {
    let mut seed = demo();
    seed.target.users.push(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ops.bot@northwind.example", "active": true,
        "emails": [{"type": "work", "primary": true, "value": "ops.bot@northwind.example"}]
    }));
    seed.target.groups.push(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "coda engineering", "members": []
    }));
    let o = rehearse_scenario("orphans", seed, async |_| {}, &[], wingtip()).await;
    let eng = o
        .groups
        .iter()
        .find(|g| g["displayName"] == "Coda Engineering")
        .unwrap();
    assert_eq!(eng["predicted"], "adopt", "{eng}");
    assert_eq!(eng["outcome"], "adopted", "{eng}");
}

/// 7. A pilot group over provisionOnDemand's five-member limit: "Coda
///    Finance" (15 members) as the pilot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_pilot_group_over_the_on_demand_limit() {
    let o = rehearse_scenario(
        "pilot",
        demo(),
        async |_| {},
        &["--pilot-group", "Coda Finance"],
        wingtip(),
    )
    .await;
    assert_eq!(o.table["match"]["matched"], 155, "{}", o.table);
}

/// 8. A gallery app that already pushes groups: the gallery's Group mapping
///    is on, so the target's groups are the gallery's own (externalId =
///    the Entra objectId). The custom job adopts each by name and adds no
///    member twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_gallery_already_pushes_groups() {
    let mut seed = demo();
    let schema = gallery_schema(&mut seed.tenant);
    let attr = |target: &str, source: &str, matching: i64| {
        json!({"defaultValue": "", "exportMissingReferences": false, "flowBehavior": "FlowWhenChanged",
               "flowType": "Always", "matchingPriority": matching, "targetAttributeName": target,
               "source": {"expression": format!("[{source}]"), "name": source, "parameters": [], "type": "Attribute"}})
    };
    let groups = json!({
        "attributeMappings": [attr("displayName", "displayName", 1), attr("externalId", "objectId", 0), attr("members", "members", 0)],
        "enabled": true, "flowTypes": "Add, Update, Delete", "metadata": [],
        "name": "Synchronize Microsoft Entra ID Groups to Coda", "scope": null,
        "sourceObjectName": "Group", "targetObjectName": "Group"
    });
    schema["synchronizationRules"][0]["objectMappings"]
        .as_array_mut()
        .unwrap()
        .push(groups);
    let dirs = schema["directories"].as_array_mut().unwrap();
    let coda = dirs.iter_mut().find(|d| d["name"] == "Coda").unwrap();
    coda["objects"].as_array_mut().unwrap().push(json!({
        "name": "Group", "supportedApis": [], "metadata": [],
        "attributes": [
            {"name": "displayName", "type": "String", "multivalued": false, "required": false, "anchor": false, "caseExact": false, "flowNullValues": false, "metadata": [], "referencedObjects": [], "apiExpressions": [], "mutability": "ReadWrite"},
            {"name": "externalId", "type": "String", "multivalued": false, "required": false, "anchor": false, "caseExact": false, "flowNullValues": false, "metadata": [], "referencedObjects": [], "apiExpressions": [], "mutability": "ReadWrite"},
            {"name": "members", "type": "Reference", "multivalued": true, "required": false, "anchor": false, "caseExact": false, "flowNullValues": false, "metadata": [], "referencedObjects": [{"referencedObjectName": "User", "referencedProperty": null}], "apiExpressions": [], "mutability": "ReadWrite"}
        ]
    }));
    // The gallery pushed "Coda Finance" itself: no hand-made one beside it.
    seed.target.groups.clear();
    let o = rehearse_scenario("gallery-groups", seed, async |_| {}, &[], wingtip()).await;
    assert_eq!(o.groups.len(), 4);
    for g in &o.groups {
        assert_eq!(g["predicted"], "adopt", "{g}");
        assert_eq!(g["outcome"], "adopted", "{g}");
    }
}

/// 9. A scoping filter on an on-premises extension attribute: only users
///    tagged `extensionAttribute1 = coda` are provisioned (8 Sales staff were
///    untagged since the gallery's last export). Entra reads the attribute
///    inside Graph's `onPremisesExtensionAttributes`; a snapshot that did not
///    `$select` it would see nobody tagged and predict everyone skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_scope_on_an_extension_attribute() {
    let mut seed = demo();
    let untagged = plain_users(&seed.tenant, "Sales", 8);
    assert_eq!(untagged.len(), 8);
    for u in seed.tenant.users.values_mut() {
        let tag = if untagged.contains(&u.id) {
            "none"
        } else {
            "coda"
        };
        let mut ext = serde_json::Map::new();
        for n in 1..=15 {
            ext.insert(format!("extensionAttribute{n}"), Value::Null);
        }
        ext.insert("extensionAttribute1".into(), json!(tag));
        u.extra
            .insert("onPremisesExtensionAttributes".into(), Value::Object(ext));
    }
    let scope =
        &mut user_mapping(gallery_schema(&mut seed.tenant))["scope"]["groups"][0]["clauses"];
    scope.as_array_mut().unwrap().push(json!({
        "operatorName": "EQUALS", "sourceOperandName": "extensionAttribute1",
        "targetOperand": {"values": ["coda"]}
    }));
    let o = rehearse_scenario("extension-attribute", seed, async |_| {}, &[], wingtip()).await;
    assert_eq!(o.table["match"]["matched"], 147, "{}", o.table);
}
