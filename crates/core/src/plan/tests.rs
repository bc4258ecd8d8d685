//! Unit tests of the planner on programmatic snapshots: every finding, the
//! step order, determinism, and the computed 0-vs-12 duplicates.

use super::testkit::{self, SnapBuilder, demo_ids, gallery_schema};
use super::*;
use crate::snapshot::model::GroupKind;

fn coda() -> Profile {
    Profile::builtin("coda").unwrap()
}

fn plan_of(snap: &crate::snapshot::model::Snapshot, profile: &Profile, opts: &PlanOptions) -> Plan {
    build(snap, profile, opts).expect("plan builds")
}

fn finding<'a>(p: &'a Plan, code: &str) -> &'a Finding {
    p.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| {
            panic!(
                "no finding {code}: {:#?}",
                p.findings.iter().map(|f| &f.code).collect::<Vec<_>>()
            )
        })
}

fn ids(f: &Finding, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = f
        .objects
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.id.clone())
        .collect();
    v.sort();
    v
}

/// A profile that forces `userName ← userPrincipalName` (no copy from gallery).
fn upn_profile() -> Profile {
    let text = coda_text().replace(
        r#"{ target = "userName", source = "userPrincipalName", match = 1, copy_from_gallery = true, note = "must be email-shaped; the gallery job often maps mail" }"#,
        r#"{ target = "userName", source = "userPrincipalName", match = 1 }"#,
    );
    assert!(
        !text.contains("copy_from_gallery = true, note = \"must"),
        "replacement happened"
    );
    Profile::parse(&text, "upn.toml").unwrap()
}

fn coda_text() -> String {
    profile::BUILTIN
        .iter()
        .find(|(n, _)| *n == "coda")
        .unwrap()
        .1
        .to_string()
}

#[test]
fn carried_mapping_predicts_zero_duplicates() {
    let snap = testkit::demo_like();
    let p = plan_of(&snap, &coda(), &PlanOptions::default());
    assert_eq!(p.summary.duplicates, 0);
    assert!(p.findings.iter().all(|f| f.code != "duplicate-on-create"));
    for id in demo_ids::mail_differs() {
        let u = p.impact.iter().find(|u| u.id() == id).unwrap();
        assert_eq!(u.action, UserAction::Match, "{u:?}");
        assert_eq!(u.target_id(), Some(format!("t-{id}").as_str()));
    }
}

#[test]
fn upn_mapping_predicts_twelve_duplicates() {
    let snap = testkit::demo_like();
    let p = plan_of(&snap, &upn_profile(), &PlanOptions::default());
    assert_eq!(p.summary.duplicates, 12);
    let f = finding(&p, "duplicate-on-create");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(ids(f, "user"), demo_ids::mail_differs());
    let targets: Vec<String> = demo_ids::mail_differs()
        .iter()
        .map(|i| format!("t-{i}"))
        .collect();
    assert_eq!(ids(f, "targetUser"), targets);
    // The duplicated target users are not reported as orphans as well.
    assert_eq!(
        ids(finding(&p, "orphan-target-user"), "targetUser"),
        demo_ids::ORPHANS.to_vec()
    );
}

#[test]
fn every_demo_trap_is_a_finding_naming_the_right_objects() {
    let snap = testkit::demo_like();
    let p = plan_of(&snap, &coda(), &PlanOptions::default());
    // (1) gallery userName ← mail: 12 users a default custom app would duplicate, named with their target users.
    let f = finding(&p, "default-mapping-would-duplicate");
    assert_eq!(ids(f, "user"), demo_ids::mail_differs());
    assert!(f.message.starts_with("12 users"), "{}", f.message);
    // (2) orphans
    assert_eq!(
        ids(finding(&p, "orphan-target-user"), "targetUser"),
        demo_ids::ORPHANS.to_vec()
    );
    // (3) nested group
    let f = finding(&p, "nested-group");
    assert_eq!(
        ids(f, "group"),
        vec![
            demo_ids::NESTED_PARENT.to_string(),
            demo_ids::NESTED_CHILD.to_string()
        ]
    );
    assert_eq!(ids(f, "user"), vec!["u046", "u047"]);
    // (4) Microsoft 365 group (Coda: members cannot be synced ⇒ warning)
    let f = finding(&p, "m365-group");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(ids(f, "group"), vec![demo_ids::M365]);
    // (5) target group collision
    let f = finding(&p, "target-group-name-collision");
    assert_eq!(ids(f, "group"), vec![demo_ids::COLLIDING_GROUP]);
    assert_eq!(
        ids(f, "targetGroup"),
        vec![demo_ids::COLLIDING_TARGET_GROUP]
    );
    // (6) apostrophe
    assert_eq!(
        ids(finding(&p, "username-needs-quoting"), "user"),
        vec![demo_ids::APOSTROPHE_USER]
    );
    // (7) scoping filter carried over, naming the excluded users
    let f = finding(&p, "scoping-filter-carried");
    assert!(
        f.message.contains("department NOT EQUALS \"Contractors\""),
        "{}",
        f.message
    );
    assert_eq!(ids(f, "user"), demo_ids::CONTRACTORS.to_vec());
    // (1) with the carried mapping the users whose mail ≠ UPN match (see above); the
    // gallery would deactivate everyone it provisions if unassigned while running.
    let f = finding(&p, "gallery-would-deactivate");
    assert!(f.message.contains("44 users"), "{}", f.message);
    // licence, token rule, SSO
    assert_eq!(finding(&p, "group-assignment-licence").objects.len(), 3);
    assert_eq!(
        finding(&p, "one-token-at-a-time").severity,
        Severity::Warning
    );
    finding(&p, "gallery-sso-kept");
    finding(&p, "first-cycle-estimate");
    finding(&p, "graph-write-budget");
}

