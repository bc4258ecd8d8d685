//! Per-user prediction: what the custom job's first cycle will do with each
//! Entra user (match an existing target user, create one — and whether that
//! creates a duplicate —, or skip), which target users nothing accounts for,
//! and what the gallery job would deactivate if it lost its assignments while
//! still running. Evaluated with the shared mapping code against the
//! snapshot's Graph attributes and the target's SCIM users, in linear time.

use super::model::{DiffLine, UserAction, UserImpact, UserImpactParts};
use crate::mapping::expr::Source;
use crate::mapping::graph_user::{Location, locate};
use crate::mapping::schema::{ObjectMapping, bool_text, get_path, same_value, source_text};
use crate::snapshot::model::{AttrValue, Attributes, Snapshot};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Whether values of this SCIM attribute compare case-insensitively: SCIM's
/// default `caseExact=false` (RFC 7643 §2.2), except `id` and `externalId`,
/// whose schemas say `caseExact: true` (as the twin's store and most servers
/// filter).
fn case_insensitive(target: &str) -> bool {
    let t = target.to_ascii_lowercase();
    t != "externalid" && t != "id"
}

/// A value as the target compares it in `target` (lower case unless caseExact).
pub(super) fn key(target: &str, v: &str) -> String {
    if case_insensitive(target) {
        v.to_lowercase()
    } else {
        v.to_string()
    }
}

fn str_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The target users holding one value: nearly always one, kept inline (no
/// allocation per value: 100,000 target users have several values each).
#[derive(Debug)]
enum Hits {
    One(usize),
    Many(Vec<usize>),
}

impl Hits {
    fn push(&mut self, i: usize) {
        match self {
            Hits::One(first) => *self = Hits::Many(vec![*first, i]),
            Hits::Many(v) => v.push(i),
        }
    }
    fn as_slice(&self) -> &[usize] {
        match self {
            Hits::One(i) => std::slice::from_ref(i),
            Hits::Many(v) => v,
        }
    }
}

fn add_hit(map: &mut HashMap<String, Hits>, k: String, i: usize) {
    match map.entry(k) {
        std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(i),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Hits::One(i));
        }
    }
}

/// Target users indexed by each matching attribute and by every identity
/// value (userName, externalId, emails) for duplicate detection.
pub struct TargetIndex<'a> {
    pub users: &'a [Value],
    by_attr: HashMap<String, HashMap<String, Hits>>,
    identities: HashMap<String, Hits>,
}

impl<'a> TargetIndex<'a> {
    pub fn new(users: &'a [Value], matching_targets: &[String]) -> Self {
        let mut by_attr: HashMap<String, HashMap<String, Hits>> = HashMap::new();
        let mut identities: HashMap<String, Hits> = HashMap::with_capacity(users.len() * 2);
        for t in matching_targets {
            by_attr
                .entry(t.to_ascii_lowercase())
                .or_insert_with(|| HashMap::with_capacity(users.len()));
        }
        for (i, u) in users.iter().enumerate() {
            for (t, idx) in by_attr.iter_mut() {
                if let Some(v) = get_path(u, t).and_then(str_value) {
                    add_hit(idx, key(t, &v), i);
                }
            }
            // Identity slots, encoded in the hit as `i * 4 + slot`.
            let mut ids: Vec<(String, usize)> = Vec::new();
            for (slot, k) in ["userName", "externalId"].iter().enumerate() {
                if let Some(v) = u.get(*k).and_then(str_value) {
                    ids.push((v.to_lowercase(), slot));
                }
            }
            for e in u
                .get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(v) = e.get("value").and_then(str_value) {
                    ids.push((v.to_lowercase(), 2));
                }
            }
            ids.sort();
            ids.dedup();
            for (v, slot) in ids {
                add_hit(&mut identities, v, i * 4 + slot);
            }
        }
        TargetIndex {
            users,
            by_attr,
            identities,
        }
    }

    pub fn lookup(&self, target: &str, value: &str) -> &[usize] {
        self.by_attr
            .get(&target.to_ascii_lowercase())
            .and_then(|m| m.get(&key(target, value)))
            .map(Hits::as_slice)
            .unwrap_or(&[])
    }

    /// Target users holding `value` (any case) in userName, externalId or an
    /// email, with the attribute that holds it.
    pub fn identity(&self, value: &str) -> impl Iterator<Item = (usize, &'static str)> + '_ {
        self.identities
            .get(&value.to_lowercase())
            .map(Hits::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&h| (h / 4, ["userName", "externalId", "emails"][h % 4]))
    }

    pub fn id(&self, i: usize) -> String {
        self.users[i]
            .get("id")
            .and_then(str_value)
            .unwrap_or_default()
    }
    pub fn user_name(&self, i: usize) -> String {
        self.users[i]
            .get("userName")
            .and_then(str_value)
            .unwrap_or_default()
    }
}

