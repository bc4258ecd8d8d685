//! The planner on a snapshot captured from the twin's demo tenant
//! (`tests/fixtures/demo-snapshot.json`: `twin serve --seed demo --scim-target
//! <scim2-server>`, then `snapshot --app Coda --scim-url …`). The twin build
//! used did not run the gallery's initial cycle, so its 155 in-scope users were
//! put into the target as the gallery job writes them (userName = mail) before
//! capture; the three hand-made users and the `Coda Finance` group come from
//! the seed. Every one of the seed's seven traps must be a finding naming the
//! right objects, and the duplicates must be 0 with the carried-over mapping
//! and 12 with `userName ← userPrincipalName`. The fixture's target was
//! written with the assumption under test (userName = mail), so the counts
//! alone would hold by construction: the expected names are literal lists
//! (tests/common/data.rs, from the seed's `WINGTIP`), and every match is checked
//! against the user's literal mail.

mod common;

use common::data::{DEMO_ORPHANS, DEMO_WINGTIP};
use scimshift::plan::{self, Finding, PlanOptions, Profile, Severity, UserAction};
use scimshift::snapshot::model::Snapshot;
use std::collections::BTreeSet;
use std::path::Path;

/// The 12 Wingtip users' UPNs and their target userNames (mail), literally.
fn wingtip_upns() -> Vec<String> {
    DEMO_WINGTIP.iter().map(|(u, _)| u.to_string()).collect()
}
fn wingtip_mails() -> Vec<String> {
    DEMO_WINGTIP.iter().map(|(_, m)| m.to_string()).collect()
}

/// Every matched user must be matched to the target user whose userName is
/// their mail, taken from the literal data: the snapshot's Graph attributes
/// for the 143 whose mail is their UPN, the literal Wingtip list for the 12.
fn assert_matches_are_by_literal_mail(snap: &Snapshot, p: &plan::Plan) {
    let matched: Vec<_> = p
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .collect();
    for u in &matched {
        let want = DEMO_WINGTIP
            .iter()
            .find(|(upn, _)| *upn == u.user_principal_name())
            .map_or(u.user_principal_name(), |(_, mail)| mail);
        assert_eq!(
            u.target_user_name().map(str::to_lowercase),
            Some(want.to_lowercase()),
            "{} matched the wrong target user",
            u.user_principal_name()
        );
    }
    // And every target user but the three orphans is someone's match.
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
    let orphans: BTreeSet<String> = DEMO_ORPHANS.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, &target - &orphans);
}

fn fixture() -> Snapshot {
    Snapshot::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo-snapshot.json"))
        .unwrap()
}

fn find<'a>(p: &'a plan::Plan, code: &str) -> &'a Finding {
    p.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no finding {code}"))
}

fn names(f: &Finding, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = f
        .objects
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.name.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn all_seven_demo_traps_are_findings() {
    let snap = fixture();
    let (profile, detected) = plan::choose_profile(&snap, None).unwrap();
    assert!(detected);
    assert_eq!(profile.name, "coda");
    let p = plan::build(&snap, &profile, &PlanOptions::default()).unwrap();

    // 1. userName ← mail; 12 users whose mail (wingtip) is not their UPN.
    let f = find(&p, "default-mapping-would-duplicate");
    assert_eq!(names(f, "user"), wingtip_upns());
    assert_eq!(names(f, "targetUser"), wingtip_mails());
    assert_eq!(p.summary.duplicates, 0);
    assert!(p.impact.iter().all(|u| !u.duplicate));
    // 2. three target users nobody is assigned to.
    assert_eq!(
        names(find(&p, "orphan-target-user"), "targetUser"),
        DEMO_ORPHANS
    );
    // 3. nested group.
    let f = find(&p, "nested-group");
    assert_eq!(names(f, "group"), ["Coda Engineering", "Platform Guild"]);
    assert_eq!(names(f, "user").len(), 8);
    // 4. Microsoft 365 group.
    assert_eq!(
        names(find(&p, "m365-group"), "group"),
        ["Product Launch 2026"]
    );
    // 5. target group named like an assigned group.
    let f = find(&p, "target-group-name-collision");
    assert_eq!(names(f, "group"), ["Coda Finance"]);
    assert_eq!(names(f, "targetGroup"), ["Coda Finance"]);
    // 6. apostrophe.
    assert_eq!(
        names(find(&p, "username-needs-quoting"), "user"),
        ["siobhan.o'brien@northwind.example"]
    );
    // 7. scoping filter, keeping the 12 contractors out.
    let f = find(&p, "scoping-filter-carried");
    assert!(f.message.contains("department NOT EQUALS \"Contractors\""));
    assert_eq!(names(f, "user").len(), 12);

    assert_eq!(p.summary.users_match, 155);
    assert_matches_are_by_literal_mail(&snap, &p);
    assert_eq!(p.summary.errors, 0);
    assert!(
        p.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
            == 0
    );
}

#[test]
fn forcing_upn_on_the_demo_predicts_twelve_duplicates() {
    let snap = fixture();
    let profile = Profile::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("plans/examples/coda-userName-from-upn.toml")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let p = plan::build(&snap, &profile, &PlanOptions::default()).unwrap();
    assert_eq!(p.summary.duplicates, 12);
    let f = find(&p, "duplicate-on-create");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(names(f, "user"), wingtip_upns());
    assert_eq!(names(f, "targetUser"), wingtip_mails());
    let dup: Vec<String> = {
        let mut v: Vec<String> = p
            .impact
            .iter()
            .filter(|u| u.duplicate)
            .map(|u| u.user_principal_name().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(dup, wingtip_upns());
}
