//! The comparison itself, pure: the plan's per-user predictions (`impact`),
//! what the snapshot held ([`Before`]) and what is there now ([`Live`]) in,
//! a [`VerifyReport`] out. No I/O, no clock.
//!
//! - **Users.** Each Entra user of the plan is looked up in the target by
//!   every identifier the plan knows for them (the userName the custom
//!   mappings produce, UPN, mail, object id), compared without case with
//!   each target account's userName, emails and externalId, and by the
//!   target id the plan matched them to. A predicted `match` or `create`
//!   must find exactly one account, active, that carries their identifiers
//!   and no one else's: else `missing`, `duplicate`, `inactive`,
//!   `rematched` (the matched account now carries someone else's or no
//!   one's identifiers) or `replaced` (the matched account is gone and a
//!   new one holds the identifiers). Predicted `skip` and `fail` pass when
//!   absent.
//! - **Orphans** (target users no impact entry names as its target) must be
//!   as in the snapshot, `meta` aside; accounts new since the snapshot that
//!   no Entra user of the plan accounts for are reported, not failed.
//! - **Groups** pushed under each name (the plan's `expectedGroups`, with
//!   `--group-map` renames) must be in the target once, with members equal
//!   to the Entra groups' direct members the plan provisions (members the
//!   plan does not know, or predicted to fail, are not compared).
//! - **The custom job**: found, not quarantined, steady since apply began,
//!   and no object in escrow that the plan did not predict to fail.

use super::VerifyOptions;
use super::before::Before;
use super::live::{Live, TargetUser};
use super::report::{Counts, JobCheck, JobProblem, Row, RowKind, Status, VerifyReport, names_list};
use crate::plan::{Plan, UserAction, UserImpact};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Names of the groups the plan's custom job pushes (its `verify` step's
/// `expectedGroups`); empty when it pushes none.
pub fn expected_group_names(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter(|s| s.id == "verify" || s.id == "verify-groups")
        .find_map(|s| s.details.get("expectedGroups"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `--group-map` renames, from the `put-schema` step's transform: display name → pushed name.
fn renames(plan: &Plan) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let transform = plan
        .steps
        .iter()
        .find(|s| s.id == "put-schema")
        .and_then(|s| s.details.get("transform"))
        .and_then(Value::as_array);
    for t in transform.into_iter().flatten() {
        if t.get("op").and_then(Value::as_str) != Some("rename") {
            continue;
        }
        for r in t
            .get("renames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(f), Some(to)) = (
                r.get("from").and_then(Value::as_str),
                r.get("to").and_then(Value::as_str),
            ) {
                out.insert(f.to_string(), to.to_string());
            }
        }
    }
    out
}

/// Indices holding one value: nearly always one, kept inline.
#[derive(Debug)]
enum Hits {
    One(u32),
    Many(Vec<u32>),
}

impl Hits {
    fn push(&mut self, i: u32) {
        match self {
            Hits::One(a) if *a == i => {}
            Hits::One(a) => *self = Hits::Many(vec![*a, i]),
            Hits::Many(v) => {
                if !v.contains(&i) {
                    v.push(i)
                }
            }
        }
    }
    fn as_slice(&self) -> &[u32] {
        match self {
            Hits::One(i) => std::slice::from_ref(i),
            Hits::Many(v) => v,
        }
    }
}

#[derive(Default)]
struct Index(HashMap<String, Hits>);

impl Index {
    fn add(&mut self, key: String, i: u32) {
        match self.0.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(i),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Hits::One(i));
            }
        }
    }
    fn get(&self, key: &str) -> &[u32] {
        self.0.get(key).map_or(&[], Hits::as_slice)
    }
}

