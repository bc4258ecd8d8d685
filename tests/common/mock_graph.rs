//! A small mock of Microsoft Graph and the Entra token endpoint, for testing
//! the Graph client and snapshot capture: the shapes of
//! GRAPH-API.md (collections with absolute `@odata.nextLink`, Graph's error
//! body with `innerError.request-id`, OAuth errors, `$batch` with `dependsOn`
//! and inner statuses), plus scripted faults (429 + Retry-After, 403, 404
//! replication delay) that can target direct requests, inner batch requests, or both.
//!
//! Why it stays beside the twin: the twin is our model of Graph, and the Graph
//! client and snapshot tests need a second, independent one whose answers are
//! literals (ids, `via`, Retry-After values) rather than the twin's state
//! model, plus faults scripted per request ("the 2nd inner request matching X
//! answers 429 once", an OAuth error body, a token that expires in 1.2 s) that
//! the twin does not offer: the twin's own scripted faults
//! (`scimshift::twin::faults::Scripted`, used by tests/transport_idempotency.rs
//! and apply's resume tests) strike whole HTTP requests, not single requests
//! inside a `$batch`. Used by tests/graph_client.rs, tests/snapshot.rs and
//! tests/snapshot_bench.rs.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, Value);

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const CLIENT_SECRET: &str = "right-secret-value-42";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Any,
    Direct,
    Inner,
}

/// A scripted failure: the first `skip` matches pass, the next `times` fail.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<&'static str>,
    pub path_contains: String,
    pub status: u16,
    pub skip: usize,
    pub times: usize,
    pub retry_after: Option<String>,
    pub body: Value,
    pub scope: Scope,
}

impl Fault {
    pub fn new(path_contains: &str, status: u16, times: usize) -> Fault {
        Fault {
            method: None,
            path_contains: path_contains.into(),
            status,
            skip: 0,
            times,
            retry_after: None,
            body: graph_error_body(
                match status {
                    429 => "TooManyRequests",
                    403 => "Authorization_RequestDenied",
                    404 => "Request_ResourceNotFound",
                    _ => "BadRequest",
                },
                match status {
                    429 => "Too many requests.",
                    403 => "Insufficient privileges to complete the operation.",
                    404 => {
                        "Resource does not exist or one of its queried reference-property objects are not present."
                    }
                    _ => "Bad request.",
                },
            ),
            scope: Scope::Any,
        }
    }
    pub fn retry_after(mut self, s: &str) -> Self {
        self.retry_after = Some(s.into());
        self
    }
    pub fn scope(mut self, s: Scope) -> Self {
        self.scope = s;
        self
    }
    pub fn skip(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }
    pub fn body(mut self, b: Value) -> Self {
        self.body = b;
        self
    }
}

pub fn graph_error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "innerError": {"date": "2026-11-23T21:00:00", "request-id": "req-0001", "client-request-id": "creq-0001"}}})
}

/// The mock tenant. Groups carry `members` (object ids of users and groups).
#[derive(Debug, Default, Clone)]
pub struct Data {
    pub service_principals: Vec<Value>,
    /// sp id → jobs (each with `schema` inside, served separately).
    pub jobs: HashMap<String, Vec<Value>>,
    pub templates: HashMap<String, Vec<Value>>,
    pub secrets: HashMap<String, Vec<Value>>,
    pub assignments: Vec<Value>,
    pub groups: BTreeMap<String, Value>,
    pub users: BTreeMap<String, Value>,
}

pub struct Mock {
    pub data: Mutex<Data>,
    pub log: Mutex<Vec<String>>,
    pub faults: Mutex<Vec<Fault>>,
    tokens: Mutex<HashMap<String, Instant>>,
    pub token_lifetime: Mutex<u64>,
    /// Errors the device-code token poll answers before success.
    pub device_script: Mutex<VecDeque<&'static str>>,
    pub base: Mutex<String>,
    /// Host used in nextLinks (default: the mock's own).
    pub next_link_base: Mutex<Option<String>>,
    /// The registered certificate: (DER RSAPublicKey, x5t#S256).
    pub certificate: Mutex<Option<(Vec<u8>, String)>>,
    counter: Mutex<u64>,
}

