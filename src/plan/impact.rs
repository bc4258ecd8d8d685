//! Per-user prediction: what the custom job's first cycle will do with each
//! Entra user (match an existing target user, create one — and whether that
//! creates a duplicate —, or skip), which target users nothing accounts for,
//! and what the gallery job would deactivate if it lost its assignments while
//! still running. Evaluated with the shared mapping code against the
//! snapshot's Graph attributes and the target's SCIM users, in linear time.

use super::model::{UserAction, UserImpact};
use crate::mapping::expr::Source;
use crate::mapping::schema::{ObjectMapping, bool_text, get_path, graph_property, source_text};
use crate::snapshot::model::{AttrValue, Attributes, Snapshot};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Whether values of this SCIM attribute compare case-insensitively (SCIM
/// `caseExact=false`: userName and emails).
fn case_insensitive(target: &str) -> bool {
    let t = target.to_ascii_lowercase();
    t == "username" || t.starts_with("emails")
}

fn key(target: &str, v: &str) -> String {
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
            let mut ids: Vec<String> = Vec::new();
            for k in ["userName", "externalId"] {
                if let Some(v) = u.get(k).and_then(str_value) {
                    ids.push(v.to_lowercase());
                }
            }
            for e in u
                .get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(v) = e.get("value").and_then(str_value) {
                    ids.push(v.to_lowercase());
                }
            }
            ids.sort();
            ids.dedup();
            for v in ids {
                add_hit(&mut identities, v, i);
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

    pub fn identity(&self, value: &str) -> &[usize] {
        self.identities
            .get(&value.to_lowercase())
            .map(Hits::as_slice)
            .unwrap_or(&[])
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
fn reach(via: &[String], all: bool) -> Result<(), &'static str> {
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

/// Predict the custom job's first cycle for every snapshot user.
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
            .and_then(AttrValue::as_bool)
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

        // Which target user the custom mappings find, in matching precedence.
        let mut found: Option<(String, Vec<usize>)> = None;
        for m in &custom_matching {
            let Some(v) = m.expr.eval(&src).ok().flatten() else {
                continue;
            };
            let hits = index.lookup(&m.target, &v);
            if !hits.is_empty() {
                found = Some((format!("{} eq \"{}\"", m.target, v), hits.to_vec()));
                break;
            }
        }
        let first_matching = custom_matching.first().and_then(|m| {
            m.expr
                .eval(&src)
                .ok()
                .flatten()
                .map(|v| format!("{} eq \"{}\"", m.target, v))
        });

        // Identity values for duplicate detection and target accounting.
        let mut ids: Vec<String> = vec![upn.clone()];
        ids.extend(mail.clone());
        ids.extend(user_name.clone());
        let dup_hits: Vec<usize> = {
            let mut v: Vec<usize> = ids
                .iter()
                .flat_map(|i| index.identity(i).iter().copied())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if let Some((_, hits)) = &found {
            hits.iter().for_each(|&h| accounted[h] = true);
        }
        dup_hits.iter().for_each(|&h| accounted[h] = true);

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
        let mut row = UserImpact {
            id: u.id.clone(),
            user_principal_name: upn,
            mail,
            action: UserAction::Skip,
            user_name: user_name.clone(),
            matched_on: None,
            target_id: None,
            target_user_name: None,
            duplicate: false,
            reason: skip.map(str::to_string),
        };
        if skip.is_none() {
            match &found {
                Some((on, hits)) => {
                    row.action = UserAction::Match;
                    row.matched_on = Some(on.clone());
                    row.target_id = Some(index.id(hits[0]));
                    row.target_user_name = Some(index.user_name(hits[0]));
                    if hits.len() > 1 {
                        ambiguous.push((ui, hits.clone()));
                    }
                }
                None => {
                    row.action = UserAction::Create;
                    row.matched_on = first_matching;
                    if let Some(&d) = dup_hits.first() {
                        row.duplicate = true;
                        row.target_id = Some(index.id(d));
                        row.target_user_name = Some(index.user_name(d));
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
                    let there = match (&found, dup_hits.first()) {
                        (Some((_, hits)), _) => Some(hits[0]),
                        (None, Some(&d)) => Some(d),
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
        impact.push(row);
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
struct SnapshotUserSource<'a> {
    attrs: &'a Attributes,
    soft_deleted: bool,
}

impl Source for SnapshotUserSource<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if name.eq_ignore_ascii_case("IsSoftDeleted") {
            return Some(bool_text(self.soft_deleted));
        }
        let key = graph_property(name);
        let v = self.attrs.get(&key).or_else(|| {
            self.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
                .map(|(_, v)| v)
        })?;
        match v {
            AttrValue::Null => None,
            AttrValue::String(s) if s.is_empty() => None,
            AttrValue::String(s) => Some(s.to_string()),
            AttrValue::Bool(b) => Some(bool_text(*b)),
            AttrValue::Number(n) => Some(n.to_string()),
            AttrValue::Json(v) => source_text(v),
        }
    }
}

/// Direct user members of `g` the custom job provisions.
pub(super) fn pred_members(
    g: &crate::snapshot::model::GroupSnapshot,
    provisioned: &HashSet<&str>,
) -> usize {
    g.members
        .iter()
        .filter(|m| m.kind == "user" && provisioned.contains(m.id.as_str()))
        .count()
}
