//! `scimshift snapshot diff A B`: what changed between two snapshots of the
//! same app — the service principal, jobs, schema (per object mapping:
//! mappings added/removed, source expressions, matching, scoping), settings,
//! assignments, groups, users, and the target's users and groups.
//!
//! [`diff`] is pure (two snapshots in, a [`SnapshotDiff`] out); [`run`] loads,
//! renders (text or JSON) and exits 0 when identical, 2 when not (like `plan`).

use super::model::Snapshot;
use crate::context::Context;
use crate::error::{Result, exit};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `+`, `-`, `~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn symbol(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        }
    }
}

/// One difference: what it is about, and (for changes) what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// Stable id (object id, job id, `jobId/mapping/targetAttribute`, setting key).
    pub id: String,
    /// Human label (`alice@contoso.com`, `userName`…).
    pub subject: String,
    /// `department: "Sales" -> "Marketing"`, one per changed field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// Every difference, by section, each sorted by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDiff {
    pub identical: bool,
    pub app: Vec<Change>,
    pub jobs: Vec<Change>,
    pub schema: Vec<Change>,
    pub settings: Vec<Change>,
    pub assignments: Vec<Change>,
    pub groups: Vec<Change>,
    pub users: Vec<Change>,
    pub target_users: Vec<Change>,
    pub target_groups: Vec<Change>,
}

impl SnapshotDiff {
    fn sections(&self) -> [(&'static str, &Vec<Change>); 9] {
        [
            ("App", &self.app),
            ("Jobs", &self.jobs),
            ("Schema (attribute mappings)", &self.schema),
            ("Settings", &self.settings),
            ("Assignments", &self.assignments),
            ("Groups", &self.groups),
            ("Users", &self.users),
            ("Target users", &self.target_users),
            ("Target groups", &self.target_groups),
        ]
    }

    pub fn count(&self) -> usize {
        self.sections().iter().map(|(_, v)| v.len()).sum()
    }

    /// Text view; at most `limit` lines per section (JSON has everything).
    pub fn render_text(&self, limit: usize) -> String {
        if self.identical {
            return "No differences.\n".into();
        }
        let mut s = String::new();
        for (title, changes) in self.sections() {
            if changes.is_empty() {
                continue;
            }
            let n = |k| changes.iter().filter(|c| c.kind == k).count();
            s.push_str(&format!(
                "{title}: {} added, {} removed, {} changed\n",
                n(ChangeKind::Added),
                n(ChangeKind::Removed),
                n(ChangeKind::Changed)
            ));
            for c in changes.iter().take(limit) {
                let label = if c.subject.is_empty() || c.subject == c.id {
                    c.id.clone()
                } else {
                    format!("{} ({})", c.subject, c.id)
                };
                s.push_str(&format!("  {} {label}\n", c.kind.symbol()));
                for d in &c.details {
                    s.push_str(&format!("      {d}\n"));
                }
            }
            if changes.len() > limit {
                s.push_str(&format!(
                    "  … and {} more (use --output json for all)\n",
                    changes.len() - limit
                ));
            }
        }
        s
    }
}

/// Compare two snapshots (`a` older, `b` newer).
pub fn diff(a: &Snapshot, b: &Snapshot) -> SnapshotDiff {
    let mut d = SnapshotDiff {
        app: diff_objects(
            &[("servicePrincipal".to_string(), &a.app.service_principal)]
                .into_iter()
                .collect(),
            &[("servicePrincipal".to_string(), &b.app.service_principal)]
                .into_iter()
                .collect(),
            |_| "service principal".into(),
            &[],
        ),
        ..Default::default()
    };

    // Jobs and their schemas.
    let ja: BTreeMap<&str, _> = a.app.jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let jb: BTreeMap<&str, _> = b.app.jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    for id in ja.keys().chain(jb.keys()).collect::<BTreeSet<_>>() {
        match (ja.get(id), jb.get(id)) {
            (Some(_), None) => d.jobs.push(change(ChangeKind::Removed, id, "job", vec![])),
            (None, Some(j)) => {
                d.jobs.push(change(
                    ChangeKind::Added,
                    id,
                    "job",
                    vec![format!("template {}", j.template_id)],
                ));
            }
            (Some(x), Some(y)) => {
                let mut details = Vec::new();
                for (label, ptr) in [
                    ("schedule", "/schedule/state"),
                    ("status", "/status/code"),
                    ("interval", "/schedule/interval"),
                ] {
                    let (p, q) = (x.job.pointer(ptr), y.job.pointer(ptr));
                    if p != q {
                        details.push(format!("{label}: {} -> {}", show(p), show(q)));
                    }
                }
                let (p, q) = (
                    x.job.get("synchronizationJobSettings"),
                    y.job.get("synchronizationJobSettings"),
                );
                if p != q {
                    details.push("job settings changed".into());
                }
                if !details.is_empty() {
                    d.jobs.push(change(ChangeKind::Changed, id, "job", details));
                }
                d.schema.extend(diff_schema(id, &x.schema, &y.schema));
            }
            (None, None) => {}
        }
    }

    // Settings and credential presence.
    let sa: BTreeMap<&str, &str> = a
        .app
        .settings
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    let sb: BTreeMap<&str, &str> = b
        .app
        .settings
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    for k in sa.keys().chain(sb.keys()).collect::<BTreeSet<_>>() {
        match (sa.get(k), sb.get(k)) {
            (Some(v), None) => d.settings.push(change(
                ChangeKind::Removed,
                k,
                k,
                vec![format!("was {}", quote(v))],
            )),
            (None, Some(v)) => d.settings.push(change(
                ChangeKind::Added,
                k,
                k,
                vec![format!("= {}", quote(v))],
            )),
            (Some(v), Some(w)) if v != w => d.settings.push(change(
                ChangeKind::Changed,
                k,
                k,
                vec![format!("{} -> {}", quote(v), quote(w))],
            )),
            _ => {}
        }
    }
    let ca: BTreeSet<&String> = a.app.credential_keys_present.iter().collect();
    let cb: BTreeSet<&String> = b.app.credential_keys_present.iter().collect();
    for k in ca.difference(&cb) {
        d.settings.push(change(
            ChangeKind::Removed,
            k,
            k,
            vec!["credential no longer set".into()],
        ));
    }
    for k in cb.difference(&ca) {
        d.settings.push(change(
            ChangeKind::Added,
            k,
            k,
            vec!["credential set (value not stored)".into()],
        ));
    }
    d.settings.sort_by(|x, y| x.id.cmp(&y.id));

    // Assignments.
    let to_value = |x: &super::model::Assignment| serde_json::to_value(x).unwrap_or(Value::Null);
    let aa: BTreeMap<String, Value> = a
        .app
        .assignments
        .iter()
        .map(|x| (x.id.clone(), to_value(x)))
        .collect();
    let ab: BTreeMap<String, Value> = b
        .app
        .assignments
        .iter()
        .map(|x| (x.id.clone(), to_value(x)))
        .collect();
    d.assignments = diff_objects(
        &aa.iter().map(|(k, v)| (k.clone(), v)).collect(),
        &ab.iter().map(|(k, v)| (k.clone(), v)).collect(),
        |v| {
            format!(
                "{} {}",
                s(v, "principalType"),
                v.get("principalDisplayName")
                    .and_then(Value::as_str)
                    .unwrap_or(&s(v, "principalId"))
            )
        },
        &[],
    );

    // Groups: name, kind, members, transitive count.
    let ga: BTreeMap<&str, _> = a.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let gb: BTreeMap<&str, _> = b.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    for id in ga.keys().chain(gb.keys()).collect::<BTreeSet<_>>() {
        match (ga.get(id), gb.get(id)) {
            (Some(g), None) => {
                d.groups
                    .push(change(ChangeKind::Removed, id, &g.display_name, vec![]))
            }
            (None, Some(g)) => d.groups.push(change(
                ChangeKind::Added,
                id,
                &g.display_name,
                vec![format!("{} members", g.members.len())],
            )),
            (Some(x), Some(y)) => {
                let mut details = Vec::new();
                if x.display_name != y.display_name {
                    details.push(format!(
                        "displayName: {} -> {}",
                        quote(&x.display_name),
                        quote(&y.display_name)
                    ));
                }
                if x.kind != y.kind {
                    details.push(format!("kind: {:?} -> {:?}", x.kind, y.kind));
                }
                let ma: BTreeMap<&str, _> = x.members.iter().map(|m| (m.id(), m)).collect();
                let mb: BTreeMap<&str, _> = y.members.iter().map(|m| (m.id(), m)).collect();
                let name = |m: &super::model::MemberRef| {
                    format!("{} {}", m.kind(), m.display_name().unwrap_or(m.id()))
                };
                for (k, m) in &mb {
                    if !ma.contains_key(k) {
                        details.push(format!("+ member {}", name(m)));
                    }
                }
                for (k, m) in &ma {
                    if !mb.contains_key(k) {
                        details.push(format!("- member {}", name(m)));
                    }
                }
                if x.transitive_user_count != y.transitive_user_count {
                    details.push(format!(
                        "transitive users: {} -> {}",
                        x.transitive_user_count, y.transitive_user_count
                    ));
                }
                if !details.is_empty() {
                    d.groups
                        .push(change(ChangeKind::Changed, id, &y.display_name, details));
                }
            }
            (None, None) => {}
        }
    }

    // Users: attributes and how they reach the app.
    let ua: BTreeMap<&str, _> = a.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let ub: BTreeMap<&str, _> = b.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let upn = |u: &super::model::UserSnapshot| {
        u.attributes
            .str("userPrincipalName")
            .unwrap_or("")
            .to_string()
    };
    for id in ua.keys().chain(ub.keys()).collect::<BTreeSet<_>>() {
        match (ua.get(id), ub.get(id)) {
            (Some(u), None) => d.users.push(change(
                ChangeKind::Removed,
                id,
                &upn(u),
                vec![format!("was via {}", u.via.join(", "))],
            )),
            (None, Some(u)) => d.users.push(change(
                ChangeKind::Added,
                id,
                &upn(u),
                vec![format!("via {}", u.via.join(", "))],
            )),
            (Some(x), Some(y)) => {
                let mut details =
                    field_changes(&x.attributes.to_value(), &y.attributes.to_value(), &[]);
                if x.via != y.via {
                    details.push(format!("via: {} -> {}", x.via.join(", "), y.via.join(", ")));
                }
                if !details.is_empty() {
                    d.users
                        .push(change(ChangeKind::Changed, id, &upn(y), details));
                }
            }
            (None, None) => {}
        }
    }

    // Target.
    let empty = Vec::new();
    let (tua, tga) = a
        .target
        .as_ref()
        .map(|t| (&t.users, &t.groups))
        .unwrap_or((&empty, &empty));
    let (tub, tgb) = b
        .target
        .as_ref()
        .map(|t| (&t.users, &t.groups))
        .unwrap_or((&empty, &empty));
    if a.target.is_some() && b.target.is_some() {
        d.target_users = diff_objects(&by_id(tua), &by_id(tub), |v| s(v, "userName"), &["meta"]);
        d.target_groups =
            diff_objects(&by_id(tga), &by_id(tgb), |v| s(v, "displayName"), &["meta"]);
    } else if a.target.is_some() != b.target.is_some() {
        let kind = if b.target.is_some() {
            ChangeKind::Added
        } else {
            ChangeKind::Removed
        };
        let t = a
            .target
            .as_ref()
            .or(b.target.as_ref())
            .expect("one side has a target");
        d.app.push(change(
            kind,
            "target",
            &t.base_url,
            vec!["one snapshot has no SCIM target (taken without --scim-url)".into()],
        ));
    }

    d.identical = d.count() == 0;
    d
}

fn by_id(items: &[Value]) -> BTreeMap<String, &Value> {
    items.iter().map(|v| (s(v, "id"), v)).collect()
}

/// Added/removed/changed between two id → object maps; `ignore` top-level keys.
fn diff_objects(
    a: &BTreeMap<String, &Value>,
    b: &BTreeMap<String, &Value>,
    label: impl Fn(&Value) -> String,
    ignore: &[&str],
) -> Vec<Change> {
    let mut out = Vec::new();
    for id in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        match (a.get(id), b.get(id)) {
            (Some(x), None) => out.push(change(ChangeKind::Removed, id, &label(x), vec![])),
            (None, Some(y)) => out.push(change(ChangeKind::Added, id, &label(y), vec![])),
            (Some(x), Some(y)) => {
                let details = field_changes(x, y, ignore);
                if !details.is_empty() {
                    out.push(change(ChangeKind::Changed, id, &label(y), details));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// `key: old -> new` for each differing top-level key.
fn field_changes(a: &Value, b: &Value, ignore: &[&str]) -> Vec<String> {
    let empty = Map::new();
    let (ma, mb) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let keys: BTreeSet<&String> = ma
        .keys()
        .chain(mb.keys())
        .filter(|k| !ignore.contains(&k.as_str()))
        .collect();
    keys.into_iter()
        .filter_map(|k| {
            let (p, q) = (
                ma.get(k).filter(|v| !v.is_null()),
                mb.get(k).filter(|v| !v.is_null()),
            );
            (p != q).then(|| format!("{k}: {} -> {}", show(p), show(q)))
        })
        .collect()
}

/// Schema changes of one job, per object mapping and attribute mapping.
pub fn diff_schema(job_id: &str, a: &Value, b: &Value) -> Vec<Change> {
    let (ma, mb) = (object_mappings(a), object_mappings(b));
    let mut out = Vec::new();
    for key in ma.keys().chain(mb.keys()).collect::<BTreeSet<_>>() {
        let id = format!("{job_id}/{key}");
        match (ma.get(key), mb.get(key)) {
            (Some(_), None) => out.push(change(ChangeKind::Removed, &id, "object mapping", vec![])),
            (None, Some(m)) => out.push(change(
                ChangeKind::Added,
                &id,
                "object mapping",
                vec![format!("enabled: {}", show(m.get("enabled")))],
            )),
            (Some(x), Some(y)) => {
                let mut details = Vec::new();
                for k in ["enabled", "flowTypes"] {
                    if x.get(k) != y.get(k) {
                        details.push(format!("{k}: {} -> {}", show(x.get(k)), show(y.get(k))));
                    }
                }
                if x.get("scope") != y.get("scope") {
                    details.push(format!(
                        "scoping changed: {} -> {}",
                        describe_scope_json(x.get("scope")),
                        describe_scope_json(y.get("scope"))
                    ));
                }
                let (aa, ab) = (attribute_mappings(x), attribute_mappings(y));
                for t in aa.keys().chain(ab.keys()).collect::<BTreeSet<_>>() {
                    match (aa.get(t), ab.get(t)) {
                        (Some(m), None) => {
                            details.push(format!("- mapping {t} <- {}", expression(m)))
                        }
                        (None, Some(m)) => details.push(format!(
                            "+ mapping {t} <- {}{}",
                            expression(m),
                            matching_note(m)
                        )),
                        (Some(p), Some(q)) => {
                            if p.get("source") != q.get("source") {
                                details.push(format!(
                                    "~ mapping {t}: source {} -> {}",
                                    expression(p),
                                    expression(q)
                                ));
                            }
                            let (mp, mq) = (priority(p), priority(q));
                            if mp != mq {
                                details.push(format!(
                                    "~ matching {t}: {} -> {}",
                                    matching_text(mp),
                                    matching_text(mq)
                                ));
                            }
                            for k in ["flowType", "defaultValue"] {
                                if p.get(k) != q.get(k) {
                                    details.push(format!(
                                        "~ mapping {t}: {k} {} -> {}",
                                        show(p.get(k)),
                                        show(q.get(k))
                                    ));
                                }
                            }
                        }
                        (None, None) => {}
                    }
                }
                if !details.is_empty() {
                    out.push(change(ChangeKind::Changed, &id, "object mapping", details));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Object mappings keyed `rule/source->target`.
fn object_mappings(schema: &Value) -> BTreeMap<String, &Value> {
    let mut out = BTreeMap::new();
    for rule in schema
        .get("synchronizationRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rule_name = rule
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| rule.get("id").and_then(Value::as_str))
            .unwrap_or("rule");
        for om in rule
            .get("objectMappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = format!(
                "{rule_name}/{}->{}",
                s(om, "sourceObjectName"),
                s(om, "targetObjectName")
            );
            out.insert(key, om);
        }
    }
    out
}

fn attribute_mappings(om: &Value) -> BTreeMap<String, &Value> {
    om.get("attributeMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| (s(m, "targetAttributeName"), m))
        .collect()
}

fn expression(m: &Value) -> String {
    match m.get("source") {
        Some(src) => match crate::mapping::schema::source_expr(src) {
            Ok(e) => e.to_string(),
            Err(_) => src
                .get("expression")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| src.to_string()),
        },
        None => "(none)".into(),
    }
}

fn priority(m: &Value) -> i64 {
    m.get("matchingPriority")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn matching_text(p: i64) -> String {
    if p > 0 {
        format!("matching (priority {p})")
    } else {
        "not matching".into()
    }
}

fn matching_note(m: &Value) -> String {
    let p = priority(m);
    if p > 0 {
        format!(" [matching, priority {p}]")
    } else {
        String::new()
    }
}

fn describe_scope_json(scope: Option<&Value>) -> String {
    let scope = scope
        .map(crate::mapping::schema::scope_from_json)
        .unwrap_or_default();
    crate::mapping::schema::describe_scope(&scope)
}

fn change(kind: ChangeKind, id: &str, subject: &str, details: Vec<String>) -> Change {
    Change {
        kind,
        id: id.to_string(),
        subject: subject.to_string(),
        details,
    }
}

fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn quote(v: &str) -> String {
    let short: String = v.chars().take(80).collect();
    format!(
        "\"{short}{}\"",
        if v.chars().count() > 80 { "…" } else { "" }
    )
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(s)) => quote(s),
        Some(other) => {
            let t = other.to_string();
            if t.chars().count() > 80 {
                format!("{}…", t.chars().take(80).collect::<String>())
            } else {
                t
            }
        }
    }
}

/// `scimshift snapshot diff A B`.
pub fn run(ctx: &Context, a: &Path, b: &Path) -> Result<i32> {
    let sa = Snapshot::load(a)?;
    let sb = Snapshot::load(b)?;
    if sa.app.service_principal_id != sb.app.service_principal_id {
        eprintln!(
            "note: the snapshots are of different apps ({} and {})",
            sa.app.display_name, sb.app.display_name
        );
    }
    let d = diff(&sa, &sb);
    if ctx.json() {
        crate::output::print_json(&d);
    } else {
        print!("{}", d.render_text(50));
    }
    Ok(if d.identical { exit::OK } else { exit::CHANGES })
}