/// The result of predicting every user.
pub struct Prediction {
    pub impact: Vec<UserImpact>,
    /// Target user indices no Entra user in the snapshot accounts for.
    pub orphans: Vec<usize>,
    /// Users matched to more than one target user: (user index, target indices).
    pub ambiguous: Vec<(usize, Vec<usize>)>,
    /// Users the gallery job provisions today and would deactivate if unassigned while running.
    pub gallery_would_deactivate: Vec<usize>,
    /// Users excluded by the scoping filter.
    pub out_of_scope: Vec<usize>,
    /// Provisioned users that Entra's default mapping (`userName ← userPrincipalName`)
    /// would not find in the target although they are there: (user index, target
    /// index). Without target contents: users whose gallery userName is not their
    /// UPN (target index `None`).
    pub default_mapping_misses: Vec<(usize, Option<usize>)>,
    /// Whether the gallery-side predictions assumed (no target contents) rather than looked.
    pub assumed_without_target: bool,
}

/// Why a user is not provisioned by assignment, before mappings are looked at.
/// Members of assigned Microsoft 365 groups are provisioned as users, as Entra
/// and the twin's engine do; only the group's membership push is app-specific.
fn reach(via: &[crate::snapshot::model::Via], all: bool) -> Result<(), &'static str> {
    if all
        || via
            .iter()
            .any(|v| v == "direct" || v == "all" || v.starts_with("group:"))
    {
        Ok(())
    } else if via.iter().any(|v| v.starts_with("nested:")) {
        Err("nested-only")
    } else {
        Err("not-assigned")
    }
}

/// One identifier the target may already hold for an Entra user: a name for
/// the report (`objectId`, `gallery userName ← [mail]`) and its value now.
struct Identifier {
    name: String,
    value: String,
    /// Only compared with this target attribute (a gallery matching attribute
    /// outside userName/externalId/emails), else with every identity slot.
    only: Option<String>,
}

/// Every identifier the target may hold for this user: object id, UPN, mail,
/// the custom userName, the value of every gallery matching attribute, and
/// what the gallery maps into userName, externalId and emails.
fn identifiers(
    id: &str,
    src: &dyn Source,
    custom_user_name: Option<&str>,
    gallery: Option<&ObjectMapping>,
) -> Vec<Identifier> {
    let mut out = Vec::new();
    let mut push = |name: String, value: Option<String>, only: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.push(Identifier { name, value, only });
        }
    };
    push("objectId".into(), Some(id.to_string()), None);
    push(
        "userPrincipalName".into(),
        src.get("userPrincipalName"),
        None,
    );
    push("mail".into(), src.get("mail"), None);
    push("mailNickname".into(), src.get("mailNickname"), None);
    push(
        "custom userName".into(),
        custom_user_name.map(str::to_string),
        None,
    );
    if let Some(g) = gallery {
        for a in &g.attributes {
            let t = a.target.to_ascii_lowercase();
            let identity_slot = t == "username" || t == "externalid" || t.starts_with("emails");
            if a.matching_priority <= 0 && !identity_slot {
                continue;
            }
            let name = format!(
                "gallery {} ← {}",
                a.target,
                super::findings::expr_text(&a.expr)
            );
            let only = (!identity_slot).then(|| a.target.clone());
            push(name, a.expr.eval(src).ok().flatten(), only);
        }
    }
    out
}

/// Who holds a value during the cycle: a target user (index) or the
/// account the cycle creates for a snapshot user (index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    Target(usize),
    Cycle(usize),
}

/// The outcome of the custom job's first look at one in-scope user.
enum Outcome {
    /// One account holds the value of the first matching attribute that finds anyone: `on` and who.
    Found(String, Holder),
    /// Several accounts hold it (Entra: `DuplicateTargetEntries`): `on`, how
    /// many, and the target users among them.
    Ambiguous(String, usize, Vec<usize>),
    /// Not found: create (or fail, decided after the body is known).
    NotFound,
    /// No matching attribute has a value.
    NoMatchingValue,
}