#[test]
fn impact_skips_with_reasons() {
    let p = plan_of(&testkit::demo_like(), &coda(), &PlanOptions::default());
    let reason = |id: &str| {
        p.impact
            .iter()
            .find(|u| u.id() == id)
            .unwrap()
            .reason()
            .map(str::to_string)
    };
    assert_eq!(reason("u044").as_deref(), Some("scoping-filter"));
    assert_eq!(reason("u046").as_deref(), Some("nested-only"));
    assert_eq!(reason("u049").as_deref(), Some("disabled"));
    // Members of an assigned Microsoft 365 group are provisioned as users (Entra and the twin do).
    let u = p.impact.iter().find(|u| u.id() == "u048").unwrap();
    assert_eq!(u.action, UserAction::Match);
    assert_eq!(p.summary.users_match, 44);
    assert_eq!(p.summary.users_create, 0);
    assert_eq!(p.summary.users_skip, 5);
    // An app that syncs M365 group membership gets an info, not a warning.
    let mut m365 = coda();
    m365.m365_group_members_sync = true;
    let p = plan_of(&testkit::demo_like(), &m365, &PlanOptions::default());
    assert_eq!(finding(&p, "m365-group").severity, Severity::Info);
}

#[test]
fn steps_come_in_cutover_order() {
    let opts = PlanOptions {
        pilot_group: Some("Engineering".into()),
        ..Default::default()
    };
    let p = plan_of(&testkit::demo_like(), &coda(), &opts);
    let order: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "create-app",
            "wait-replication",
            "create-job",
            "write-secrets",
            "put-schema",
            "assignments",
            "pause-gallery-job",
            "start-custom-job",
            "pilot-on-demand",
            "wait-steady-state",
            "verify",
            "verify-groups"
        ]
    );
    let symbols: Vec<&str> = p.steps.iter().map(|s| s.action.symbol()).collect();
    assert_eq!(
        symbols,
        ["+", "?", "+", "~", "~", "+", "⏸", "▶", "▶", "?", "?", "?"]
    );
    // 12 direct users + 3 contractors/apostrophe/disabled… = every User/Group assignment, 20 per $batch.
    let a = &p.steps[5];
    assert_eq!(a.count, snap_assignments());
    // One read of the custom app's roles (binding their ids), then the batches.
    assert_eq!(a.requests.len(), 1 + a.count.div_ceil(20));
    assert_eq!(a.requests[0].method, model::Method::Get);
    assert!(a.requests[1..].iter().all(|r| r.url == "/$batch"));
    // The pilot: 20 members → 4 on-demand calls of 5.
    let pod = &p.steps[8];
    assert_eq!(pod.requests.len(), 4);
    assert!(
        p.summary
            .changes
            .iter()
            .any(|c| c == &format!("{} assignments to add", a.count))
    );
    assert!(p.summary.changes.iter().any(|c| c == "1 app to create"));
    assert!(p.summary.changes.iter().any(|c| c == "1 job to pause"));
    // Action serialises as its symbol.
    assert_eq!(serde_json::to_string(&Action::Pause).unwrap(), "\"⏸\"");
    assert_eq!(
        serde_json::from_str::<Action>("\"▶\"").unwrap(),
        Action::Start
    );
}

fn snap_assignments() -> usize {
    testkit::demo_like().app.assignments.len()
}

