//! Graph and token-endpoint errors turned into one sentence an admin can act on.
//!
//! Graph answers `{"error":{"code","message","innerError":{"request-id"}}}`;
//! the synchronization endpoints (proxied to syncfabric) often put a *second*
//! JSON document inside `message`, which we parse too. The token endpoint
//! answers the OAuth shape (`error`, `error_description`, `error_codes`).
//! This module only reads bodies and builds messages: it never sees a secret,
//! and its sentences never echo a request body.

use crate::error::Error;
use serde_json::Value;

/// A Graph error answer, as data: callers branch on `status` and `code`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: u16,
    /// Graph's `error.code` (after unwrapping the sync-service second layer), e.g. `Authorization_RequestDenied`.
    pub code: String,
    pub message: String,
    /// `innerError.request-id`, or the `request-id` response header.
    pub request_id: Option<String>,
    /// `GET`, `POST`…
    pub method: String,
    /// Path relative to the Graph version root (no query), e.g. `/servicePrincipals/…/synchronization/jobs`;
    /// one line of at most [`PATH_MAX`] characters (a server's `@odata.nextLink` can hold anything).
    pub path: String,
}

impl GraphError {
    /// Read a Graph error body (any shape; a non-JSON or empty body gives an empty code).
    pub fn parse(
        status: u16,
        method: &str,
        path: &str,
        body: &Value,
        header_request_id: Option<&str>,
    ) -> GraphError {
        let err = body.get("error").unwrap_or(body);
        let mut code = str_at(err, "code").unwrap_or_default();
        let mut message = str_at(err, "message").unwrap_or_default();
        if let Value::String(s) = body
            && code.is_empty()
        {
            message = s.clone();
        }
        // The sync service's quirk: `message` is itself JSON (`{"Message": …}` or `{"error":{…}}`).
        if let Ok(inner) = serde_json::from_str::<Value>(message.trim())
            && inner.is_object()
        {
            let inner_err = inner.get("error").unwrap_or(&inner);
            let inner_code = str_at(inner_err, "code").or_else(|| str_at(inner_err, "Code"));
            let inner_msg = str_at(inner_err, "message").or_else(|| str_at(inner_err, "Message"));
            if let Some(c) = inner_code.filter(|c| !c.is_empty())
                && (code.is_empty() || code == "UnknownError")
            {
                code = c;
            }
            if let Some(m) = inner_msg {
                message = m;
            }
        }
        let request_id = err
            .pointer("/innerError/request-id")
            .or_else(|| err.pointer("/innererror/request-id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| header_request_id.map(str::to_string));
        GraphError {
            status,
            code: crate::text::server_text(&code),
            message: crate::text::server_text(&message),
            request_id: request_id.map(|r| crate::text::server_text(&r)),
            method: method.to_string(),
            path: shown_path(path),
        }
    }

    /// The sentence: what failed, Graph's code and message, the request id, and what to do.
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "Microsoft Graph refused {} {} with HTTP {}",
            self.method, self.path, self.status
        );
        if !self.code.is_empty() {
            s.push_str(&format!(" ({})", self.code));
        }
        if !self.message.is_empty() {
            s.push_str(&format!(": {}", trim_sentence(&self.message)));
        }
        if let Some(advice) = self.advice() {
            s.push_str(&format!(". {advice}"));
        }
        if let Some(id) = &self.request_id {
            s.push_str(&format!(" [request-id {id}]"));
        }
        s
    }

    /// What the admin can do about it, when we know.
    pub fn advice(&self) -> Option<String> {
        match self.status {
            401 => Some(
                "The Graph token was not accepted: check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or SCIMSHIFT_GRAPH_TOKEN), and that the token is for this cloud (--cloud)".into(),
            ),
            403 => {
                let perm = required_permission(&self.method, &self.path);
                let mut a = format!(
                    "The signed-in app or user lacks a permission: grant {perm} (application permission, with admin consent)"
                );
                if self.path.contains("/synchronization") {
                    a.push_str(
                        "; with delegated sign-in the user must also be an Application Administrator or Cloud Application Administrator",
                    );
                }
                Some(a)
            }
            404 if self.path.starts_with("/servicePrincipals/") => Some(
                "The service principal or job does not exist (or was created moments ago and has not replicated yet): check the id".into(),
            ),
            429 | 503 => Some("Graph kept throttling the request after every retry; wait a few minutes and run again".into()),
            _ => None,
        }
    }

