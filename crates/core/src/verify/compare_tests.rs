//! `compare` on constructed data: the demo-like snapshot and its Coda plan,
//! a target "as the custom job leaves it", then one tampering per failure
//! kind, each of which must fail verify and name exactly its object.

use super::*;
use crate::plan::testkit::{self, demo_ids};
use crate::plan::{PlanOptions, UserAction};
use crate::snapshot::model::Snapshot;
use crate::verify::live::{CustomApp, EntraLive, LogFailure, TargetGroup};
use crate::verify::{compare, report};
use serde_json::json;

const SINCE: &str = "2026-12-02T10:00:00Z";
const STEADY: &str = "2026-12-02T10:05:00Z";

struct Case {
    plan: Plan,
    before: Before,
    live: Live,
    opts: VerifyOptions,
}

/// The demo-like tenant, with one more user who has no target account (a
/// predicted create), planned with the Coda profile.
fn setup() -> (Plan, Snapshot) {
    let mut snap = testkit::demo_like();
    // u001's account is gone from the target: the plan predicts a create.
    snap.target
        .as_mut()
        .unwrap()
        .users
        .retain(|u| u["id"] != "t-u001");
    snap.seal();
    let (profile, _) = crate::plan::choose_profile(&snap, Some("coda")).unwrap();
    let plan = crate::plan::build(&snap, &profile, &PlanOptions::default()).unwrap();
    (plan, snap)
}

/// The target and Entra as a clean apply leaves them.
fn applied() -> Case {
    let (plan, snap) = setup();
    let before = Before::from_snapshot(&snap, &plan);
    let t = snap.target.as_ref().unwrap();
    let mut users: Vec<TargetUser> = t.users.iter().map(TargetUser::from_scim).collect();
    let mut account: HashMap<String, String> = HashMap::new();
    for u in &plan.impact {
        match u.action {
            UserAction::Match => {
                account.insert(u.id().to_string(), u.target_id().unwrap().to_string());
            }
            UserAction::Create => {
                let id = format!("new-{}", u.id());
                users.push(TargetUser {
                    id: id.clone(),
                    user_name: u.user_name().unwrap().to_string(),
                    active: true,
                    external_id: None,
                    emails: u.mail().iter().map(|m| m.to_string()).collect(),
                });
                account.insert(u.id().to_string(), id);
            }
            _ => {}
        }
    }
    let mut groups: Vec<TargetGroup> = Vec::new();
    let mut group_members = BTreeMap::new();
    for g in &snap.groups {
        let direct: Vec<String> = g
            .members
            .iter()
            .filter(|m| m.kind() == "user")
            .map(|m| m.id().to_string())
            .collect();
        group_members.insert(g.id.clone(), direct.clone());
        if !before.pushed_groups.iter().any(|(id, _)| *id == g.id) {
            continue;
        }
        let adopted = before
            .target_groups
            .iter()
            .find(|(_, n)| *n == g.display_name)
            .map(|(id, _)| id.clone());
        groups.push(TargetGroup {
            id: adopted.unwrap_or_else(|| format!("tg-new-{}", g.id)),
            display_name: g.display_name.clone(),
            external_id: Some(g.id.clone()),
            members: direct
                .iter()
                .filter_map(|m| account.get(m).cloned())
                .collect(),
        });
    }
    let orphans_now = before
        .orphans
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let app = CustomApp {
        service_principal_id: "sp-custom".into(),
        display_name: plan.app.custom_app_name.clone(),
        job: Some((
            "scim.1".into(),
            json!({"code": "Active", "steadyStateLastAchievedTime": STEADY, "quarantine": null,
                   "lastExecution": {"countEscrowed": 0, "timeBegan": "2026-12-02T10:04:00Z", "timeEnded": STEADY}}),
        )),
        assigned: snap
            .app
            .assignments
            .iter()
            .map(|a| a.principal_id.clone())
            .collect(),
        group_assignments: vec![],
        log_failures: Some(vec![]),
        log_note: None,
    };
    Case {
        plan,
        before,
        live: Live {
            target_url: "http://127.0.0.1:1/scim/v2".into(),
            read_at: STEADY.into(),
            users,
            orphans_now,
            groups,
            entra: EntraLive {
                app: Ok(app),
                group_members,
                notes: vec![],
            },
        },
        opts: VerifyOptions {
            since: Some(SINCE.into()),
            ..Default::default()
        },
    }
}