#[test]
fn schema_carries_gallery_mapping_and_turns_groups_on() {
    let p = plan_of(&testkit::demo_like(), &coda(), &PlanOptions::default());
    let s = p.steps.iter().find(|s| s.id == "put-schema").unwrap();
    let body = s.requests[1].body.as_ref().unwrap();
    let m = crate::mapping::schema::Mappings::from_schema(body).unwrap();
    let u = m.user.unwrap();
    assert_eq!(u.matching()[0].target, "userName");
    assert_eq!(u.matching()[0].expr.attributes(), vec!["mail"]);
    assert!(m.group.as_ref().unwrap().enabled);
    assert_eq!(
        body["synchronizationRules"][0]["targetDirectoryName"],
        "customappsso"
    );
    assert!(
        s.diff
            .iter()
            .any(|d| d.path == "group.enabled" && d.op == model::DiffOp::Change)
    );
    assert!(
        s.details["transform"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["op"] == "copy" && t["target"] == "userName")
    );
}

#[test]
fn plan_is_deterministic() {
    let snap = testkit::demo_like();
    let opts = PlanOptions {
        pilot_group: Some("Sales".into()),
        ..Default::default()
    };
    let a = plan_of(&snap, &coda(), &opts).to_bytes();
    let b = plan_of(&testkit::demo_like(), &coda(), &opts).to_bytes();
    assert_eq!(a, b);
    let text = String::from_utf8(a).unwrap();
    assert!(text.contains("\"format\": \"scimshift.plan/v2\""));
    assert!(text.contains(&snap.digest));
}

#[test]
fn no_secret_in_plan_or_report() {
    let p = plan_of(&testkit::demo_like(), &coda(), &PlanOptions::default());
    let json = String::from_utf8(p.to_bytes()).unwrap();
    let md = render_markdown(&p, None);
    for text in [&json, &md, &render_text(&p)] {
        assert!(!text.to_lowercase().contains("bearer "), "no bearer token");
    }
    let secrets = p.steps.iter().find(|s| s.id == "write-secrets").unwrap();
    let body = secrets.requests[1].body.as_ref().unwrap();
    let token = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "SecretToken")
        .unwrap();
    assert_eq!(token["value"], "{secret:scimToken}");
    // Every SecretToken value anywhere in the JSON is the input placeholder.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    fn walk(v: &serde_json::Value, bad: &mut usize) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("key").and_then(|k| k.as_str()) == Some("SecretToken")
                    && m.get("value").and_then(|x| x.as_str()) != Some("{secret:scimToken}")
                {
                    *bad += 1;
                }
                m.values().for_each(|x| walk(x, bad));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, bad)),
            _ => {}
        }
    }
    let mut bad = 0;
    walk(&v, &mut bad);
    assert_eq!(bad, 0);
}

#[test]
fn pilot_group_must_be_assigned() {
    let opts = PlanOptions {
        pilot_group: Some("Platform".into()),
        ..Default::default()
    };
    let e = build(&testkit::demo_like(), &coda(), &opts).unwrap_err();
    assert!(e.message.contains("not a group assigned"), "{}", e.message);
    assert!(!e.message.contains('\n'));
}

#[test]
fn group_map_renames_and_clears_collision() {
    let opts = PlanOptions {
        group_map: vec![("Sales".into(), "Sales (Entra)".into())],
        ..Default::default()
    };
    let p = plan_of(&testkit::demo_like(), &coda(), &opts);
    assert!(
        p.findings
            .iter()
            .all(|f| f.code != "target-group-name-collision")
    );
    let s = p.steps.iter().find(|s| s.id == "put-schema").unwrap();
    let m = crate::mapping::schema::Mappings::from_schema(s.requests[1].body.as_ref().unwrap())
        .unwrap();
    let dn = m
        .group
        .unwrap()
        .attribute("displayName")
        .unwrap()
        .expr
        .clone();
    let g = serde_json::json!({"displayName": "Sales"});
    let src = crate::mapping::schema::GraphUserSource {
        user: &g,
        soft_deleted: false,
    };
    assert_eq!(dn.eval(&src).unwrap().as_deref(), Some("Sales (Entra)"));
    let g = serde_json::json!({"displayName": "Engineering"});
    assert_eq!(
        dn.eval(&crate::mapping::schema::GraphUserSource {
            user: &g,
            soft_deleted: false
        })
        .unwrap()
        .as_deref(),
        Some("Engineering")
    );
    // Merging two groups into one name is flagged; an unknown name is flagged.
    let opts = PlanOptions {
        group_map: vec![
            ("Sales".into(), "Everyone".into()),
            ("Engineering".into(), "Everyone".into()),
            ("Nope".into(), "X".into()),
        ],
        ..Default::default()
    };
    let p = plan_of(&testkit::demo_like(), &coda(), &opts);
    assert_eq!(
        ids(finding(&p, "group-merge"), "group"),
        vec!["g-eng", "g-sales"]
    );
    finding(&p, "group-map-unknown");
}

