//! `scimshift doctor`: the checks an admin runs before a change window, none
//! of which writes anything — the cloud's endpoints, the Graph sign-in, the
//! token's permissions against what the chosen commands need
//! (`crate::permissions`), the clock, the gallery app and its provisioning
//! job, and the SCIM target with its token. Each check is a line with a
//! verdict and one sentence; the command decides how they look and the exit
//! code. It stops at reading: it never calls a write endpoint.

use crate::graph::Credential;
use crate::graph::claims::Claims;
use crate::graph::client::{GraphClient, seg};
use crate::permissions::{self, Purpose};
use crate::scim::client::{Resource, ScimClient};
use serde::Serialize;

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// One sentence: what was found, or what is wrong and what to do.
    pub detail: String,
}

impl Check {
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            detail: detail.into(),
        }
    }
    pub fn fail(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            detail: detail.into(),
        }
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The gallery app (display name, appId or object id), when given.
    pub app: Option<String>,
    /// Which commands the token must be able to run.
    pub purpose: Purpose,
    /// The largest clock difference with the token issuer taken as fine.
    pub max_skew_seconds: i64,
}

/// The directory roles that allow delegated calls to the synchronization
/// API (Microsoft Graph: "Application Administrator" or "Cloud Application
/// Administrator"; Global Administrator includes both). Template ids from
/// Microsoft Entra's built-in roles reference.
const SYNC_ADMIN_ROLES: &[(&str, &str)] = &[
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
    ),
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
];

/// Run the Graph checks (sign-in, permissions, clock, app, job) with `graph`.
pub async fn graph_checks(graph: &GraphClient, opts: &DoctorOptions) -> Vec<Check> {
    let e = graph.endpoints();
    let mut checks = vec![Check::pass(
        "endpoints",
        format!(
            "{} cloud: Graph {}, sign-in {}",
            e.cloud_name, e.graph_base, e.authority
        ),
    )];
    let credential = graph.auth().credential().describe();
    let token = match graph.auth().token().await {
        Ok(t) => t,
        Err(err) => {
            checks.push(Check::fail(
                "sign-in",
                format!("signing in with {credential} failed: {err}"),
            ));
            return checks;
        }
    };
    let Some(claims) = Claims::of(&token) else {
        checks.push(Check::pass(
            "sign-in",
            format!("signed in with {credential}"),
        ));
        checks.push(Check::fail(
            "permissions",
            "the Graph token is not a JWT, so its permissions cannot be read; use a token issued by Microsoft Entra for https://graph.microsoft.com",
        ));
        return checks;
    };
    checks.push(Check::pass(
        "sign-in",
        format!(
            "signed in with {credential}{}{}",
            claims
                .app_id
                .as_deref()
                .map(|a| format!(" as app {a}"))
                .unwrap_or_default(),
            claims
                .tenant
                .as_deref()
                .map(|t| format!(" in tenant {t}"))
                .unwrap_or_default()
        ),
    ));
    checks.push(permission_check(&claims, opts.purpose));
    if claims.delegated() {
        checks.push(role_check(&claims));
    }
    let fresh = !matches!(graph.auth().credential(), Credential::StaticToken(_));
    checks.push(clock_check(&claims, fresh, opts.max_skew_seconds));
    if let Some(app) = &opts.app {
        checks.extend(app_checks(graph, app).await);
    }
    checks
}

fn permission_check(claims: &Claims, purpose: Purpose) -> Check {
    let granted = claims.permissions();
    let missing = permissions::missing(purpose, &granted);
    let kind = if claims.delegated() {
        "delegated"
    } else {
        "application"
    };
    if missing.is_empty() {
        return Check::pass(
            "permissions",
            format!(
                "the token's {kind} permissions cover {} ({})",
                purpose.commands(),
                granted.join(", ")
            ),
        );
    }
    let list: Vec<String> = missing
        .iter()
        .map(|n| format!("{} (to {})", n.least(), n.purpose))
        .collect();
    Check::fail(
        "permissions",
        format!(
            "{} needs {kind} permission{} {} that the token does not carry: grant {} and admin consent, then sign in again",
            purpose.commands(),
            if missing.len() == 1 { "" } else { "s" },
            list.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ),
    )
}

