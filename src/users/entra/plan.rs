//! The Entra import plan: each valid row against the tenant — create, already
//! there, or skipped (STAGED) — with the groups it is not yet a member of and
//! whether it gets the app. Pure: nothing here sends anything.

use super::EntraRow;
use super::body::{upn_of, user_body};
use super::state::EntraState;
use crate::users::model::UserRow;
use crate::users::read::Diag;
use std::collections::HashSet;

/// One [`EntraRow`] per row, and the problems only the tenant could reveal.
pub fn build(rows: &[UserRow], invalid: &[bool], state: &EntraState) -> (Vec<EntraRow>, Vec<Diag>) {
    let mut diags: Vec<Diag> = Vec::new();
    let mut plan: Vec<EntraRow> = Vec::new();
    for (r, bad) in rows.iter().zip(invalid) {
        let upn = upn_of(r).unwrap_or_default();
        let mut p = EntraRow {
            line: r.line,
            upn: upn.clone(),
            action: "invalid",
            id: None,
            groups: Vec::new(),
            assign: false,
            body: None,
        };
        if !*bad {
            if upn.is_empty() {
                diags.push(Diag::error(r.line, 0, "no email to use as the Entra userPrincipalName (a user name without @ is not a UPN)"));
            } else if r.staged {
                p.action = "skip";
            } else {
                let id = state.users.get(&upn.to_lowercase());
                for gname in &r.groups {
                    if let Some(gid) = state.group_ids.get(gname) {
                        let member = id.is_some_and(|id| {
                            state.members.get(gid).is_some_and(|m| m.contains(id))
                        });
                        if !member {
                            p.groups.push(gname.clone());
                        }
                    } else {
                        diags.push(Diag::error(r.line, 0, format!("group `{gname}` does not exist in Entra (create it first; groups are not created by import)")));
                    }
                }
                match id {
                    Some(id) => {
                        p.action = "exists";
                        p.id = Some(id.clone());
                    }
                    None => {
                        p.action = "create";
                        p.body = Some(user_body(r, &upn));
                    }
                }
                p.assign = state
                    .app
                    .as_ref()
                    .is_some_and(|a| p.id.as_ref().is_none_or(|id| !a.assigned.contains(id)));
            }
        }
        plan.push(p);
    }
    (plan, diags)
}

/// Turn the rows `diags` name invalid (with `--skip-invalid`): nothing is written for them.
pub fn drop_bad_lines(plan: &mut [EntraRow], diags: &[Diag]) {
    let bad_lines: HashSet<usize> = diags.iter().map(|d| d.line).collect();
    for p in plan.iter_mut().filter(|p| bad_lines.contains(&p.line)) {
        p.action = "invalid";
        p.groups.clear();
        p.assign = false;
        p.body = None;
    }
}

/// What the plan would write.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub creates: usize,
    pub adds: usize,
    pub assigns: usize,
    pub existing: usize,
}

impl Counts {
    pub fn of(plan: &[EntraRow]) -> Counts {
        Counts {
            creates: plan.iter().filter(|p| p.action == "create").count(),
            adds: plan.iter().map(|p| p.groups.len()).sum(),
            assigns: plan.iter().filter(|p| p.assign).count(),
            existing: plan.iter().filter(|p| p.action == "exists").count(),
        }
    }
    pub fn changes(&self) -> bool {
        self.creates + self.adds + self.assigns > 0
    }
}
