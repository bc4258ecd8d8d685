//! Extra matching: plans that prevent duplicates, not only predict them.
//!
//! A gallery job that has run for years holds a link from each Entra user to
//! the account it made, so a person renamed since (new UPN, new mail) is simply
//! updated. The custom job has no links: its first cycle finds people only by
//! the current values of its matching attributes, and creates a second account
//! for everyone whose target record still carries an old one. When the
//! prediction finds such duplicates tied to their accounts by a value the
//! target holds in an attribute SCIM filters on (`externalId`,
//! `emails[type eq "work"].value`, or another of the gallery's matching
//! attributes), this module tries that attribute as a secondary matching
//! attribute mapped from the gallery's own source for it (Entra queries the
//! matching attributes in precedence order, first hit wins), and keeps it when
//! it removes duplicates and brings no new risk: every value it would match on
//! is held by at most one target user, no two Entra users in scope share a
//! value, no target account ends up matched to two people, and nobody the
//! first cycle could provision now fails. Otherwise the schema stays as it was
//! and a finding says why. With `--no-extra-matching` nothing is added and a
//! finding says what the attribute would have done.
//!
//! The findings about what remains are here too: one per kind of tie that
//! still makes a duplicate, and the renames the first cycle's updates make
//! (a matched account's userName set to the current value), which can break
//! sign-in in the target (the note is the profile's `rename_note`).

use super::custom_schema::{self, CustomSchema};
use super::findings::{Findings, cap, expr_text, plural, user_ref};
use super::impact::{self, Prediction, TargetIndex};
use super::model::{ObjectRef, Severity, UserAction, UserImpact};
use super::profile::Profile;
use crate::mapping::schema::{Mappings, ObjectMapping, get_path};
use crate::snapshot::model::Snapshot;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// What the profile says about renames when it says nothing.
pub const DEFAULT_RENAME_NOTE: &str = "A changed userName can break sign-in in the target when single sign-on identifies people by it (for example a SAML NameID or a login bound to the old value): check how the app signs people in before cutover, and tell the people concerned.";

/// One secondary matching attribute, added or only considered.
#[derive(Debug, Clone)]
pub struct Extra {
    /// The SCIM attribute (`externalId`).
    pub target: String,
    /// The gallery's source for it (`[objectId]`).
    pub source: String,
    pub priority: i64,
    /// The custom schema's source it replaces, when the profile mapped the
    /// attribute from something else.
    pub replaced: Option<String>,
    /// Predicted duplicates without and with it.
    pub before: usize,
    pub after: usize,
    /// Users (impact indices) it matches instead of duplicating.
    pub users: Vec<usize>,
}

impl Extra {
    fn text(&self) -> String {
        format!("{} ← {}", self.target, self.source)
    }
}

/// Why an extra matching attribute was not added.
#[derive(Debug, Clone)]
pub enum Risk {
    /// Users whose value several target users hold: (user, target users).
    NotUnique(Vec<(usize, Vec<usize>)>),
    /// Users in scope who share one value (they would be tied to one account).
    Shared(Vec<Vec<usize>>),
    /// Target accounts (index) the first cycle would match to several users.
    OneAccountTwoPeople(Vec<(usize, Vec<usize>)>),
    /// Users who were predicted to be provisioned and would now fail.
    NewFailures(Vec<usize>),
}

/// What the planner decided about extra matching.
#[derive(Debug, Default)]
pub struct Report {
    pub added: Vec<Extra>,
    pub refused: Vec<(Extra, Vec<Risk>)>,
    /// With `--no-extra-matching`: what would have been added.
    pub available: Vec<Extra>,
}

/// The custom schema, its mappings and the prediction after extra matching.
pub struct Outcome {
    pub schema: CustomSchema,
    pub maps: Mappings,
    pub pred: Prediction,
    pub report: Report,
}

fn duplicates(p: &Prediction) -> usize {
    p.impact.iter().filter(|u| u.duplicate).count()
}

/// The target attribute a tie points at (`objectId = target externalId` → `externalId`).
fn tie_slot(u: &UserImpact) -> Option<&str> {
    u.tie()?.rsplit_once(" = target ").map(|(_, t)| t)
}

