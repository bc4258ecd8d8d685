//! The twin's identity side: registered client apps and their application
//! permissions, the token endpoint (client credentials and device code, with
//! Microsoft identity platform error bodies such as AADSTS7000215), and the
//! bearer check plus permission check every Graph call goes through.
//!
//! Tokens are JWT-shaped (decodable header and claims, meaningless signature)
//! and valid only in the twin that issued them.

use crate::secret::Secret;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Application permissions an admin client gets by default.
pub const ADMIN_ROLES: &[&str] = &[
    "Application.ReadWrite.All",
    "Synchronization.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "AuditLog.Read.All",
    "Directory.Read.All",
    "User.ReadWrite.All",
    "GroupMember.ReadWrite.All",
];

/// What a route needs; each is satisfied by any of the listed Graph permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// Any valid token ($batch: its inner requests are checked one by one).
    Any,
    AppRead,
    AppWrite,
    SyncRead,
    SyncWrite,
    DirRead,
    DirWrite,
    AssignRead,
    AssignWrite,
    Audit,
}

impl Perm {
    pub fn satisfied_by(self) -> &'static [&'static str] {
        match self {
            Perm::Any => &[],
            Perm::AppRead | Perm::AssignRead => &[
                "Application.Read.All",
                "Application.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Perm::AppWrite => &["Application.ReadWrite.All"],
            Perm::SyncRead => &["Synchronization.Read.All", "Synchronization.ReadWrite.All"],
            Perm::SyncWrite => &["Synchronization.ReadWrite.All"],
            Perm::DirRead => &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Group.Read.All",
                "GroupMember.Read.All",
                "GroupMember.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Perm::DirWrite => &[
                "User.ReadWrite.All",
                "GroupMember.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Perm::AssignWrite => &["AppRoleAssignment.ReadWrite.All"],
            Perm::Audit => &["AuditLog.Read.All"],
        }
    }
}

/// A client app registered in the twin (seeds may define several).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientApp {
    pub client_id: String,
    /// Stored in clear in a seed file; only ever compared, never printed.
    pub client_secret: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl std::fmt::Debug for ClientApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"(redacted)")
            .field("display_name", &self.display_name)
            .field("roles", &self.roles)
            .finish()
    }
}

impl ClientApp {
    /// A random admin client with every permission scimshift needs.
    pub fn random_admin() -> ClientApp {
        ClientApp {
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret: random_secret(),
            display_name: "scimshift".into(),
            roles: ADMIN_ROLES.iter().map(|s| s.to_string()).collect(),
        }
    }
    pub fn secret(&self) -> Secret {
        Secret::new(self.client_secret.clone())
    }
}

/// A random client secret shaped like Entra's (40 chars with a `~`).
pub fn random_secret() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let chars: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .collect();
    let body: String = (0..37)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect();
    format!("{}~{}", &body[..3], &body[3..])
}

/// Who made a Graph call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn allows(&self, p: Perm) -> bool {
        p == Perm::Any
            || p.satisfied_by()
                .iter()
                .any(|need| self.roles.iter().any(|r| r == need))
    }
}

struct Issued {
    caller: Caller,
    expires: Instant,
}

struct DeviceFlow {
    client_id: String,
    polls_left: u32,
    expires: Instant,
}

/// Clients, issued tokens and pending device codes.
pub struct Auth {
    pub tenant_id: String,
    pub clients: Vec<ClientApp>,
    /// Token polls answered `authorization_pending` before a device code succeeds.
    pub device_pending_polls: u32,
    tokens: Mutex<HashMap<String, Issued>>,
    devices: Mutex<HashMap<String, DeviceFlow>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("tenant_id", &self.tenant_id)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

/// How long an access token lives.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

impl Auth {
    pub fn new(tenant_id: String, clients: Vec<ClientApp>, device_pending_polls: u32) -> Auth {
        Auth {
            tenant_id,
            clients,
            device_pending_polls,
            tokens: Mutex::default(),
            devices: Mutex::default(),
        }
    }

    fn client(&self, id: &str) -> Option<&ClientApp> {
        self.clients
            .iter()
            .find(|c| c.client_id.eq_ignore_ascii_case(id))
    }

    /// Issue a token for a client (also used by tests that skip the token endpoint).
    pub fn issue(&self, client: &ClientApp) -> String {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = chrono::Utc::now().timestamp();
        let header = json!({"typ":"JWT","alg":"none","x5t":"twin"});
        let claims = json!({
            "aud": "https://graph.microsoft.com",
            "iss": format!("https://sts.windows.net/{}/", self.tenant_id),
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME.as_secs() as i64,
            "appid": client.client_id, "app_displayname": client.display_name,
            "roles": client.roles, "tid": self.tenant_id, "uti": uuid::Uuid::new_v4().simple().to_string(),
        });
        let sig: [u8; 32] = rand::random();
        let token = format!(
            "{}.{}.{}",
            b64(&header),
            b64(&claims),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        );
        let caller = Caller {
            client_id: client.client_id.clone(),
            roles: client.roles.clone(),
        };
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                Issued {
                    caller,
                    expires: Instant::now() + TOKEN_LIFETIME,
                },
            );
        token
    }