    pub fn into_error(self) -> Error {
        let msg = self.sentence();
        match self.status {
            401 | 403 => Error::auth(msg),
            _ => Error::remote(msg),
        }
    }
}

/// The least-privileged application permission a call needs (GRAPH-API.md §1.3).
pub fn required_permission(method: &str, path: &str) -> &'static str {
    let write = !method.eq_ignore_ascii_case("GET");
    let p = path_only(path);
    if p.contains("/synchronization") {
        if write {
            "Synchronization.ReadWrite.All"
        } else {
            "Synchronization.Read.All"
        }
    } else if p.contains("/appRoleAssignedTo") || p.contains("/appRoleAssignments") {
        if write {
            "AppRoleAssignment.ReadWrite.All (and Application.Read.All)"
        } else {
            "Application.Read.All"
        }
    } else if p.starts_with("/applicationTemplates")
        || p.starts_with("/applications")
        || p.starts_with("/servicePrincipals")
    {
        if write {
            "Application.ReadWrite.All"
        } else {
            "Application.Read.All"
        }
    } else if p.starts_with("/groups") {
        if write {
            "GroupMember.ReadWrite.All"
        } else {
            "GroupMember.Read.All (or Group.Read.All)"
        }
    } else if p.starts_with("/users") {
        if write {
            "User.ReadWrite.All"
        } else {
            "User.Read.All"
        }
    } else if p.starts_with("/auditLogs") {
        "AuditLog.Read.All"
    } else if p.starts_with("/directoryObjects") {
        "Directory.Read.All"
    } else {
        "the permission this call documents"
    }
}

/// An OAuth error from the token endpoint, as a sentence. `flow` names the
/// sign-in method ("client credentials", "device code").
pub fn oauth_error(status: u16, body: &Value, flow: &str) -> Error {
    let error = str_at(body, "error").unwrap_or_default();
    let description = str_at(body, "error_description").unwrap_or_default();
    let codes: Vec<u64> = body
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let aadsts = codes.first().copied().or_else(|| {
        // "AADSTS7000215: Invalid client secret provided…"
        let d = description.strip_prefix("AADSTS")?;
        d.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    });
    let advice = match aadsts {
        Some(7000215) => {
            "the client secret is wrong or expired: create a new one in the app registration and set AZURE_CLIENT_SECRET"
        }
        Some(7000222) => {
            "the client secret has expired: create a new one in the app registration and set AZURE_CLIENT_SECRET"
        }
        Some(700016) => {
            "no app with that client id exists in the tenant: check AZURE_CLIENT_ID and AZURE_TENANT_ID"
        }
        Some(90002) | Some(900023) => {
            "the tenant was not found: check AZURE_TENANT_ID (a GUID or a domain such as contoso.onmicrosoft.com) and --cloud"
        }
        Some(70011) => "the scope is not valid for this cloud: check --cloud and --graph-url",
        Some(7000218) => {
            "the app registration does not allow public client flows: enable \"Allow public client flows\" for device code sign-in"
        }
        Some(50126) => "the user name or password is wrong",
        Some(700027) => {
            "the certificate is not registered on the app registration, or the key does not belong to it: upload the certificate (public part) under Certificates & secrets"
        }
        Some(700024) => {
            "the client assertion is outside its validity window: check this machine's clock"
        }
        _ => match error.as_str() {
            "invalid_client" => {
                "the client id or secret was not accepted: check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
            }
            "unauthorized_client" => {
                "this app may not use this sign-in method: check the app registration"
            }
            "invalid_scope" => "the scope is not valid for this cloud: check --cloud",
            "invalid_request" => {
                "the token request was not accepted: check AZURE_TENANT_ID and AZURE_CLIENT_ID"
            }
            _ => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        },
    };
    let mut s = format!("sign-in to Microsoft Entra ({flow}) failed with HTTP {status}");
    if !error.is_empty() {
        s.push_str(&format!(" ({error})"));
    }
    s.push_str(&format!(": {advice}"));
    if let Some(code) = aadsts {
        s.push_str(&format!(" [AADSTS{code}]"));
    }
    if let Some(trace) = str_at(body, "trace_id") {
        s.push_str(&format!(" [trace-id {trace}]"));
    }
    Error::auth(s)
}

fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// The longest request path quoted in a sentence.
pub const PATH_MAX: usize = 200;

/// A request path as quoted in a sentence: no query, one line, controls escaped, bounded.
pub fn shown_path(path: &str) -> String {
    crate::text::excerpt(path_only(path), PATH_MAX)
}

/// The first line of a (possibly long, multi-line) message, without a trailing period.
fn trim_sentence(m: &str) -> String {
    let first = m.lines().next().unwrap_or("").trim();
    let mut s: String = first.chars().take(300).collect();
    while s.ends_with('.') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_server_sent_path_is_quoted_on_one_bounded_line() {
        let long = format!(
            "/servicePrincipals/\n\t\u{2066}{}?$skiptoken=x",
            "x".repeat(20_000)
        );
        let e = GraphError::parse(404, "GET", &long, &json!({}), None);
        let s = e.sentence();
        assert!(!s.contains(['\n', '\t', '\u{2066}']), "{s}");
        // Cut to PATH_MAX characters, then the TAB and the bidi control escaped (+4, +7).
        assert!(e.path.chars().count() <= PATH_MAX + 11, "{}", e.path.len());
        assert!(e.path.starts_with("/servicePrincipals/"), "{}", e.path);
        assert!(!e.path.contains("skiptoken"));
    }

    #[test]
    fn reads_graph_error_with_request_id_and_names_permission() {
        let body = json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"request-id":"rid-1","date":"x"}}});
        let e = GraphError::parse(
            403,
            "GET",
            "/servicePrincipals/sp/synchronization/jobs?$top=1",
            &body,
            None,
        );
        assert_eq!(e.code, "Authorization_RequestDenied");
        assert_eq!(e.request_id.as_deref(), Some("rid-1"));
        let s = e.sentence();
        assert!(s.contains("grant Synchronization.Read.All"), "{s}");
        assert!(
            s.contains("rid-1") && s.contains("Insufficient privileges"),
            "{s}"
        );
        assert!(!s.contains("$top"), "{s}");
    }

    #[test]
    fn unwraps_the_sync_service_second_layer() {
        let inner = json!({"error":{"code":"InvalidNotificationSettings","message":"Notification settings are invalid"}}).to_string();
        let body = json!({"error":{"code":"UnknownError","message": inner}});
        let e = GraphError::parse(
            400,
            "PUT",
            "/servicePrincipals/sp/synchronization/secrets",
            &body,
            Some("hdr"),
        );
        assert_eq!(e.code, "InvalidNotificationSettings");
        assert_eq!(e.message, "Notification settings are invalid");
        assert_eq!(e.request_id.as_deref(), Some("hdr"));
        let body = json!({"error":{"code":"UnknownError","message":"{\"Message\":\"No HTTP resource was found that matches the request URI\"}"}});
        let e = GraphError::parse(
            404,
            "PATCH",
            "/servicePrincipals/sp/synchronization/jobs/j/schema",
            &body,
            None,
        );
        assert_eq!(e.code, "UnknownError");
        assert!(e.message.starts_with("No HTTP resource"));
    }

    #[test]
    fn oauth_errors_become_advice() {
        let body = json!({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value","error_codes":[7000215],"trace_id":"t1"});
        let e = oauth_error(401, &body, "client credentials");
        assert!(
            e.message.contains("the client secret is wrong or expired"),
            "{}",
            e.message
        );
        assert!(e.message.contains("AADSTS7000215"));
        let body = json!({"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."});
        assert!(
            oauth_error(400, &body, "client credentials")
                .message
                .contains("tenant was not found")
        );
    }

    #[test]
    fn permissions_per_call() {
        assert_eq!(
            required_permission("POST", "/servicePrincipals/x/synchronization/jobs"),
            "Synchronization.ReadWrite.All"
        );
        assert_eq!(
            required_permission("GET", "/servicePrincipals/x/appRoleAssignedTo"),
            "Application.Read.All"
        );
        assert!(
            required_permission("POST", "/servicePrincipals/x/appRoleAssignedTo")
                .starts_with("AppRoleAssignment.ReadWrite.All")
        );
        assert_eq!(
            required_permission("GET", "/servicePrincipals"),
            "Application.Read.All"
        );
        assert_eq!(required_permission("POST", "/users"), "User.ReadWrite.All");
    }
}
