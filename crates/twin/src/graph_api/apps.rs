//! Graph handlers for service principals, applications, the non-gallery
//! template's `instantiate`, and `appRoleAssignedTo`.

use super::{Call, GErr, GResult, created, entity, no_content, ok};
use crate::schemas;
use crate::state::{
    AppRole, AppRoleAssignment, Application, NON_GALLERY_TEMPLATE_ID, ServicePrincipal,
    Synchronization, Tenant,
};
use serde_json::{Value, json};

/// The default app role id ("default access") for apps that declare no roles.
pub const DEFAULT_ACCESS_ROLE: &str = "00000000-0000-0000-0000-000000000000";

pub fn sp_json(sp: &ServicePrincipal) -> Value {
    let mut v = serde_json::to_value(sp).unwrap_or(Value::Null);
    v["appDisplayName"] = json!(sp.display_name);
    v["servicePrincipalType"] = json!("Application");
    v["servicePrincipalNames"] = json!([sp.app_id]);
    v["signInAudience"] = json!("AzureADMyOrg");
    v
}

pub fn app_json(app: &Application) -> Value {
    let mut v = serde_json::to_value(app).unwrap_or(Value::Null);
    v["signInAudience"] = json!("AzureADMyOrg");
    v["identifierUris"] = json!([]);
    v
}

/// The service principal `id`, visible (not replicating), or 404.
pub fn sp_or_404(c: &Call, t: &Tenant) -> Result<ServicePrincipal, GErr> {
    let id = c.param("sp");
    match t.service_principals.get(id) {
        Some(sp) if c.st.visible(id) => Ok(sp.clone()),
        _ => Err(GErr::missing_object(id)),
    }
}

pub fn list_sps(c: &Call) -> GResult {
    c.query.check_filter(
        &[
            "displayName",
            "appId",
            "id",
            "applicationTemplateId",
            "accountEnabled",
            "servicePrincipalType",
        ],
        "servicePrincipal",
    )?;
    let items: Vec<Value> = {
        let t = c.twin().tenant();
        t.service_principals
            .values()
            .filter(|sp| c.st.visible(&sp.id))
            .map(sp_json)
            .collect()
    };
    c.filtered_page(items, "servicePrincipals")
}

pub fn get_sp(c: &Call) -> GResult {
    let t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    let mut v = sp_json(&sp);
    if let Some(f) = &c.query.select {
        v = crate::odata::select(v, f);
    }
    ok(entity(v, c.context("servicePrincipals/$entity")))
}

pub fn list_apps(c: &Call) -> GResult {
    c.query.check_filter(
        &["displayName", "appId", "id", "applicationTemplateId"],
        "application",
    )?;
    let items: Vec<Value> = {
        let t = c.twin().tenant();
        t.applications
            .values()
            .filter(|a| c.st.visible(&a.id))
            .map(app_json)
            .collect()
    };
    c.filtered_page(items, "applications")
}

pub fn get_app(c: &Call) -> GResult {
    let id = c.param("app");
    let t = c.twin().tenant();
    let app = t
        .applications
        .get(id)
        .filter(|_| c.st.visible(id))
        .ok_or_else(|| GErr::missing_object(id))?;
    let mut v = app_json(app);
    if let Some(f) = &c.query.select {
        v = crate::odata::select(v, f);
    }
    ok(entity(v, c.context("applications/$entity")))
}

/// Deleting an application removes its service principal, the SP's
/// synchronization and the assignments to it.
pub fn delete_app(c: &Call) -> GResult {
    let id = c.param("app");
    let mut t = c.twin().tenant();
    if !c.st.visible(id) {
        return Err(GErr::missing_object(id));
    }
    let app = t
        .applications
        .remove(id)
        .ok_or_else(|| GErr::missing_object(id))?;
    let sp_ids: Vec<String> = t
        .service_principals
        .values()
        .filter(|sp| sp.app_id == app.app_id)
        .map(|sp| sp.id.clone())
        .collect();
    for sp in &sp_ids {
        t.service_principals.remove(sp);
        t.synchronization.remove(sp);
        t.assignments
            .retain(|_, a| &a.resource_id != sp && &a.principal_id != sp);
    }
    no_content()
}