#[test]
fn group_map_csv_errors_name_the_line() {
    assert_eq!(
        parse_group_map("from,to\nA,B\n", "m.csv").unwrap(),
        vec![("A".into(), "B".into())]
    );
    let e = parse_group_map("from,to\nA,\n", "m.csv").unwrap_err();
    assert!(e.message.starts_with("m.csv line 2:"), "{}", e.message);
    let e = parse_group_map("a,b\n", "m.csv").unwrap_err();
    assert!(e.message.starts_with("m.csv line 1:"), "{}", e.message);
}

#[test]
fn small_findings_each_on_their_own() {
    // Orphan only.
    let mut b = SnapBuilder::new("Coda", gallery_schema("Coda", "mail", None));
    b.user("u1", "a@x.com", Some("a@x.com"), "S", true, &["direct"])
        .assign_user("u1", "a@x.com");
    b.target_user("t1", "a@x.com", None)
        .target_user("t2", "ghost@x.com", None);
    let p = plan_of(&b.build(), &coda(), &PlanOptions::default());
    assert_eq!(
        ids(finding(&p, "orphan-target-user"), "targetUser"),
        vec!["t2"]
    );
    assert!(
        p.findings
            .iter()
            .all(|f| f.code != "scoping-filter-carried" && f.code != "nested-group")
    );

    // A create (not a duplicate) and a duplicate found through emails.
    let mut b = SnapBuilder::new("Coda", gallery_schema("Coda", "userPrincipalName", None));
    b.user("u1", "new@x.com", Some("new@x.com"), "S", true, &["direct"])
        .assign_user("u1", "new@x.com");
    b.user(
        "u2",
        "b@x.onmicrosoft.com",
        Some("b@x.com"),
        "S",
        true,
        &["direct"],
    )
    .assign_user("u2", "b");
    b.target_user("t2", "bee", Some("B@X.com"));
    let p = plan_of(&b.build(), &coda(), &PlanOptions::default());
    assert_eq!(ids(finding(&p, "user-created"), "user"), vec!["u1"]);
    assert_eq!(
        ids(finding(&p, "duplicate-on-create"), "targetUser"),
        vec!["t2"]
    );

    // Ambiguous match (userName compares case-insensitively).
    let mut b = SnapBuilder::new("Coda", gallery_schema("Coda", "mail", None));
    b.user("u1", "a@x.com", Some("a@x.com"), "S", true, &["direct"])
        .assign_user("u1", "a");
    b.target_user("t1", "a@x.com", None)
        .target_user("t2", "A@X.COM", None);
    let p = plan_of(&b.build(), &coda(), &PlanOptions::default());
    assert_eq!(
        ids(finding(&p, "ambiguous-match"), "targetUser"),
        vec!["t1", "t2"]
    );

    // No target contents; unknown app ⇒ generic warning when not detected.
    let mut b = SnapBuilder::new("Slack", gallery_schema("Slack", "mail", None));
    b.user("u1", "a@x.com", Some("a@x.com"), "S", true, &["direct"])
        .assign_user("u1", "a")
        .without_target();
    let generic = Profile::builtin("generic-scim").unwrap();
    let p = plan_of(
        &b.build(),
        &generic,
        &PlanOptions {
            profile_detected: false,
            ..Default::default()
        },
    );
    finding(&p, "no-target-snapshot");
    finding(&p, "generic-profile");
    assert!(p.findings.iter().all(|f| f.code != "one-token-at-a-time"));

    // Role other than User.
    let mut b = SnapBuilder::new("Coda", gallery_schema("Coda", "mail", None));
    b.user("u1", "a@x.com", Some("a@x.com"), "S", true, &["direct"])
        .assign_user("u1", "a");
    let mut s = b.build();
    s.app.app_roles[0]["value"] = serde_json::json!("Admin");
    s.seal();
    finding(
        &plan_of(&s, &coda(), &PlanOptions::default()),
        "app-role-missing",
    );
}

#[test]
fn nothing_to_do_when_already_custom() {
    let mut schema = gallery_schema("customappsso", "mail", None);
    schema["synchronizationRules"][0]["objectMappings"][1]["enabled"] = serde_json::json!(true);
    let mut b = SnapBuilder::new("Coda (SCIM custom)", schema);
    b.group("g1", "G", GroupKind::Security, &[], 0);
    let mut s = b.build();
    s.app.application_template_id = Some(build::NON_GALLERY_TEMPLATE_ID.into());
    s.app.jobs[0].template_id = "scim".into();
    s.seal();
    let p = plan_of(&s, &coda(), &PlanOptions::default());
    assert!(!p.has_changes());
    assert!(p.steps.is_empty());
    finding(&p, "already-custom");
}

