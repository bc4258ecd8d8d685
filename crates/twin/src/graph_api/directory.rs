//! Graph handlers for the directory (users, groups, group members and
//! transitive members, creating and updating users, creating groups, adding
//! members, managers, the tenant's domains) and for the provisioning log
//! (`/auditLogs/provisioning`).
//!
//! Writes check what Graph checks: a UPN's domain must be verified, an
//! initial password must meet Entra's complexity rule (8–256 characters,
//! three of lowercase, uppercase, digit, symbol; no other characters). The
//! password itself is never stored.

use super::{Call, GErr, GResult, created, entity, no_content, ok};
use crate::odata;
use crate::state::{DirGroup, DirUser, Tenant};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

pub fn user_json(u: &DirUser) -> Value {
    let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("managerId");
        m.entry("businessPhones").or_insert(json!([]));
        m.entry("userType").or_insert(json!("Member"));
        // Graph answers every user property, null when unset.
        for k in [
            "employeeType",
            "companyName",
            "officeLocation",
            "streetAddress",
            "state",
            "postalCode",
            "usageLocation",
            "preferredLanguage",
            "mobilePhone",
            "onPremisesImmutableId",
            "onPremisesSamAccountName",
        ] {
            m.entry(k).or_insert(Value::Null);
        }
    }
    v
}

pub fn group_json(g: &DirGroup) -> Value {
    let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("members");
        m.insert(
            "mailNickname".into(),
            json!(
                g.display_name
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "")
            ),
        );
    }
    v
}

fn typed(mut v: Value, ty: &str) -> Value {
    if let Value::Object(m) = &mut v {
        let mut out = Map::new();
        out.insert("@odata.type".into(), json!(ty));
        out.append(m);
        return Value::Object(out);
    }
    v
}

/// A user by object id or userPrincipalName.
fn find_user<'a>(t: &'a Tenant, key: &str) -> Option<&'a DirUser> {
    t.users.get(key).or_else(|| {
        t.users
            .values()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(key))
    })
}

pub fn list_users(c: &Call) -> GResult {
    c.query.check_filter(
        &[
            "userPrincipalName",
            "mail",
            "displayName",
            "id",
            "mailNickname",
            "accountEnabled",
            "department",
            "employeeId",
        ],
        "user",
    )?;
    let t = c.twin().tenant();
    let (url, ctx) = (c.self_url(), c.context("users"));
    // Fast path for the lookups an importer makes: `userPrincipalName eq '…'`.
    let items: Vec<Value> = match c
        .query
        .filter
        .as_ref()
        .and_then(|f| f.eq_value("userPrincipalName"))
    {
        Some(upn) => find_user(&t, upn).map(user_json).into_iter().collect(),
        None if c.query.filter.is_none() => {
            return ok(odata::page_lazy(
                t.users.len(),
                t.users.values(),
                user_json,
                &c.query,
                &url,
                &ctx,
                100,
            ));
        }
        None => t.users.values().map(user_json).collect(),
    };
    let items = c.query.apply_filter(items, true);
    ok(odata::page(items, &c.query, &url, &ctx, 100))
}

pub fn get_user(c: &Call) -> GResult {
    let id = c.param("user");
    let t = c.twin().tenant();
    let u = find_user(&t, id).ok_or_else(|| GErr::not_found(id))?;
    let mut v = user_json(u);
    if let Some(f) = &c.query.select {
        v = odata::select(v, f);
    }
    ok(entity(v, c.context("users/$entity")))
}

/// `POST /users` with Graph's required properties.
pub fn create_user(c: &Call) -> GResult {
    let body = c.json()?;
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    for k in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "userPrincipalName",
        "passwordProfile",
    ] {
        if body.get(k).is_none_or(Value::is_null) {
            return Err(GErr::bad_request(format!(
                "Invalid value specified for property '{k}' of resource 'User'."
            )));
        }
    }
    let upn = s("userPrincipalName").unwrap_or_default();
    if !upn.contains('@') {
        return Err(GErr::bad_request(
            "Invalid value specified for property 'userPrincipalName' of resource 'User'.",
        ));
    }
    let mut t = c.twin().tenant();
    if let Some(m) = t.upn_domain_problem(&upn) {
        return Err(GErr::bad_request(m));
    }
    check_password(&body)?;
    if find_user(&t, &upn).is_some() {
        return Err(GErr::bad_request(
            "Another object with the same value for property userPrincipalName already exists.",
        ));
    }
    let known = [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "userPrincipalName",
        "passwordProfile",
        "mail",
        "givenName",
        "surname",
        "department",
        "jobTitle",
        "employeeId",
        "city",
        "country",
    ];
    let extra: Map<String, Value> = body
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !known.contains(&k.as_str()) && *k != "id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let user = DirUser {
        id: uuid::Uuid::new_v4().to_string(),
        user_principal_name: upn,
        mail: s("mail"),
        mail_nickname: s("mailNickname"),
        display_name: s("displayName"),
        given_name: s("givenName"),
        surname: s("surname"),
        department: s("department"),
        job_title: s("jobTitle"),
        employee_id: s("employeeId"),
        city: s("city"),
        country: s("country"),
        manager_id: None,
        account_enabled: body
            .get("accountEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        extra,
    };
    t.users.insert(user.id.clone(), user.clone());
    created(entity(user_json(&user), c.context("users/$entity")))
}