impl Case {
    fn run(&self) -> VerifyReport {
        compare(&self.plan, &self.before, &self.live, &self.opts)
    }
    fn user_mut(&mut self, id: &str) -> &mut TargetUser {
        self.live.users.iter_mut().find(|u| u.id == id).unwrap()
    }
    fn impact(&self, id: &str) -> &crate::plan::UserImpact {
        self.plan.impact.iter().find(|u| u.id() == id).unwrap()
    }
}

/// The failing rows as (status, kind, id).
fn failures(r: &VerifyReport) -> Vec<(Status, RowKind, String)> {
    r.failures()
        .map(|r| (r.status, r.kind, r.id.clone()))
        .collect()
}

#[test]
fn a_clean_apply_passes_with_one_row_per_user_orphan_and_group() {
    let c = applied();
    let r = c.run();
    assert!(r.passed, "{:#?}", failures(&r));
    assert_eq!(r.worst, None);
    assert!(r.job.problems.is_empty(), "{:?}", r.job.problems);
    let users = r.rows.iter().filter(|x| x.kind == RowKind::User).count();
    assert_eq!(users, c.plan.impact.len());
    let orphans = r
        .rows
        .iter()
        .filter(|x| x.kind == RowKind::TargetUser)
        .count();
    assert_eq!(orphans, demo_ids::ORPHANS.len());
    let groups: Vec<&str> = r
        .rows
        .iter()
        .filter(|x| x.kind == RowKind::Group)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(groups.len(), compare::expected_group_names(&c.plan).len());
    assert!(groups.contains(&"Sales"));
    let n = &r.counts;
    assert_eq!(n.users_found, n.users_expected);
    assert_eq!(
        n.users_expected,
        c.plan.summary.users_match + c.plan.summary.users_create
    );
    assert_eq!(n.orphans, 3);
    assert_eq!(n.groups_found, n.groups_expected);
    // The colliding target group was adopted, as the plan said.
    let sales = r.rows.iter().find(|x| x.name == "Sales").unwrap();
    assert!(sales.detail.contains("adopted"), "{}", sales.detail);
    // The predicted create found its account; the contractors were skipped.
    assert_eq!(
        r.rows.iter().find(|x| x.id == "u001").unwrap().status,
        Status::Ok
    );
    assert_eq!(c.impact("u001").action, UserAction::Create);
    assert_eq!(
        r.rows.iter().find(|x| x.id == "u044").unwrap().status,
        Status::Skipped
    );
}

#[test]
fn a_missing_user_is_named() {
    let mut c = applied();
    c.live.users.retain(|u| u.id != "t-u002");
    c.live.users.retain(|u| u.id != "new-u001");
    for g in &mut c.live.groups {
        g.members.retain(|m| m != "t-u002" && m != "new-u001");
    }
    let r = c.run();
    assert!(!r.passed);
    let f = failures(&r);
    assert!(
        f.contains(&(Status::Missing, RowKind::User, "u002".into())),
        "{f:?}"
    );
    assert!(
        f.contains(&(Status::Missing, RowKind::User, "u001".into())),
        "a predicted create: {f:?}"
    );
    assert_eq!(r.counts.missing, 2);
    assert!(
        r.worst
            .as_deref()
            .unwrap()
            .starts_with("verify failed: 2 users are missing from the target ("),
        "{:?}",
        r.worst
    );
}

#[test]
fn duplicates_by_user_name_email_or_external_id_are_named() {
    for (how, extra) in [
        (
            "userName",
            TargetUser {
                id: "dup".into(),
                user_name: "GRACE.HOPPER2@contoso.com".into(),
                active: true,
                external_id: None,
                emails: vec![],
            },
        ),
        (
            "email",
            TargetUser {
                id: "dup".into(),
                user_name: "someone.else@contoso.com".into(),
                active: true,
                external_id: None,
                emails: vec!["grace.hopper2@contoso.com".into()],
            },
        ),
        (
            "externalId",
            TargetUser {
                id: "dup".into(),
                user_name: "x@contoso.com".into(),
                active: true,
                external_id: Some("u002".into()),
                emails: vec![],
            },
        ),
    ] {
        let mut c = applied();
        if how == "userName" {
            // The target would refuse the same userName twice: the duplicate differs in case only.
            assert_eq!(
                c.impact("u002").user_name(),
                Some("grace.hopper2@contoso.com")
            );
        }
        c.live.users.push(extra);
        let r = c.run();
        assert_eq!(
            failures(&r),
            vec![(Status::Duplicate, RowKind::User, "u002".to_string())],
            "{how}"
        );
        let row = r.rows.iter().find(|x| x.id == "u002").unwrap();
        assert!(row.detail.contains("dup ("), "{how}: {}", row.detail);
    }
}

