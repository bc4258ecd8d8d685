//! `users import --to entra`: create the file's users in Entra ID through
//! Graph `$batch`, add them to the groups named in `Group<N>` columns, and
//! optionally assign them to an app (`--assign-app`). Same validation, plan,
//! confirmation and results file as the SCIM path.
//!
//! The user principal name is the row's email (JumpCloud usernames such as
//! `avery.stone` are not UPNs), or the user name when it is already one.
//! Passwords from the file are never sent: each new user gets a random
//! password it must change at first sign-in, which is never shown or stored
//! (use SSPR or a Temporary Access Pass to onboard). Groups must already exist.

use super::model::{Field, UserRow};
use super::read::Diag;
use crate::error::{Error, Result, exit};
use crate::graph::client::{odata_string, query};
use crate::graph::{BatchRequest, GraphClient};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};

/// What happens to one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntraRow {
    pub line: usize,
    pub upn: String,
    /// `create`, `exists`, `skip`, `invalid`.
    pub action: &'static str,
    pub id: Option<String>,
    /// Groups to add the user to (those it is not yet a member of are all added; Graph answers 400 for duplicates, counted as done).
    pub groups: Vec<String>,
    pub assign: bool,
    #[serde(skip)]
    pub body: Option<Value>,
}

fn upn_of(r: &UserRow) -> Option<String> {
    r.get(Field::Email)
        .map(str::to_string)
        .or_else(|| Some(r.user_name().to_string()).filter(|u| u.contains('@')))
}

fn mail_nickname(upn: &str) -> String {
    let local = upn.split('@').next().unwrap_or(upn);
    let s: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if s.is_empty() {
        "user".into()
    } else {
        s.chars().take(64).collect()
    }
}

fn random_password() -> String {
    use rand::Rng;
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!@#$%^&*-_=+",
    ];
    let mut rng = rand::rng();
    let mut p: Vec<u8> = (0..24)
        .map(|i| {
            let set = SETS[i % 4];
            set[rng.random_range(0..set.len())]
        })
        .collect();
    for i in (1..p.len()).rev() {
        p.swap(i, rng.random_range(0..=i));
    }
    String::from_utf8(p).unwrap_or_default()
}

/// The Graph user body for a row (no password from the file, ever).
pub fn user_body(r: &UserRow, upn: &str) -> Value {
    let mut m = Map::new();
    let display = r
        .get(Field::DisplayName)
        .map(str::to_string)
        .or_else(|| {
            let n = [r.get(Field::GivenName), r.get(Field::FamilyName)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!n.is_empty()).then_some(n)
        })
        .unwrap_or_else(|| r.user_name().to_string());
    m.insert("accountEnabled".into(), json!(r.active.unwrap_or(true)));
    m.insert("displayName".into(), json!(display));
    m.insert("mailNickname".into(), json!(mail_nickname(upn)));
    m.insert("userPrincipalName".into(), json!(upn));
    m.insert(
        "passwordProfile".into(),
        json!({"forceChangePasswordNextSignIn": true, "password": random_password()}),
    );
    for (f, k) in [
        (Field::GivenName, "givenName"),
        (Field::FamilyName, "surname"),
        (Field::Title, "jobTitle"),
        (Field::Department, "department"),
        (Field::EmployeeNumber, "employeeId"),
        (Field::Organization, "companyName"),
        (Field::UserType, "employeeType"),
        (Field::PhoneMobile, "mobilePhone"),
        (Field::WorkStreet, "streetAddress"),
        (Field::WorkLocality, "city"),
        (Field::WorkRegion, "state"),
        (Field::WorkPostal, "postalCode"),
        (Field::WorkCountry, "country"),
        (Field::Email, "mail"),
    ] {
        if let Some(v) = r.get(f) {
            m.insert(k.into(), json!(v));
        }
    }
    if let Some(p) = r.get(Field::PhoneWork) {
        m.insert("businessPhones".into(), json!([p]));
    }
    Value::Object(m)
}

struct AppTarget {
    sp_id: String,
    role_id: String,
    assigned: std::collections::HashSet<String>,
}