/// The `User` role id of every non-gallery instance (contrib Global Secure Access tutorial).
pub const USER_ROLE_ID: &str = "18d14569-c3bd-439b-9a66-3a2aee01d14f";
/// The `msiam_access` role id of every non-gallery instance.
pub const MSIAM_ACCESS_ROLE_ID: &str = "b9632174-c057-4f7e-951b-be3adc52bfe6";

/// The two roles a non-gallery instance gets: the same ids on every instance, as Entra's.
pub fn default_app_roles() -> Vec<AppRole> {
    vec![
        AppRole {
            id: USER_ROLE_ID.into(),
            allowed_member_types: vec!["User".into()],
            description: Some("User".into()),
            display_name: "User".into(),
            is_enabled: true,
            origin: Some("Application".into()),
            value: None,
        },
        AppRole {
            id: MSIAM_ACCESS_ROLE_ID.into(),
            allowed_member_types: vec!["User".into()],
            description: Some("msiam_access".into()),
            display_name: "msiam_access".into(),
            is_enabled: true,
            origin: Some("Application".into()),
            value: None,
        },
    ]
}

/// `POST /applicationTemplates/{id}/instantiate`: only the non-gallery template is known.
pub fn instantiate(c: &Call) -> GResult {
    let tmpl = c.param("tmpl");
    if tmpl != NON_GALLERY_TEMPLATE_ID {
        return Err(GErr::not_found(tmpl));
    }
    let body = c.json()?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Err(GErr::bad_request("Property 'displayName' is required."));
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let app = Application {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: uuid::Uuid::new_v4().to_string(),
        display_name: name.to_string(),
        application_template_id: Some(NON_GALLERY_TEMPLATE_ID.into()),
        created_date_time: Some(now),
    };
    let sp = ServicePrincipal {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: app.app_id.clone(),
        display_name: name.to_string(),
        application_template_id: Some(NON_GALLERY_TEMPLATE_ID.into()),
        app_roles: default_app_roles(),
        app_role_assignment_required: true,
        tags: vec![
            "WindowsAzureActiveDirectoryCustomSingleSignOnApplication".into(),
            "WindowsAzureActiveDirectoryIntegratedApp".into(),
        ],
        preferred_single_sign_on_mode: None,
        account_enabled: true,
        notification_email_addresses: vec![],
    };
    {
        let mut t = c.twin().tenant();
        t.applications.insert(app.id.clone(), app.clone());
        t.service_principals.insert(sp.id.clone(), sp.clone());
        t.synchronization.insert(
            sp.id.clone(),
            Synchronization {
                templates: vec![schemas::scim_template(&app.app_id)],
                ..Default::default()
            },
        );
    }
    c.st.hide_for_replication(&[&app.id, &sp.id]);
    if c.st.instantiate_404 > 0.0 && rand::random::<f64>() < c.st.instantiate_404 {
        // Production sometimes answers 404 although the app was created.
        return Err(GErr::not_found(NON_GALLERY_TEMPLATE_ID));
    }
    created(json!({
        "@odata.context": c.context("microsoft.graph.applicationServicePrincipal"),
        "application": app_json(&app),
        "servicePrincipal": sp_json(&sp),
    }))
}

pub fn assignment_json(a: &AppRoleAssignment) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    v["deletedDateTime"] = Value::Null;
    v
}