fn holder_text(h: Holder, impact: &[UserImpact], index: &TargetIndex) -> String {
    match h {
        Holder::Target(t) => format!("target user {}", index.user_name(t)),
        Holder::Cycle(o) => format!(
            "the account this cycle creates for {}",
            impact
                .get(o)
                .map(|u| u.user_principal_name())
                .unwrap_or_default()
        ),
    }
}

/// The values of the attributes the cycle looks people up by (the custom
/// matching attributes, and userName for the target's uniqueness), as they
/// stand at this point of the cycle: the target's, then what the cycle's
/// creates and updates change. Only changes are stored; the target's own
/// values stay in the [`TargetIndex`].
struct Live<'a> {
    index: &'a TargetIndex<'a>,
    /// Lower-cased attribute names tracked; the maps below are per attribute, in this order.
    attrs: Vec<String>,
    /// Holder → its value's key now, when the cycle wrote one.
    now: Vec<HashMap<Holder, String>>,
    /// Key → holders that took it during the cycle.
    took: Vec<HashMap<String, Vec<Holder>>>,
}

impl<'a> Live<'a> {
    fn new(index: &'a TargetIndex<'a>, attrs: Vec<String>) -> Self {
        Live {
            index,
            now: vec![HashMap::new(); attrs.len()],
            took: vec![HashMap::new(); attrs.len()],
            attrs,
        }
    }

    fn slot(&self, target: &str) -> Option<usize> {
        self.attrs
            .iter()
            .position(|a| a.eq_ignore_ascii_case(target))
    }

    /// Who holds `value` in attribute `target` now.
    fn holders(&self, target: &str, value: &str) -> Vec<Holder> {
        let base = self
            .index
            .lookup(target, value)
            .iter()
            .map(|&i| Holder::Target(i));
        let Some(ix) = self.slot(target) else {
            return base.collect();
        };
        let k = key(target, value);
        let (now, took) = (&self.now[ix], &self.took[ix]);
        let holds = |h: Holder| match now.get(&h) {
            Some(cur) => *cur == k,
            None => matches!(h, Holder::Target(_)),
        };
        let mut out: Vec<Holder> = base.filter(|&h| holds(h)).collect();
        for &h in took.get(&k).into_iter().flatten() {
            if holds(h) && !out.contains(&h) {
                out.push(h);
            }
        }
        out
    }

    /// Apply what an update (or a create) writes to every tracked attribute.
    fn write(&mut self, who: Holder, values: &[(String, String)]) {
        for (t, v) in values {
            if let Some(ix) = self.slot(t) {
                // A target user writing the value it already holds changes nothing.
                if let Holder::Target(i) = who
                    && !self.now[ix].contains_key(&who)
                    && self.index.lookup(t, v).contains(&i)
                {
                    continue;
                }
                let k = key(t, v);
                self.now[ix].insert(who, k.clone());
                let list = self.took[ix].entry(k).or_default();
                if !list.contains(&who) {
                    list.push(who);
                }
            }
        }
    }
}

/// The values a create (`for_create`) or an update writes into the tracked
/// attributes, as `(target, text)` (the rules of `ObjectMapping::values`:
/// no nulls, `ObjectAddOnly` and default values only on create).
fn written(
    custom: &ObjectMapping,
    live: &Live,
    src: &dyn Source,
    for_create: bool,
) -> Vec<(String, String)> {
    custom
        .attributes
        .iter()
        .filter(|a| live.slot(&a.target).is_some())
        .filter(|a| for_create || !a.flow_type.eq_ignore_ascii_case("ObjectAddOnly"))
        .filter_map(|a| {
            let v = a
                .expr
                .eval(src)
                .ok()
                .flatten()
                .or_else(|| for_create.then(|| a.default_value.clone()).flatten())?;
            (!v.is_empty()).then(|| (a.target.clone(), v))
        })
        .collect()
}

/// The identity attributes whose change the per-user diff shows.
fn identity_attr(target: &str) -> bool {
    let t = target.to_ascii_lowercase();
    t == "username" || t == "externalid" || t.starts_with("emails")
}

