//! `POST /$batch`: up to 20 requests, each dispatched in-process through the
//! same Graph router (so each is authenticated, permission-checked and
//! throttled on its own), answered in one `{"responses":[…]}` body.
//! `dependsOn` runs requests in order and answers 424 when a dependency failed.
//! The answers come back in a seeded shuffled order (Graph: "responses may
//! be returned in any order"), so nothing can pair them by position. Sync
//! endpoints work inside a batch here; whether they do on Graph is not
//! documented, so clients should not rely on it.

use super::{Call, GErr, GResult, ok};
use axum::body::Body;
use axum::http::{HeaderValue, Request};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tower::ServiceExt as _;

/// Graph's batch size limit.
pub const MAX_REQUESTS: usize = 20;

/// Inner response headers worth passing back, as Graph spells them.
const KEEP_HEADERS: &[&str] = &[
    "Content-Type",
    "Location",
    "Retry-After",
    "x-ms-throttle-scope",
    "x-ms-throttle-information",
    "request-id",
];

pub fn batch(c: Call) -> BoxFuture<'static, GResult> {
    async move {
        let body = c.json()?;
        let Some(requests) = body.get("requests").and_then(Value::as_array).cloned() else {
            return Err(GErr::new(400, "BadRequest", "Invalid batch payload format: 'requests' is missing."));
        };
        if requests.is_empty() {
            return Err(GErr::new(400, "BadRequest", "Invalid batch payload format: 'requests' is empty."));
        }
        if requests.len() > MAX_REQUESTS {
            return Err(GErr::new(
                400,
                "BadRequest",
                format!("The batch request contains {} requests, more than the maximum of {MAX_REQUESTS}.", requests.len()),
            ));
        }
        let mut ids: Vec<String> = Vec::new();
        for r in &requests {
            let id = match r.get("id") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(GErr::new(400, "BadRequest", "Invalid batch payload format: each request needs an 'id'.")),
            };
            if ids.contains(&id) {
                return Err(GErr::new(400, "BadRequest", format!("Batch request contains duplicate request id '{id}'.")));
            }
            for dep in deps(r) {
                if !ids.contains(&dep) {
                    return Err(GErr::new(
                        400,
                        "BadRequest",
                        format!("Request '{id}' depends on '{dep}', which is not an earlier request of this batch."),
                    ));
                }
            }
            ids.push(id);
        }
        let router = c.st.router.get().cloned().ok_or_else(|| GErr::new(500, "InternalServerError", "The batch router is not ready."))?;
        let mut statuses: HashMap<String, u16> = HashMap::new();
        let mut responses = Vec::new();
        for (r, id) in requests.iter().zip(&ids) {
            let failed_dep = deps(r).into_iter().find(|d| statuses.get(d).is_none_or(|s| *s >= 400));
            let resp = match failed_dep {
                Some(_) => json!({"id": id, "status": 424, "headers": {"Content-Type": "application/json"},
                    "body": {"error": {"code": "FailedDependency", "message": "Failed dependency"}}}),
                None => run_one(&c, &router, r, id).await,
            };
            statuses.insert(id.clone(), resp["status"].as_u64().unwrap_or(500) as u16);
            responses.push(resp);
        }
        // Graph may answer in any order: clients must pair answers by id.
        {
            use rand::SeedableRng as _;
            use rand::seq::SliceRandom as _;
            let mut rng = rand::rngs::StdRng::seed_from_u64(c.twin().lag.shuffle_seed());
            responses.shuffle(&mut rng);
        }
        ok(json!({"responses": responses}))
    }
    .boxed()
}

fn deps(r: &Value) -> Vec<String> {
    r.get("dependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect()
}

fn inner_error(id: &str, status: u16, code: &str, message: &str) -> Value {
    json!({"id": id, "status": status, "headers": {"Content-Type": "application/json"},
           "body": {"error": {"code": code, "message": message}}})
}

async fn run_one(c: &Call, router: &axum::Router, r: &Value, id: &str) -> Value {
    let method = r
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    let url = r.get("url").and_then(Value::as_str).unwrap_or("").trim();
    if method.is_empty() || url.is_empty() {
        return inner_error(
            id,
            400,
            "BadRequest",
            "Each request needs a method and a url.",
        );
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return inner_error(
            id,
            400,
            "BadRequest",
            "The url must be relative to the version root, e.g. /users.",
        );
    }
    let url = if url.starts_with('/') {
        url.to_string()
    } else {
        format!("/{url}")
    };
    if url.trim_start_matches('/').starts_with("$batch") {
        return inner_error(
            id,
            400,
            "BadRequest",
            "A batch cannot contain another batch.",
        );
    }
    let headers: Map<String, Value> = r
        .get("headers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let body = r.get("body").filter(|b| !b.is_null());
    if body.is_some()
        && !headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        return inner_error(
            id,
            400,
            "BadRequest",
            "Content-Type header must be specified when a body is present.",
        );
    }
    let mut builder = Request::builder().method(method.as_str()).uri(&url);
    for (k, v) in &headers {
        if let Some(s) = v.as_str() {
            builder = builder.header(k.as_str(), s);
        }
    }
    if let Some(auth) = c.headers.get(axum::http::header::AUTHORIZATION) {
        builder = builder.header(axum::http::header::AUTHORIZATION, auth.clone());
    }
    let req_body = match body {
        Some(Value::String(s)) => Body::from(s.clone()),
        Some(b) => Body::from(b.to_string()),
        None => Body::empty(),
    };
    let Ok(req) = builder.body(req_body) else {
        return inner_error(
            id,
            400,
            "BadRequest",
            "The request could not be built from its method, url and headers.",
        );
    };
    let started = std::time::Instant::now();
    let resp = match router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    if let Some(log) = &c.st.request_log {
        let (path, query) = url
            .split_once('?')
            .map(|(p, q)| (p, Some(q)))
            .unwrap_or((url.as_str(), None));
        log.record(
            &method,
            &format!("/v1.0{path}"),
            query,
            status,
            started.elapsed().as_millis(),
            Some("$batch"),
        );
    }
    let mut out_headers = Map::new();
    for name in KEEP_HEADERS {
        if let Some(v) = resp
            .headers()
            .get(*name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
        {
            out_headers.insert(name.to_string(), json!(v));
        }
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut out = json!({"id": id, "status": status, "headers": out_headers});
    if !bytes.is_empty() {
        out["body"] = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    }
    out
}