#[test]
fn write_budget_and_estimate_are_computed() {
    let p = plan_of(&testkit::demo_like(), &coda(), &PlanOptions::default());
    let e = &p.estimate;
    assert_eq!(e.users_matched, 44);
    // 6 fixed writes (instantiate, job, validate, secrets, schema, pause, start = 7) + assignments.
    assert_eq!(e.graph_writes, 7 + snap_assignments());
    assert_eq!(e.groups, 3);
    assert!(e.first_cycle_minutes_max > e.first_cycle_minutes_min);
}

#[test]
fn text_and_markdown_render() {
    let opts = PlanOptions {
        pilot_group: Some("Engineering".into()),
        ..Default::default()
    };
    let p = plan_of(&testkit::demo_like(), &coda(), &opts);
    let t = render_text(&p);
    assert!(t.contains("Plan: 1 app to create"), "{t}");
    assert!(t.contains("⏸"));
    let md = render_markdown(&p, None);
    for h in [
        "## Summary",
        "## Findings",
        "## Steps",
        "## Per-user impact",
        "## Rollback",
    ] {
        assert!(md.contains(h), "{h}");
    }
    assert!(md.contains("| u001") || md.contains("@contoso.com |"));
    let md = render_markdown(&p, Some("plan.impact.csv"));
    assert!(md.contains("plan.impact.csv"));
    assert!(render::impact_csv(&p).lines().count() == p.impact.len() + 1);
}

#[test]
fn code42_profile_adds_extension_and_address_mappings() {
    let mut schema = gallery_schema("Code42", "userPrincipalName", None);
    schema["synchronizationRules"][0]["objectMappings"][1] = serde_json::json!({
    "name": "Provision Azure Active Directory Groups", "enabled": true,
    "sourceObjectName": "Group", "targetObjectName": "Group",
    "attributeMappings": [
        {"targetAttributeName": "displayName", "matchingPriority": 1, "source": {"type": "Attribute", "name": "displayName"}},
        {"targetAttributeName": "members", "source": {"type": "Attribute", "name": "members"}}
    ]});
    let mut b = SnapBuilder::new("Code42", schema);
    b.user(
        "u1",
        "a.b@x.com",
        Some("a.b@x.com"),
        "Sales",
        true,
        &["direct"],
    )
    .assign_user("u1", "a.b@x.com");
    b.target_user("t1", "A.B@x.com", None);
    let snap = b.build();
    let profile = Profile::builtin("code42").unwrap();
    let p = plan_of(&snap, &profile, &PlanOptions::default());
    assert_eq!(
        p.summary.users_match, 1,
        "userName compares case-insensitively"
    );
    let s = p.steps.iter().find(|s| s.id == "put-schema").unwrap();
    let transform = s.details["transform"].as_array().unwrap();
    assert!(
        !transform.iter().any(|t| t["op"] == "enable"),
        "gallery already pushes groups"
    );
    assert!(
        transform
            .iter()
            .any(|t| t["object"] == "group" && t["target"] == "externalId" && t["op"] == "add")
    );
    let m = crate::mapping::schema::Mappings::from_schema(s.requests[1].body.as_ref().unwrap())
        .unwrap();
    let u = m.user.unwrap();
    let attrs = serde_json::json!({"id": "u1", "userPrincipalName": "a.b@x.com", "mail": "a.b@x.com", "department": "Sales", "city": "Oslo"});
    let body = serde_json::Value::Object(u.build_resource(
        &crate::mapping::schema::GraphUserSource {
            user: &attrs,
            soft_deleted: false,
        },
        true,
    ));
    assert_eq!(
        body[crate::mapping::schema::ENTERPRISE_URN]["department"],
        "Sales"
    );
    assert_eq!(body["addresses"][0]["locality"], "Oslo");
    assert_eq!(body["emails"][0]["value"], "a.b@x.com");
    assert!(
        p.findings
            .iter()
            .all(|f| f.code != "one-token-at-a-time" && f.code != "groups-pushed")
    );
}

#[test]
fn a_secret_planted_in_the_snapshot_never_reaches_the_plan() {
    let mut s = testkit::demo_like();
    for key in ["SecretToken", "ClientSecret", "Password"] {
        s.app.settings.push(crate::snapshot::model::KeyValue {
            key: key.into(),
            value: "sk-planted-7f3a9".into(),
        });
    }
    s.app.service_principal["passwordCredentials"] =
        serde_json::json!([{"secretText": "sk-planted-7f3a9"}]);
    s.seal();
    let opts = PlanOptions {
        pilot_group: Some("Sales".into()),
        ..Default::default()
    };
    let p = plan_of(&s, &coda(), &opts);
    let json = String::from_utf8(p.to_bytes()).unwrap();
    assert!(!json.contains("sk-planted"));
    assert!(!render_markdown(&p, None).contains("sk-planted"));
    assert!(!render_text(&p).contains("sk-planted"));
    assert!(!render::impact_csv(&p).contains("sk-planted"));
}