pub fn list_assignments(c: &Call) -> GResult {
    c.query.check_filter(
        &[
            "resourceId",
            "principalDisplayName",
            "principalId",
            "principalType",
        ],
        "appRoleAssignment",
    )?;
    let items: Vec<Value> = {
        let t = c.twin().tenant();
        let sp = sp_or_404(c, &t)?;
        t.assignments
            .values()
            .filter(|a| a.resource_id == sp.id && c.st.visible(&a.id))
            .map(assignment_json)
            .collect()
    };
    let ctx = format!("servicePrincipals('{}')/appRoleAssignedTo", c.param("sp"));
    c.filtered_page(items, &ctx)
}

pub fn create_assignment(c: &Call) -> GResult {
    let body = c.json()?;
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let (principal_id, resource_id, app_role_id) = (
        field("principalId"),
        field("resourceId"),
        field("appRoleId"),
    );
    for (k, v) in [
        ("principalId", &principal_id),
        ("resourceId", &resource_id),
        ("appRoleId", &app_role_id),
    ] {
        if v.is_empty() {
            return Err(GErr::bad_request(format!("Property '{k}' is required.")));
        }
        if uuid::Uuid::parse_str(v).is_err() {
            return Err(GErr::new(
                400,
                "Request_BadRequest",
                format!(
                    "Invalid value specified for property '{k}' of resource 'AppRoleAssignment'."
                ),
            ));
        }
    }
    let mut t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    if resource_id != sp.id {
        return Err(GErr::bad_request(format!(
            "The resource id '{resource_id}' does not match the service principal '{}' in the request URL.",
            sp.id
        )));
    }
    let (principal_type, principal_name) = if let Some(u) = t.users.get(&principal_id) {
        (
            "User",
            u.display_name
                .clone()
                .unwrap_or_else(|| u.user_principal_name.clone()),
        )
    } else if let Some(g) = t.groups.get(&principal_id) {
        ("Group", g.display_name.clone())
    } else if let Some(p) = t.service_principals.get(&principal_id) {
        ("ServicePrincipal", p.display_name.clone())
    } else {
        return Err(GErr::not_found(&principal_id));
    };
    let role_ok = if sp.app_roles.is_empty() {
        app_role_id == DEFAULT_ACCESS_ROLE
    } else {
        sp.app_roles
            .iter()
            .any(|r| r.id.eq_ignore_ascii_case(&app_role_id) && r.is_enabled)
    };
    if !role_ok {
        return Err(GErr::bad_request(format!(
            "Permission being assigned was not found on application '{}'.",
            sp.app_id
        )));
    }
    if t.assignments.values().any(|a| {
        a.resource_id == sp.id
            && a.principal_id == principal_id
            && a.app_role_id.eq_ignore_ascii_case(&app_role_id)
    }) {
        return Err(GErr::bad_request(
            "Permission being assigned already exists on the object",
        ));
    }
    let a = AppRoleAssignment {
        id: assignment_id(&principal_id),
        app_role_id,
        principal_id,
        principal_type: principal_type.into(),
        principal_display_name: Some(principal_name),
        resource_id: sp.id.clone(),
        resource_display_name: Some(sp.display_name.clone()),
        created_date_time: Some(
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
    };
    t.assignments.insert(a.id.clone(), a.clone());
    drop(t);
    // Lists miss it for a while, and the engine does not see it yet.
    c.st.hide_for_replication(&[&a.id]);
    c.twin().lag.assigned(&a.id);
    let ctx = c.context(&format!(
        "servicePrincipals('{}')/appRoleAssignedTo/$entity",
        sp.id
    ));
    created(entity(assignment_json(&a), ctx))
}

/// Assignment ids look like Graph's: base64url, 43 chars, random.
pub fn assignment_id(_principal: &str) -> String {
    use base64::Engine as _;
    let raw: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub fn delete_assignment(c: &Call) -> GResult {
    let id = c.param("assignment");
    let mut t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    match t.assignments.get(id) {
        Some(a) if a.resource_id == sp.id => {
            t.assignments.remove(id);
            no_content()
        }
        _ => Err(GErr::not_found(id)),
    }
}
