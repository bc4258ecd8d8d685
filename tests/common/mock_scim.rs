//! A small in-process SCIM target (axum) that counts every request it sees:
//! used to prove that rejected files cause zero writes, and as the fast target
//! of the import benchmark. Users live in memory; `/Bulk` handles POSTs;
//! PATCH understands `replace` on the paths the importer sends.
#![allow(dead_code)]

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Store {
    pub users: Mutex<Vec<Value>>,
    pub names: Mutex<HashMap<String, usize>>,
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    pub next: AtomicUsize,
    pub bulk: bool,
    /// Answer every Nth write with 429 (Retry-After: 0); 0 = never.
    pub throttle_every: usize,
    /// Advertised /Bulk limits (0 = 1000 ops, 1 MiB).
    pub max_ops: usize,
    pub max_payload: usize,
    /// The most operations seen in one /Bulk request, and 429s sent.
    pub largest_bulk: AtomicUsize,
    pub throttled: AtomicUsize,
}

impl Store {
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    pub fn user_count(&self) -> usize {
        self.users.lock().unwrap().len()
    }
    fn insert(&self, mut u: Value) -> Result<Value, (StatusCode, Value)> {
        let name = u
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        if name.is_empty() {
            return Err((
                StatusCode::BAD_REQUEST,
                err(400, Some("invalidValue"), "userName is required"),
            ));
        }
        if name.starts_with("reject") {
            return Err((
                StatusCode::BAD_REQUEST,
                err(
                    400,
                    Some("invalidValue"),
                    "this mock refuses user names starting with reject",
                ),
            ));
        }
        let mut names = self.names.lock().unwrap();
        if names.contains_key(&name) {
            return Err((
                StatusCode::CONFLICT,
                err(409, Some("uniqueness"), "userName already exists"),
            ));
        }
        let id = format!("u{}", self.next.fetch_add(1, Ordering::SeqCst));
        u["id"] = json!(id);
        let mut users = self.users.lock().unwrap();
        names.insert(name, users.len());
        users.push(u.clone());
        Ok(u)
    }
}

fn err(status: u16, t: Option<&str>, detail: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": status.to_string(), "scimType": t, "detail": detail})
}

fn authed(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer mock-token")
}

type S = Arc<Store>;

/// Count a write; `Some(429)` when this one is to be throttled.
fn write_gate(s: &Store) -> Option<Response> {
    let n = s.writes.fetch_add(1, Ordering::SeqCst) + 1;
    if s.throttle_every > 0 && n.is_multiple_of(s.throttle_every) {
        s.throttled.fetch_add(1, Ordering::SeqCst);
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(err(429, None, "slow down")),
        )
            .into_response();
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
        return Some(r);
    }
    None
}

async fn spc(State(s): State<S>) -> Json<Value> {
    s.reads.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": s.bulk,
                 "maxOperations": if s.max_ops == 0 { 1000 } else { s.max_ops },
                 "maxPayloadSize": if s.max_payload == 0 { 1048576 } else { s.max_payload }},
        "filter": {"supported": true, "maxResults": 1000}
    }))
}

async fn list(
    State(s): State<S>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.reads.fetch_add(1, Ordering::SeqCst);
    if !authed(&h) {
        return (StatusCode::UNAUTHORIZED, Json(err(401, None, "bad token"))).into_response();
    }
    let start: usize = q
        .get("startIndex")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let count: usize = q
        .get("count")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .min(1000);
    let users = s.users.lock().unwrap();
    let page: Vec<Value> = users.iter().skip(start - 1).take(count).cloned().collect();
    Json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": users.len(), "startIndex": start, "itemsPerPage": page.len(), "Resources": page
    }))
    .into_response()
}

async fn groups(State(s): State<S>) -> Json<Value> {
    s.reads.fetch_add(1, Ordering::SeqCst);
    Json(
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": []}),
    )
}

async fn create(State(s): State<S>, h: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = write_gate(&s) {
        return r;
    }
    if !authed(&h) {
        return (StatusCode::UNAUTHORIZED, Json(err(401, None, "bad token"))).into_response();
    }
    match s.insert(body) {
        Ok(u) => (StatusCode::CREATED, Json(u)).into_response(),
        Err((st, e)) => (st, Json(e)).into_response(),
    }
}

fn set_path(u: &mut Value, path: &str, value: Value) {
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:";
    if let Some(a) = path.strip_prefix(ENT) {
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"][a] = value;
    } else if let Some((a, b)) = path.split_once('.') {
        u[a][b] = value;
    } else {
        u[path] = value;
    }
}

async fn patch(
    State(s): State<S>,
    h: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = write_gate(&s) {
        return r;
    }
    if !authed(&h) {
        return (StatusCode::UNAUTHORIZED, Json(err(401, None, "bad token"))).into_response();
    }
    let mut users = s.users.lock().unwrap();
    let Some(u) = users.iter_mut().find(|u| u["id"] == id.as_str()) else {
        return (StatusCode::NOT_FOUND, Json(err(404, None, "no such user"))).into_response();
    };
    for op in body["Operations"].as_array().into_iter().flatten() {
        if let Some(p) = op["path"].as_str() {
            set_path(u, p, op["value"].clone());
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn bulk_ops(State(s): State<S>, h: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = write_gate(&s) {
        return r;
    }
    let ops = body["Operations"].as_array().map(Vec::len).unwrap_or(0);
    s.largest_bulk.fetch_max(ops, Ordering::SeqCst);
    let limit = if s.max_ops == 0 { 1000 } else { s.max_ops };
    let too_big = s.max_payload > 0 && body.to_string().len() > s.max_payload;
    if ops > limit || too_big {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(err(413, Some("tooMany"), "too many operations")),
        )
            .into_response();
    }
    if !authed(&h) {
        return (StatusCode::UNAUTHORIZED, Json(err(401, None, "bad token"))).into_response();
    }
    let mut out = Vec::new();
    for op in body["Operations"].as_array().into_iter().flatten() {
        let bulk_id = op["bulkId"].clone();
        match s.insert(op["data"].clone()) {
            Ok(u) => out.push(json!({"method": "POST", "bulkId": bulk_id, "status": "201", "location": format!("/Users/{}", u["id"].as_str().unwrap_or("")), "response": u})),
            Err((st, e)) => out.push(json!({"method": "POST", "bulkId": bulk_id, "status": st.as_u16().to_string(), "response": e})),
        }
    }
    Json(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": out})).into_response()
}

/// A running mock on loopback; the runtime thread lives as long as the process.
pub struct Mock {
    pub base_url: String,
    pub token: String,
    pub store: Arc<Store>,
}

/// Start the mock on its own thread and runtime (usable from sync tests).
pub fn start(bulk: bool) -> Mock {
    start_with(Store {
        bulk,
        ..Default::default()
    })
}

/// Start a mock configured by `store` (throttling, Bulk limits).
pub fn start_with(store: Store) -> Mock {
    let store = Arc::new(store);
    let app = Router::new()
        .route("/v2/ServiceProviderConfig", get(spc))
        .route("/v2/Users", get(list).post(create))
        .route("/v2/Users/{id}", axum::routing::patch(patch))
        .route("/v2/Groups", get(groups))
        .route("/v2/Bulk", post(bulk_ops))
        .with_state(store.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    Mock {
        base_url: format!("http://127.0.0.1:{port}/v2"),
        token: "mock-token".into(),
        store,
    }
}
