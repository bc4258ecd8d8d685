//! End to end on the demo tenant: the twin serves Graph and a SCIM target, the
//! snapshot is read over HTTP, and the plan must name every one of the seven
//! traps the demo seed hides — against the twin's own SCIM store and against
//! the independent scim2-server as the target.

mod common;

use scimshift::graph::GraphClient;
use scimshift::graph::auth::Credential;
use scimshift::plan::{Plan, PlanOptions, UserAction};
use scimshift::scim::ScimClient;
use scimshift::secret::Secret;
use scimshift::snapshot::Snapshot;
use scimshift::twin::server::{RunningTwin, TwinOptions};
use std::collections::BTreeSet;

async fn snapshot_of(twin: &RunningTwin) -> Snapshot {
    let graph = GraphClient::from_urls(
        &twin.graph_url,
        &twin.authority_url,
        Credential::ClientSecret {
            tenant: twin.tenant_id.clone(),
            client_id: twin.client_id.clone(),
            secret: twin.client_secret.clone(),
        },
    )
    .unwrap();
    let scim = ScimClient::new(&twin.scim_url, twin.scim_token.clone()).unwrap();
    scimshift::snapshot::capture::capture(&graph, "Coda", Some(&scim))
        .await
        .unwrap()
}

fn plan_with(snap: &Snapshot, force_upn: bool) -> Plan {
    let (mut profile, _) = scimshift::plan::choose_profile(snap, Some("coda")).unwrap();
    if force_upn {
        for m in profile
            .user_mappings
            .iter_mut()
            .filter(|m| m.target == "userName")
        {
            m.source = "userPrincipalName".into();
            m.copy_from_gallery = false;
        }
    }
    scimshift::plan::build(snap, &profile, &PlanOptions::default()).unwrap()
}