#[test]
fn an_unexpectedly_inactive_user_is_named() {
    let mut c = applied();
    c.user_mut("t-u003").active = false;
    let r = c.run();
    assert_eq!(
        failures(&r),
        vec![(Status::Inactive, RowKind::User, "u003".to_string())]
    );
    assert_eq!(r.counts.inactive, 1);
}

#[test]
fn a_re_match_to_another_person_is_named() {
    let mut c = applied();
    // u004's account now carries u005's userName, and u005's own account is renamed away.
    let u5 = c.impact("u005").user_name().unwrap().to_string();
    c.user_mut("t-u005").user_name = "renamed@contoso.com".into();
    c.user_mut("t-u005").emails.clear();
    c.user_mut("t-u004").user_name = u5.clone();
    c.user_mut("t-u004").emails = vec![u5];
    let r = c.run();
    let f = failures(&r);
    assert!(
        f.contains(&(Status::Rematched, RowKind::User, "u004".into())),
        "{f:?}"
    );
    assert!(
        f.contains(&(Status::Rematched, RowKind::User, "u005".into())),
        "{f:?}"
    );
    let row = r.rows.iter().find(|x| x.id == "u004").unwrap();
    assert!(
        row.detail.contains(c.impact("u005").user_principal_name()),
        "{}",
        row.detail
    );
}

#[test]
fn a_replaced_account_is_named() {
    let mut c = applied();
    let u = c.user_mut("t-u006");
    u.id = "t-u006-new".into();
    for g in &mut c.live.groups {
        for m in &mut g.members {
            if m == "t-u006" {
                *m = "t-u006-new".into();
            }
        }
    }
    let r = c.run();
    assert_eq!(
        failures(&r),
        vec![(Status::Replaced, RowKind::User, "u006".to_string())]
    );
}

#[test]
fn group_member_differences_name_the_group_and_the_people() {
    let mut c = applied();
    let eng = c
        .live
        .groups
        .iter_mut()
        .find(|g| g.display_name == "Engineering")
        .unwrap();
    eng.members.retain(|m| m != "t-u007");
    // …and someone who is not an Entra member of it.
    eng.members.push("t-u021".into());
    let r = c.run();
    let f = failures(&r);
    assert_eq!(
        f,
        vec![(Status::GroupMembers, RowKind::Group, "g-eng".to_string())]
    );
    let row = r.rows.iter().find(|x| x.id == "g-eng").unwrap();
    assert!(
        row.detail.contains(&format!(
            "missing members: {}",
            c.impact("u007").user_principal_name()
        )),
        "{}",
        row.detail
    );
    assert!(
        row.detail.contains(c.impact("u021").user_principal_name()),
        "{}",
        row.detail
    );
    assert_eq!(r.counts.group_member_differences, 1);
}

#[test]
fn a_missing_or_doubled_group_is_named() {
    let mut c = applied();
    c.live.groups.retain(|g| g.display_name != "All Company");
    let copy = c
        .live
        .groups
        .iter()
        .find(|g| g.display_name == "Sales")
        .unwrap()
        .clone();
    c.live.groups.push(TargetGroup {
        id: "tg-sales-2".into(),
        ..copy
    });
    let r = c.run();
    let f = failures(&r);
    assert!(
        f.contains(&(Status::GroupMissing, RowKind::Group, "g-allco".into())),
        "{f:?}"
    );
    assert!(
        f.contains(&(Status::GroupDuplicate, RowKind::Group, "g-sales".into())),
        "{f:?}"
    );
    assert_eq!(f.len(), 2);
}