/// The identity lines (userName, externalId, emails) an update of `current`
/// changes: what `ObjectMapping::update_changes` sends, for those attributes.
fn identity_diff(custom: &ObjectMapping, src: &dyn Source, current: &Value) -> Vec<DiffLine> {
    custom
        .attributes
        .iter()
        .filter(|a| identity_attr(&a.target) && !a.flow_type.eq_ignore_ascii_case("ObjectAddOnly"))
        .filter_map(|a| {
            let after = Value::String(a.expr.eval(src).ok().flatten()?);
            let before = get_path(current, &a.target);
            if same_value(&after, before) {
                return None;
            }
            Some(match before {
                Some(b) if !b.is_null() => DiffLine::change(&a.target, b.clone(), after),
                _ => DiffLine::add(&a.target, after),
            })
        })
        .collect()
}

/// Predict the custom job's first cycle for every snapshot user.
///
/// Users are taken in snapshot order (by object id), as the twin's engine does
/// and as a one-at-a-time cycle would: a create is visible to the users after
/// it, both to matching (a second person can be matched to the account made
/// for the first) and to the target's userName uniqueness (a second create
/// with the same userName is rejected); so is an update of a matched account
/// (its new userName, externalId or email is what later queries find).
pub fn predict(
    snap: &Snapshot,
    custom: &ObjectMapping,
    gallery: Option<&ObjectMapping>,
    scope_all: bool,
) -> Prediction {
    let empty = Vec::new();
    let target_users = snap.target.as_ref().map(|t| &t.users).unwrap_or(&empty);
    let mut targets: Vec<String> = custom.matching().iter().map(|a| a.target.clone()).collect();
    targets.push("userName".into());
    if let Some(g) = gallery {
        targets.extend(g.matching().iter().map(|a| a.target.clone()));
    }
    let index = TargetIndex::new(target_users, &targets);
    let user_name_attr = custom.attribute("userName");
    let custom_matching = custom.matching();
    let gallery_user_name = gallery.and_then(|g| g.attribute("userName"));
    let gallery_matching = gallery.map(|g| g.matching()).unwrap_or_default();
    let mut tracked: Vec<String> = custom_matching
        .iter()
        .map(|a| a.target.to_ascii_lowercase())
        .collect();
    tracked.push("username".into());
    tracked.sort();
    tracked.dedup();
    let mut live = Live::new(&index, tracked);

    let mut accounted = vec![false; target_users.len()];
    let mut impact = Vec::with_capacity(snap.users.len());
    let mut ambiguous = Vec::new();
    let mut gallery_would_deactivate = Vec::new();
    let mut out_of_scope = Vec::new();
    let mut default_mapping_misses = Vec::new();

    for (ui, u) in snap.users.iter().enumerate() {
        let enabled = u
            .attributes
            .get("accountEnabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let src = SnapshotUserSource {
            attrs: &u.attributes,
            soft_deleted: !enabled,
        };
        let upn = src.get("userPrincipalName").unwrap_or_default();
        let mail = src.get("mail");
        let user_name = user_name_attr.and_then(|a| {
            a.expr
                .eval(&src)
                .ok()
                .flatten()
                .or_else(|| a.default_value.clone())
        });

        // The userName an update of a matched user sends (no default value,
        // nothing for an `ObjectAddOnly` mapping).
        let update_name = user_name_attr
            .filter(|a| !a.flow_type.eq_ignore_ascii_case("ObjectAddOnly"))
            .and_then(|a| a.expr.eval(&src).ok().flatten());
        // Which account the custom mappings find, in matching precedence:
        // one query per attribute with a value, the first that finds anyone decides.
        let mut outcome = Outcome::NoMatchingValue;
        for m in &custom_matching {
            let Some(v) = m.expr.eval(&src).ok().flatten() else {
                continue;
            };
            let on = format!("{} eq \"{}\"", m.target, v);
            let holders = live.holders(&m.target, &v);
            outcome = match holders.len() {
                0 => {
                    outcome = Outcome::NotFound;
                    continue;
                }
                1 => Outcome::Found(on, holders[0]),
                n => Outcome::Ambiguous(
                    on,
                    n,
                    holders
                        .iter()
                        .filter_map(|h| match h {
                            Holder::Target(i) => Some(*i),
                            Holder::Cycle(_) => None,
                        })
                        .collect(),
                ),
            };
            break;
        }
        let first_matching = custom_matching.first().and_then(|m| {
            m.expr
                .eval(&src)
                .ok()
                .flatten()
                .map(|v| format!("{} eq \"{}\"", m.target, v))
        });

        // Every identifier the target may hold for this person, and the target users holding one.
        let ids = identifiers(&u.id, &src, user_name.as_deref(), gallery);
        let mut ties: Vec<(usize, String)> = Vec::new();
        for idf in &ids {
            match &idf.only {
                Some(t) => ties.extend(
                    index
                        .lookup(t, &idf.value)
                        .iter()
                        .map(|&h| (h, format!("{} = target {t}", idf.name))),
                ),
                None => ties.extend(
                    index
                        .identity(&idf.value)
                        .map(|(h, slot)| (h, format!("{} = target {slot}", idf.name))),
                ),
            }
        }
        // Closest tie first: by target user, then in identifier order (object id first).
        let mut seen = HashSet::new();
        ties.retain(|(h, _)| seen.insert(*h));
        match &outcome {
            Outcome::Found(_, Holder::Target(h)) => accounted[*h] = true,
            Outcome::Ambiguous(_, _, hits) => hits.iter().for_each(|&h| accounted[h] = true),
            _ => {}
        }
        ties.iter().for_each(|&(h, _)| accounted[h] = true);

        // The gallery job today: in scope and present in the target ⇒ it would deactivate on unassignment.
        if let Some(g) = gallery
            && enabled
            && reach(&u.via, scope_all).is_ok()
            && g.in_scope(&src)
        {
            let present = gallery_matching.iter().any(|m| {
                m.expr
                    .eval(&src)
                    .ok()
                    .flatten()
                    .is_some_and(|v| !index.lookup(&m.target, &v).is_empty())
            });
            if present || snap.target.is_none() {
                gallery_would_deactivate.push(ui);
            }
        }

        let skip = match reach(&u.via, scope_all) {
            Err(r) => Some(r),
            Ok(()) if !enabled => Some("disabled"),
            Ok(()) if !custom.in_scope(&src) => {
                out_of_scope.push(ui);
                Some("scoping-filter")
            }
            Ok(()) => None,
        };
        let mut row = UserImpactParts {
            id: u.id.clone(),
            user_principal_name: upn,
            mail,
            action: UserAction::Skip,
            user_name: user_name.clone(),
            matched_on: None,
            target_id: None,
            target_user_name: None,
            duplicate: false,
            tie: None,
            reason: skip.map(str::to_string),
            diff: Vec::new(),
        };
        if skip.is_none() {
            match &outcome {
                Outcome::Ambiguous(on, n, hits) => {
                    row.matched_on = Some(on.clone());
                    if let Some(&h) = hits.first() {
                        row.target_id = Some(index.id(h));
                        row.target_user_name = Some(index.user_name(h));
                    }
                    ambiguous.push((ui, hits.clone()));
                    row.action = UserAction::Fail;
                    row.reason = Some(format!(
                        "duplicate-target-entries: {n} target users match {on} (DuplicateTargetEntries)"
                    ));
                }
                Outcome::Found(on, who) => {
                    row.action = UserAction::Match;
                    row.matched_on = Some(on.clone());
                    match who {
                        Holder::Target(h) => {
                            row.target_id = Some(index.id(*h));
                            row.target_user_name = Some(index.user_name(*h));
                            row.diff = identity_diff(custom, &src, &index.users[*h]);
                        }
                        Holder::Cycle(other) => {
                            row.reason = Some(format!(
                                "same-cycle: matched to the account this cycle creates for {}",
                                impact
                                    .get(*other)
                                    .map(|o: &UserImpact| o.user_principal_name().to_string())
                                    .unwrap_or_default()
                            ));
                        }
                    }
                    // The update sets userName (and the rest): refused when
                    // another account holds that userName (409 uniqueness).
                    let taken = update_name
                        .as_deref()
                        .and_then(|n| live.holders("userName", n).into_iter().find(|h| h != who));
                    match (taken, update_name.as_deref()) {
                        (Some(other), Some(n)) => {
                            row.action = UserAction::Fail;
                            row.diff.clear();
                            row.reason = Some(format!(
                                "user-name-taken: the update sets userName \"{}\", which {} already holds: the target rejects it (409 uniqueness)",
                                n.to_lowercase(),
                                holder_text(other, &impact, &index)
                            ));
                        }
                        _ => {
                            let w = written(custom, &live, &src, false);
                            live.write(*who, &w);
                        }
                    }
                }
                Outcome::NoMatchingValue => {
                    row.action = UserAction::Fail;
                    row.reason = Some(
                        "no-matching-value: no value for any matching attribute (Microsoft: all users must have a value for at least one matching attribute)".into(),
                    );
                }
                Outcome::NotFound => {
                    row.matched_on = first_matching;
                    let taken = user_name
                        .as_deref()
                        .and_then(|n| live.holders("userName", n).into_iter().next())
                        .map(|h| holder_text(h, &impact, &index));
                    match (&user_name, taken) {
                        (None, _) => {
                            row.action = UserAction::Fail;
                            row.reason = Some(
                                "no-user-name: the mappings give no userName, which the target requires (RFC 7643 §4.1.1): the create is rejected".into(),
                            );
                        }
                        (Some(n), Some(by)) => {
                            row.action = UserAction::Fail;
                            row.reason = Some(format!(
                                "user-name-taken: userName \"{n}\" is already {by}: the target rejects the create (409 uniqueness)"
                            ));
                        }
                        (Some(_), None) => {
                            row.action = UserAction::Create;
                            let w = written(custom, &live, &src, true);
                            live.write(Holder::Cycle(ui), &w);
                        }
                    }
                    if let Some((d, why)) = ties.first() {
                        row.duplicate = row.action == UserAction::Create;
                        row.target_id = Some(index.id(*d));
                        row.target_user_name = Some(index.user_name(*d));
                        row.tie = Some(why.clone());
                    }
                }
            }
        }
        // Entra's default mapping would look the user up by UPN: a miss for someone who is there is a duplicate.
        if row.action != UserAction::Skip {
            if snap.target.is_some() {
                if index
                    .lookup("userName", &row.user_principal_name)
                    .is_empty()
                {
                    let there = match (&outcome, ties.first()) {
                        (Outcome::Found(_, Holder::Target(h)), _) => Some(*h),
                        (_, Some(&(d, _))) => Some(d),
                        _ => None,
                    };
                    if let Some(t) = there {
                        default_mapping_misses.push((ui, Some(t)));
                    }
                }
            } else if let Some(gu) =
                gallery_user_name.and_then(|a| a.expr.eval(&src).ok().flatten())
                && !gu.eq_ignore_ascii_case(&row.user_principal_name)
            {
                default_mapping_misses.push((ui, None));
            }
        }
        impact.push(row.into());
    }
    let orphans = (0..target_users.len()).filter(|&i| !accounted[i]).collect();
    Prediction {
        impact,
        orphans,
        ambiguous,
        gallery_would_deactivate,
        out_of_scope,
        default_mapping_misses,
        assumed_without_target: snap.target.is_none(),
    }
}