/// Entra's password rule for a `passwordProfile.password` in `body`, if any.
fn check_password(body: &Value) -> Result<(), GErr> {
    let Some(p) = body
        .get("passwordProfile")
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    const SYMBOLS: &str = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ";
    let n = p.chars().count();
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| SYMBOLS.contains(c)),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let allowed = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SYMBOLS.contains(c));
    if !(8..=256).contains(&n) || classes < 3 || !allowed {
        return Err(GErr::bad_request(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        ));
    }
    Ok(())
}

/// `GET /domains`: the tenant's domains.
pub fn list_domains(c: &Call) -> GResult {
    let t = c.twin().tenant();
    let items: Vec<Value> = t
        .domains
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "authenticationType": d.authentication_type,
                "isDefault": d.is_default,
                "isInitial": d.id.ends_with(".onmicrosoft.com"),
                "isRoot": true,
                "isVerified": d.is_verified,
                "supportedServices": if d.is_verified { json!(["Email", "OfficeCommunicationsOnline"]) } else { json!([]) },
            })
        })
        .collect();
    ok(odata::page(
        items,
        &c.query,
        &c.self_url(),
        &c.context("domains"),
        100,
    ))
}

/// `PATCH /users/{id}`: set the given properties (null clears one); 204.
pub fn update_user(c: &Call) -> GResult {
    let body = c.json()?;
    let Some(m) = body.as_object() else {
        return Err(GErr::bad_request("The request body must be a JSON object."));
    };
    let key = c.param("user");
    let mut t = c.twin().tenant();
    let id = find_user(&t, key)
        .map(|u| u.id.clone())
        .ok_or_else(|| GErr::not_found(key))?;
    if let Some(upn) = m.get("userPrincipalName") {
        let upn = upn.as_str().unwrap_or("");
        if !upn.contains('@') {
            return Err(GErr::bad_request(
                "Invalid value specified for property 'userPrincipalName' of resource 'User'.",
            ));
        }
        if let Some(p) = t.upn_domain_problem(upn) {
            return Err(GErr::bad_request(p));
        }
        if t.users
            .values()
            .any(|u| u.id != id && u.user_principal_name.eq_ignore_ascii_case(upn))
        {
            return Err(GErr::bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            ));
        }
    }
    if m.get("accountEnabled").is_some_and(|v| !v.is_boolean()) {
        return Err(GErr::bad_request(
            "Invalid value specified for property 'accountEnabled' of resource 'User'.",
        ));
    }
    check_password(&body)?;
    let u = t.users.get_mut(&id).ok_or_else(|| GErr::not_found(key))?;
    for (k, v) in m {
        let text = v.as_str().map(str::to_string);
        match k.as_str() {
            "id" | "passwordProfile" => {}
            "userPrincipalName" => u.user_principal_name = text.unwrap_or_default(),
            "accountEnabled" => u.account_enabled = v.as_bool().unwrap_or(true),
            "mail" => u.mail = text,
            "mailNickname" => u.mail_nickname = text,
            "displayName" => u.display_name = text,
            "givenName" => u.given_name = text,
            "surname" => u.surname = text,
            "department" => u.department = text,
            "jobTitle" => u.job_title = text,
            "employeeId" => u.employee_id = text,
            "city" => u.city = text,
            "country" => u.country = text,
            _ if v.is_null() => {
                u.extra.remove(k);
            }
            _ => {
                u.extra.insert(k.clone(), v.clone());
            }
        }
    }
    no_content()
}

/// `GET /users/{id}/manager`: the manager, or 404 when none is set.
pub fn get_manager(c: &Call) -> GResult {
    let key = c.param("user");
    let t = c.twin().tenant();
    let u = find_user(&t, key).ok_or_else(|| GErr::not_found(key))?;
    let m = u
        .manager_id
        .as_ref()
        .and_then(|m| t.users.get(m))
        .ok_or_else(|| GErr::not_found("manager"))?;
    let mut v = typed(user_json(m), "#microsoft.graph.user");
    if let Some(f) = &c.query.select {
        v = odata::select(v, f);
    }
    ok(entity(v, c.context("directoryObjects/$entity")))
}