#[test]
fn without_target_contents_the_default_mapping_trap_is_still_named() {
    let mut s = testkit::demo_like();
    s.target = None;
    s.seal();
    let p = plan_of(&s, &coda(), &PlanOptions::default());
    let f = finding(&p, "default-mapping-would-duplicate");
    assert_eq!(ids(f, "user"), demo_ids::mail_differs());
    assert!(f.message.contains("from the gallery job"), "{}", f.message);
    finding(&p, "no-target-snapshot");
    assert!(
        finding(&p, "gallery-would-deactivate")
            .message
            .contains("no target contents")
    );
}

#[test]
fn the_custom_app_template_follows_the_snapshot_cloud() {
    let template_of = |cloud: &str| {
        let mut s = testkit::demo_like();
        s.source.cloud = cloud.into();
        s.seal();
        let p = plan_of(&s, &coda(), &PlanOptions::default());
        let step = p.steps.iter().find(|s| s.id == "create-app").unwrap();
        step.requests[0].url.clone()
    };
    assert!(template_of("global").contains("8adf8e6e-67b2-4cf2-a259-e3dc5476c621"));
    assert!(template_of("custom").contains("8adf8e6e-67b2-4cf2-a259-e3dc5476c621"));
    assert!(template_of("usgov").contains("4602d0b4-76bb-404b-bca9-2652e1a39c6d"));
    assert!(template_of("china").contains("5a532e38-1581-4918-9658-008dc27c1d68"));
}

/// The `put-schema` body as literal JSON and expression text, checked against
/// Graph's documented shapes (synchronizationRule, objectMapping,
/// attributeMapping, attributeMappingSource), not parsed back by our own
/// mapping code: agreement with ourselves would prove nothing.
#[test]
fn put_schema_body_is_literal_entra_json() {
    use serde_json::{Value, json};
    let opts = PlanOptions {
        group_map: vec![("Sales".into(), "Sales (Entra)".into())],
        ..Default::default()
    };
    let p = plan_of(&testkit::demo_like(), &coda(), &opts);
    let s = p.steps.iter().find(|s| s.id == "put-schema").unwrap();
    // Read as the JSON the plan file holds, so the check does not depend on
    // how the plan model types its fields.
    let r = serde_json::to_value(&s.requests[1]).unwrap();
    assert_eq!(r["method"], "PUT");
    assert_eq!(
        r["url"],
        "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}/schema"
    );
    let body = &r["body"];
    let rule = &body["synchronizationRules"][0];
    assert_eq!(rule["sourceDirectoryName"], "Azure Active Directory");
    assert_eq!(rule["targetDirectoryName"], "customappsso");
    let users = &rule["objectMappings"][0];
    let groups = &rule["objectMappings"][1];
    assert_eq!(users["sourceObjectName"], "User");
    assert_eq!(users["enabled"], true);
    assert_eq!(
        users["attributeMappings"][0],
        json!({"targetAttributeName": "userName", "matchingPriority": 1, "flowType": "Always",
               "source": {"type": "Attribute", "name": "mail", "expression": "[mail]"}})
    );
    assert_eq!(
        users["attributeMappings"][1]["source"]["expression"],
        r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#
    );
    assert_eq!(
        users["scope"]["groups"][0]["clauses"][0],
        json!({"sourceOperandName": "department", "operatorName": "NOT EQUALS",
               "targetOperand": {"values": ["Contractors"]}})
    );
    assert_eq!(groups["name"], "Provision Azure Active Directory Groups");
    assert_eq!(groups["enabled"], true, "groups turned on");
    assert_eq!(groups["sourceObjectName"], "Group");
    assert_eq!(
        groups["targetObjectName"],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );
    assert_eq!(
        groups["attributeMappings"][0],
        json!({"targetAttributeName": "displayName", "matchingPriority": 1, "flowType": "Always",
               "flowBehavior": "FlowWhenChanged", "defaultValue": null, "exportMissingReferences": false,
               "source": {"type": "Function", "name": "Switch",
                          "expression": r#"Switch([displayName], [displayName], "Sales", "Sales (Entra)")"#,
                          "parameters": []}})
    );

    // Every object carries only properties Graph documents, with documented values.
    let keys = |v: &Value, allowed: &[&str], what: &str| {
        for k in v.as_object().unwrap().keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{what} has undocumented `{k}`"
            );
        }
    };
    keys(
        rule,
        &[
            "containerFilter",
            "editable",
            "groupFilter",
            "id",
            "metadata",
            "name",
            "objectMappings",
            "priority",
            "sourceDirectoryName",
            "targetDirectoryName",
        ],
        "synchronizationRule",
    );
    for om in rule["objectMappings"].as_array().unwrap() {
        keys(
            om,
            &[
                "attributeMappings",
                "enabled",
                "flowTypes",
                "metadata",
                "name",
                "scope",
                "sourceObjectName",
                "targetObjectName",
            ],
            "objectMapping",
        );
        for am in om["attributeMappings"].as_array().unwrap() {
            keys(
                am,
                &[
                    "defaultValue",
                    "exportMissingReferences",
                    "flowBehavior",
                    "flowType",
                    "matchingPriority",
                    "source",
                    "targetAttributeName",
                ],
                "attributeMapping",
            );
            assert!(
                [
                    "Always",
                    "ObjectAddOnly",
                    "MultiValueAddOnly",
                    "ValueAddOnly",
                    "AttributeAddOnly"
                ]
                .contains(&am["flowType"].as_str().unwrap_or("Always")),
                "{am}"
            );
            assert!(
                ["FlowWhenChanged", "FlowAlways"]
                    .contains(&am["flowBehavior"].as_str().unwrap_or("FlowWhenChanged")),
                "{am}"
            );
            let src = &am["source"];
            keys(
                src,
                &["expression", "name", "parameters", "type"],
                "attributeMappingSource",
            );
            let (ty, name) = (src["type"].as_str().unwrap(), src["name"].as_str().unwrap());
            let expr = src["expression"].as_str().unwrap();
            match ty {
                "Attribute" => assert_eq!(expr, format!("[{name}]"), "{am}"),
                "Constant" => assert_eq!(expr, format!("\"{name}\""), "{am}"),
                "Function" => assert!(expr.starts_with(&format!("{name}(")), "{am}"),
                other => panic!("source type {other} is not Attribute, Constant or Function"),
            }
        }
    }
}