/// A person's identifiers, lower case: the custom userName, UPN, mail, object id.
fn identities(u: &UserImpact) -> Vec<String> {
    let mut v: Vec<String> = [
        u.user_name(),
        Some(u.user_principal_name()),
        u.mail(),
        Some(u.id()),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .map(str::to_lowercase)
    .collect();
    v.sort();
    v.dedup();
    v
}

fn describe(t: &TargetUser) -> String {
    format!(
        "{} ({}{})",
        t.id,
        t.user_name,
        if t.active { "" } else { ", inactive" }
    )
}

/// The comparison. `opts.since` (apply's start) bounds the job's steady
/// state and which log failures count.
pub fn compare(plan: &Plan, before: &Before, live: &Live, opts: &VerifyOptions) -> VerifyReport {
    let mut rows = Vec::with_capacity(plan.impact.len() + before.orphans.len() + 16);
    let mut notes: Vec<String> = live.entra.notes.clone();
    let mut counts = Counts {
        target_users: live.users.len(),
        target_groups: live.groups.len(),
        ..Counts::default()
    };

    // Indexes over the target now and the plan's people.
    let by_id: HashMap<&str, u32> = live
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i as u32))
        .collect();
    let mut live_ids = Index::default();
    for (i, u) in live.users.iter().enumerate() {
        for v in u.identities() {
            live_ids.add(v, i as u32);
        }
    }
    let mut people = Index::default();
    for (i, u) in plan.impact.iter().enumerate() {
        for v in identities(u) {
            people.add(v, i as u32);
        }
    }
    let owners = |t: &TargetUser| -> BTreeSet<u32> {
        t.identities()
            .iter()
            .flat_map(|v| people.get(v).iter().copied())
            .collect()
    };
    // The failed log entries of the current cycles, by Entra object.
    let log_failures: HashMap<&str, &str> = match &live.entra.app {
        Ok(a) => a
            .log_failures
            .iter()
            .flatten()
            .filter(|f| opts.since.as_deref().is_none_or(|s| not_before(&f.at, s)))
            .map(|f| (f.source_id.as_str(), f.error_code.as_str()))
            .collect(),
        Err(_) => HashMap::new(),
    };
    let log_note = |id: &str| -> String {
        log_failures
            .get(id)
            .map(|c| format!("; the provisioning log has a failure for them ({c})"))
            .unwrap_or_default()
    };

    // Which live account each person holds (for group members), and which accounts someone accounts for.
    let mut person_of: HashMap<u32, u32> = HashMap::new();
    let mut claimed: HashSet<u32> = HashSet::new();

    for (i, u) in plan.impact.iter().enumerate() {
        let i = i as u32;
        let mut cands: Vec<u32> = identities(u)
            .iter()
            .flat_map(|v| live_ids.get(v).iter().copied())
            .collect();
        cands.sort_unstable();
        cands.dedup();
        let t_live = u.target_id().and_then(|t| by_id.get(t).copied());
        for c in cands.iter().chain(t_live.iter()) {
            claimed.insert(*c);
            person_of.entry(*c).or_insert(i);
        }
        let found = if cands.is_empty() && t_live.is_none() {
            "absent".to_string()
        } else {
            let mut all = cands.clone();
            all.extend(t_live);
            all.sort_unstable();
            all.dedup();
            all.iter()
                .map(|c| describe(&live.users[*c as usize]))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let want = u.user_name().unwrap_or(u.user_principal_name());
        let (expected, status, detail) = match u.action {
            UserAction::Match => {
                let t = u.target_id().unwrap_or_default();
                let expected = format!("match {t} ({})", u.target_user_name().unwrap_or(want));
                let (status, detail) = match t_live {
                    None if cands.is_empty() => (
                        Status::Missing,
                        format!(
                            "the account the gallery provisioned ({t}) is not in the target, and no account carries their identifiers{}",
                            log_note(u.id())
                        ),
                    ),
                    None if cands.len() == 1 => (
                        Status::Replaced,
                        format!(
                            "the account the gallery provisioned ({t}) is gone; {} holds their identifiers now",
                            describe(&live.users[cands[0] as usize])
                        ),
                    ),
                    None => (
                        Status::Duplicate,
                        format!(
                            "the account the gallery provisioned ({t}) is gone, and {} accounts hold their identifiers",
                            cands.len()
                        ),
                    ),
                    Some(ti) => {
                        let tu = &live.users[ti as usize];
                        let own = owners(tu);
                        let others: Vec<u32> = cands.iter().copied().filter(|c| *c != ti).collect();
                        if !own.contains(&i) {
                            match own.iter().find(|o| **o != i) {
                                Some(o) => (
                                    Status::Rematched,
                                    format!(
                                        "{t} now carries the identifiers of {} (userName {})",
                                        plan.impact[*o as usize].user_principal_name(),
                                        tu.user_name
                                    ),
                                ),
                                None => (
                                    Status::Rematched,
                                    format!(
                                        "{t} no longer carries their identifiers (userName is {}, expected {want})",
                                        tu.user_name
                                    ),
                                ),
                            }
                        } else if !others.is_empty() {
                            (
                                Status::Duplicate,
                                format!(
                                    "besides {t}, {} also {} their identifiers",
                                    others
                                        .iter()
                                        .map(|c| describe(&live.users[*c as usize]))
                                        .collect::<Vec<_>>()
                                        .join(", "),
                                    if others.len() == 1 { "holds" } else { "hold" }
                                ),
                            )
                        } else if !tu.active {
                            (
                                Status::Inactive,
                                format!("{t} ({}) has active = false", tu.user_name),
                            )
                        } else {
                            (Status::Ok, String::new())
                        }
                    }
                };
                (expected, status, detail)
            }
            UserAction::Create | UserAction::Fail => {
                let fail = u.action == UserAction::Fail;
                let expected = if fail {
                    format!(
                        "fail ({})",
                        u.reason()
                            .and_then(|r| r.split([':', ' ']).next())
                            .unwrap_or("predicted")
                    )
                } else {
                    format!("create {want}")
                };
                let (status, detail) = match cands.as_slice() {
                    [] if fail => (
                        Status::PredictedFail,
                        u.reason().unwrap_or_default().to_string(),
                    ),
                    [] => (
                        Status::Missing,
                        format!(
                            "no account carries their identifiers (userName {want}){}",
                            log_note(u.id())
                        ),
                    ),
                    [c] => {
                        let tu = &live.users[*c as usize];
                        if !tu.active {
                            (
                                Status::Inactive,
                                format!("{} ({}) has active = false", tu.id, tu.user_name),
                            )
                        } else if fail {
                            (
                                Status::Ok,
                                "provisioned although the plan predicted it to fail".into(),
                            )
                        } else {
                            (Status::Ok, String::new())
                        }
                    }
                    many => (
                        Status::Duplicate,
                        format!(
                            "{} accounts hold their identifiers{}",
                            many.len(),
                            if u.duplicate {
                                " (the plan's duplicate-on-create finding said so)"
                            } else {
                                ""
                            }
                        ),
                    ),
                };
                (expected, status, detail)
            }
            UserAction::Skip => {
                let reason = u.reason().unwrap_or("skip");
                let expected = format!("skip ({reason})");
                let new: Vec<u32> = cands
                    .iter()
                    .copied()
                    .filter(|c| {
                        before.has_target
                            && !before.target_user_ids.contains(&live.users[*c as usize].id)
                    })
                    .collect();
                if new.is_empty() {
                    (
                        expected,
                        Status::Skipped,
                        if cands.is_empty() {
                            String::new()
                        } else {
                            "in the target as before, out of the custom app's scope".into()
                        },
                    )
                } else {
                    (
                        expected,
                        Status::Unexpected,
                        format!(
                            "provisioned although the plan predicted skip ({reason}): {}",
                            new.iter()
                                .map(|c| describe(&live.users[*c as usize]))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                }
            }
        };
        if matches!(u.action, UserAction::Match | UserAction::Create) {
            counts.users_expected += 1;
        }
        match status {
            Status::Ok if matches!(u.action, UserAction::Match | UserAction::Create) => {
                counts.users_found += 1
            }
            Status::Missing => counts.missing += 1,
            Status::Duplicate => counts.duplicate += 1,
            Status::Inactive => counts.inactive += 1,
            Status::Rematched => counts.rematched += 1,
            Status::Replaced => counts.replaced += 1,
            Status::Skipped => counts.skipped += 1,
            Status::PredictedFail => counts.predicted_fail += 1,
            Status::Unexpected => counts.unexpected += 1,
            _ => {}
        }
        rows.push(Row {
            kind: RowKind::User,
            id: u.id().to_string(),
            name: u.user_principal_name().to_string(),
            expected,
            found,
            status,
            detail,
        });
    }

    // Orphans: as they were.
    if !before.has_target {
        notes.push(if before.digest.is_empty() {
            "no --snapshot was given: orphans (target users no one assigns) and accounts new since the snapshot were not checked".into()
        } else {
            "the snapshot holds no target (it was taken without --scim-url): orphans and accounts new since the snapshot were not checked".into()
        });
    }
    counts.orphans = before.orphans.len();
    for (id, was) in &before.orphans {
        if let Some(i) = by_id.get(id.as_str()) {
            claimed.insert(*i);
        }
        let name = was
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (found, status, detail) = match live.orphans_now.get(id) {
            None => (
                "absent".into(),
                Status::OrphanChanged,
                "deleted from the target".to_string(),
            ),
            Some(now) => {
                let changes = changed_attributes(was, now);
                let found = live
                    .users
                    .get(by_id[id.as_str()] as usize)
                    .map(describe)
                    .unwrap_or_default();
                if changes.is_empty() {
                    (found, Status::Ok, String::new())
                } else {
                    (
                        found,
                        Status::OrphanChanged,
                        format!("changed: {}", changes.join("; ")),
                    )
                }
            }
        };
        if status == Status::OrphanChanged {
            counts.changed_orphans += 1;
        }
        rows.push(Row {
            kind: RowKind::TargetUser,
            id: id.clone(),
            name,
            expected: "unchanged (orphan: no one assigns it)".into(),
            found,
            status,
            detail,
        });
    }
    // Accounts new since the snapshot that no one accounts for.
    if before.has_target {
        for (i, u) in live.users.iter().enumerate() {
            if claimed.contains(&(i as u32)) || before.target_user_ids.contains(&u.id) {
                continue;
            }
            counts.unexpected += 1;
            rows.push(Row {
                kind: RowKind::TargetUser,
                id: u.id.clone(),
                name: u.user_name.clone(),
                expected: "not in the snapshot".into(),
                found: describe(u),
                status: Status::Unexpected,
                detail: "new since the snapshot, and no Entra user of the plan has its userName, emails or externalId".into(),
            });
        }
    }

    group_rows(
        plan,
        before,
        live,
        &by_id,
        &person_of,
        &mut rows,
        &mut counts,
        &mut notes,
    );

    let job = job_check(plan, live, opts, &mut notes);
    let worst = super::report::worst_sentence(&rows, &job);
    VerifyReport {
        passed: worst.is_none(),
        worst,
        custom_app_name: plan.app.custom_app_name.clone(),
        target_url: live.target_url.clone(),
        read_at: live.read_at.clone(),
        counts,
        job,
        notes,
        rows,
    }
}

#[allow(clippy::too_many_arguments)]
fn group_rows(
    plan: &Plan,
    before: &Before,
    live: &Live,
    by_id: &HashMap<&str, u32>,
    person_of: &HashMap<u32, u32>,
    rows: &mut Vec<Row>,
    counts: &mut Counts,
    notes: &mut Vec<String>,
) {
    let names = expected_group_names(plan);
    if names.is_empty() {
        return;
    }
    let renames = renames(plan);
    // The Entra groups pushed under each name (lower case).
    let sources: Vec<(String, String)> = if !before.digest.is_empty() {
        before.pushed_groups.clone()
    } else {
        match &live.entra.app {
            Ok(a) => a.group_assignments.clone(),
            Err(_) => Vec::new(),
        }
    };
    let mut by_name: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
    for n in &names {
        by_name.insert(n.to_lowercase(), (n.clone(), Vec::new()));
    }
    for (id, display) in &sources {
        let pushed = renames
            .get(display)
            .cloned()
            .unwrap_or_else(|| display.clone());
        by_name
            .entry(pushed.to_lowercase())
            .or_insert_with(|| (pushed.clone(), Vec::new()))
            .1
            .push(id);
    }
    let mut target_by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, g) in live.groups.iter().enumerate() {
        target_by_name
            .entry(g.display_name.to_lowercase())
            .or_default()
            .push(i);
    }
    let before_by_name: HashMap<String, &str> = before
        .target_groups
        .iter()
        .map(|(id, n)| (n.to_lowercase(), id.as_str()))
        .collect();
    let impact_by_id: HashMap<&str, usize> = plan
        .impact
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id(), i))
        .collect();
    let upn = |i: usize| plan.impact[i].user_principal_name().to_string();
    let assigned = live.entra.app.as_ref().ok().map(|a| &a.assigned);

    for (key, (name, entra_ids)) in &by_name {
        counts.groups_expected += 1;
        // Expected: the Entra groups' direct members the plan provisions.
        let mut expected: BTreeSet<usize> = BTreeSet::new();
        let mut unread = Vec::new();
        let mut not_compared = 0usize;
        for gid in entra_ids {
            match live.entra.group_members.get(*gid) {
                None => unread.push(*gid),
                Some(ms) => {
                    for m in ms {
                        match impact_by_id.get(m.as_str()) {
                            Some(&i) => match plan.impact[i].action {
                                UserAction::Match | UserAction::Create => {
                                    expected.insert(i);
                                }
                                UserAction::Fail => not_compared += 1,
                                UserAction::Skip => {}
                            },
                            None => not_compared += 1,
                        }
                    }
                }
            }
        }
        let ignored: HashSet<usize> = entra_ids
            .iter()
            .filter_map(|g| live.entra.group_members.get(*g))
            .flatten()
            .filter_map(|m| impact_by_id.get(m.as_str()).copied())
            .filter(|i| plan.impact[*i].action == UserAction::Fail)
            .collect();
        let mut extra_notes = Vec::new();
        if let Some(a) = assigned {
            let missing: Vec<&str> = entra_ids
                .iter()
                .copied()
                .filter(|g| !a.contains(*g))
                .collect();
            if !missing.is_empty() {
                extra_notes.push(format!(
                    "Entra group {} is not assigned to the custom app",
                    missing.join(", ")
                ));
            }
        }
        if !unread.is_empty() {
            extra_notes.push(format!(
                "Entra group {} could not be read",
                unread.join(", ")
            ));
        }
        if not_compared > 0 {
            extra_notes.push(format!(
                "{not_compared} of its Entra members are not compared (not in the plan, or predicted to fail)"
            ));
        }
        let hits = target_by_name.get(key).cloned().unwrap_or_default();
        let (found, status, mut detail) = match hits.as_slice() {
            [] => (
                "absent".to_string(),
                Status::GroupMissing,
                format!("no target group is named \"{name}\""),
            ),
            [g] => {
                let tg = &live.groups[*g];
                let mut now: BTreeSet<usize> = BTreeSet::new();
                let mut strangers: Vec<&str> = Vec::new();
                for m in &tg.members {
                    match by_id.get(m.as_str()).and_then(|i| person_of.get(i)) {
                        Some(p) => {
                            now.insert(*p as usize);
                        }
                        None => strangers.push(m),
                    }
                }
                let missing: Vec<String> = expected.difference(&now).map(|i| upn(*i)).collect();
                let extra: Vec<String> = now
                    .difference(&expected)
                    .filter(|i| !ignored.contains(i))
                    .map(|i| upn(*i))
                    .chain(
                        strangers
                            .iter()
                            .map(|s| format!("target user {s} (no Entra user of the plan)")),
                    )
                    .collect();
                let found = format!("{} ({} members)", tg.id, tg.members.len());
                let mut d = Vec::new();
                match before_by_name.get(key) {
                    Some(old) if *old == tg.id => d.push(format!(
                        "adopted the target group that existed before ({old}), as the plan's target-group-name-collision finding said"
                    )),
                    Some(old) => d.push(format!(
                        "the target group that existed before ({old}) is gone; {} was created",
                        tg.id
                    )),
                    None => {}
                }
                if missing.is_empty() && extra.is_empty() {
                    (found, Status::Ok, d.join("; "))
                } else {
                    if !missing.is_empty() {
                        d.insert(0, format!("missing members: {}", names_list(&missing, 10)));
                    }
                    if !extra.is_empty() {
                        d.insert(
                            usize::from(!missing.is_empty()),
                            format!("members Entra does not have: {}", names_list(&extra, 10)),
                        );
                    }
                    (found, Status::GroupMembers, d.join("; "))
                }
            }
            many => (
                many.iter()
                    .map(|g| live.groups[*g].id.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                Status::GroupDuplicate,
                format!("{} target groups are named \"{name}\"", many.len()),
            ),
        };
        for n in extra_notes {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str(&n);
        }
        match status {
            Status::Ok => counts.groups_found += 1,
            Status::GroupMissing => counts.groups_missing += 1,
            Status::GroupDuplicate => counts.groups_duplicate += 1,
            Status::GroupMembers => {
                counts.groups_found += 1;
                counts.group_member_differences += 1
            }
            _ => {}
        }
        if entra_ids.is_empty() {
            notes.push(format!(
                "no Entra group is known to be pushed as \"{name}\": its members were not compared"
            ));
        }
        rows.push(Row {
            kind: RowKind::Group,
            id: entra_ids.join(";"),
            name: name.clone(),
            expected: format!("{} members", expected.len()),
            found,
            status,
            detail,
        });
    }
}