async fn resolve_app(g: &GraphClient, app: &str) -> Result<AppTarget> {
    let filter = |attr: &str| {
        format!(
            "/servicePrincipals?$filter={}",
            query(&format!("{attr} eq {}", odata_string(app)))
        )
    };
    let mut sps = g.list(&filter("appId")).await?;
    if sps.is_empty() {
        sps = g.list(&filter("displayName")).await?;
    }
    if sps.is_empty()
        && let Some(sp) = g
            .get_opt(&format!(
                "/servicePrincipals/{}",
                crate::graph::client::seg(app)
            ))
            .await?
    {
        sps.push(sp);
    }
    let sp = match sps.len() {
        1 => sps.remove(0),
        0 => {
            return Err(Error::input(format!(
                "--assign-app `{app}`: no service principal has that appId, display name or object id"
            )));
        }
        n => {
            return Err(Error::input(format!(
                "--assign-app `{app}`: {n} service principals have that name; pass the appId"
            )));
        }
    };
    let sp_id = sp
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let role_id = sp
        .get("appRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| {
            r.get("isEnabled").and_then(Value::as_bool) != Some(false)
                && r.get("allowedMemberTypes")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|x| x == "User"))
        })
        .and_then(|r| r.get("id").and_then(Value::as_str))
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_string();
    let assigned = g
        .list(&format!(
            "/servicePrincipals/{}/appRoleAssignedTo",
            crate::graph::client::seg(&sp_id)
        ))
        .await?
        .iter()
        .filter_map(|a| {
            a.get("principalId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    Ok(AppTarget {
        sp_id,
        role_id,
        assigned,
    })
}

