//! JSON batching (`POST /$batch`, GRAPH-API.md §2.4): up to 20 requests per
//! call, answers in any order, each inner request throttled on its own.
//!
//! [`GraphClient::batch`] splits any number of requests into batches of 20,
//! runs a few batches at a time, retries inner answers that
//! [`crate::net::is_retryable_status`] names (429/503 always, 502/504 only for
//! idempotent requests) after their own `Retry-After` (and the 424s that
//! depended on them), and hands back one
//! [`BatchResponse`] per request, in request order. It never hides an inner
//! failure: callers check each status (or use [`BatchResponse::into_result`]).

use super::client::GraphClient;
use super::error::GraphError;
use crate::error::{Error, Result};
use crate::net;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Graph's limit.
pub const MAX_BATCH: usize = 20;

/// One request inside a batch. `url` is relative to the version root (`/users/{id}`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    pub id: String,
    pub method: Method,
    pub url: String,
    pub body: Option<Value>,
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    pub fn new(
        id: impl Into<String>,
        method: Method,
        url: impl Into<String>,
        body: Option<Value>,
    ) -> Self {
        BatchRequest {
            id: id.into(),
            method,
            url: url.into(),
            body,
            depends_on: Vec::new(),
        }
    }
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, Method::GET, url, None)
    }
    pub fn post(id: impl Into<String>, url: impl Into<String>, body: Value) -> Self {
        Self::new(id, Method::POST, url, Some(body))
    }
    pub fn delete(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, Method::DELETE, url, None)
    }
    pub fn depends_on(mut self, ids: &[&str]) -> Self {
        self.depends_on = ids.iter().map(|s| s.to_string()).collect();
        self
    }

    fn to_json(&self) -> Value {
        let url = if self.url.starts_with('/') {
            self.url.clone()
        } else {
            format!("/{}", self.url)
        };
        let mut r = json!({ "id": self.id, "method": self.method.as_str(), "url": url });
        if let Some(b) = &self.body {
            r["body"] = b.clone();
            r["headers"] = json!({ "Content-Type": "application/json" });
        }
        if !self.depends_on.is_empty() {
            r["dependsOn"] = json!(self.depends_on);
        }
        r
    }
}

/// One inner answer.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    pub headers: Map<String, Value>,
    pub body: Value,
}

impl BatchResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    }

    /// The inner `Retry-After`, in seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("Retry-After")?
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(crate::net::duration_from_secs)
    }

    /// The body of a 2xx, else one sentence (Graph's code, request id, advice).
    pub fn into_result(self, request: &BatchRequest) -> Result<Value> {
        if self.is_success() {
            return Ok(self.body);
        }
        if self.status == 424 {
            return Err(Error::remote(format!(
                "{} {} was not run because a request it depends on ({}) failed (HTTP 424)",
                request.method,
                super::error::shown_path(&request.url),
                request.depends_on.join(", ")
            )));
        }
        Err(self.graph_error(request).into_error())
    }

    pub fn graph_error(&self, request: &BatchRequest) -> GraphError {
        GraphError::parse(
            self.status,
            request.method.as_str(),
            &request.url,
            &self.body,
            self.header("request-id").as_deref(),
        )
    }
}

impl GraphClient {
    /// Run any number of requests through `$batch`, 20 per call. One answer per
    /// request, in request order. Requests with `dependsOn` must fit in one batch.
    pub async fn batch(&self, requests: Vec<BatchRequest>) -> Result<Vec<BatchResponse>> {
        let mut out = Vec::with_capacity(requests.len());
        let mut stream = std::pin::pin!(self.batch_stream(requests)?);
        while let Some(chunk) = stream.next().await {
            out.extend(chunk?.into_iter().map(|(_, resp)| resp));
        }
        Ok(out)
    }

    /// Like [`GraphClient::batch`], but hands back each batch of up to 20
    /// (request, answer) pairs as soon as it is done, in request order, so a
    /// large read never holds every answer in memory at once.
    pub fn batch_stream(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<impl futures::Stream<Item = Result<Vec<(BatchRequest, BatchResponse)>>> + '_> {
        let mut ids = HashSet::new();
        for r in &requests {
            if !ids.insert(r.id.as_str()) {
                return Err(Error::internal(format!(
                    "batch request id `{}` is used twice",
                    r.id
                )));
            }
        }
        if requests.len() > MAX_BATCH && requests.iter().any(|r| !r.depends_on.is_empty()) {
            return Err(Error::internal(
                "batch requests with dependsOn must fit in one batch of 20",
            ));
        }
        Ok(self.batch_stream_of(futures::stream::iter(requests)))
    }