fn job_check(plan: &Plan, live: &Live, opts: &VerifyOptions, notes: &mut Vec<String>) -> JobCheck {
    let mut j = JobCheck {
        since: opts.since.clone(),
        ..JobCheck::default()
    };
    let app = match &live.entra.app {
        Ok(a) => a,
        Err(why) => {
            j.problems.push((JobProblem::NotFound, why.clone()));
            return j;
        }
    };
    j.service_principal_id = Some(app.service_principal_id.clone());
    let Some((job_id, status)) = &app.job else {
        j.problems.push((
            JobProblem::NotFound,
            format!(
                "the custom app \"{}\" has no provisioning job: has the plan been applied?",
                app.display_name
            ),
        ));
        return j;
    };
    j.job_id = Some(job_id.clone());
    let s = |p: &str| {
        status
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    j.code = s("/code");
    j.steady_state_last_achieved =
        s("/steadyStateLastAchievedTime").filter(|t| !t.starts_with("0001"));
    let q = status.get("quarantine").filter(|q| !q.is_null());
    if q.is_some() || j.code.as_deref() == Some("Quarantine") {
        let reason = q
            .and_then(|q| q.get("reason").and_then(Value::as_str))
            .unwrap_or("no reason given")
            .to_string();
        j.problems.push((
            JobProblem::Quarantined,
            format!("the custom job is quarantined ({reason})"),
        ));
        j.quarantine = Some(reason);
    }
    match (&j.steady_state_last_achieved, &opts.since) {
        _ if j.code.as_deref() == Some("Paused") => j.problems.push((
            JobProblem::NotSteady,
            "the custom job is paused".into(),
        )),
        (None, _) => j.problems.push((
            JobProblem::NotSteady,
            "the custom job has not reached steady state (its first cycle has not finished)".into(),
        )),
        (Some(t), Some(since)) if !not_before(t, since) => j.problems.push((
            JobProblem::NotSteady,
            format!("the custom job has not reached steady state since apply started ({since}; last steady {t})"),
        )),
        _ => {}
    }
    // Escrows: the last cycle's count, named from the log's failures.
    let escrowed = status
        .pointer("/lastExecution/countEscrowed")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    j.escrowed = Some(escrowed);
    let predicted: HashSet<&str> = plan
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Fail)
        .map(|u| u.id())
        .collect();
    let cycle_began = s("/lastExecution/timeBegan");
    let bound = cycle_began.as_deref().or(opts.since.as_deref());
    match &app.log_failures {
        Some(all) => {
            let recent: Vec<&super::live::LogFailure> = all
                .iter()
                .filter(|f| bound.is_none_or(|b| not_before(&f.at, b)))
                .collect();
            let mut names: Vec<String> = recent
                .iter()
                .map(|f| {
                    format!(
                        "{} ({})",
                        if f.source_name.is_empty() {
                            &f.source_id
                        } else {
                            &f.source_name
                        },
                        f.error_code
                    )
                })
                .collect();
            names.sort();
            names.dedup();
            j.log_failures = Some(names);
            let mut unexpected: Vec<String> = recent
                .iter()
                .filter(|f| !predicted.contains(f.source_id.as_str()))
                .map(|f| {
                    format!(
                        "{} ({})",
                        if f.source_name.is_empty() {
                            &f.source_id
                        } else {
                            &f.source_name
                        },
                        f.error_code
                    )
                })
                .collect();
            unexpected.sort();
            unexpected.dedup();
            if escrowed > 0 && !unexpected.is_empty() {
                j.problems.push((
                    JobProblem::Escrows,
                    format!(
                        "{escrowed} {} in escrow after the last cycle; the log names {} the plan did not predict to fail: {}{ESCROW_RETRIED}",
                        if escrowed == 1 { "object is" } else { "objects are" },
                        if unexpected.len() == 1 { "one" } else { "several" },
                        names_list(&unexpected, 5)
                    ),
                ));
            } else if escrowed as usize > predicted.len() {
                j.problems.push(more_escrows(escrowed, predicted.len()));
            }
        }
        None => {
            if let Some(n) = &app.log_note {
                notes.push(n.clone());
            }
            if escrowed as usize > predicted.len() {
                j.problems.push(more_escrows(escrowed, predicted.len()));
            }
        }
    }
    j
}