/// Plan and (unless dry run) apply. `rows`/`invalid` come from validation.
pub async fn run(
    ctx: &crate::context::Context,
    g: &GraphClient,
    args: &super::import::ImportOptions,
    file: &str,
    table: &super::read::RawTable,
    validated: &super::validate::Validated,
) -> Result<i32> {
    let rows: &[UserRow] = &validated.rows;
    let invalid: &[bool] = &validated.invalid;
    let mut diags: Vec<Diag> = Vec::new();
    // Existing users by UPN.
    let existing: HashMap<String, String> = g
        .list("/users?$select=id,userPrincipalName")
        .await?
        .iter()
        .filter_map(|u| {
            Some((
                u.get("userPrincipalName")?.as_str()?.to_lowercase(),
                u.get("id")?.as_str()?.to_string(),
            ))
        })
        .collect();
    // Groups by name.
    let names: BTreeSet<&str> = rows
        .iter()
        .zip(invalid)
        .filter(|(_, bad)| !**bad)
        .flat_map(|(r, _)| r.groups.iter().map(String::as_str))
        .collect();
    let mut group_ids: HashMap<String, String> = HashMap::new();
    let lookups: Vec<BatchRequest> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            BatchRequest::get(
                i.to_string(),
                format!(
                    "/groups?$filter={}&$select=id,displayName",
                    query(&format!("displayName eq {}", odata_string(n)))
                ),
            )
        })
        .collect();
    let answers = if lookups.is_empty() {
        Vec::new()
    } else {
        g.batch(lookups.clone()).await?
    };
    for ((n, req), ans) in names.iter().zip(&lookups).zip(answers) {
        let v = ans.into_result(req)?;
        let found: Vec<&Value> = v
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        match found.len() {
            1 => {
                group_ids.insert(
                    n.to_string(),
                    found[0]
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
            }
            0 => {}
            k => {
                return Err(Error::input(format!(
                    "{k} Entra groups are named `{n}`: rename one, or the users cannot be added unambiguously"
                )));
            }
        }
    }
    // Current members of those groups, so existing memberships are not planned again.
    let mut members: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for gid in group_ids.values() {
        let ids = g
            .list(&format!(
                "/groups/{}/members?$select=id",
                crate::graph::client::seg(gid)
            ))
            .await?
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        members.insert(gid.clone(), ids);
    }
    let app = match &args.assign_app {
        Some(a) => Some(resolve_app(g, a).await?),
        None => None,
    };
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
                let id = existing.get(&upn.to_lowercase());
                for gname in &r.groups {
                    if let Some(gid) = group_ids.get(gname) {
                        let member =
                            id.is_some_and(|id| members.get(gid).is_some_and(|m| m.contains(id)));
                        if !member {
                            p.groups.push(gname.clone());
                        }
                    } else {
                        diags.push(Diag::error(r.line, 0, format!("group `{gname}` does not exist in Entra (create it first; groups are not created by import)")));
                    }
                }
                match existing.get(&upn.to_lowercase()) {
                    Some(id) => {
                        p.action = "exists";
                        p.id = Some(id.clone());
                    }
                    None => {
                        p.action = "create";
                        p.body = Some(user_body(r, &upn));
                    }
                }
                p.assign = app
                    .as_ref()
                    .is_some_and(|a| p.id.as_ref().is_none_or(|id| !a.assigned.contains(id)));
            }
        }
        plan.push(p);
    }
    for d in &diags {
        eprintln!("{}", d.render(file));
    }
    if !diags.is_empty() && !args.skip_invalid {
        return Err(Error::input(format!(
            "{} problem(s) in {file} found against Entra; nothing was sent",
            diags.len()
        )));
    }
    let bad_lines: std::collections::HashSet<usize> = diags.iter().map(|d| d.line).collect();
    for p in plan.iter_mut().filter(|p| bad_lines.contains(&p.line)) {
        p.action = "invalid";
        p.groups.clear();
        p.assign = false;
        p.body = None;
    }
    let creates = plan.iter().filter(|p| p.action == "create").count();
    let adds: usize = plan.iter().map(|p| p.groups.len()).sum();
    let assigns = plan.iter().filter(|p| p.assign).count();
    let changes = creates + adds + assigns > 0;
    if ctx.json() {
        if args.dry_run || !changes {
            crate::output::print_json(
                &json!({"to": "entra", "graph": g.base_url(), "rows": plan, "dryRun": args.dry_run}),
            );
        }
    } else {
        for p in &plan {
            match p.action {
                "create" => println!("+ {} (create in Entra)", p.upn),
                "skip" => println!("  {} skipped: STAGED", p.upn),
                _ => {}
            }
            for gname in &p.groups {
                println!("+ {} -> group {gname}", p.upn);
            }
            if p.assign {
                println!(
                    "+ {} -> app {}",
                    p.upn,
                    args.assign_app.as_deref().unwrap_or("")
                );
            }
        }
        println!(
            "Plan (Entra): {creates} to create, {adds} group membership(s), {assigns} app assignment(s), {} already in Entra.",
            plan.iter().filter(|p| p.action == "exists").count()
        );
    }
    if args.dry_run || !changes {
        return Ok(if changes { exit::CHANGES } else { exit::OK });
    }
    if !ctx.confirm(&format!(
        "Create {creates} user(s) in Entra at {}?",
        g.base_url()
    ))? {
        eprintln!("Cancelled: nothing was sent.");
        return Ok(exit::ERROR);
    }
    let mut errors: Vec<Option<String>> = vec![None; plan.len()];
    // 1. Creates through $batch.
    let idx: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i].action == "create")
        .collect();
    let reqs: Vec<BatchRequest> = idx
        .iter()
        .map(|&i| {
            BatchRequest::post(
                i.to_string(),
                "/users",
                plan[i].body.clone().unwrap_or_default(),
            )
        })
        .collect();
    if !reqs.is_empty() {
        for ((&i, req), ans) in idx.iter().zip(&reqs).zip(g.batch(reqs.clone()).await?) {
            match ans.into_result(req) {
                Ok(v) => plan[i].id = v.get("id").and_then(Value::as_str).map(str::to_string),
                Err(e) => errors[i] = Some(e.message),
            }
        }
    }
    // 2. Group memberships and app assignments for users that exist now.
    let mut reqs = Vec::new();
    let mut owner = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        let Some(id) = &p.id else { continue };
        for gname in &p.groups {
            let gid = &group_ids[gname];
            reqs.push(BatchRequest::post(
                format!("{}", reqs.len()),
                format!("/groups/{}/members/$ref", crate::graph::client::seg(gid)),
                g.member_ref(id),
            ));
            owner.push(i);
        }
        if p.assign
            && let Some(a) = &app
        {
            reqs.push(BatchRequest::post(
                format!("{}", reqs.len()),
                format!(
                    "/servicePrincipals/{}/appRoleAssignedTo",
                    crate::graph::client::seg(&a.sp_id)
                ),
                json!({"principalId": id, "resourceId": a.sp_id, "appRoleId": a.role_id}),
            ));
            owner.push(i);
        }
    }
    if !reqs.is_empty() {
        for ((&i, req), ans) in owner.iter().zip(&reqs).zip(g.batch(reqs.clone()).await?) {
            let already = ans.status == 400 && ans.body.to_string().contains("already exist");
            if let Err(e) = ans.into_result(req)
                && !already
            {
                let msg = errors[i]
                    .take()
                    .map(|m| format!("{m}; "))
                    .unwrap_or_default();
                errors[i] = Some(format!("{msg}{}", e.message));
            }
        }
    }
    let failed = errors.iter().filter(|e| e.is_some()).count();
    if let Some(path) = &args.results {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let io = |e: csv::Error| Error::io(format!("could not write CSV: {e}"));
        w.write_record(super::results::RESULT_COLUMNS).map_err(io)?;
        for (p, e) in plan.iter().zip(&errors) {
            let status = match (p.action, e) {
                ("invalid", _) => "invalid",
                ("skip", _) => "skipped",
                (_, Some(_)) => "failed",
                _ => "ok",
            };
            w.write_record([
                p.line.to_string(),
                super::formats::guard_formula(&p.upn).into_owned(),
                p.action.to_string(),
                status.to_string(),
                p.id.clone().unwrap_or_default(),
                e.clone().unwrap_or_default(),
            ])
            .map_err(io)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::io(format!("could not write CSV: {e}")))?;
        crate::output::write_private_file(path, &bytes)?;
        let failed_rows: Vec<usize> = plan
            .iter()
            .zip(&errors)
            .zip(rows)
            .filter(|((p, e), _)| p.action == "invalid" || e.is_some())
            .map(|(_, r)| r.record)
            .collect();
        let fpath = super::results::failed_path(path);
        if !failed_rows.is_empty() {
            super::results::write_failed(&fpath, table, &failed_rows, &validated.password_columns)?;
            eprintln!(
                "{} row(s) to fix and import again: {}",
                failed_rows.len(),
                fpath.display()
            );
        }
    }
    for (p, e) in plan.iter().zip(&errors) {
        if let Some(e) = e {
            eprintln!("{file}:{}:1: {}: {e}", p.line, p.upn);
        }
    }
    let created = plan
        .iter()
        .zip(&errors)
        .filter(|(p, e)| p.action == "create" && e.is_none() && p.id.is_some())
        .count();
    if ctx.json() {
        crate::output::print_json(&json!({
            "to": "entra", "graph": g.base_url(), "rows": plan, "dryRun": false,
            "result": {"created": created, "failed": failed}, "results": args.results,
        }));
    } else {
        println!("Done (Entra): {created} created, {failed} failed.");
    }
    Ok(if failed > 0 { exit::ERROR } else { exit::OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_never_carries_the_file_password() {
        let mut r = UserRow {
            had_password: true,
            ..Default::default()
        };
        r.set(Field::UserName, "avery.stone");
        r.set(Field::Email, "avery.stone@example.com");
        r.set(Field::GivenName, "Avery");
        let b = user_body(&r, "avery.stone@example.com");
        assert_eq!(b["mailNickname"], "avery.stone");
        assert_eq!(b["displayName"], "Avery");
        assert_eq!(b["passwordProfile"]["forceChangePasswordNextSignIn"], true);
        assert_eq!(b["passwordProfile"]["password"].as_str().unwrap().len(), 24);
        assert_eq!(upn_of(&r).as_deref(), Some("avery.stone@example.com"));
    }
}