/// The gallery attributes worth trying, best first: `externalId`, then
/// emails, then the gallery's other matching attributes; never userName (the
/// custom job maps it itself) nor one the custom job already matches on, and
/// only direct mappings (`[attribute]`): a value computed by an expression is
/// not something to look people up by.
fn candidates(gallery: &ObjectMapping, custom: &ObjectMapping) -> Vec<String> {
    let mut out: Vec<(u8, String)> = gallery
        .attributes
        .iter()
        .filter(|a| matches!(a.expr, crate::mapping::expr::Expr::Attr(_)))
        .filter_map(|a| {
            let t = a.target.to_ascii_lowercase();
            let rank = if t == "externalid" {
                0
            } else if t.starts_with("emails[") {
                1
            } else if a.matching_priority > 0 && t != "username" {
                2
            } else {
                return None;
            };
            let taken = custom
                .matching()
                .iter()
                .any(|m| m.target.eq_ignore_ascii_case(&a.target));
            (!taken).then(|| (rank, a.target.clone()))
        })
        .collect();
    out.sort_by_key(|(r, _)| *r);
    out.into_iter().map(|(_, t)| t).collect()
}

/// The risks of matching on `target` (as `maps` map it), comparing the
/// prediction with it (`after`) to the one without (`before`).
fn risks(
    snap: &Snapshot,
    maps: &ObjectMapping,
    target: &str,
    before: &Prediction,
    after: &Prediction,
) -> Vec<Risk> {
    let Some(attr) = maps.attribute(target) else {
        return vec![];
    };
    let empty = Vec::new();
    let target_users = snap.target.as_ref().map(|t| &t.users).unwrap_or(&empty);
    let index = TargetIndex::new(target_users, &[target.to_string()]);
    let mut not_unique = Vec::new();
    let mut by_value: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (ui, u) in snap.users.iter().enumerate() {
        if after.impact[ui].action == UserAction::Skip {
            continue;
        }
        let Some(v) = attr.expr.eval(&impact::user_source(u)).ok().flatten() else {
            continue;
        };
        let hits = index.lookup(target, &v);
        if hits.len() > 1 {
            not_unique.push((ui, hits.to_vec()));
        }
        by_value
            .entry(impact::key(target, &v))
            .or_default()
            .push(ui);
    }
    let shared: Vec<Vec<usize>> = by_value.into_values().filter(|v| v.len() > 1).collect();
    let mut matched: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ui, u) in after.impact.iter().enumerate() {
        if u.action == UserAction::Match
            && u.reason().is_none()
            && let Some(t) = u.target_id()
        {
            matched.entry(t).or_default().push(ui);
        }
    }
    let by_id: HashMap<String, usize> = (0..target_users.len()).map(|i| (index.id(i), i)).collect();
    let mut two: Vec<(usize, Vec<usize>)> = matched
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .filter_map(|(t, v)| by_id.get(t).map(|&i| (i, v)))
        .collect();
    two.sort();
    let new_failures: Vec<usize> = (0..after.impact.len())
        .filter(|&i| {
            after.impact[i].action == UserAction::Fail
                && before.impact[i].action != UserAction::Fail
        })
        .collect();
    let mut out = Vec::new();
    if !not_unique.is_empty() {
        out.push(Risk::NotUnique(not_unique));
    }
    if !shared.is_empty() {
        out.push(Risk::Shared(shared));
    }
    if !two.is_empty() {
        out.push(Risk::OneAccountTwoPeople(two));
    }
    if !new_failures.is_empty() {
        out.push(Risk::NewFailures(new_failures));
    }
    out
}