#[test]
fn a_changed_or_deleted_orphan_is_named_with_what_changed() {
    let mut c = applied();
    let o = c.live.orphans_now.get_mut(demo_ids::ORPHANS[0]).unwrap();
    o["displayName"] = json!("Edited By Hand");
    o["meta"] = json!({"lastModified": "2026-12-02T11:00:00Z"});
    c.live.orphans_now.remove(demo_ids::ORPHANS[1]);
    c.live.users.retain(|u| u.id != demo_ids::ORPHANS[1]);
    let r = c.run();
    let f = failures(&r);
    assert_eq!(
        f,
        vec![
            (
                Status::OrphanChanged,
                RowKind::TargetUser,
                demo_ids::ORPHANS[0].to_string()
            ),
            (
                Status::OrphanChanged,
                RowKind::TargetUser,
                demo_ids::ORPHANS[1].to_string()
            ),
        ]
    );
    let row = r
        .rows
        .iter()
        .find(|x| x.id == demo_ids::ORPHANS[0])
        .unwrap();
    assert_eq!(
        row.detail,
        "changed: displayName: (none) → \"Edited By Hand\""
    );
    // A meta-only change is not a change.
    let mut c = applied();
    c.live.orphans_now.get_mut(demo_ids::ORPHANS[2]).unwrap()["meta"] =
        json!({"version": "W/\"9\""});
    assert!(c.run().passed);
}

#[test]
fn a_new_account_nobody_accounts_for_is_reported_not_failed() {
    let mut c = applied();
    c.live.users.push(TargetUser {
        id: "stranger".into(),
        user_name: "made.in.the.app@contoso.com".into(),
        active: true,
        external_id: None,
        emails: vec![],
    });
    let r = c.run();
    assert!(r.passed);
    let row = r.rows.iter().find(|x| x.id == "stranger").unwrap();
    assert_eq!(
        (row.kind, row.status),
        (RowKind::TargetUser, Status::Unexpected)
    );
}

fn set_status(c: &mut Case, status: Value) {
    let Ok(app) = &mut c.live.entra.app else {
        unreachable!()
    };
    app.job.as_mut().unwrap().1 = status;
}

#[test]
fn the_job_must_be_found_steady_since_apply_and_not_quarantined() {
    let mut c = applied();
    c.live.entra.app = Err("the custom app \"Coda (SCIM custom)\" was not found".into());
    let r = c.run();
    assert!(!r.passed);
    assert!(
        r.worst
            .unwrap()
            .starts_with("verify failed: the custom app \"Coda (SCIM custom)\" was not found")
    );

    let mut c = applied();
    set_status(
        &mut c,
        json!({"code": "Quarantine", "steadyStateLastAchievedTime": STEADY,
        "quarantine": {"reason": "EncounteredQuarantineException"}, "lastExecution": {"countEscrowed": 0}}),
    );
    let r = c.run();
    assert_eq!(r.job.problems[0].0, report::JobProblem::Quarantined);
    assert!(
        r.worst
            .unwrap()
            .contains("quarantined (EncounteredQuarantineException)")
    );

    // Steady, but before apply started (an earlier run), or never.
    for steady in ["2026-12-01T09:00:00Z", "0001-01-01T00:00:00Z"] {
        let mut c = applied();
        set_status(
            &mut c,
            json!({"code": "Active", "steadyStateLastAchievedTime": steady, "lastExecution": {"countEscrowed": 0}}),
        );
        let r = c.run();
        assert_eq!(
            r.job.problems.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![report::JobProblem::NotSteady],
            "{steady}"
        );
        assert!(!r.passed);
    }
    // apply's start as the server's Date header (the cutover record).
    let mut c = applied();
    c.opts.since = Some("Wed, 02 Dec 2026 10:06:00 GMT".into());
    assert!(
        c.run()
            .worst
            .unwrap()
            .contains("has not reached steady state since apply started")
    );
    c.opts.since = Some("Wed, 02 Dec 2026 10:04:59 GMT".into());
    assert!(c.run().passed);

    let mut c = applied();
    set_status(
        &mut c,
        json!({"code": "Paused", "steadyStateLastAchievedTime": STEADY, "lastExecution": {"countEscrowed": 0}}),
    );
    assert!(c.run().worst.unwrap().contains("the custom job is paused"));
}