    /// [`GraphClient::batch_stream`] of requests that arrive as a stream
    /// (while a listing still pages): a `$batch` goes out as soon as 20 have
    /// arrived, or the stream has ended. The caller keeps ids unique and
    /// uses no `dependsOn`.
    pub fn batch_stream_of<'a>(
        &'a self,
        requests: impl futures::Stream<Item = BatchRequest> + 'a,
    ) -> impl futures::Stream<Item = Result<Vec<(BatchRequest, BatchResponse)>>> + 'a {
        requests
            .chunks(MAX_BATCH)
            .map(|c| self.run_one_batch(c))
            .buffered(self.concurrency)
    }

    /// One `$batch` call (≤ 20 requests) with inner retries.
    async fn run_one_batch(
        &self,
        chunk: Vec<BatchRequest>,
    ) -> Result<Vec<(BatchRequest, BatchResponse)>> {
        let mut done: HashMap<String, BatchResponse> = HashMap::new();
        let mut pending: Vec<&BatchRequest> = chunk.iter().collect();
        let mut attempt = 1u32;
        loop {
            let writes = pending.iter().filter(|r| r.method != Method::GET).count();
            let reads: u64 = pending
                .iter()
                .filter(|r| r.method == Method::GET)
                .map(|r| super::client::resource_units(&r.url))
                .sum();
            if reads > 0 {
                self.reads.acquire(reads).await;
            }
            let body =
                json!({ "requests": pending.iter().map(|r| r.to_json()).collect::<Vec<_>>() });
            // The `$batch` call may be repeated after a timeout only when every
            // request in it may (a batch of creates must not run twice).
            let idempotent = if pending
                .iter()
                .all(|r| net::Idempotent::by_method(&r.method) == net::Idempotent::Yes)
            {
                net::Idempotent::Yes
            } else {
                net::Idempotent::No
            };
            let reply = self
                .request_paced(
                    Method::POST,
                    "/$batch",
                    Some(&body),
                    writes,
                    &[],
                    idempotent,
                )
                .await?;
            let mut answer = self.check(&Method::POST, "/$batch", reply)?;
            let responses = match answer.get_mut("responses").map(Value::take) {
                Some(Value::Array(a)) => a,
                _ => return Err(Error::remote("Graph answered $batch without `responses`")),
            };
            let by_id: HashMap<&str, net::Idempotent> = pending
                .iter()
                .map(|r| (r.id.as_str(), net::Idempotent::by_method(&r.method)))
                .collect();
            let by_method: HashMap<&str, &Method> =
                pending.iter().map(|r| (r.id.as_str(), &r.method)).collect();
            let by_url: HashMap<&str, &str> = pending
                .iter()
                .map(|r| (r.id.as_str(), r.url.as_str()))
                .collect();
            let is_get = |id: &str| by_method.get(id).is_some_and(|m| **m == Method::GET);
            let mut got: HashMap<String, BatchResponse> = HashMap::new();
            for mut r in responses {
                let id = match r.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => continue,
                };
                let status = r
                    .get("status")
                    .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()))
                    .unwrap_or(0) as u16;
                let headers = match r.get_mut("headers").map(Value::take) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let body = r.get_mut("body").map(Value::take).unwrap_or(Value::Null);
                got.insert(
                    id.clone(),
                    BatchResponse {
                        id,
                        status,
                        headers,
                        body,
                    },
                );
            }
            // Which to send again: throttled ones, and 424s that waited on one of them.
            let throttled: HashSet<String> = got
                .values()
                .filter(|r| {
                    let idempotent = by_id.get(r.id.as_str()).copied();
                    net::is_retryable_status(r.status, idempotent.unwrap_or(net::Idempotent::No))
                })
                .map(|r| r.id.clone())
                .collect();
            // A throttled read is retried for as long as the run makes
            // progress (the read pacer's deadline); anything else
            // `max_attempts` times.
            let reads_only = got
                .values()
                .filter(|r| throttled.contains(&r.id))
                .all(|r| r.status == 429 && is_get(&r.id));
            let admitted: u64 = got
                .values()
                .filter(|r| r.status != 429 && is_get(&r.id))
                .map(|r| {
                    by_url
                        .get(r.id.as_str())
                        .map_or(1, |u| super::client::resource_units(u))
                })
                .sum();
            if admitted > 0 {
                self.reads.progressed(admitted);
            }
            let can_retry = !throttled.is_empty()
                && (attempt < self.retry.max_attempts || (reads_only && !self.reads.stalled()));
            let mut again = Vec::new();
            let mut wait: Option<Duration> = None;
            for req in pending {
                let Some(resp) = got.remove(&req.id) else {
                    return Err(Error::remote(format!(
                        "Graph's $batch answer has no response for request `{}`",
                        req.id
                    )));
                };
                let retry = can_retry
                    && (throttled.contains(&req.id)
                        || (resp.status == 424
                            && req.depends_on.iter().any(|d| throttled.contains(d))));
                if retry {
                    if let Some(d) = resp.retry_after() {
                        wait = Some(wait.map_or(d, |w| w.max(d)));
                    }
                    again.push(req);
                } else {
                    done.insert(req.id.clone(), resp);
                }
            }
            if again.is_empty() {
                break;
            }
            if let Some(w) = wait.filter(|w| *w > net::MAX_RETRY_AFTER) {
                return Err(Error::remote(format!(
                    "Graph throttled {} request(s) inside a $batch asking to wait {} (Retry-After: {} s); scimshift waits at most {}, so it stopped here: run again after that wait",
                    again.len(),
                    net::duration_in_words(w),
                    w.as_secs(),
                    net::duration_in_words(net::MAX_RETRY_AFTER)
                )));
            }
            let d = self.retry.delay(attempt, wait);
            if again
                .iter()
                .any(|r| r.method == Method::GET && throttled.contains(&r.id))
            {
                // Every read waits, not only these: the quota is shared.
                self.reads.throttled(d);
            }
            tracing::warn!(
                "{} request(s) inside a Graph $batch were throttled; trying them again in {}",
                again.len(),
                crate::net::duration_in_words(d)
            );
            tokio::time::sleep(d).await;
            pending = again;
            attempt += 1;
        }
        Ok(chunk
            .into_iter()
            .map(|r| {
                let resp = done.remove(&r.id).expect("every request answered");
                (r, resp)
            })
            .collect())
    }
}