/// What an admin can do about an escrow: Entra retries it by itself.
const ESCROW_RETRIED: &str = " (Entra retries them in its next cycles, about every 40 minutes: read each one's error in the provisioning logs, fix what is the data's, and run `scimshift verify` again after the next cycle)";

fn more_escrows(escrowed: u64, predicted: usize) -> (JobProblem, String) {
    (
        JobProblem::Escrows,
        format!(
            "{escrowed} objects are in escrow after the last cycle, more than the {predicted} the plan predicted to fail{ESCROW_RETRIED}"
        ),
    )
}

/// Whether timestamp `t` is not earlier than `since` (RFC 3339 or an HTTP
/// date); unreadable = false.
fn not_before(t: &str, since: &str) -> bool {
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .or_else(|_| chrono::DateTime::parse_from_rfc2822(s))
            .ok()
    };
    match (parse(t), parse(since)) {
        (Some(a), Some(b)) => a >= b,
        _ => false,
    }
}

/// The attributes of a SCIM resource that differ, `meta` aside, as
/// `name: before → after`.
fn changed_attributes(was: &Value, now: &Value) -> Vec<String> {
    let (Some(a), Some(b)) = (was.as_object(), now.as_object()) else {
        return vec!["the resource".into()];
    };
    let short = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            }
        }
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).filter(|k| *k != "meta").collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} → {}", short(a.get(k)), short(b.get(k))))
        .collect()
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