/// Characters that need care inside a SCIM filter string (`userName eq "…"`).
pub fn needs_quoting(s: &str) -> bool {
    s.contains(['\'', '"', '\\'])
}

/// Set of ids, for quick membership.
pub fn id_set<'a>(ids: impl IntoIterator<Item = &'a str>) -> HashSet<&'a str> {
    ids.into_iter().collect()
}

/// A snapshot user as an expression source: what `GraphUserSource` does for a
/// Graph JSON object, read straight from the snapshot's compact attributes.
pub(super) struct SnapshotUserSource<'a> {
    attrs: &'a Attributes,
    soft_deleted: bool,
}

/// A snapshot user as an expression source (`IsSoftDeleted` when disabled).
pub(super) fn user_source(u: &crate::snapshot::model::UserSnapshot) -> SnapshotUserSource<'_> {
    SnapshotUserSource {
        attrs: &u.attributes,
        soft_deleted: !u
            .attributes
            .get("accountEnabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true),
    }
}

impl<'a> SnapshotUserSource<'a> {
    /// The top-level attribute `key`, exactly or else case-insensitively.
    fn field(&self, key: &str) -> Option<AttrValue<'a>> {
        self.attrs.get(key).or_else(|| {
            self.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }

    /// The value behind Entra's source attribute `name`, where [`locate`]
    /// says Graph holds it (a key inside `onPremisesExtensionAttributes` for
    /// `extensionAttributeN`).
    fn raw(&self, name: &str) -> Option<AttrValue<'a>> {
        match locate(name) {
            Location::Nested { property, key } => {
                let AttrValue::Json(inner) = self.field(property)? else {
                    return None;
                };
                let m = inner.as_object()?;
                let v = m.get(&key).or_else(|| {
                    m.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&key))
                        .map(|(_, v)| v)
                })?;
                Some(AttrValue::of(v))
            }
            Location::Property(p) => self.field(&p),
            _ => self.field(name),
        }
    }
}