/// `PUT /users/{id}/manager/$ref` with `{"@odata.id": ".../users/{id}"}`.
pub fn set_manager(c: &Call) -> GResult {
    let body = c.json()?;
    let reference = body.get("@odata.id").and_then(Value::as_str).unwrap_or("");
    let manager = reference
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_matches(|c| c == '{' || c == '}')
        .to_string();
    if manager.is_empty() {
        return Err(GErr::bad_request(
            "Invalid URL format specified in @odata.id",
        ));
    }
    let key = c.param("user");
    let mut t = c.twin().tenant();
    if !t.users.contains_key(&manager) {
        return Err(GErr::not_found(&manager));
    }
    let id = find_user(&t, key)
        .map(|u| u.id.clone())
        .ok_or_else(|| GErr::not_found(key))?;
    if id == manager {
        return Err(GErr::bad_request("A user cannot be their own manager."));
    }
    if let Some(u) = t.users.get_mut(&id) {
        u.manager_id = Some(manager);
    }
    no_content()
}

/// `POST /groups` (security or Microsoft 365), with Graph's required properties.
pub fn create_group(c: &Call) -> GResult {
    let body = c.json()?;
    for k in [
        "displayName",
        "mailEnabled",
        "mailNickname",
        "securityEnabled",
    ] {
        if body.get(k).is_none_or(Value::is_null) {
            return Err(GErr::bad_request(format!(
                "Invalid value specified for property '{k}' of resource 'Group'."
            )));
        }
    }
    let name = body["displayName"]
        .as_str()
        .unwrap_or("")
        .trim()
        .to_string();
    if name.is_empty() {
        return Err(GErr::bad_request(
            "Invalid value specified for property 'displayName' of resource 'Group'.",
        ));
    }
    let g = DirGroup {
        id: uuid::Uuid::new_v4().to_string(),
        display_name: name,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        group_types: body
            .get("groupTypes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        security_enabled: body["securityEnabled"].as_bool().unwrap_or(true),
        mail_enabled: body["mailEnabled"].as_bool().unwrap_or(false),
        members: Vec::new(),
    };
    c.twin().tenant().groups.insert(g.id.clone(), g.clone());
    created(entity(group_json(&g), c.context("groups/$entity")))
}

pub fn list_groups(c: &Call) -> GResult {
    c.query.check_filter(
        &[
            "displayName",
            "id",
            "mailNickname",
            "securityEnabled",
            "mailEnabled",
        ],
        "group",
    )?;
    let t = c.twin().tenant();
    let (url, ctx) = (c.self_url(), c.context("groups"));
    if c.query.filter.is_none() {
        return ok(odata::page_lazy(
            t.groups.len(),
            t.groups.values(),
            group_json,
            &c.query,
            &url,
            &ctx,
            100,
        ));
    }
    // `id eq '…'` / `id in (…)` (how a snapshot reads assigned groups in
    // bulk): looked up by key, not by converting every group to JSON.
    let by_key = c.query.filter.as_ref().and_then(|f| f.key_values("id"));
    let items = match by_key {
        Some(ids) => {
            let mut ids: Vec<&str> = ids;
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .filter_map(|id| t.groups.get(*id))
                .map(group_json)
                .collect()
        }
        None => t.groups.values().map(group_json).collect(),
    };
    let items = c.query.apply_filter(items, true);
    ok(odata::page(items, &c.query, &url, &ctx, 100))
}

pub fn get_group(c: &Call) -> GResult {
    let id = c.param("group");
    let t = c.twin().tenant();
    let g = t.groups.get(id).ok_or_else(|| GErr::missing_object(id))?;
    let mut v = group_json(g);
    if let Some(f) = &c.query.select {
        v = odata::select(v, f);
    }
    ok(entity(v, c.context("groups/$entity")))
}

fn member_json(t: &Tenant, id: &str) -> Option<Value> {
    if let Some(u) = t.users.get(id) {
        Some(typed(user_json(u), "#microsoft.graph.user"))
    } else if let Some(g) = t.groups.get(id) {
        Some(typed(group_json(g), "#microsoft.graph.group"))
    } else {
        t.service_principals.get(id).map(|sp| {
            typed(
                super::apps::sp_json(sp),
                "#microsoft.graph.servicePrincipal",
            )
        })
    }
}

/// A group's direct members (or, `transitive`, every member reached through
/// nested groups, each once), as Graph's directoryObject JSON.
fn member_items(c: &Call, transitive: bool) -> Result<Vec<Value>, GErr> {
    let id = c.param("group");
    let t = c.twin().tenant();
    let g = t.groups.get(id).ok_or_else(|| GErr::missing_object(id))?;
    if !transitive {
        return Ok(g
            .members
            .iter()
            .filter_map(|m| member_json(&t, m))
            .collect());
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut order = Vec::new();
    let mut stack = vec![id.to_string()];
    let mut visited_groups = std::collections::BTreeSet::new();
    while let Some(gid) = stack.pop() {
        if !visited_groups.insert(gid.clone()) {
            continue;
        }
        if let Some(g) = t.groups.get(&gid) {
            for m in &g.members {
                if seen.insert(m.clone()) {
                    order.push(m.clone());
                }
                if t.groups.contains_key(m) {
                    stack.push(m.clone());
                }
            }
        }
    }
    Ok(order.iter().filter_map(|m| member_json(&t, m)).collect())
}

/// One page of members, optionally cast to one type (`…/members/microsoft.graph.user`:
/// only the members of that type, in that type's context, as Graph answers).
fn member_page(c: &Call, transitive: bool, cast: Option<&str>) -> GResult {
    let mut items = member_items(c, transitive)?;
    let context = match cast {
        Some(ty) => {
            let odata_type = format!("#microsoft.graph.{ty}");
            items.retain(|m| m["@odata.type"] == odata_type.as_str());
            format!("{ty}s")
        }
        None => "directoryObjects".to_string(),
    };
    ok(odata::page(
        items,
        &c.query,
        &c.self_url(),
        &c.context(&context),
        100,
    ))
}

pub fn members(c: &Call) -> GResult {
    member_page(c, false, None)
}
pub fn member_users(c: &Call) -> GResult {
    member_page(c, false, Some("user"))
}
pub fn member_groups(c: &Call) -> GResult {
    member_page(c, false, Some("group"))
}
pub fn transitive_members(c: &Call) -> GResult {
    member_page(c, true, None)
}
pub fn transitive_member_users(c: &Call) -> GResult {
    member_page(c, true, Some("user"))
}
pub fn transitive_member_groups(c: &Call) -> GResult {
    member_page(c, true, Some("group"))
}

/// `GET …/$count`: the collection's size as a plain-text integer. Graph serves
/// it on directory collections only as an advanced query, with the
/// `ConsistencyLevel: eventual` header; without it the answer is a 400.
fn count(c: &Call, items: impl FnOnce() -> Result<Vec<Value>, GErr>) -> GResult {
    let eventual = c
        .headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    if !eventual {
        return Err(GErr::new(
            400,
            "Request_BadRequest",
            "$count is not currently supported.",
        ));
    }
    let n = c.query.apply_filter(items()?, true).len();
    Ok((
        axum::http::StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/plain")],
        n.to_string(),
    )
        .into_response())
}

pub fn count_users(c: &Call) -> GResult {
    count(c, || {
        Ok(c.twin().tenant().users.values().map(user_json).collect())
    })
}
pub fn count_groups(c: &Call) -> GResult {
    count(c, || {
        Ok(c.twin().tenant().groups.values().map(group_json).collect())
    })
}
pub fn count_members(c: &Call) -> GResult {
    count(c, || member_items(c, false))
}
pub fn count_transitive_members(c: &Call) -> GResult {
    count(c, || member_items(c, true))
}

/// `POST /groups/{id}/members/$ref` with `{"@odata.id": ".../directoryObjects/{id}"}`.
pub fn add_member(c: &Call) -> GResult {
    let body = c.json()?;
    let reference = body.get("@odata.id").and_then(Value::as_str).unwrap_or("");
    let member = reference
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_matches(|c| c == '{' || c == '}')
        .to_string();
    if member.is_empty() {
        return Err(GErr::bad_request(
            "Invalid URL format specified in @odata.id",
        ));
    }
    let id = c.param("group");
    let mut t = c.twin().tenant();
    if !t.users.contains_key(&member) && !t.groups.contains_key(&member) {
        return Err(GErr::not_found(&member));
    }
    let g = t
        .groups
        .get_mut(id)
        .ok_or_else(|| GErr::missing_object(id))?;
    if g.members.contains(&member) {
        return Err(GErr::bad_request(
            "One or more added object references already exist for the following modified properties: 'members'.",
        ));
    }
    g.members.push(member);
    no_content()
}

/// `GET /auditLogs/provisioning` (filters are case sensitive, as in Graph).
pub fn provisioning_logs(c: &Call) -> GResult {
    c.query.check_filter(
        &[
            "jobId",
            "servicePrincipal/id",
            "cycleId",
            "changeId",
            "provisioningAction",
            "provisioningStatusInfo/status",
            "id",
        ],
        "provisioningObjectSummary",
    )?;
    let items: Vec<Value> = c
        .twin()
        .tenant()
        .provisioning_log
        .iter()
        .rev()
        .cloned()
        .collect();
    let items = c.query.apply_filter(items, false);
    ok(odata::page(
        items,
        &c.query,
        &c.self_url(),
        &c.context("auditLogs/provisioning"),
        100,
    ))
}