fn names(plan: &Plan, code: &str, kind: &str) -> BTreeSet<String> {
    let f = plan
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no finding {code}"));
    f.objects
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.name.clone())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The seven traps of the demo seed, each as a finding naming the right objects.
fn assert_seven_traps(snap: &Snapshot) {
    let plan = plan_with(snap, false);

    // 1. userName <- mail; 12 users with mail != UPN. The carried-over mapping
    //    matches them; Entra's default mapping would duplicate exactly those 12.
    let wingtip = names(&plan, "default-mapping-would-duplicate", "user");
    let literal: BTreeSet<String> = common::data::DEMO_WINGTIP
        .iter()
        .map(|(upn, _)| upn.to_string())
        .collect();
    assert_eq!(wingtip, literal, "the seed's WINGTIP users, by name");
    assert_eq!(
        names(&plan, "default-mapping-would-duplicate", "targetUser"),
        common::data::DEMO_WINGTIP
            .iter()
            .map(|(_, mail)| mail.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(plan.impact.iter().filter(|u| u.duplicate).count(), 0);
    assert_eq!(
        plan.impact
            .iter()
            .filter(|u| u.action == UserAction::Create)
            .count(),
        0
    );
    let naive = plan_with(snap, true);
    let dup_upns: BTreeSet<String> = naive
        .impact
        .iter()
        .filter(|u| u.duplicate)
        .map(|u| u.user_principal_name().to_string())
        .collect();
    assert_eq!(
        dup_upns, wingtip,
        "the forced-UPN plan must duplicate exactly the mail != UPN users"
    );

    // 2. Three hand-made target users nobody assigns.
    assert_eq!(
        names(&plan, "orphan-target-user", "targetUser"),
        set(&[
            "coda.admin@northwind.example",
            "auditor@kpmg-partner.example",
            "former.intern@northwind.example"
        ])
    );
    // 3. A nested group inside an assigned group.
    assert_eq!(
        names(&plan, "nested-group", "group"),
        set(&["Coda Engineering", "Platform Guild"])
    );
    // 4. An assigned Microsoft 365 group.
    assert_eq!(
        names(&plan, "m365-group", "group"),
        set(&["Product Launch 2026"])
    );
    // 5. A target group named like an assigned Entra group.
    assert_eq!(
        names(&plan, "target-group-name-collision", "targetGroup"),
        set(&["Coda Finance"])
    );
    // 6. A userName with an apostrophe.
    assert!(
        names(&plan, "username-needs-quoting", "user")
            .contains("siobhan.o'brien@northwind.example")
    );
    // 7. The scoping filter, carried over, keeps the Contractors out.
    let scoping = plan
        .findings
        .iter()
        .find(|f| f.code == "scoping-filter-carried")
        .unwrap();
    assert!(
        scoping.message.contains("Contractors"),
        "{}",
        scoping.message
    );
    assert_eq!(names(&plan, "scoping-filter-carried", "user").len(), 12);

    // Everyone the gallery app provisioned is matched, never created again.
    // Checked by name against literal data, not by a count the twin and the
    // planner (the same mapping code) would agree on: each matched user's
    // target userName is their literal mail (the Wingtip list, else the UPN),
    // and the matched set is the target minus the three literal orphans.
    let matched: Vec<_> = plan
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .collect();
    for u in &matched {
        let want = common::data::DEMO_WINGTIP
            .iter()
            .find(|(upn, _)| *upn == u.user_principal_name())
            .map_or(u.user_principal_name(), |(_, mail)| mail);
        assert_eq!(
            u.target_user_name().map(str::to_lowercase),
            Some(want.to_lowercase()),
            "{}",
            u.user_principal_name()
        );
    }
    let target: BTreeSet<String> = snap
        .target
        .as_ref()
        .unwrap()
        .users
        .iter()
        .map(|t| t["userName"].as_str().unwrap().to_lowercase())
        .collect();
    let got: BTreeSet<String> = matched
        .iter()
        .map(|u| {
            u.target_user_name()
                .map(str::to_string)
                .unwrap()
                .to_lowercase()
        })
        .collect();
    let orphans = set(&common::data::DEMO_ORPHANS);
    assert_eq!(got, &target - &orphans);
}

#[tokio::test]
async fn demo_plan_finds_every_trap_with_the_embedded_target() {
    let twin = scimshift::twin::server::start(TwinOptions::default())
        .await
        .unwrap();
    let snap = snapshot_of(&twin).await;
    assert_seven_traps(&snap);
    // Same input, same bytes.
    assert_eq!(
        plan_with(&snap, false).to_bytes(),
        plan_with(&snap, false).to_bytes()
    );
    twin.shutdown().await;
}

#[tokio::test]
async fn demo_plan_finds_every_trap_with_scim2_server_as_the_target() {
    let server = common::start_scim2_server();
    let opts = TwinOptions {
        scim_target: Some((server.base_url.clone(), Secret::new(server.token.clone()))),
        ..TwinOptions::default()
    };
    let twin = scimshift::twin::server::start(opts).await.unwrap();
    assert_eq!(twin.scim_url, server.base_url);
    let snap = snapshot_of(&twin).await;
    assert_eq!(snap.target.as_ref().unwrap().users.len(), 158);
    assert_seven_traps(&snap);
    twin.shutdown().await;
}

#[test]
fn the_demo_command_tells_the_story_and_compares_mappings() {
    // The demo writes its snapshot, plan and journal under the temp folder.
    let tmp = common::schemas::tempdir();
    let out = common::cli::bin()
        .args(["demo", "--output", "json"])
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plan"]["duplicates"], 0);
    assert_eq!(v["plan"]["duplicatesWithDefaultMapping"], 12);
    // The demo applies the plan: every step done, groups pushed, no one twice.
    assert_eq!(v["apply"]["stepsDone"], v["apply"]["steps"], "{v}");
    assert_eq!(v["after"]["groups"], 4, "{v}");
    assert_eq!(v["after"]["users"], 158, "{v}");
    assert_eq!(v["after"]["duplicateUserNames"], 0, "{v}");
    assert!(v["apply"]["gap"]["gapSeconds"].is_number(), "{v}");
    let snap = std::path::PathBuf::from(v["snapshot"]["file"].as_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&snap).unwrap();
    assert!(
        !text.contains("SecretToken\":\""),
        "no credential value in the snapshot"
    );

    let text_out = common::cli::bin()
        .arg("demo")
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let story = String::from_utf8_lossy(&text_out.stdout);
    for chapter in [
        "1. A simulated tenant",
        "2. Snapshot",
        "3. Plan",
        "4. Apply",
        "5. The morning after",
    ] {
        assert!(story.contains(chapter), "missing chapter {chapter}");
    }
    assert!(
        story.contains("would create 12 duplicate people"),
        "{story}"
    );
    assert!(story.contains("Provisioning gap:"), "{story}");
    assert!(story.contains("0 userNames held twice"), "{story}");
    // Colour on a terminal and off with NO_COLOR / --no-color is checked under
    // a pseudo-terminal in tests/cli_contract.rs: here stdout is a pipe, so no
    // escape code could appear whatever NO_COLOR did.
    assert!(snap.starts_with(tmp.path()), "{}", snap.display());
    let (_, w) = tmp.check();
    assert_eq!(
        (w.snapshots.len(), w.plans.len(), w.journals.len()),
        (2, 2, 2),
        "two demos, each a snapshot, a plan and its journal: {w:?}"
    );
}
