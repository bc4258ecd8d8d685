//! The import plan: match each valid row to a target user (userName
//! case-insensitively, then email), diff the fields the row provides, resolve
//! managers (username, email or id; in the file or the target), and list
//! creates, updates, deactivations and skips. Nothing here sends anything.

use super::mapping::{self, Change};
use super::model::lc;
use super::model::{Field, UserRow};
use super::read::Diag;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
    Skip,
    Invalid,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Create => "create",
            RowAction::Update => "update",
            RowAction::Unchanged => "unchanged",
            RowAction::Skip => "skip",
            RowAction::Invalid => "invalid",
        }
    }
}

/// What happens to one input row.
#[derive(Debug, Clone, Serialize)]
pub struct RowPlan {
    pub line: usize,
    #[serde(skip)]
    pub record: usize,
    pub user_name: String,
    pub action: RowAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Fields an update sets (their values are in the row); built into PATCH
    /// operations only when applied, so planning stays cheap.
    #[serde(skip)]
    pub set: Vec<Field>,
    /// The manager's target id, when known at plan time and to be sent.
    #[serde(skip)]
    pub manager_id: Option<String>,
    /// `active` to set on an update.
    #[serde(skip)]
    pub set_active: Option<bool>,
    /// Index of the matched target user.
    #[serde(skip)]
    pub target_index: Option<usize>,
    /// The manager is created by this run: set it after, from this row's new id.
    #[serde(skip)]
    pub manager_from_row: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deactivation {
    pub id: String,
    pub user_name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub deactivate: usize,
    pub unchanged: usize,
    pub skip: usize,
    pub invalid: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportPlan {
    pub summary: Summary,
    pub rows: Vec<RowPlan>,
    pub deactivations: Vec<Deactivation>,
    /// Problems only the target could reveal (an unknown manager, two rows on one user).
    #[serde(skip)]
    pub diags: Vec<Diag>,
}

impl ImportPlan {
    pub fn has_changes(&self) -> bool {
        self.summary.create + self.summary.update + self.summary.deactivate > 0
    }
}

/// Options that shape a plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub deactivate_missing: bool,
    /// Field number of the manager column (for diagnostics).
    pub manager_column: usize,
}

struct TargetIndex<'a> {
    users: &'a [Value],
    by_name: HashMap<Cow<'a, str>, usize>,
    by_email: HashMap<Cow<'a, str>, usize>,
    by_ext: HashMap<Cow<'a, str>, usize>,
    by_id: HashMap<&'a str, usize>,
}