impl Source for SnapshotUserSource<'_> {
    fn count(&self, name: &str) -> usize {
        match self.raw(name) {
            Some(AttrValue::Json(v)) if v.is_array() => v.as_array().map_or(0, Vec::len),
            _ => usize::from(self.get(name).is_some()),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        if locate(name) == Location::Computed {
            return Some(bool_text(self.soft_deleted));
        }
        let v = self.raw(name)?;
        if let Some(s) = v.as_str() {
            return (!s.is_empty()).then(|| s.to_string());
        }
        match v {
            AttrValue::Null | AttrValue::String(_) => None,
            AttrValue::Bool(b) => Some(bool_text(b)),
            AttrValue::Number(n) => Some(n.to_string()),
            AttrValue::Json(v) => source_text(v),
        }
    }
}

/// Which snapshot users the custom job's first cycle provisions (matched or
/// created), by object id.
///
/// The impact is in snapshot order, and a captured snapshot's users are
/// sorted by id, each once: an id is found by binary search, with no set of
/// a million ids. Any other snapshot gets the set.
pub(super) struct Provisioned<'a> {
    snap: &'a Snapshot,
    impact: &'a [UserImpact],
    set: Option<HashSet<&'a str>>,
}

fn provisions(u: &UserImpact) -> bool {
    matches!(u.action, UserAction::Match | UserAction::Create)
}