fn role_check(claims: &Claims) -> Check {
    match SYNC_ADMIN_ROLES
        .iter()
        .find(|(id, _)| claims.wids.iter().any(|w| w.eq_ignore_ascii_case(id)))
    {
        Some((_, name)) => Check::pass("directory role", format!("the signed-in user is {name}")),
        None => Check::fail(
            "directory role",
            "delegated provisioning calls need the signed-in user to be Application Administrator or Cloud Application Administrator, and the token shows neither",
        ),
    }
}

fn clock_check(claims: &Claims, fresh: bool, max_skew: i64) -> Check {
    let now = chrono::Utc::now().timestamp();
    if let Some(exp) = claims.expires.filter(|exp| *exp <= now) {
        return Check::fail(
            "clock",
            format!(
                "the Graph token expired {} s ago: get a new one (or check this machine's clock)",
                now - exp
            ),
        );
    }
    match claims.issued_at {
        // A token issued in the future: this clock is behind the issuer's.
        Some(iat) if iat - now > max_skew => Check::fail(
            "clock",
            format!(
                "this machine's clock is {} s behind Microsoft Entra's: sync it (NTP) before the change window",
                iat - now
            ),
        ),
        // A token fetched just now but issued long ago: this clock is ahead.
        Some(iat) if fresh && now - iat > max_skew => Check::fail(
            "clock",
            format!(
                "this machine's clock is {} s ahead of Microsoft Entra's: sync it (NTP) before the change window",
                now - iat
            ),
        ),
        Some(iat) => Check::pass(
            "clock",
            format!(
                "within {} s of the token issuer's",
                (now - iat).abs().max(0)
            ),
        ),
        None => Check::pass("clock", "the token carries no issue time to compare with"),
    }
}

async fn app_checks(graph: &GraphClient, app: &str) -> Vec<Check> {
    let sp = match crate::snapshot::capture::find_service_principal(graph, app).await {
        Ok(sp) => sp,
        Err(e) => return vec![Check::fail("gallery app", e.to_string())],
    };
    let (id, name) = (
        sp["id"].as_str().unwrap_or_default().to_string(),
        sp["displayName"].as_str().unwrap_or_default().to_string(),
    );
    let mut checks = vec![Check::pass(
        "gallery app",
        format!("found '{name}' (service principal {id})"),
    )];
    match graph
        .list(&format!(
            "/servicePrincipals/{}/synchronization/jobs",
            seg(&id)
        ))
        .await
    {
        Ok(jobs) if jobs.is_empty() => checks.push(Check::fail(
            "provisioning job",
            format!("'{name}' has no provisioning job: there is nothing to migrate"),
        )),
        Ok(jobs) => {
            let describe: Vec<String> = jobs
                .iter()
                .map(|j| {
                    format!(
                        "{} ({})",
                        j["templateId"].as_str().unwrap_or("?"),
                        j["status"]["code"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            checks.push(Check::pass(
                "provisioning job",
                format!("'{name}' provisions with {}", describe.join(", ")),
            ));
        }
        Err(e) => checks.push(Check::fail("provisioning job", e.to_string())),
    }
    checks
}

/// The SCIM checks: the target answers its ServiceProviderConfig, and a
/// harmless filtered read with the token.
pub async fn scim_checks(scim: &ScimClient) -> Vec<Check> {
    let mut checks = Vec::new();
    match scim.service_provider_config().await {
        Ok(_) => checks.push(Check::pass(
            "SCIM target",
            format!("{} answers /ServiceProviderConfig", scim.base_url()),
        )),
        Err(e) => {
            checks.push(Check::fail("SCIM target", e.to_string()));
            return checks;
        }
    }
    match scim
        .find_eq(Resource::Users, "userName", "scimshift-doctor-probe")
        .await
    {
        Ok(_) => checks.push(Check::pass(
            "SCIM token",
            "a filtered read of /Users with the token succeeds",
        )),
        Err(e) => checks.push(Check::fail("SCIM token", e.to_string())),
    }
    checks
}
