//! The Entra import plan: each valid row against the tenant. A row whose user
//! exists (matched by userPrincipalName, then `mail`, then `employeeId`) is
//! an update of exactly the properties that differ, or unchanged; any other
//! row is a create. Every check Entra would make on a write — verified UPN
//! domain, UPN syntax, password rule, Graph's length limits — and every
//! reference — managers, duplicate rows — is made here, so a plan without
//! problems is one Entra accepts. Pure: nothing here sends anything.

use super::body;
use super::password::{PasswordMode, complexity_problem};
use super::state::EntraState;
use super::upn::{UpnRule, upn_of, upn_problem};
use super::{Deactivation, EntraPlan, EntraRow, MgrRef};
use crate::users::mapping::Change;
use crate::users::model::{Field, UserRow, lc};
use crate::users::read::Diag;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What shapes a plan besides the file and the tenant.
#[derive(Debug, Clone, Default)]
pub struct PlanInputs {
    pub upn: UpnRule,
    pub password: PasswordMode,
    pub deactivate_missing: bool,
    /// 1-based column numbers (0: absent) for diagnostics.
    pub columns: Columns,
}

/// Where the columns a diagnostic may point at are (1-based; 0 when absent).
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub fields: HashMap<Field, usize>,
    pub password: usize,
    pub location: usize,
}

impl Columns {
    fn of(&self, f: Field) -> usize {
        self.fields.get(&f).copied().unwrap_or(0)
    }
}

/// A row's raw cells the model does not keep: the password (only to check
/// it here and send it later) and JumpCloud's `location`.
pub struct RowCells<'a> {
    pub password: Option<&'a str>,
    pub location: Option<&'a str>,
}

struct Index<'a> {
    users: &'a [Value],
    by_id: HashMap<&'a str, usize>,
    by_upn: HashMap<String, usize>,
    by_mail: HashMap<String, usize>,
    by_employee_id: HashMap<String, usize>,
}

