//! The engine on the demo tenant (Northwind, seed `demo`): the gallery job's
//! initial cycle at start, then two custom jobs on the same assignments. One
//! carries the gallery's user mappings over (as the planner's schema step
//! does): it matches all 155 users and pushes the groups. The other keeps the
//! `scim` defaults (`userName ← userPrincipalName`, no scoping filter): it
//! creates the 12 Wingtip duplicates the planner warns about (and the 12
//! Contractors the gallery filter kept out).

use scimshift::twin::engine;
use scimshift::twin::schemas;
use scimshift::twin::scim_store::Kind;
use scimshift::twin::server::{TwinOptions, start};
use scimshift::twin::state::{ServicePrincipal, SyncJob, Synchronization};
use serde_json::{Value, json};

fn add_custom_job(twin: &scimshift::twin::Twin, gallery_sp: &str, sp: &str, schema: Value) {
    let mut t = twin.tenant();
    let secrets = t.synchronization[gallery_sp].secrets.clone();
    t.service_principals.insert(
        sp.into(),
        serde_json::from_value::<ServicePrincipal>(
            json!({"id": sp, "appId": format!("app-{sp}"), "displayName": sp}),
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
    t.synchronization.insert(sp.into(), sync);
    let copies: Vec<_> = t
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
        t.assignments.insert(a.id.clone(), a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seed_cutover_matches_everyone_and_default_mappings_duplicate_twelve() {
    let running = start(TwinOptions {
        quota_scale: 0.0,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(running.warnings.is_empty(), "{:?}", running.warnings);
    let twin = running.twin.clone();
    twin.engine.set_interval(None);
    let (gallery_sp, gallery_job, gallery_schema) = {
        let t = twin.tenant();
        t.synchronization
            .iter()
            .find_map(|(sp, s)| {
                s.jobs
                    .values()
                    .find(|j| j.template_id == "coda")
                    .map(|j| (sp.clone(), j.id.clone(), j.schema.clone()))
            })
            .expect("the demo has a Coda gallery job")
    };

    // The initial cycle at start: 155 in-scope users, plus 3 hand-made target users.
    let j = twin.tenant().synchronization[&gallery_sp].jobs[&gallery_job].clone();
    assert_eq!(j.user_links.len(), 155);
    assert_eq!(j.status["synchronizedEntryCountByType"][0]["value"], 155);
    assert_eq!(twin.scim_store.count(Kind::User), 158);
    assert!(
        twin.scim_store
            .user_by_username("siobhan.o'brien@northwind.example")
            .is_some()
    );
    let contractors: Vec<String> = {
        let t = twin.tenant();
        t.users
            .values()
            .filter(|u| u.department.as_deref() == Some("Contractors"))
            .filter_map(|u| u.mail.clone())
            .collect()
    };
    assert_eq!(contractors.len(), 12);
    assert!(
        contractors
            .iter()
            .all(|m| twin.scim_store.user_by_username(m).is_none())
    );
    let r = engine::run_cycle_report(&twin, &gallery_sp, &gallery_job)
        .await
        .unwrap();
    assert!(r.writes().is_empty(), "{:#?}", r.writes());

    // Cutover with the gallery's user mappings carried over and groups on.
    let mut carried = schemas::default_scim_schema();
    let gallery_users = gallery_schema["synchronizationRules"][0]["objectMappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sourceObjectName"] == "User")
        .unwrap()
        .clone();
    let users = &mut carried["synchronizationRules"][0]["objectMappings"][0];
    users["attributeMappings"] = gallery_users["attributeMappings"].clone();
    users["scope"] = gallery_users["scope"].clone();
    add_custom_job(&twin, &gallery_sp, "sp-custom", carried);
    let r = engine::run_cycle_report(&twin, "sp-custom", "scim.job")
        .await
        .unwrap();
    assert_eq!(
        (r.users_created, r.escrowed, r.quarantined.as_deref()),
        (0, 0, None),
        "{r:#?}"
    );
    assert_eq!(r.users_unchanged + r.users_updated, 155);
    assert_eq!(twin.scim_store.count(Kind::User), 158, "nobody duplicated");
    assert_eq!(
        r.groups_created, 3,
        "Coda Finance already exists in the target and is matched"
    );
    let groups = twin.scim_store.groups();
    let names: Vec<&str> = groups
        .iter()
        .filter_map(|g| g["displayName"].as_str())
        .collect();
    assert!(
        !names.contains(&"Platform Guild"),
        "nested groups are not pushed: {names:?}"
    );
    assert_eq!(names.iter().filter(|n| **n == "Coda Finance").count(), 1);
    let eng = groups
        .iter()
        .find(|g| g["displayName"] == "Coda Engineering")
        .unwrap();
    assert_eq!(
        eng["members"].as_array().unwrap().len(),
        60,
        "direct members only"
    );
    let launch = groups
        .iter()
        .find(|g| g["displayName"] == "Product Launch 2026")
        .unwrap();
    assert_eq!(
        launch["members"].as_array().unwrap().len(),
        20,
        "the Microsoft 365 group is pushed like any other"
    );

    // The scim defaults instead: userName from userPrincipalName, no scoping filter.
    add_custom_job(
        &twin,
        &gallery_sp,
        "sp-default",
        schemas::default_scim_schema(),
    );
    let r = engine::run_cycle_report(&twin, "sp-default", "scim.job")
        .await
        .unwrap();
    assert_eq!(
        r.users_created, 24,
        "12 Wingtip duplicates + 12 Contractors: {r:#?}"
    );
    let created: Vec<String> = r
        .requests
        .iter()
        .filter(|q| q.starts_with("POST /Users"))
        .filter_map(|q| {
            serde_json::from_str::<Value>(q.split_once(' ').unwrap().1.split_once(' ').unwrap().1)
                .ok()
        })
        .filter_map(|b| b["userName"].as_str().map(str::to_string))
        .collect();
    let wingtip_dups = created
        .iter()
        .filter(|u| {
            let t = twin.tenant();
            t.users.values().any(|d| {
                &d.user_principal_name == *u
                    && d.mail
                        .as_deref()
                        .is_some_and(|m| m.ends_with("@wingtip.example"))
            })
        })
        .count();
    assert_eq!(wingtip_dups, 12);
    running.shutdown().await;
}