#[test]
fn escrows_fail_unless_the_plan_predicted_them() {
    let mut c = applied();
    set_status(
        &mut c,
        json!({"code": "Active", "steadyStateLastAchievedTime": STEADY,
        "lastExecution": {"countEscrowed": 1, "timeBegan": "2026-12-02T10:04:00Z"}}),
    );
    let failure = |id: &str, at: &str| LogFailure {
        at: at.into(),
        source_id: id.into(),
        source_name: format!("name of {id}"),
        object_type: "User".into(),
        error_code: "SystemForCrossDomainIdentityManagementBadResponse".into(),
    };
    if let Ok(app) = &mut c.live.entra.app {
        app.log_failures = Some(vec![
            failure("u008", "2026-12-02T10:04:30Z"),
            // Before the last cycle: retried since, not counted.
            failure("u009", "2026-12-02T10:01:00Z"),
        ]);
    }
    let r = c.run();
    assert_eq!(r.job.problems.len(), 1, "{:?}", r.job.problems);
    let (kind, text) = &r.job.problems[0];
    assert_eq!(*kind, report::JobProblem::Escrows);
    assert!(
        text.contains("name of u008 (SystemForCrossDomainIdentityManagementBadResponse)"),
        "{text}"
    );
    assert!(!text.contains("u009"), "{text}");
    // An escrow is retried by the engine: the sentence says what to do meanwhile.
    assert!(text.contains("run `scimshift verify` again"), "{text}");

    // The same escrow for a user the plan predicted to fail passes.
    let mut c = applied();
    let predicted = c.plan.impact.iter_mut().find(|u| u.id() == "u008").unwrap();
    *predicted = crate::plan::UserImpactParts {
        action: UserAction::Fail,
        reason: Some("user-name-taken: …".into()),
        ..predicted.parts()
    }
    .into();
    set_status(
        &mut c,
        json!({"code": "Active", "steadyStateLastAchievedTime": STEADY,
        "lastExecution": {"countEscrowed": 1, "timeBegan": "2026-12-02T10:04:00Z"}}),
    );
    if let Ok(app) = &mut c.live.entra.app {
        app.log_failures = Some(vec![failure("u008", "2026-12-02T10:04:30Z")]);
    }
    let r = c.run();
    assert!(r.job.problems.is_empty(), "{:?}", r.job.problems);

    // Without logs: more escrows than predicted failures fail, with a note.
    let mut c = applied();
    set_status(
        &mut c,
        json!({"code": "Active", "steadyStateLastAchievedTime": STEADY, "lastExecution": {"countEscrowed": 2}}),
    );
    if let Ok(app) = &mut c.live.entra.app {
        app.log_failures = None;
        app.log_note = Some("the custom job's provisioning logs could not be read (403)".into());
    }
    let r = c.run();
    assert_eq!(r.job.problems[0].0, report::JobProblem::Escrows);
    assert!(
        r.job.problems[0]
            .1
            .contains("more than the 0 the plan predicted to fail (Entra retries them"),
        "{}",
        r.job.problems[0].1
    );
    assert!(r.notes.iter().any(|n| n.contains("could not be read")));
}

#[test]
fn without_a_snapshot_users_and_groups_are_still_checked() {
    let mut c = applied();
    c.before = Before::none();
    if let Ok(app) = &mut c.live.entra.app {
        app.group_assignments = vec![
            ("g-eng".into(), "Engineering".into()),
            ("g-sales".into(), "Sales".into()),
            ("g-allco".into(), "All Company".into()),
        ];
    }
    c.user_mut("t-u003").active = false;
    let r = c.run();
    assert_eq!(
        failures(&r),
        vec![(Status::Inactive, RowKind::User, "u003".to_string())]
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("no --snapshot was given")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.counts.groups_found, 3);
}

#[test]
fn the_csv_has_one_row_per_object_and_is_private() {
    let mut c = applied();
    c.user_mut("t-u003").active = false;
    let r = c.run();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verify.csv");
    r.write_csv(&path).unwrap();
    let mut rd = csv::Reader::from_path(&path).unwrap();
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        report::CSV_COLUMNS
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.rows.len());
    let bad: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|x| &x[5] != "ok" && &x[5] != "skipped")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (&bad[0][0], &bad[0][1], &bad[0][5]),
        ("user", "u003", "inactive")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let text = r.render_text();
    assert!(text.contains("unexpectedly inactive"), "{text}");
    assert!(text.contains("✗ inactive user"), "{text}");
    assert!(
        r.worst
            .unwrap()
            .starts_with("verify failed: 1 user is unexpectedly inactive (")
    );
}