    /// Every access token issued so far (tests scan a run's output for them).
    pub fn issued(&self) -> Vec<crate::secret::Secret> {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .map(|t| crate::secret::Secret::new(t.as_str()))
            .collect()
    }

    /// Check `Authorization: Bearer …`; Err is (message) for a 401 InvalidAuthenticationToken.
    pub fn check_bearer(&self, headers: &HeaderMap) -> Result<Caller, &'static str> {
        let raw = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let token = match raw.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ if raw.is_empty() => return Err("Access token is empty."),
            _ => return Err("Access token validation failure. Invalid audience."),
        };
        if token.is_empty() {
            return Err("Access token is empty.");
        }
        if !token.contains('.') {
            return Err("IDX14100: JWT is not well formed, there are no dots (.).");
        }
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match tokens.get(token) {
            Some(i) if i.expires > Instant::now() => Ok(i.caller.clone()),
            Some(_) => Err("Lifetime validation failed, the token is expired."),
            None => Err("Access token validation failure. Invalid audience."),
        }
    }

    fn tenant_ok(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || tenant.eq_ignore_ascii_case("organizations")
            || tenant.eq_ignore_ascii_case("common")
    }

    /// `POST /{tenant}/oauth2/v2.0/token` (form-encoded).
    pub fn token_endpoint(&self, tenant: &str, form: &HashMap<String, String>) -> Response {
        if !self.tenant_ok(tenant) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                &format!(
                    "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            );
        }
        let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
        let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
        match grant {
            "client_credentials" => {
                let Some(client) = self.client(client_id) else {
                    return unknown_client(client_id);
                };
                let scope = form.get("scope").map(String::as_str).unwrap_or("");
                if !scope.trim().ends_with("/.default") || scope.trim().contains(' ') {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        1002012,
                        &format!(
                            "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                        ),
                    );
                }
                let secret = form.get("client_secret").map(String::as_str).unwrap_or("");
                if secret.is_empty() {
                    return oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        7000216,
                        "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
                    );
                }
                if secret != client.client_secret {
                    return oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        7000215,
                        &format!(
                            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                            client.client_id
                        ),
                    );
                }
                token_ok(self.issue(client), None)
            }
            "urn:ietf:params:oauth:grant-type:device_code" => {
                let code = form.get("device_code").map(String::as_str).unwrap_or("");
                let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
                let Some(flow) = devices.get_mut(code) else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "bad_verification_code",
                        70019,
                        "AADSTS70019: Verification code is not valid.",
                    );
                };
                if flow.expires <= Instant::now() {
                    devices.remove(code);
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "expired_token",
                        70020,
                        "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
                    );
                }
                if !flow.client_id.eq_ignore_ascii_case(client_id) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        70000,
                        "AADSTS70000: The provided value for the 'device_code' is not valid for this client.",
                    );
                }
                if flow.polls_left > 0 {
                    flow.polls_left -= 1;
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "authorization_pending",
                        70016,
                        "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                    );
                }
                devices.remove(code);
                drop(devices);
                let Some(client) = self.client(client_id) else {
                    return unknown_client(client_id);
                };
                let refresh: [u8; 24] = rand::random();
                token_ok(
                    self.issue(client),
                    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(refresh)),
                )
            }
            "" => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
            ),
            other => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("AADSTS70003: The app requested an unsupported grant type '{other}'."),
            ),
        }
    }

    /// `POST /{tenant}/oauth2/v2.0/devicecode`.
    pub fn devicecode_endpoint(&self, tenant: &str, form: &HashMap<String, String>) -> Response {
        if !self.tenant_ok(tenant) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                &format!("AADSTS90002: Tenant '{tenant}' not found."),
            );
        }
        let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
        if self.client(client_id).is_none() {
            return unknown_client(client_id);
        }
        let device_code: [u8; 32] = rand::random();
        let device_code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(device_code);
        let letters: String = (0..9)
            .map(|_| (b'A' + rand::random_range(0..26u8)) as char)
            .collect();
        self.devices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                device_code.clone(),
                DeviceFlow {
                    client_id: client_id.to_string(),
                    polls_left: self.device_pending_polls,
                    expires: Instant::now() + Duration::from_secs(900),
                },
            );
        let body = json!({
            "device_code": device_code,
            "user_code": letters,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": 1,
            "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {letters} to authenticate."),
        });
        (StatusCode::OK, axum::Json(body)).into_response()
    }
}

fn unknown_client(client_id: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "AADSTS700016: Application with identifier '{client_id}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant."
        ),
    )
}

fn token_ok(access: String, refresh: Option<String>) -> Response {
    let mut body = json!({"token_type":"Bearer","expires_in":TOKEN_LIFETIME.as_secs(),"ext_expires_in":TOKEN_LIFETIME.as_secs(),"access_token":access});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
        body["scope"] = json!("https://graph.microsoft.com/.default");
    }
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store, no-cache"),
    );
    resp
}

/// The Microsoft identity platform's OAuth error body.
pub fn oauth_error(status: StatusCode, error: &str, code: u64, description: &str) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": error,
        "error_description": format!("{description} Trace ID: {trace} Correlation ID: {} Timestamp: {}", uuid::Uuid::new_v4(), chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [code],
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": uuid::Uuid::new_v4().to_string(),
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, axum::Json(body)).into_response()
}