impl Mock {
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
    pub fn count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }
    pub fn add_fault(&self, f: Fault) {
        self.faults.lock().unwrap().push(f);
    }
    /// Forget every issued token (a revocation): the next call with one gets 401.
    pub fn revoke_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }
    pub fn token_requests(&self) -> usize {
        self.count("POST /") - self.count("POST /v1.0")
    }
    fn issue(&self) -> String {
        let mut c = self.counter.lock().unwrap();
        *c += 1;
        let t = format!(
            "header.{}.sig{c}",
            base64url(&json!({"tid": TENANT, "n": *c}).to_string())
        );
        let life = *self.token_lifetime.lock().unwrap();
        self.tokens
            .lock()
            .unwrap()
            .insert(t.clone(), Instant::now() + Duration::from_secs(life));
        t
    }
}

fn base64url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// Start the mock on a free loopback port. Returns (state, base URL `http://127.0.0.1:P`).
pub async fn start(data: Data) -> (Arc<Mock>, String) {
    let mock = Arc::new(Mock {
        data: Mutex::new(data),
        log: Mutex::new(Vec::new()),
        faults: Mutex::new(Vec::new()),
        tokens: Mutex::new(HashMap::new()),
        token_lifetime: Mutex::new(3600),
        device_script: Mutex::new(VecDeque::new()),
        base: Mutex::new(String::new()),
        next_link_base: Mutex::new(None),
        certificate: Mutex::new(None),
        counter: Mutex::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *mock.base.lock().unwrap() = base.clone();
    let app = axum::Router::new()
        .fallback(handler)
        .with_state(mock.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (mock, base)
}

async fn handler(
    State(m): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    m.log.lock().unwrap().push(format!(
        "{method} {path}{}{query}",
        if query.is_empty() { "" } else { "?" }
    ));
    if let Some(rest) = path.strip_suffix("/oauth2/v2.0/token") {
        return token(&m, rest, &body);
    }
    if path.ends_with("/oauth2/v2.0/devicecode") {
        return Json(200, json!({"device_code": "dev-code-1", "user_code": "ABCD-EFGH", "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 30, "interval": 0, "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate."}), vec![]).into_response();
    }
    let Some(rel) = path.strip_prefix("/v1.0") else {
        return Json(404, json!({"message": "not a Graph path"}), vec![]).into_response();
    };
    // Auth.
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let valid = token == "static-token"
        || m.tokens
            .lock()
            .unwrap()
            .get(token)
            .is_some_and(|exp| Instant::now() < *exp);
    if !valid {
        return Json(
            401,
            graph_error_body(
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ),
            vec![],
        )
        .into_response();
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let (status, hdrs, out) = if rel == "/$batch" && method == Method::POST {
        batch(&m, &body)
    } else {
        route(&m, method.as_str(), rel, &query, &body, false)
    };
    Json(status, out, hdrs).into_response()
}

struct Json(u16, Value, Vec<(String, String)>);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        let mut r = if self.1.is_null() {
            StatusCode::from_u16(self.0).unwrap().into_response()
        } else {
            (
                StatusCode::from_u16(self.0).unwrap(),
                [("content-type", "application/json")],
                self.1.to_string(),
            )
                .into_response()
        };
        for (k, v) in self.2 {
            r.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        r.headers_mut()
            .insert("request-id", "hdr-req-id".parse().unwrap());
        r
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn token(m: &Mock, tenant_path: &str, body: &[u8]) -> Response {
    let f = form(body);
    let tenant = tenant_path.trim_start_matches('/');
    if tenant != TENANT && tenant != "organizations" {
        return Json(400, json!({"error": "invalid_request", "error_description": format!("AADSTS90002: Tenant '{tenant}' not found."), "error_codes": [90002]}), vec![]).into_response();
    }
    match f.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
                return Json(400, json!({"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory.", "error_codes": [700016]}), vec![]).into_response();
            }
            if let Some(assertion) = f.get("client_assertion") {
                let expected_aud = format!("{}/{tenant}/oauth2/v2.0/token", m.base.lock().unwrap());
                if f.get("client_assertion_type").map(String::as_str)
                    != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                    || !assertion_ok(m, assertion, &expected_aud)
                {
                    return Json(401, json!({"error": "invalid_client", "error_description": "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.", "error_codes": [700027]}), vec![]).into_response();
                }
                let life = *m.token_lifetime.lock().unwrap();
                return Json(
                    200,
                    json!({"token_type": "Bearer", "expires_in": life, "access_token": m.issue()}),
                    vec![],
                )
                .into_response();
            }
            if f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                return Json(401, json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", "error_codes": [7000215], "trace_id": "trace-1"}), vec![]).into_response();
            }
            let life = *m.token_lifetime.lock().unwrap();
            Json(
                200,
                json!({"token_type": "Bearer", "expires_in": life, "access_token": m.issue()}),
                vec![],
            )
            .into_response()
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let next = m.device_script.lock().unwrap().pop_front();
            match next {
                Some(err) => Json(
                    400,
                    json!({"error": err, "error_description": format!("AADSTS70016: {err}")}),
                    vec![],
                )
                .into_response(),
                None => {
                    let life = *m.token_lifetime.lock().unwrap();
                    Json(200, json!({"token_type": "Bearer", "expires_in": life, "access_token": m.issue(), "refresh_token": "refresh-1"}), vec![]).into_response()
                }
            }
        }
        Some("refresh_token") => {
            let life = *m.token_lifetime.lock().unwrap();
            Json(
                200,
                json!({"token_type": "Bearer", "expires_in": life, "access_token": m.issue()}),
                vec![],
            )
            .into_response()
        }
        _ => Json(400, json!({"error": "unsupported_grant_type"}), vec![]).into_response(),
    }
}

/// Check an RS256 client assertion against the registered certificate.
fn assertion_ok(m: &Mock, assertion: &str, aud: &str) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some((public_key, x5t)) = m.certificate.lock().unwrap().clone() else {
        return false;
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let (Ok(h), Ok(c), Ok(sig)) = (
        b64.decode(parts[0]),
        b64.decode(parts[1]),
        b64.decode(parts[2]),
    ) else {
        return false;
    };
    let (Ok(h), Ok(c)) = (
        serde_json::from_slice::<Value>(&h),
        serde_json::from_slice::<Value>(&c),
    ) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = format!("{}.{}", parts[0], parts[1]);
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    );
    h["alg"] == "RS256"
        && h["x5t#S256"] == x5t.as_str()
        && c["aud"] == aud
        && c["iss"] == CLIENT_ID
        && c["sub"] == CLIENT_ID
        && c["exp"].as_u64().is_some_and(|e| e > now)
        && key.verify(signed.as_bytes(), &sig).is_ok()
}

fn fault_for(m: &Mock, method: &str, rel: &str, inner: bool) -> Option<Answer> {
    let mut faults = m.faults.lock().unwrap();
    for f in faults.iter_mut() {
        let scope_ok = match f.scope {
            Scope::Any => true,
            Scope::Direct => !inner,
            Scope::Inner => inner,
        };
        if !scope_ok
            || !rel.contains(&f.path_contains)
            || f.method.is_some_and(|x| x != method)
            || f.times == 0
        {
            continue;
        }
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        f.times -= 1;
        let hdrs = f
            .retry_after
            .iter()
            .map(|r| ("Retry-After".to_string(), r.clone()))
            .collect();
        return Some((f.status, hdrs, f.body.clone()));
    }
    None
}

fn batch(m: &Mock, body: &Value) -> Answer {
    let reqs = body
        .get("requests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if reqs.len() > 20 {
        return (
            400,
            vec![],
            graph_error_body(
                "BadRequest",
                "Too many requests in the batch: the limit is 20.",
            ),
        );
    }
    let mut ids = std::collections::HashSet::new();
    if !reqs
        .iter()
        .all(|r| ids.insert(r["id"].as_str().unwrap_or("").to_string()))
    {
        return (
            400,
            vec![],
            graph_error_body("BadRequest", "Batch request ids must be unique."),
        );
    }
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut out = Vec::new();
    for r in &reqs {
        let id = r["id"].as_str().unwrap_or("").to_string();
        let deps: Vec<String> = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let (status, hdrs, b) = if deps
            .iter()
            .any(|d| !statuses.get(d).is_some_and(|s| (200..300).contains(s)))
        {
            (
                424,
                vec![],
                graph_error_body("FailedDependency", "A dependent request failed."),
            )
        } else {
            let url = r["url"].as_str().unwrap_or("");
            let (p, q) = url.split_once('?').unwrap_or((url, ""));
            m.log.lock().unwrap().push(format!(
                "BATCH {} {p}{}{q}",
                r["method"].as_str().unwrap_or(""),
                if q.is_empty() { "" } else { "?" }
            ));
            route(
                m,
                r["method"].as_str().unwrap_or("GET"),
                p,
                q,
                r.get("body").unwrap_or(&Value::Null),
                true,
            )
        };
        statuses.insert(id.clone(), status);
        let headers: serde_json::Map<String, Value> = hdrs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        out.push(json!({"id": id, "status": status, "headers": headers, "body": b}));
    }
    out.reverse(); // answers come in any order
    (200, vec![], json!({"responses": out}))
}

fn not_found(what: &str) -> Answer {
    (
        404,
        vec![],
        graph_error_body(
            "Request_ResourceNotFound",
            &format!(
                "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
            ),
        ),
    )
}

fn page(m: &Mock, rel: &str, query: &str, items: Vec<Value>) -> Answer {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let top: usize = get("$top").and_then(|t| t.parse().ok()).unwrap_or(100);
    if top == 0 || top > 999 {
        return (
            400,
            vec![],
            graph_error_body(
                "Request_BadRequest",
                &format!(
                    "Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."
                ),
            ),
        );
    }
    let skip: usize = get("$skiptoken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let mut out = json!({"@odata.context": format!("{}/v1.0/$metadata", m.base.lock().unwrap()), "value": slice});
    if skip + top < total {
        let kept: Vec<String> = q
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect();
        let base = m
            .next_link_base
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| m.base.lock().unwrap().clone());
        out["@odata.nextLink"] = json!(format!(
            "{base}/v1.0{rel}?{}&$skiptoken={}",
            kept.join("&"),
            skip + top
        ));
    }
    (200, vec![], out)
}

fn quoted(s: &str) -> String {
    s.trim()
        .trim_start_matches('\'')
        .trim_end_matches('\'')
        .replace("''", "'")
}

fn with_type(v: &Value, t: &str) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("members");
        o.insert("@odata.type".into(), json!(format!("#microsoft.graph.{t}")));
    }
    v
}

fn route(m: &Mock, method: &str, rel: &str, query: &str, body: &Value, inner: bool) -> Answer {
    if let Some(f) = fault_for(m, method, rel, inner) {
        return f;
    }
    let mut d = m.data.lock().unwrap();
    let parts: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    match (method, parts.as_slice()) {
        ("GET", ["servicePrincipals"]) => {
            let filter = q.get("$filter").cloned().unwrap_or_default();
            let items: Vec<Value> = d
                .service_principals
                .iter()
                .filter(|sp| {
                    if let Some(v) = filter.strip_prefix("displayName eq ") {
                        sp["displayName"] == quoted(v).as_str()
                    } else if let Some(v) = filter.strip_prefix("appId eq ") {
                        sp["appId"] == quoted(v).as_str()
                    } else if let Some(v) = filter
                        .strip_prefix("startswith(displayName,")
                        .and_then(|v| v.strip_suffix(')'))
                    {
                        sp["displayName"]
                            .as_str()
                            .unwrap_or("")
                            .to_lowercase()
                            .starts_with(&quoted(v).to_lowercase())
                    } else {
                        filter.is_empty()
                    }
                })
                .cloned()
                .collect();
            drop(d);
            page(m, rel, query, items)
        }
        ("GET", ["servicePrincipals", id]) => {
            match d.service_principals.iter().find(|sp| sp["id"] == *id) {
                Some(sp) => (200, vec![], sp.clone()),
                None => not_found(id),
            }
        }
        ("GET", ["servicePrincipals", sp, "synchronization", "jobs"]) => {
            let jobs: Vec<Value> = d
                .jobs
                .get(*sp)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut j| {
                    j.as_object_mut().unwrap().remove("schema");
                    j
                })
                .collect();
            (200, vec![], json!({"value": jobs}))
        }
        ("GET", ["servicePrincipals", sp, "synchronization", "jobs", job]) => {
            match d
                .jobs
                .get(*sp)
                .and_then(|js| js.iter().find(|j| j["id"] == *job))
            {
                Some(j) => {
                    let mut j = j.clone();
                    j.as_object_mut().unwrap().remove("schema");
                    (200, vec![], j)
                }
                None => not_found(job),
            }
        }
        (
            "GET",
            [
                "servicePrincipals",
                sp,
                "synchronization",
                "jobs",
                job,
                "schema",
            ],
        ) => {
            match d
                .jobs
                .get(*sp)
                .and_then(|js| js.iter().find(|j| j["id"] == *job))
            {
                Some(j) => (200, vec![], j["schema"].clone()),
                None => not_found(job),
            }
        }
        ("GET", ["servicePrincipals", sp, "synchronization", "templates"]) => (
            200,
            vec![],
            json!({"value": d.templates.get(*sp).cloned().unwrap_or_default()}),
        ),
        ("GET", ["servicePrincipals", sp, "synchronization", "secrets"]) => (
            200,
            vec![],
            json!({"value": d.secrets.get(*sp).cloned().unwrap_or_default()}),
        ),
        ("GET", ["servicePrincipals", sp, "appRoleAssignedTo"]) => {
            let items: Vec<Value> = d
                .assignments
                .iter()
                .filter(|a| a["resourceId"] == *sp)
                .cloned()
                .collect();
            drop(d);
            page(m, rel, query, items)
        }
        ("POST", ["servicePrincipals", sp, "appRoleAssignedTo"]) => {
            let a = json!({"id": format!("asg-{}", d.assignments.len()), "resourceId": sp, "principalId": body["principalId"], "appRoleId": body["appRoleId"], "principalType": "User"});
            d.assignments.push(a.clone());
            (201, vec![], a)
        }
        // `$filter=id in ('…', …)` (at most 15 values, as Graph allows), or every group.
        ("GET", ["groups"]) => {
            let filter = q.get("$filter").cloned().unwrap_or_default();
            let wanted: Option<Vec<String>> = filter
                .strip_prefix("id in (")
                .and_then(|v| v.strip_suffix(')'))
                .map(|list| list.split(',').map(quoted).collect());
            if wanted.as_ref().is_some_and(|w| w.len() > 15) {
                return (
                    400,
                    vec![],
                    json!({"error": {"code": "Request_UnsupportedQuery", "message": "Too many child clauses specified in search filter expression containing 'OR' operators. Max allowed: 15."}}),
                );
            }
            let items: Vec<Value> = d
                .groups
                .values()
                .filter(|g| {
                    wanted
                        .as_ref()
                        .is_none_or(|w| w.iter().any(|id| g["id"] == id.as_str()))
                })
                .map(|g| {
                    let mut g = g.clone();
                    g.as_object_mut().unwrap().remove("members");
                    g
                })
                .collect();
            drop(d);
            page(m, rel, query, items)
        }
        ("GET", ["groups", id]) => match d.groups.get(*id) {
            Some(g) => (200, vec![], with_type(g, "group")),
            None => not_found(id),
        },
        ("GET", ["groups", id, "members"]) => {
            let Some(g) = d.groups.get(*id) else {
                return not_found(id);
            };
            let items: Vec<Value> = g["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|mid| {
                    let mid = mid.as_str()?;
                    d.users
                        .get(mid)
                        .map(|u| with_type(u, "user"))
                        .or_else(|| d.groups.get(mid).map(|g| with_type(g, "group")))
                })
                .collect();
            drop(d);
            page(m, rel, query, items)
        }
        ("GET", ["groups", id, "transitiveMembers"]) => {
            if !d.groups.contains_key(*id) {
                return not_found(id);
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut stack = vec![id.to_string()];
            let mut items = Vec::new();
            while let Some(g) = stack.pop() {
                for mid in d.groups[&g]["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !seen.insert(mid.to_string()) {
                        continue;
                    }
                    if let Some(u) = d.users.get(mid) {
                        items.push(with_type(u, "user"));
                    } else if let Some(gg) = d.groups.get(mid) {
                        items.push(with_type(gg, "group"));
                        stack.push(mid.to_string());
                    }
                }
            }
            drop(d);
            page(m, rel, query, items)
        }
        ("POST", ["groups", id, "members", "$ref"]) => {
            let member = body["@odata.id"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            let Some(g) = d.groups.get_mut(*id) else {
                return not_found(id);
            };
            let members = g["members"].as_array_mut().unwrap();
            if members.iter().any(|x| x == &json!(member)) {
                return (
                    400,
                    vec![],
                    graph_error_body(
                        "Request_BadRequest",
                        "One or more added object references already exist for the following modified properties: 'members'.",
                    ),
                );
            }
            members.push(json!(member));
            (204, vec![], Value::Null)
        }
        ("GET", ["users"]) => {
            let items: Vec<Value> = d.users.values().map(|u| with_type(u, "user")).collect();
            drop(d);
            page(m, rel, query, items)
        }
        ("POST", ["users"]) => {
            let Some(upn) = body.get("userPrincipalName").and_then(Value::as_str) else {
                return (
                    400,
                    vec![],
                    graph_error_body(
                        "Request_BadRequest",
                        "Property 'userPrincipalName' is required.",
                    ),
                );
            };
            let id = format!("new-user-{}", d.users.len());
            let u = json!({"id": id, "userPrincipalName": upn, "displayName": body["displayName"]});
            d.users.insert(id, u.clone());
            (201, vec![], u)
        }
        ("GET", ["users", id]) => match d.users.get(*id) {
            Some(u) => (200, vec![], with_type(u, "user")),
            None => not_found(id),
        },
        _ => (
            400,
            vec![],
            graph_error_body(
                "BadRequest",
                &format!("Unsupported in the mock: {method} {rel}"),
            ),
        ),
    }
}

// ---- a Coda-like seed -----------------------------------------------------------------------

pub const CODA_SP: &str = "c0da0000-0000-0000-0000-000000000001";
pub const CODA_APP_ID: &str = "c0da0000-0000-0000-0000-0000000000a1";
pub const CODA_JOB: &str =
    "coda.0f0e0d0c0b0a09080706050403020100.c0da0000-0000-0000-0000-000000000001";
pub const SECRET_TOKEN_VALUE: &str = "coda-scim-token-THAT-MUST-NOT-LEAK";
pub const G_SALES: &str = "90000000-0000-0000-0000-00000000000a";
pub const G_M365: &str = "90000000-0000-0000-0000-00000000000b";
pub const G_NESTED: &str = "90000000-0000-0000-0000-00000000000c";
pub const ROLE_USER: &str = "70000000-0000-0000-0000-000000000001";

pub fn user_id(i: usize) -> String {
    format!("10000000-0000-0000-0000-{i:012}")
}

pub fn coda_schema() -> Value {
    json!({
        "id": "coda", "version": "Date:2026-01-01",
        "directories": [{"id": "aad", "name": "Azure Active Directory", "objects": []}, {"id": "coda", "name": "Coda", "objects": []}],
        "synchronizationRules": [{
            "id": "6c4f3f2e-0000-4000-8000-000000000001", "name": "USER_OUTBOUND_USER", "editable": true, "priority": 1,
            "sourceDirectoryName": "Azure Active Directory", "targetDirectoryName": "Coda",
            "objectMappings": [{
                "name": "Provision Azure Active Directory Users", "enabled": true, "flowTypes": "Add, Update, Delete",
                "sourceObjectName": "User", "targetObjectName": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "scope": {"groups": [{"name": "not contractors", "clauses": [{"sourceOperandName": "department", "operatorName": "NOT EQUALS", "targetOperand": {"values": ["Contractors"]}}]}]},
                "attributeMappings": [
                    {"targetAttributeName": "userName", "matchingPriority": 1, "flowType": "Always", "source": {"type": "Attribute", "name": "mail", "expression": "[mail]", "parameters": []}},
                    {"targetAttributeName": "active", "matchingPriority": 0, "flowType": "Always", "source": {"type": "Function", "name": "Not", "expression": "Not([IsSoftDeleted])", "parameters": [{"key": "source", "value": {"type": "Attribute", "name": "IsSoftDeleted", "expression": "[IsSoftDeleted]", "parameters": []}}]}},
                    {"targetAttributeName": "name.givenName", "matchingPriority": 0, "flowType": "Always", "source": {"type": "Attribute", "name": "givenName", "expression": "[givenName]", "parameters": []}},
                    {"targetAttributeName": "name.familyName", "matchingPriority": 0, "flowType": "Always", "source": {"type": "Attribute", "name": "surname", "expression": "[surname]", "parameters": []}}
                ]
            }]
        }]
    })
}

/// A Coda gallery app with 2 direct users, a security group (with a nested
/// group) and a Microsoft 365 group; two other apps share the name "Dup".
pub fn coda_seed(users: usize) -> Data {
    let users = users.max(20);
    let mut d = Data::default();
    for i in 0..users {
        let id = user_id(i);
        d.users.insert(
            id.clone(),
            json!({"id": id, "userPrincipalName": format!("user{i}@contoso.com"), "mail": format!("user{i}@contoso.com"), "displayName": format!("User {i}"),
                   "givenName": "User", "surname": format!("N{i}"), "department": if i % 5 == 0 { "Contractors" } else { "Sales" }, "accountEnabled": true, "userType": "Member"}),
        );
    }
    let ids: Vec<String> = (0..users).map(user_id).collect();
    d.groups.insert(G_NESTED.into(), json!({"id": G_NESTED, "displayName": "Sales EMEA", "groupTypes": [], "securityEnabled": true, "mailEnabled": false, "members": ids[10..14]}));
    let mut sales: Vec<String> = ids[2..8].to_vec();
    sales.push(G_NESTED.into());
    d.groups.insert(G_SALES.into(), json!({"id": G_SALES, "displayName": "Sales", "groupTypes": [], "securityEnabled": true, "mailEnabled": false, "members": sales}));
    d.groups.insert(G_M365.into(), json!({"id": G_M365, "displayName": "All Company", "groupTypes": ["Unified"], "securityEnabled": false, "mailEnabled": true, "members": ids[6..10]}));
    d.service_principals.push(json!({"id": CODA_SP, "appId": CODA_APP_ID, "displayName": "Coda", "applicationTemplateId": "0f0e0d0c-0000-0000-0000-00000000c0da",
        "appRoles": [{"id": ROLE_USER, "displayName": "User", "value": "User", "allowedMemberTypes": ["User"], "isEnabled": true}, {"id": "70000000-0000-0000-0000-000000000000", "displayName": "msiam_access", "value": null, "allowedMemberTypes": ["User"], "isEnabled": true}],
        "appRoleAssignmentRequired": true, "tags": ["WindowsAzureActiveDirectoryIntegratedApp"], "accountEnabled": true, "notificationEmailAddresses": []}));
    for (i, name) in ["Dup", "Dup"].iter().enumerate() {
        d.service_principals.push(json!({"id": format!("d0000000-0000-0000-0000-00000000000{i}"), "appId": format!("d0000000-0000-0000-0000-0000000000a{i}"), "displayName": name, "appRoles": []}));
    }
    d.jobs.insert(CODA_SP.into(), vec![json!({"id": CODA_JOB, "templateId": "coda", "schedule": {"expiration": null, "interval": "PT40M", "state": "Active"},
        "status": {"code": "Active", "countSuccessiveCompleteFailures": 0, "lastExecution": {"state": "Succeeded"}}, "synchronizationJobSettings": [{"name": "QuarantineTooManyDeletesThreshold", "value": "500"}], "schema": coda_schema()})]);
    d.templates.insert(CODA_SP.into(), vec![json!({"id": "coda", "applicationId": CODA_APP_ID, "factoryTag": "coda", "default": true, "metadata": [], "schema": coda_schema()})]);
    d.secrets.insert(
        CODA_SP.into(),
        vec![
            json!({"key": "BaseAddress", "value": "https://coda.io/scim/v2"}),
            json!({"key": "SecretToken", "value": SECRET_TOKEN_VALUE}),
            json!({"key": "SyncAll", "value": "false"}),
            json!({"key": "SyncNotificationSettings", "value": "{\"Enabled\":false,\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":500}"}),
        ],
    );
    let asg = |n: usize, principal: &str, ty: &str, name: &str| json!({"id": format!("asg-{n:03}"), "appRoleId": ROLE_USER, "principalId": principal, "principalType": ty, "principalDisplayName": name, "resourceId": CODA_SP, "resourceDisplayName": "Coda"});
    d.assignments.push(asg(1, &ids[0], "User", "User 0"));
    d.assignments.push(asg(2, &ids[1], "User", "User 1"));
    d.assignments.push(asg(3, &ids[2], "User", "User 2")); // also in Sales
    d.assignments.push(asg(4, G_SALES, "Group", "Sales"));
    d.assignments.push(asg(5, G_M365, "Group", "All Company"));
    d
}

/// A large tenant like the twin's `synthetic:users=N,groups=M`: every group
/// assigned to Coda, users spread over the groups, 100 users assigned directly.
pub fn synthetic_seed(users: usize, groups: usize) -> Data {
    let mut d = coda_seed(20);
    d.users.clear();
    d.groups.clear();
    d.assignments.clear();
    for i in 0..users {
        let id = user_id(i);
        d.users.insert(
            id.clone(),
            json!({"id": id, "userPrincipalName": format!("user{i}@contoso.com"), "mail": format!("user{i}@contoso.com"), "mailNickname": format!("user{i}"),
                   "displayName": format!("User {i}"), "givenName": "User", "surname": format!("N{i}"), "department": "Sales", "jobTitle": "Engineer",
                   "employeeId": format!("E{i:06}"), "city": "Paris", "country": "FR", "accountEnabled": true, "userType": "Member"}),
        );
    }
    let per = users.div_ceil(groups.max(1));
    for g in 0..groups {
        let gid = format!("90000000-0000-0000-0001-{g:012}");
        let members: Vec<String> = (g * per..((g + 1) * per).min(users)).map(user_id).collect();
        d.groups.insert(gid.clone(), json!({"id": gid, "displayName": format!("Group {g}"), "groupTypes": [], "securityEnabled": true, "mailEnabled": false, "members": members}));
        d.assignments.push(json!({"id": format!("asg-g{g:06}"), "appRoleId": ROLE_USER, "principalId": gid, "principalType": "Group", "principalDisplayName": format!("Group {g}"), "resourceId": CODA_SP}));
    }
    for i in 0..100.min(users) {
        d.assignments.push(json!({"id": format!("asg-u{i:06}"), "appRoleId": ROLE_USER, "principalId": user_id(i), "principalType": "User", "principalDisplayName": format!("User {i}"), "resourceId": CODA_SP}));
    }
    d
}