/// A mapping that reads an attribute the snapshot did not read: an error
/// when matching or scope depend on it (every user would be predicted as if
/// it were empty), a warning when only a value does; nothing when it was read.
#[test]
fn an_attribute_the_snapshot_did_not_read_is_a_finding() {
    let mut snap = testkit::demo_like();
    // The gallery's scope also reads extensionAttribute4 (Graph's
    // onPremisesExtensionAttributes), and a value reads faxNumber.
    let om = &mut snap.app.jobs[0].schema["synchronizationRules"][0]["objectMappings"][0];
    om["scope"]["groups"][0]["clauses"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"sourceOperandName": "extensionAttribute4", "operatorName": "NOT EQUALS", "targetOperand": {"values": ["x"]}}));
    om["attributeMappings"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
        {"targetAttributeName": "phoneNumbers[type eq \"fax\"].value", "matchingPriority": 0,
         "source": {"type": "Attribute", "name": "facsimileTelephoneNumber"}}));
    let codes = |snap: &crate::snapshot::model::Snapshot| -> Vec<(String, Severity, String)> {
        plan_of(snap, &coda(), &PlanOptions::default())
            .findings
            .into_iter()
            .filter(|f| f.code.starts_with("attribute-not-captured"))
            .map(|f| (f.code, f.severity, f.message))
            .collect()
    };
    // A capture of this schema reads both: no finding.
    snap.source.user_properties = crate::snapshot::capture::user_properties(&snap.app.jobs, &[]);
    assert!(
        snap.source
            .read_user_property("onPremisesExtensionAttributes")
    );
    assert!(snap.source.read_user_property("faxNumber"));
    assert_eq!(codes(&snap), []);
    // One that did not (an older capture): an error for the scope, a warning for the value.
    snap.source
        .user_properties
        .retain(|p| p != "onPremisesExtensionAttributes" && p != "faxNumber");
    let got = codes(&snap);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].0, "attribute-not-captured");
    assert_eq!(got[0].1, Severity::Error);
    assert!(
        got[0]
            .2
            .contains("`extensionAttribute4` (Graph `onPremisesExtensionAttributes`)")
            && got[0]
                .2
                .contains("--user-property onPremisesExtensionAttributes"),
        "{}",
        got[0].2
    );
    assert_eq!(got[1].0, "attribute-not-captured-value");
    assert_eq!(got[1].1, Severity::Warning);
    assert!(
        got[1]
            .2
            .contains("`facsimileTelephoneNumber` (Graph `faxNumber`)"),
        "{}",
        got[1].2
    );
    // A name Graph does not have, used for matching: an error.
    let om = &mut snap.app.jobs[0].schema["synchronizationRules"][0]["objectMappings"][0];
    om["attributeMappings"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
        {"targetAttributeName": "externalId", "matchingPriority": 2,
         "source": {"type": "Attribute", "name": "favouriteColour"}}));
    let got = codes(&snap);
    assert!(
        got.iter().any(|(c, s, m)| c == "attribute-not-captured"
            && *s == Severity::Error
            && m.contains("`favouriteColour`, which is no Microsoft Graph user property")),
        "{got:#?}"
    );
}