/// Try the gallery's identifiers as extra matching attributes (see the
/// module documentation); `enabled` is false with `--no-extra-matching`.
#[allow(clippy::too_many_arguments)]
pub fn propose(
    snap: &Snapshot,
    gallery_schema: &Value,
    gallery: Option<&ObjectMapping>,
    schema: CustomSchema,
    maps: Mappings,
    pred: Prediction,
    scope_all: bool,
    enabled: bool,
) -> Outcome {
    let mut out = Outcome {
        schema,
        maps,
        pred,
        report: Report::default(),
    };
    let (Some(gallery), Some(_)) = (gallery, snap.target.as_ref()) else {
        return out;
    };
    let Some(custom) = out.maps.user.clone() else {
        return out;
    };
    let target_users = snap.target.as_ref().map(|t| &t.users[..]).unwrap_or(&[]);
    let by_id: HashMap<&str, &Value> = target_users
        .iter()
        .filter_map(|u| Some((u.get("id")?.as_str()?, u)))
        .collect();
    for target in candidates(gallery, &custom) {
        let before = duplicates(&out.pred);
        // Worth a try when an account some duplicate is tied to holds a value there.
        let relevant = out
            .pred
            .impact
            .iter()
            .filter(|u| u.duplicate)
            .filter_map(|u| by_id.get(u.target_id()?))
            .any(|r| {
                get_path(r, &target).is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            });
        if before == 0 || !relevant {
            continue;
        }
        let Some(cu) = out.maps.user.as_ref() else {
            break;
        };
        let priority = cu
            .matching()
            .iter()
            .map(|a| a.matching_priority)
            .max()
            .unwrap_or(0)
            + 1;
        let Some((cs, replaced)) =
            custom_schema::with_extra_matching(&out.schema, gallery_schema, &target, priority)
        else {
            continue;
        };
        let Ok(maps) = Mappings::from_schema(&cs.body) else {
            continue;
        };
        let Some(new_user) = maps.user.as_ref() else {
            continue;
        };
        let after = impact::predict(snap, new_user, Some(gallery), scope_all);
        let n_after = duplicates(&after);
        if n_after >= before {
            continue;
        }
        let extra = Extra {
            target: target.clone(),
            source: new_user
                .attribute(&target)
                .map(|a| expr_text(&a.expr))
                .unwrap_or_default(),
            priority,
            replaced,
            before,
            after: n_after,
            users: (0..after.impact.len())
                .filter(|&i| out.pred.impact[i].duplicate && !after.impact[i].duplicate)
                .collect(),
        };
        let found = risks(snap, new_user, &target, &out.pred, &after);
        if !found.is_empty() {
            out.report.refused.push((extra, found));
            continue;
        }
        if !enabled {
            out.report.available.push(extra);
            continue;
        }
        let mut cs = cs;
        cs.transform.push(json!({
            "object": "user", "target": extra.target, "op": "extra-matching",
            "source": format!("{} (matching {priority})", extra.source),
            "from": extra.replaced, "duplicatesBefore": before, "duplicatesAfter": n_after,
        }));
        out.schema = cs;
        out.maps = maps;
        out.pred = after;
        out.report.added.push(extra);
    }
    out
}

fn target_ref(snap: &Snapshot, i: usize) -> ObjectRef {
    let t = &snap.target.as_ref().map(|t| &t.users[..]).unwrap_or(&[])[i];
    ObjectRef::new(
        "targetUser",
        t.get("id").and_then(Value::as_str).unwrap_or_default(),
        t.get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )
}