impl<'a> Provisioned<'a> {
    pub(super) fn new(snap: &'a Snapshot, impact: &'a [UserImpact]) -> Self {
        let sorted = snap.users.windows(2).all(|w| w[0].id < w[1].id);
        let set = (!sorted || snap.users.len() != impact.len()).then(|| {
            impact
                .iter()
                .filter(|u| provisions(u))
                .map(|u| u.id())
                .collect()
        });
        Provisioned { snap, impact, set }
    }
    pub(super) fn contains(&self, id: &str) -> bool {
        match &self.set {
            Some(set) => set.contains(id),
            None => self
                .snap
                .users
                .binary_search_by(|u| u.id.as_str().cmp(id))
                .ok()
                .and_then(|i| self.impact.get(i))
                .is_some_and(|u| u.id() == id && provisions(u)),
        }
    }
    /// `g`'s direct user members that are provisioned, in its order.
    pub(super) fn members_of<'g>(
        &self,
        g: &'g crate::snapshot::model::GroupSnapshot,
    ) -> impl Iterator<Item = &'g str> {
        g.members
            .iter()
            .filter(|m| m.kind() == "user" && self.contains(m.id()))
            .map(|m| m.id())
    }
}

/// Each pushed group's first cycle: adopt the one target group with its
/// pushed name (SCIM `displayName` is not case-exact), create it when there
/// is none, fail when there are several; its members are its direct user
/// members the custom job provisions. `pushed`: (group, pushed name, whether
/// another group is pushed under the same name).
pub(super) fn group_impact(
    snap: &Snapshot,
    pushed: &[(&crate::snapshot::model::GroupSnapshot, String, bool)],
    impact: &[UserImpact],
) -> Vec<super::model::GroupImpact> {
    use super::model::{GroupAction, GroupImpact};
    let provisioned = Provisioned::new(snap, impact);
    let targets: Vec<(&str, String)> = snap
        .target
        .iter()
        .flat_map(|t| t.groups.iter())
        .filter_map(|g| {
            Some((
                g.get("id")?.as_str()?,
                g.get("displayName")?.as_str()?.to_lowercase(),
            ))
        })
        .collect();
    pushed
        .iter()
        .map(|(g, name, merged)| {
            let lower = name.to_lowercase();
            let hits: Vec<&str> = targets
                .iter()
                .filter(|(_, n)| *n == lower)
                .map(|(id, _)| *id)
                .collect();
            let (action, target_id) = match hits.as_slice() {
                [] => (GroupAction::Create, None),
                [one] => (GroupAction::Adopt, Some(one.to_string())),
                _ => (GroupAction::Fail, None),
            };
            GroupImpact {
                id: g.id.clone(),
                display_name: name.clone(),
                action,
                target_id,
                members: provisioned.members_of(g).collect(),
                reason: merged.then(|| "merged".to_string()),
            }
        })
        .collect()
}
