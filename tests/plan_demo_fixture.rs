//! The planner on a snapshot captured from the twin's demo tenant
//! (`tests/fixtures/demo-snapshot.json`: `twin serve --seed demo --scim-target
//! <scim2-server>`, then `snapshot --app Coda --scim-url …`). The twin build
//! used did not run the gallery's initial cycle, so its 155 in-scope users were
//! put into the target as the gallery job writes them (userName = mail) before
//! capture; the three hand-made users and the `Coda Finance` group come from
//! the seed. Every one of the seed's seven traps must be a finding naming the
//! right objects, and the duplicates must be 0 with the carried-over mapping
//! and 12 with `userName ← userPrincipalName`.

use scimshift::plan::{self, Finding, PlanOptions, Profile, Severity};
use scimshift::snapshot::model::Snapshot;
use std::path::Path;

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
    let users: Vec<&str> = f
        .objects
        .iter()
        .filter(|o| o.kind == "user")
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(users.len(), 12);
    for t in names(f, "targetUser") {
        assert!(t.ends_with("@wingtip.example"), "{t}");
    }
    assert_eq!(p.summary.duplicates, 0);
    // 2. three target users nobody is assigned to.
    assert_eq!(
        names(find(&p, "orphan-target-user"), "targetUser"),
        [
            "auditor@kpmg-partner.example",
            "coda.admin@northwind.example",
            "former.intern@northwind.example"
        ]
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
    assert_eq!(names(f, "user").len(), 12);
    assert!(
        names(f, "targetUser")
            .iter()
            .all(|t| t.ends_with("@wingtip.example"))
    );
}