fn risk_text(r: &Risk, snap: &Snapshot, pred: &Prediction) -> String {
    let upn = |i: usize| pred.impact[i].user_principal_name().to_string();
    match r {
        Risk::NotUnique(v) => format!(
            "{} it would match on {} held by several target users (for {}: {} accounts), so Entra would stop with DuplicateTargetEntries",
            plural(v.len(), "value", "values"),
            if v.len() == 1 { "is" } else { "are" },
            upn(v[0].0),
            v[0].1.len()
        ),
        Risk::Shared(groups) => format!(
            "{} in scope share a value of it ({}), which would tie them to one account",
            plural(groups.iter().map(Vec::len).sum(), "user", "users"),
            groups[0]
                .iter()
                .map(|&i| upn(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Risk::OneAccountTwoPeople(v) => format!(
            "{} would be matched to two people (target user {})",
            plural(v.len(), "target account", "target accounts"),
            target_ref(snap, v[0].0).name
        ),
        Risk::NewFailures(v) => format!(
            "{} the first cycle provisions today would fail with it ({})",
            plural(v.len(), "user", "users"),
            v.iter()
                .take(3)
                .map(|&i| upn(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Objects a refusal is about: the users and target accounts of each risk.
fn risk_objects(r: &Risk, snap: &Snapshot, pred: &Prediction, objs: &mut Vec<ObjectRef>) {
    match r {
        Risk::NotUnique(v) => {
            for (u, hits) in v {
                objs.push(user_ref(&pred.impact[*u]));
                objs.extend(hits.iter().map(|&h| target_ref(snap, h)));
            }
        }
        Risk::Shared(groups) => {
            objs.extend(groups.iter().flatten().map(|&u| user_ref(&pred.impact[u])));
        }
        Risk::OneAccountTwoPeople(v) => {
            for (t, users) in v {
                objs.push(target_ref(snap, *t));
                objs.extend(users.iter().map(|&u| user_ref(&pred.impact[u])));
            }
        }
        Risk::NewFailures(v) => objs.extend(v.iter().map(|&u| user_ref(&pred.impact[u]))),
    }
}

/// The kind of a remaining tie for the admin: the target attribute it sits in.
fn tie_kind(slot: &str) -> &'static str {
    let s = slot.to_ascii_lowercase();
    if s == "username" {
        "a userName the target holds from before (an old UPN or address)"
    } else if s == "externalid" {
        "the externalId the target holds"
    } else if s.starts_with("emails") {
        "an email address the target holds (an old address)"
    } else {
        "a value the target holds"
    }
}

/// `extra-matching`, `extra-matching-refused`, `extra-matching-off`,
/// `duplicate-tie` (one per kind of tie that remains) and
/// `user-renamed-in-target`.
pub(super) fn findings(snap: &Snapshot, out: &Outcome, profile: &Profile, f: &mut Findings) {
    let pred = &out.pred;
    let r = &out.report;
    for x in &r.added {
        let (objs, more) = cap(
            x.users.len(),
            x.users.iter().map(|&i| user_ref(&pred.impact[i])),
        );
        f.add(
            Severity::Info,
            "extra-matching",
            format!(
                "The custom job also matches on {} (matching priority {}), the gallery job's own mapping{}: predicted duplicates {} → {}. {} the target holds from the gallery app {} found by it instead of created again; every value it matches on is held by at most one target user and ties no two Entra users to one account. `--no-extra-matching` keeps the gallery's matching as it is{more}.",
                x.text(),
                x.priority,
                x.replaced
                    .as_ref()
                    .map(|s| format!(" (the profile mapped it from {s})"))
                    .unwrap_or_default(),
                x.before,
                x.after,
                plural(x.users.len(), "user", "users"),
                if x.users.len() == 1 { "is" } else { "are" },
            ),
            objs,
        );
    }
    for (x, risks) in &r.refused {
        let mut objs = Vec::new();
        for k in risks {
            risk_objects(k, snap, pred, &mut objs);
        }
        objs.dedup();
        let why: Vec<String> = risks.iter().map(|k| risk_text(k, snap, pred)).collect();
        let (objs, more) = cap(objs.len(), objs);
        f.add(
            Severity::Warning,
            "extra-matching-refused",
            format!(
                "Matching also on {} would turn {} predicted duplicates into {}, but {}: the plan adds no extra matching attribute. Make the values unique in the target (or in Entra) and plan again{more}.",
                x.text(),
                x.before,
                x.after,
                why.join("; and ")
            ),
            objs,
        );
    }
    for x in &r.available {
        let (objs, more) = cap(
            x.users.len(),
            x.users.iter().map(|&i| user_ref(&pred.impact[i])),
        );
        f.add(
            Severity::Info,
            "extra-matching-off",
            format!(
                "--no-extra-matching: the gallery's matching is kept as it is; matching also on {} (the gallery job's own mapping, priority {}) would turn {} predicted duplicates into {}{more}.",
                x.text(),
                x.priority,
                x.before,
                x.after
            ),
            objs,
        );
    }

    // One finding per kind of tie that still makes a duplicate.
    let matching = out
        .maps
        .user
        .as_ref()
        .map(|u| {
            u.matching()
                .iter()
                .map(|m| format!("{} ← {}", m.target, expr_text(&m.expr)))
                .collect::<Vec<_>>()
                .join(", then ")
        })
        .unwrap_or_default();
    let mut kinds: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    for (i, u) in pred.impact.iter().enumerate().filter(|(_, u)| u.duplicate) {
        kinds
            .entry(tie_kind(tie_slot(u).unwrap_or_default()))
            .or_default()
            .push(i);
    }
    for (kind, idx) in kinds {
        let users: Vec<&UserImpact> = idx.iter().map(|&i| &pred.impact[i]).collect();
        let helps = |x: &Extra| idx.iter().any(|i| x.users.contains(i));
        let hint = if let Some(x) = r.available.iter().find(|x| helps(x)) {
            format!(
                "; without --no-extra-matching the plan would match them on {}",
                x.text()
            )
        } else if let Some((x, _)) = r.refused.iter().find(|(x, _)| helps(x)) {
            format!(
                "; matching on {} would find them but is not safe here (see extra-matching-refused)",
                x.text()
            )
        } else {
            String::new()
        };
        let mut objs = Vec::new();
        for u in &users {
            objs.push(user_ref(u));
            objs.push(ObjectRef::new(
                "targetUser",
                u.target_id().unwrap_or_default(),
                u.target_user_name().unwrap_or_default(),
            ));
        }
        let (objs, more) = cap(objs.len(), objs);
        let ties: Vec<String> = {
            let mut t: Vec<String> = users
                .iter()
                .filter_map(|u| u.tie().map(str::to_string))
                .collect();
            t.sort();
            t.dedup();
            t
        };
        f.add(
            Severity::Warning,
            "duplicate-tie",
            format!(
                "{} link to their target account is {kind} ({}): the custom job matches on {matching}, which does not find it, so the first cycle creates them again{hint}. Set the target account's matching value to what the custom job looks up (rename them in the target) before cutover, or accept the duplicates{more}.",
                if users.len() == 1 {
                    "1 user's".to_string()
                } else {
                    format!("{} users'", users.len())
                },
                ties.join("; ")
            ),
            objs,
        );
    }

    // Renames the first cycle's updates make.
    let renamed: Vec<(&UserImpact, (String, String))> = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .filter_map(|u| u.rename().map(|r| (u, r)))
        .collect();
    if !renamed.is_empty() {
        let mut objs = Vec::new();
        for (u, _) in &renamed {
            objs.push(user_ref(u));
            objs.push(ObjectRef::new(
                "targetUser",
                u.target_id().unwrap_or_default(),
                u.target_user_name().unwrap_or_default(),
            ));
        }
        let (objs, more) = cap(objs.len(), objs);
        let (_, (old, new)) = &renamed[0];
        let how = out
            .maps
            .user
            .as_ref()
            .and_then(|m| m.attribute("userName"))
            .map(|a| format!("userName ← {}", expr_text(&a.expr)))
            .unwrap_or_else(|| "userName".into());
        f.add(
            Severity::Warning,
            "user-renamed-in-target",
            format!(
                "The first cycle renames {} in the target: the custom job matches them and updates userName to what it maps ({how}), e.g. \"{old}\" → \"{new}\" (the report lists them all). {}{more}",
                plural(renamed.len(), "matched user", "matched users"),
                profile
                    .rename_note
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(DEFAULT_RENAME_NOTE)
            ),
            objs,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testkit::{SnapBuilder, gallery_schema};
    use crate::plan::{ExtraMatching, Plan, PlanOptions, Profile, UserAction, build_with};
    use serde_json::{Value, json};

    /// A gallery matching on `userName ← [mail]` that also maps `externalId ← [department]`.
    fn gallery() -> Value {
        let mut g = gallery_schema("App", "mail", None);
        g["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"]
            .as_array_mut()
            .unwrap()
            .push(json!({"targetAttributeName": "externalId", "matchingPriority": 0, "flowType": "Always",
                "source": {"type": "Attribute", "name": "department", "expression": "[department]"}}));
        g
    }

    fn plan(snap: &crate::snapshot::model::Snapshot, extra: bool) -> Plan {
        let extra = if extra {
            ExtraMatching::Propose
        } else {
            ExtraMatching::Off
        };
        build_with(
            snap,
            &Profile::builtin("generic-scim").unwrap(),
            &PlanOptions::default(),
            extra,
        )
        .unwrap()
    }

    fn codes(p: &Plan) -> Vec<&str> {
        p.findings.iter().map(|f| f.code.as_str()).collect()
    }

    /// Renamed people (new mail) whose accounts hold their department in externalId.
    fn renamed(
        departments: [&str; 2],
        target_external: [&str; 2],
    ) -> crate::snapshot::model::Snapshot {
        let mut b = SnapBuilder::new("App", gallery());
        b.user(
            "u1",
            "ann@x.example",
            Some("ann.new@x.example"),
            departments[0],
            true,
            &["direct"],
        )
        .user(
            "u2",
            "bob@x.example",
            Some("bob.new@x.example"),
            departments[1],
            true,
            &["direct"],
        )
        .target_user("t1", "ann@x.example", None)
        .target_user("t2", "bob@x.example", None);
        let mut s = b.build();
        for (u, x) in s
            .target
            .as_mut()
            .unwrap()
            .users
            .iter_mut()
            .zip(target_external)
        {
            u["externalId"] = json!(x);
        }
        s.seal();
        s
    }

    #[test]
    fn a_unique_secondary_value_matches_renamed_people_and_the_diff_shows_the_rename() {
        let s = renamed(["D1", "D2"], ["D1", "D2"]);
        let p = plan(&s, true);
        assert_eq!(p.summary.duplicates, 0, "{:#?}", p.findings);
        assert!(codes(&p).contains(&"extra-matching"), "{:?}", codes(&p));
        let u = p.impact.iter().find(|u| u.id() == "u1").unwrap();
        assert_eq!(u.action, UserAction::Match);
        assert_eq!(u.matched_on(), Some("externalId eq \"D1\""));
        assert_eq!(
            u.rename(),
            Some(("ann@x.example".into(), "ann.new@x.example".into()))
        );
        // The fields this adds read back to the same plan and digest.
        let again = Plan::from_value(serde_json::to_value(&p).unwrap(), "plan").unwrap();
        assert_eq!(again, p);
        let text = crate::plan::render_markdown(&p, None);
        assert!(text.contains("## Renamed in the target"), "{text}");
        assert!(text.contains(super::DEFAULT_RENAME_NOTE), "{text}");

        let off = plan(&s, false);
        assert_eq!(off.summary.duplicates, 2);
        assert!(
            codes(&off).contains(&"extra-matching-off"),
            "{:?}",
            codes(&off)
        );
        assert!(codes(&off).contains(&"duplicate-tie"), "{:?}", codes(&off));
        assert!(!off.app.extra_matching);
        assert!(
            serde_json::to_string(&p.app)
                .unwrap()
                .find("extraMatching")
                .is_none(),
            "written only when off"
        );
    }

    #[test]
    fn two_people_sharing_the_value_are_not_tied_to_one_account() {
        // Both are in D1; the target's account for bob holds something else.
        let s = renamed(["D1", "D1"], ["D1", "D9"]);
        let p = plan(&s, true);
        let f = p
            .findings
            .iter()
            .find(|f| f.code == "extra-matching-refused")
            .unwrap_or_else(|| panic!("{:?}", codes(&p)));
        assert!(f.message.contains("share a value"), "{}", f.message);
        assert!(!codes(&p).contains(&"extra-matching"));
        assert_eq!(p.summary.duplicates, 2, "both stay predicted duplicates");
        let tie = p
            .findings
            .iter()
            .find(|f| f.code == "duplicate-tie")
            .unwrap();
        assert!(tie.message.contains("not safe here"), "{}", tie.message);
    }

    #[test]
    fn without_target_contents_nothing_is_proposed() {
        let mut b = SnapBuilder::new("App", gallery());
        b.user(
            "u1",
            "ann@x.example",
            Some("ann.new@x.example"),
            "D1",
            true,
            &["direct"],
        )
        .without_target();
        let p = plan(&b.build(), true);
        assert!(
            !codes(&p).iter().any(|c| c.starts_with("extra-matching")),
            "{:?}",
            codes(&p)
        );
    }
}