impl<'a> Index<'a> {
    fn new(users: &'a [Value]) -> Self {
        let mut ix = Index {
            users,
            by_id: HashMap::with_capacity(users.len()),
            by_upn: HashMap::with_capacity(users.len()),
            by_mail: HashMap::new(),
            by_employee_id: HashMap::new(),
        };
        let s = |u: &Value, k: &str| u.get(k).and_then(Value::as_str).map(|v| lc(v).into_owned());
        for (i, u) in users.iter().enumerate() {
            if let Some(id) = u.get("id").and_then(Value::as_str) {
                ix.by_id.insert(id, i);
            }
            if let Some(v) = s(u, "userPrincipalName") {
                ix.by_upn.entry(v).or_insert(i);
            }
            if let Some(v) = s(u, "mail") {
                ix.by_mail.entry(v).or_insert(i);
            }
            if let Some(v) = u.get("employeeId").and_then(Value::as_str) {
                ix.by_employee_id.entry(v.to_string()).or_insert(i);
            }
        }
        ix
    }
    fn id(&self, i: usize) -> String {
        self.users[i]
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
    fn upn(&self, i: usize) -> String {
        self.users[i]
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
    /// The user a row describes, and how it was found.
    fn matching(&self, upn: &str, r: &UserRow) -> Option<(usize, &'static str)> {
        if let Some(&i) = self.by_upn.get(lc(upn).as_ref()) {
            return Some((i, "userPrincipalName"));
        }
        if let Some(&i) = r
            .get(Field::Email)
            .and_then(|m| self.by_mail.get(lc(m).as_ref()))
        {
            return Some((i, "mail"));
        }
        r.get(Field::EmployeeNumber)
            .and_then(|e| self.by_employee_id.get(e))
            .map(|&i| (i, "employeeId"))
    }
}

/// The ids of existing users that rows with a manager describe (their
/// current managers are read before planning, so a manager is diffed too).
pub fn manager_candidates(
    rows: &[UserRow],
    invalid: &[bool],
    state: &EntraState,
    rule: &UpnRule,
) -> Vec<String> {
    let ix = Index::new(&state.users);
    let mut ids: Vec<String> = rows
        .iter()
        .zip(invalid)
        .filter(|(r, bad)| !**bad && !r.staged && r.get(Field::Manager).is_some())
        .filter_map(|(r, _)| {
            let (upn, _) = upn_of(r, rule).ok()?;
            ix.matching(&upn, r).map(|(i, _)| ix.id(i))
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn blank_row(r: &UserRow, upn: String) -> EntraRow {
    EntraRow {
        line: r.line,
        record: r.record,
        upn,
        action: "invalid",
        matched_by: None,
        id: None,
        changes: Vec::new(),
        groups: Vec::new(),
        manager: None,
        assign: false,
        body: None,
        manager_ref: None,
    }
}

/// Build the plan. `cells[i]` holds row `i`'s password and location cells.
pub fn build(
    rows: &[UserRow],
    invalid: &[bool],
    cells: &[RowCells<'_>],
    state: &EntraState,
    inputs: &PlanInputs,
) -> EntraPlan {
    let ix = Index::new(&state.users);
    let cols = &inputs.columns;
    let mut diags: Vec<Diag> = Vec::new();
    let mut bad: Vec<bool> = invalid.to_vec();
    let mut plan: Vec<EntraRow> = Vec::with_capacity(rows.len());
    let mut matched: Vec<Option<usize>> = vec![None; rows.len()];
    let mut claimed: HashMap<usize, usize> = HashMap::new();
    let mut upn_rows: HashMap<String, usize> = HashMap::new();

    // 1. The UPN, its checks, and which user each row is.
    for (i, r) in rows.iter().enumerate() {
        let mut p = blank_row(r, String::new());
        if !bad[i] && !r.staged {
            match upn_of(r, &inputs.upn) {
                Err(m) => {
                    bad[i] = true;
                    diags.push(Diag::error(r.line, cols.of(Field::UserName), m));
                }
                Ok((upn, from)) => {
                    p.upn = upn.clone();
                    let found = ix.matching(&upn, r);
                    // An existing user keeps its UPN, so only a new one is checked.
                    if found.is_none()
                        && let Some(m) = upn_problem(&upn, &state.domains)
                    {
                        bad[i] = true;
                        diags.push(Diag::error(r.line, cols.of(from), m));
                    }
                    if let Some(&j) = upn_rows.get(&upn.to_lowercase()) {
                        bad[i] = true;
                        diags.push(Diag::error(
                            r.line,
                            cols.of(from),
                            format!(
                                "this row's userPrincipalName `{upn}` is also line {}'s: only one row may describe a user",
                                rows[j].line
                            ),
                        ));
                    } else {
                        upn_rows.insert(upn.to_lowercase(), i);
                    }
                    if let Some((ti, how)) = found {
                        if let Some(&other) = claimed.get(&ti) {
                            bad[i] = true;
                            diags.push(Diag::error(
                                r.line,
                                0,
                                format!(
                                    "this row and line {} both match Entra user `{}`: only one row may describe a user",
                                    rows[other].line,
                                    ix.upn(ti)
                                ),
                            ));
                        } else {
                            claimed.insert(ti, i);
                            matched[i] = Some(ti);
                            p.matched_by = Some(how);
                            p.id = Some(ix.id(ti));
                            if how != "userPrincipalName" {
                                p.upn = ix.upn(ti);
                            }
                        }
                    }
                }
            }
        } else if r.staged && !bad[i] {
            p.upn = upn_of(r, &inputs.upn).map(|u| u.0).unwrap_or_default();
            p.action = "skip";
        }
        plan.push(p);
    }

    // 2. Values: Graph's length limits; the password of a new user.
    for (i, r) in rows.iter().enumerate() {
        if bad[i] || plan[i].action == "skip" {
            continue;
        }
        for (prop, v, max) in body::desired(r, cells[i].location) {
            let n = v.chars().count();
            if n > max {
                bad[i] = true;
                let col = match body::PROPS.iter().find(|(_, p, _)| *p == prop) {
                    Some((body::Source::Field(f), _, _)) => cols.of(*f),
                    _ => cols.location,
                };
                diags.push(Diag::error(
                    r.line,
                    col,
                    format!(
                        "{} would be {n} characters; Entra allows at most {max}",
                        prop.name()
                    ),
                ));
            }
        }
        if let Some(g) = r.groups.iter().find(|g| g.chars().count() > 256) {
            bad[i] = true;
            diags.push(Diag::error(
                r.line,
                0,
                format!(
                    "group name `{}…` is {} characters; an Entra group's displayName allows at most 256",
                    g.chars().take(40).collect::<String>(),
                    g.chars().count()
                ),
            ));
        }
        if matched[i].is_none() && inputs.password == PasswordMode::FromFile {
            let problem = match cells[i].password {
                None | Some("") => Some(
                    "--initial-password from-file, but this row's password cell is empty"
                        .to_string(),
                ),
                Some(p) => complexity_problem(p),
            };
            if let Some(m) = problem {
                bad[i] = true;
                diags.push(Diag::error(r.line, cols.password, m));
            }
        }
    }

    // 3. Managers: a row of the file (by user name, email or UPN), else an Entra user.
    let mut file_ref: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        for v in [
            r.get(Field::UserName),
            r.get(Field::Email),
            Some(plan[i].upn.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter(|v| !v.is_empty())
        {
            file_ref.entry(v.to_lowercase()).or_insert(i);
        }
    }
    loop {
        let mut changed = false;
        for (i, r) in rows.iter().enumerate() {
            if bad[i] || plan[i].action == "skip" {
                continue;
            }
            let Some(m) = r.get(Field::Manager) else {
                continue;
            };
            // Resolved again on every pass (a manager's row may have turned invalid).
            plan[i].changes.retain(|c| c.field != "manager");
            plan[i].manager_ref = None;
            plan[i].manager = None;
            let res = match file_ref.get(&m.to_lowercase()) {
                Some(&j) if j == i => Err(format!("manager `{m}` is this user itself")),
                Some(&j) if bad[j] => Err(format!(
                    "manager `{m}` is on line {}, which is invalid",
                    rows[j].line
                )),
                Some(&j) if plan[j].action == "skip" => Err(format!(
                    "manager `{m}` is on line {}, which is skipped (STAGED)",
                    rows[j].line
                )),
                Some(&j) => Ok(match matched[j] {
                    Some(ti) => (MgrRef::Id(ix.id(ti)), ix.upn(ti)),
                    None => (MgrRef::Row(j), plan[j].upn.clone()),
                }),
                None => match ix
                    .by_upn
                    .get(&m.to_lowercase())
                    .or_else(|| ix.by_mail.get(&m.to_lowercase()))
                {
                    Some(&ti) => Ok((MgrRef::Id(ix.id(ti)), ix.upn(ti))),
                    None => Err(format!(
                        "manager `{m}` is neither in the file nor in Entra (give the user name, email or userPrincipalName of a user that exists or is imported here)"
                    )),
                },
            };
            match res {
                Ok((mref, shown)) => {
                    // An existing user whose manager is already this one: nothing to do.
                    let current = matched[i].and_then(|ti| state.managers.get(&ix.id(ti)));
                    plan[i].manager = Some(shown.clone());
                    if matched[i].is_some()
                        && current.is_some_and(|c| mref == MgrRef::Id(c.clone()))
                    {
                        continue;
                    }
                    if matched[i].is_some() {
                        let from = current.map(|c| {
                            ix.by_id
                                .get(c.as_str())
                                .map(|&k| ix.upn(k))
                                .unwrap_or_else(|| c.clone())
                        });
                        plan[i].changes.push(Change {
                            field: "manager",
                            from,
                            to: shown,
                        });
                    }
                    plan[i].manager_ref = Some(mref);
                }
                Err(e) => {
                    bad[i] = true;
                    changed = true;
                    diags.push(Diag::error(r.line, cols.of(Field::Manager), e));
                }
            }
        }
        if !changed {
            break;
        }
    }

    // 4. Actions, changes and groups.
    let mut new_groups: BTreeSet<String> = BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        let p = &mut plan[i];
        if bad[i] {
            p.action = "invalid";
            p.manager = None;
            p.manager_ref = None;
            continue;
        }
        if p.action == "skip" {
            continue;
        }
        match matched[i] {
            None => {
                p.action = "create";
                p.body = Some(body::create_body(r, &p.upn, cells[i].location));
            }
            Some(ti) => {
                let (mut changes, patch) = body::update(r, &state.users[ti], cells[i].location);
                // The manager change (step 3) is listed after the properties.
                changes.append(&mut p.changes);
                p.action = if patch.is_some() || p.manager_ref.is_some() {
                    "update"
                } else {
                    "unchanged"
                };
                p.changes = changes;
                p.body = patch;
            }
        }
        for gname in &r.groups {
            match state.group_ids.get(gname) {
                Some(gid) => {
                    let member = p
                        .id
                        .as_ref()
                        .is_some_and(|id| state.members.get(gid).is_some_and(|m| m.contains(id)));
                    if !member {
                        p.groups.push(gname.clone());
                    }
                }
                None => {
                    new_groups.insert(gname.clone());
                    p.groups.push(gname.clone());
                }
            }
        }
        p.assign = state
            .app
            .as_ref()
            .is_some_and(|a| p.id.as_ref().is_none_or(|id| !a.assigned.contains(id)));
    }

    // 5. Users not in the file, on the domains this file imports to.
    let mut deactivations = Vec::new();
    if inputs.deactivate_missing {
        let domains: HashSet<String> = plan
            .iter()
            .filter(|p| p.action != "invalid")
            .filter_map(|p| p.upn.rsplit_once('@').map(|(_, d)| d.to_lowercase()))
            .collect();
        let used: HashSet<usize> = matched.iter().flatten().copied().collect();
        for (ti, u) in state.users.iter().enumerate() {
            let upn = ix.upn(ti);
            let on_domain = upn
                .rsplit_once('@')
                .is_some_and(|(_, d)| domains.contains(&d.to_lowercase()));
            let enabled = u.get("accountEnabled").and_then(Value::as_bool) != Some(false);
            if !used.contains(&ti) && on_domain && enabled {
                deactivations.push(Deactivation { id: ix.id(ti), upn });
            }
        }
    }
    diags.sort_by_key(|d| (d.line, d.column));
    EntraPlan {
        rows: plan,
        new_groups: new_groups.into_iter().collect(),
        deactivations,
        diags,
    }
}

/// The plan for people: one line per change (capped), then the summary.
pub fn render_text(plan: &EntraPlan, assign_app: Option<&str>, max_lines: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for g in &plan.new_groups {
        lines.push(format!("+ group {g} (create security group)"));
    }
    for p in &plan.rows {
        match p.action {
            "create" => lines.push(format!("+ {} (create in Entra)", p.upn)),
            "skip" => lines.push(format!("  {} skipped: STAGED", p.upn)),
            "update" => {
                for c in &p.changes {
                    lines.push(format!(
                        "~ {} (matched by {}): {} {} -> {:?}",
                        p.upn,
                        p.matched_by.unwrap_or("userPrincipalName"),
                        c.field,
                        c.from
                            .as_ref()
                            .map(|v| format!("{v:?}"))
                            .unwrap_or_else(|| "(none)".into()),
                        c.to
                    ));
                }
            }
            _ => {}
        }
        if let (Some(m), "create") = (&p.manager, p.action) {
            lines.push(format!("+ {} -> manager {m}", p.upn));
        }
        for gname in &p.groups {
            lines.push(format!("+ {} -> group {gname}", p.upn));
        }
        if p.assign {
            lines.push(format!("+ {} -> app {}", p.upn, assign_app.unwrap_or("")));
        }
    }
    for d in &plan.deactivations {
        lines.push(format!(
            "- {}: accountEnabled true -> false (not in the file)",
            d.upn
        ));
    }
    let mut out = String::new();
    for l in lines.iter().take(max_lines) {
        out.push_str(l);
        out.push('\n');
    }
    if lines.len() > max_lines {
        out.push_str(&format!(
            "  … and {} more lines (see --output json or --results)\n",
            lines.len() - max_lines
        ));
    }
    let c = plan.counts();
    out.push_str(&format!(
        "Plan (Entra): {} to create, {} to update, {} to deactivate, {} unchanged, {} group(s) to create, {} group membership(s), {} manager(s), {} app assignment(s), {} skipped, {} invalid.\n",
        c.creates, c.updates, c.deactivations, c.unchanged, c.new_groups, c.adds, c.managers, c.assigns, c.skipped, c.invalid
    ));
    out
}