impl<'a> TargetIndex<'a> {
    fn new(users: &'a [Value]) -> Self {
        let mut t = TargetIndex {
            users,
            by_name: HashMap::with_capacity(users.len()),
            by_email: HashMap::with_capacity(users.len()),
            by_ext: HashMap::new(),
            by_id: HashMap::with_capacity(users.len()),
        };
        for (i, u) in users.iter().enumerate() {
            if let Some(n) = u.get("userName").and_then(Value::as_str) {
                t.by_name.entry(lc(n)).or_insert(i);
            }
            if let Some(es) = u.get("emails").and_then(Value::as_array) {
                for e in es {
                    if let Some(v) = e.get("value").and_then(Value::as_str) {
                        t.by_email.entry(lc(v)).or_insert(i);
                    }
                }
            }
            if let Some(x) = u.get("externalId").and_then(Value::as_str) {
                t.by_ext.entry(lc(x)).or_insert(i);
            }
            if let Some(id) = u.get("id").and_then(Value::as_str) {
                t.by_id.insert(id, i);
            }
        }
        t
    }
    fn id(&self, i: usize) -> String {
        self.users[i]
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
    fn name(&self, i: usize) -> String {
        self.users[i]
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
    fn find_ref(&self, r: &str) -> Option<usize> {
        let lc = lc(r);
        self.by_name
            .get(&lc)
            .or_else(|| self.by_email.get(&lc))
            .or_else(|| self.by_ext.get(&lc))
            .or_else(|| self.by_id.get(r))
            .copied()
    }
}

/// The POST body for create row `i` (`manager`: an id learnt while applying).
pub fn create_body(plan: &ImportPlan, rows: &[UserRow], i: usize, manager: Option<&str>) -> Value {
    mapping::to_scim(&rows[i], manager.or(plan.rows[i].manager_id.as_deref()))
}

/// The PATCH operations for update row `i` (`manager`: an id learnt while applying).
pub fn update_ops(
    plan: &ImportPlan,
    rows: &[UserRow],
    target: &[Value],
    i: usize,
    manager: Option<&str>,
) -> Vec<Value> {
    let p = &plan.rows[i];
    let Some(ti) = p.target_index else {
        return Vec::new();
    };
    let mut set: Vec<(Field, String)> = p
        .set
        .iter()
        .filter_map(|f| rows[i].get(*f).map(|v| (*f, v.to_string())))
        .collect();
    if let Some(m) = manager.or(p.manager_id.as_deref()) {
        set.push((Field::Manager, m.to_string()));
    }
    mapping::patch_ops(&target[ti], &set, p.set_active)
}

/// Build the plan for `rows` (with `invalid` flags from validation) against `target` users.
pub fn build(
    rows: &[UserRow],
    invalid: &[bool],
    target: &[Value],
    opts: PlanOptions,
) -> ImportPlan {
    let t = TargetIndex::new(target);
    let mut diags = Vec::new();
    let mut matched: Vec<Option<usize>> = vec![None; rows.len()];
    let mut claimed: HashMap<usize, usize> = HashMap::new();
    let mut plans: Vec<RowPlan> = Vec::with_capacity(rows.len());
    let mut bad = invalid.to_vec();
    for (i, r) in rows.iter().enumerate() {
        let mut p = RowPlan {
            line: r.line,
            record: r.record,
            user_name: r.user_name().to_string(),
            action: RowAction::Invalid,
            target_id: None,
            changes: Vec::new(),
            note: None,
            set: Vec::new(),
            manager_id: None,
            set_active: None,
            target_index: None,
            manager_from_row: None,
        };
        if !bad[i] {
            let m = t
                .by_name
                .get(&lc(r.user_name()))
                .or_else(|| r.get(Field::Email).and_then(|e| t.by_email.get(e)))
                .copied();
            if let Some(ti) = m {
                if let Some(&other) = claimed.get(&ti) {
                    bad[i] = true;
                    diags.push(Diag::error(
                        r.line,
                        0,
                        format!(
                            "this row and line {} both match target user `{}` (by user name or email): only one row may describe a user",
                            rows[other].line,
                            t.name(ti)
                        ),
                    ));
                } else {
                    claimed.insert(ti, i);
                    matched[i] = Some(ti);
                }
            }
        }
        if r.staged && !bad[i] {
            p.action = RowAction::Skip;
            p.note = Some("STAGED in JumpCloud: not provisioned (JumpCloud's own SCIM connector skips staged users too)".into());
            p.target_id = matched[i].map(|ti| t.id(ti));
        }
        plans.push(p);
    }

    // Rows in the file, for manager references.
    let mut file_ref: HashMap<Cow<str>, usize> = HashMap::with_capacity(rows.len() * 2);
    for (i, r) in rows.iter().enumerate() {
        for f in [Field::UserName, Field::Email, Field::ExternalId] {
            if let Some(v) = r.get(f) {
                file_ref.entry(lc(v)).or_insert(i);
            }
        }
    }
    // Managers resolve to a target id, or to a row this run creates. Repeat until
    // stable, since a row that turns invalid can break another row's manager.
    let mut manager: Vec<Option<Result<MgrRef, String>>> = vec![None; rows.len()];
    loop {
        let mut changed = false;
        for (i, r) in rows.iter().enumerate() {
            if bad[i] || plans[i].action == RowAction::Skip {
                continue;
            }
            let Some(m) = r.get(Field::Manager) else {
                continue;
            };
            let res = if let Some(&j) = file_ref.get(&lc(m)) {
                if j == i {
                    Err(format!("manager `{m}` is this user itself"))
                } else if let Some(ti) = matched[j] {
                    Ok(MgrRef::Id(t.id(ti)))
                } else if bad[j] {
                    Err(format!(
                        "manager `{m}` is on line {}, which is invalid",
                        rows[j].line
                    ))
                } else if plans[j].action == RowAction::Skip {
                    Err(format!(
                        "manager `{m}` is on line {}, which is skipped (STAGED)",
                        rows[j].line
                    ))
                } else {
                    Ok(MgrRef::Row(j))
                }
            } else if let Some(ti) = t.find_ref(m) {
                Ok(MgrRef::Id(t.id(ti)))
            } else {
                Err(format!(
                    "manager `{m}` is neither in the file nor in the target (give a user name, an email or an id of a user that exists or is imported here)"
                ))
            };
            if let Err(e) = &res {
                bad[i] = true;
                changed = true;
                diags.push(Diag::error(r.line, opts.manager_column, e.clone()));
            }
            manager[i] = Some(res);
        }
        if !changed {
            break;
        }
    }

    let mut summary = Summary::default();
    for (i, r) in rows.iter().enumerate() {
        let p = &mut plans[i];
        if bad[i] {
            p.action = RowAction::Invalid;
            summary.invalid += 1;
            continue;
        }
        if p.action == RowAction::Skip {
            summary.skip += 1;
            continue;
        }
        let mgr = manager[i].clone().and_then(Result::ok);
        match matched[i] {
            None => {
                p.action = RowAction::Create;
                match mgr {
                    Some(MgrRef::Id(id)) => p.manager_id = Some(id),
                    Some(MgrRef::Row(j)) => p.manager_from_row = Some(j),
                    None => {}
                }
                summary.create += 1;
            }
            Some(ti) => {
                let tu = &target[ti];
                p.target_id = Some(t.id(ti));
                p.target_index = Some(ti);
                let mut set: Vec<Field> = Vec::new();
                for f in Field::ALL {
                    if f == Field::Manager {
                        continue;
                    }
                    let Some(v) = r.get(f) else { continue };
                    let cur = mapping::scim_value(tu, f);
                    let same = match &cur {
                        Some(c) if f.is_email() => c.eq_ignore_ascii_case(v),
                        Some(c) => c == v,
                        None => false,
                    };
                    if !same {
                        p.changes.push(Change {
                            field: f.short(),
                            from: cur,
                            to: v.to_string(),
                        });
                        set.push(f);
                    }
                }
                let cur_mgr = mapping::scim_value(tu, Field::Manager);
                let show_mgr = |id: &Option<String>| {
                    id.as_ref().map(|id| {
                        t.by_id
                            .get(id.as_str())
                            .map(|&k| t.name(k))
                            .unwrap_or_else(|| id.clone())
                    })
                };
                match &mgr {
                    Some(MgrRef::Id(id)) if cur_mgr.as_deref() != Some(id.as_str()) => {
                        p.changes.push(Change {
                            field: "manager",
                            from: show_mgr(&cur_mgr),
                            to: r.get(Field::Manager).unwrap_or("").into(),
                        });
                        p.manager_id = Some(id.clone());
                    }
                    Some(MgrRef::Row(j)) => {
                        p.changes.push(Change {
                            field: "manager",
                            from: show_mgr(&cur_mgr),
                            to: r.get(Field::Manager).unwrap_or("").into(),
                        });
                        p.manager_from_row = Some(*j);
                    }
                    _ => {}
                }
                let mut active = None;
                if let Some(a) = r.active
                    && a != mapping::scim_active(tu)
                {
                    active = Some(a);
                    p.changes.push(Change {
                        field: "active",
                        from: Some((!a).to_string()),
                        to: a.to_string(),
                    });
                }
                if p.changes.is_empty() {
                    p.action = RowAction::Unchanged;
                    summary.unchanged += 1;
                } else {
                    p.action = RowAction::Update;
                    p.set = set;
                    p.set_active = active;
                    summary.update += 1;
                }
            }
        }
    }
    let mut deactivations = Vec::new();
    if opts.deactivate_missing {
        let used: std::collections::HashSet<usize> = matched.iter().flatten().copied().collect();
        for (ti, u) in target.iter().enumerate() {
            if !used.contains(&ti) && mapping::scim_active(u) {
                deactivations.push(Deactivation {
                    id: t.id(ti),
                    user_name: t.name(ti),
                });
            }
        }
        summary.deactivate = deactivations.len();
    }
    diags.sort_by_key(|d| (d.line, d.column));
    ImportPlan {
        summary,
        rows: plans,
        deactivations,
        diags,
    }
}

#[derive(Debug, Clone)]
enum MgrRef {
    Id(String),
    Row(usize),
}

fn q(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "(none)".into(),
    }
}

/// The plan for people: one line per change (capped), then the summary.
pub fn render_text(plan: &ImportPlan, max_lines: usize) -> String {
    let mut out = String::new();
    let mut n = 0usize;
    let mut more = 0usize;
    let mut push = |s: String, out: &mut String| {
        if n < max_lines {
            out.push_str(&s);
            out.push('\n');
            n += 1;
        } else {
            more += 1;
        }
    };
    for p in &plan.rows {
        match p.action {
            RowAction::Create => push(format!("+ {} (create)", p.user_name), &mut out),
            RowAction::Update => {
                for c in &p.changes {
                    push(
                        format!(
                            "~ {}: {} {} -> {:?}",
                            p.user_name,
                            c.field,
                            q(&c.from),
                            c.to
                        ),
                        &mut out,
                    );
                }
            }
            RowAction::Skip => push(
                format!(
                    "  {} skipped: {}",
                    p.user_name,
                    p.note.as_deref().unwrap_or("")
                ),
                &mut out,
            ),
            _ => {}
        }
    }
    for d in &plan.deactivations {
        push(
            format!("- {}: active true -> false (not in the file)", d.user_name),
            &mut out,
        );
    }
    if more > 0 {
        out.push_str(&format!(
            "  … and {more} more lines (see --output json or --results)\n"
        ));
    }
    let s = &plan.summary;
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to deactivate, {} unchanged, {} skipped, {} invalid.\n",
        s.create, s.update, s.deactivate, s.unchanged, s.skip, s.invalid
    ));
    out
}