/// The group predictions assume groups are pushed under their (renamed)
/// displayName and matched on it: a group mapping that computes another
/// name, or matches on something else, is an error; renames are not.
#[test]
fn a_group_mapping_the_predictions_cannot_follow_is_an_error() {
    let codes = |profile: &Profile, opts: &PlanOptions| -> Vec<(String, Vec<String>)> {
        plan_of(&testkit::demo_like(), profile, opts)
            .findings
            .into_iter()
            .filter(|f| f.code.starts_with("group-") && f.code.ends_with("-not-predicted"))
            .map(|f| {
                let mut names: Vec<String> = f.objects.iter().map(|o| o.name.clone()).collect();
                names.sort();
                (f.code, names)
            })
            .collect()
    };
    // The profile as shipped, with and without renames: nothing.
    assert_eq!(codes(&coda(), &PlanOptions::default()), []);
    let renamed = PlanOptions {
        group_map: vec![("Sales".into(), "Sales (Entra)".into())],
        ..Default::default()
    };
    assert_eq!(codes(&coda(), &renamed), []);
    // displayName computed from it: every pushed group is named otherwise.
    let prefixed = coda_text().replace(
        r#"{ target = "displayName", source = "displayName", match = 1 }"#,
        r#"{ target = "displayName", source = 'Join("-", "Coda", [displayName])', match = 1 }"#,
    );
    assert_ne!(prefixed, coda_text());
    let got = codes(
        &Profile::parse(&prefixed, "prefixed.toml").unwrap(),
        &PlanOptions::default(),
    );
    let pushed = plan_of(&testkit::demo_like(), &coda(), &PlanOptions::default())
        .group_impact
        .len();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "group-name-not-predicted");
    assert_eq!(got[0].1.len(), pushed, "{got:?}");
    // Matching groups on externalId: not predicted.
    let by_id = coda_text()
        .replace(
            r#"{ target = "displayName", source = "displayName", match = 1 }"#,
            r#"{ target = "displayName", source = "displayName" }"#,
        )
        .replace(
            r#"{ target = "externalId", source = "objectId" }"#,
            r#"{ target = "externalId", source = "objectId", match = 1 }"#,
        );
    let got = codes(
        &Profile::parse(&by_id, "by-id.toml").unwrap(),
        &PlanOptions::default(),
    );
    assert_eq!(got, [("group-matching-not-predicted".to_string(), vec![])]);
}

#[test]
fn an_unknown_pilot_group_names_ten_assigned_groups_and_counts_the_rest() {
    // 2,000 users in 20 groups: the sentence must not list every group (a
    // 50,000-group tenant made it 1.1 MB).
    let snap = testkit::synthetic(2_000);
    let opts = PlanOptions {
        pilot_group: Some("Nope".into()),
        ..Default::default()
    };
    let err = build(&snap, &coda(), &opts).unwrap_err();
    assert!(err.message.contains("Team 0, Team 1"), "{}", err.message);
    assert!(err.message.ends_with("and 10 more"), "{}", err.message);
    assert!(!err.message.contains("Team 19"), "{}", err.message);
}

/// A pushed group's predicted members are found by binary search in a
/// captured (sorted) snapshot and through a set in any other: the same members.
#[test]
fn group_members_are_the_same_whatever_the_order_of_the_snapshot_users() {
    let members = |snap: &Snapshot| -> Vec<(String, Vec<String>)> {
        let mut out: Vec<_> = plan_of(snap, &coda(), &PlanOptions::default())
            .group_impact
            .iter()
            .map(|g| {
                let mut m: Vec<String> = g.members.iter().map(str::to_string).collect();
                m.sort();
                (g.id.clone(), m)
            })
            .collect();
        out.sort();
        out
    };
    let mut sorted = testkit::demo_like();
    sorted.users.sort_by(|a, b| a.id.cmp(&b.id));
    let mut reversed = sorted.clone();
    reversed.users.reverse();
    let want = members(&sorted);
    assert!(want.iter().any(|(_, m)| !m.is_empty()), "{want:?}");
    assert_eq!(members(&reversed), want);
}
