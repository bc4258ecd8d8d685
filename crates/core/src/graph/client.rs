//! The Microsoft Graph client: one authenticated request with retries, paging
//! by `@odata.nextLink`, and the few typed writes other commands need.
//!
//! Every request: a current token from [`TokenProvider`] (one fresh try after
//! a 401), `Retry-After` honoured on 429/503 with jittered exponential back-off
//! otherwise ([`crate::net::send_with_retry`]; a create that timed out is not
//! sent again, see [`Idempotent`]), writes paced under the write
//! quota ([`WritePacer`]). Non-2xx answers become [`GraphError`]s and then one
//! sentence. `$batch` lives in `batch`, replication polling in `replication`.

use super::auth::{Credential, TokenProvider};
use super::cloud::Endpoints;
use super::error::GraphError;
use super::pacer::{ReadPacer, WritePacer};
use crate::error::{Error, Result};
use crate::net::{self, Idempotent, RetryPolicy};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use url::Url;

/// One HTTP answer from Graph, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Parsed JSON body; `Null` when empty.
    pub body: Value,
    /// The `request-id` response header.
    pub request_id: Option<String>,
    /// The `Date` response header: the server's clock when it answered.
    pub date: Option<String>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A Graph client. Cheap to clone (shares its token cache and pacer).
#[derive(Clone)]
pub struct GraphClient {
    endpoints: Endpoints,
    origin: Url,
    auth: Arc<TokenProvider>,
    http: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) pacer: Arc<WritePacer>,
    /// Reads under the resource-unit quota, shared by every clone.
    pub(crate) reads: Arc<ReadPacer>,
    /// `$batch` requests in flight at once.
    pub(crate) concurrency: usize,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph", &self.endpoints.graph_base)
            .field("auth", &self.auth)
            .finish()
    }
}

impl GraphClient {
    /// A client for resolved endpoints and a credential.
    pub fn new(endpoints: Endpoints, credential: Credential) -> Result<GraphClient> {
        let http = net::http_client();
        let auth = TokenProvider::new(credential, endpoints.clone(), http.clone());
        GraphClient::with_provider(endpoints, auth)
    }

    /// A client from explicit URLs (Graph version root and authority) and a
    /// credential: what the demo and tests use against the twin.
    pub fn from_urls(
        graph_url: &str,
        authority_url: &str,
        credential: Credential,
    ) -> Result<GraphClient> {
        let endpoints = Endpoints::resolve(
            super::cloud::Cloud::Global,
            Some(graph_url),
            Some(authority_url),
        )?;
        GraphClient::new(endpoints, credential)
    }

    /// A client around a configured token provider (device-code prompt, settings).
    pub fn with_provider(endpoints: Endpoints, auth: TokenProvider) -> Result<GraphClient> {
        let origin = net::checked_url(&endpoints.graph_base, "the Graph URL")?;
        net::checked_url(&endpoints.authority, "the authority URL")?;
        Ok(GraphClient {
            endpoints,
            origin,
            auth: Arc::new(auth),
            http: net::http_client(),
            retry: RetryPolicy::default(),
            pacer: Arc::new(WritePacer::graph_default()),
            reads: Arc::new(ReadPacer::graph_default()),
            concurrency: 4,
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_pacer(mut self, pacer: WritePacer) -> Self {
        self.pacer = Arc::new(pacer);
        self
    }

    pub fn with_read_pacer(mut self, reads: ReadPacer) -> Self {
        self.reads = Arc::new(reads);
        self
    }

    /// Another limit for one request, connection to last byte (default
    /// [`net::REQUEST_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.http = net::http_client_with_timeout(timeout);
        self
    }

    /// How many `$batch` requests may be in flight at once (default 4).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The Graph version root, e.g. `https://graph.microsoft.com/v1.0`.
    pub fn base_url(&self) -> &str {
        &self.endpoints.graph_base
    }

    pub fn auth(&self) -> &TokenProvider {
        &self.auth
    }

    pub fn pacer(&self) -> &WritePacer {
        &self.pacer
    }

    /// The read pacer (its rate gives the ETA of a long read).
    pub fn read_pacer(&self) -> &ReadPacer {
        &self.reads
    }

    /// `path` relative to the version root (`/servicePrincipals?…`), or an
    /// absolute URL (a nextLink) on the same origin — anything else is refused,
    /// so a token never goes to another host.
    pub(crate) fn url_for(&self, path: &str) -> Result<(String, String)> {
        if path.starts_with("http://") || path.starts_with("https://") {
            let u = net::checked_url(path, "a Graph nextLink")?;
            if u.scheme() != self.origin.scheme()
                || u.host_str() != self.origin.host_str()
                || u.port_or_known_default() != self.origin.port_or_known_default()
            {
                return Err(Error::remote(format!(
                    "Graph sent a next-page link to another host ({}); refusing to send the token there",
                    u.host_str().unwrap_or("?")
                )));
            }
            let rel = path
                .strip_prefix(self.endpoints.graph_base.as_str())
                .unwrap_or(u.path())
                .to_string();
            return Ok((path.to_string(), rel));
        }
        let rel = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok((format!("{}{rel}", self.endpoints.graph_base), rel))
    }

    /// Send one request; any HTTP status comes back as a [`Reply`]. Throttling
    /// and transient failures are retried as the method allows
    /// ([`Idempotent::by_method`]: a `POST` that timed out is not sent again);
    /// a 401 is retried once with a new token. A write (anything but GET)
    /// first waits for the write pacer, a GET for the read pacer (and a
    /// throttled GET is retried while the run makes progress, [`ReadGate`]).
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply> {
        let idempotent = Idempotent::by_method(&method);
        self.send(method, path, body, idempotent).await
    }

    /// [`GraphClient::request`] for a caller that knows whether the request
    /// may be repeated: `POST …/jobs/{id}/start` or `/pause` is `Yes`, a
    /// `PATCH` that sets the full state is `Yes`, a create is `No`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: Idempotent,
    ) -> Result<Reply> {
        let writes = usize::from(method != Method::GET);
        self.request_paced(method, path, body, writes, &[], idempotent)
            .await
    }

    /// [`GraphClient::send`] counting `writes` against the pacer (a `$batch`
    /// counts its inner writes, not itself) and with extra headers.
    pub(crate) async fn request_paced(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        writes: usize,
        headers: &[(&str, &str)],
        idempotent: Idempotent,
    ) -> Result<Reply> {
        let (url, rel) = self.url_for(path)?;
        if writes > 0 {
            self.pacer.acquire(writes).await;
        }
        let read_units = if method == Method::GET {
            resource_units(&rel)
        } else {
            0
        };
        let plain = net::Attempts(&self.retry);
        let read_gate = ReadGate {
            pacer: &self.reads,
            policy: &self.retry,
            units: read_units,
        };
        let gate: &dyn net::RetryGate = if read_units > 0 { &read_gate } else { &plain };
        let mut renewed = false;
        loop {
            let token = self.auth.token().await?;
            if read_units > 0 {
                self.reads.acquire(read_units).await;
            }
            let resp = net::send_with_retry_gated(&self.retry, idempotent, gate, || {
                let mut rb = self
                    .http
                    .request(method.clone(), &url)
                    .bearer_auth(token.expose())
                    .header("Accept", "application/json");
                for (k, v) in headers {
                    rb = rb.header(*k, *v);
                }
                if let Some(b) = body {
                    rb = rb
                        .header("Content-Type", "application/json")
                        .body(serde_json::to_vec(b).expect("JSON value serialises"));
                }
                rb
            })
            .await
            .map_err(|e| {
                Error::remote(net::describe_transport_error(
                    &self.endpoints.graph_base,
                    &e,
                ))
            })?;
            let answer = net::read_answer(resp, &self.endpoints.graph_base).await?;
            let status = answer.status;
            let request_id = answer
                .headers
                .get("request-id")
                .or_else(|| answer.headers.get("client-request-id"))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let date = answer
                .headers
                .get("date")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = answer.body;
            tracing::debug!(%method, path = %super::error::shown_path(&rel), status, "graph");
            if status == 401 && !renewed && self.auth.invalidate().await {
                renewed = true;
                continue;
            }
            let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => v,
                    Err(_) if (200..300).contains(&status) => {
                        return Err(Error::remote(format!(
                            "{} answered {method} {} with something that is not JSON: is --graph-url right?",
                            self.endpoints.graph_base,
                            super::error::shown_path(&rel)
                        )));
                    }
                    Err(_) => Value::String(
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
                    ),
                }
            };
            return Ok(Reply {
                status,
                body,
                request_id,
                date,
            });
        }
    }

    /// Send and require a 2xx; the body (or `Null`).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let reply = self.request(method.clone(), path, body).await?;
        self.check(&method, path, reply)
    }

    pub(crate) fn check(&self, method: &Method, path: &str, reply: Reply) -> Result<Value> {
        if reply.is_success() {
            return Ok(reply.body);
        }
        let rel = self
            .url_for(path)
            .map(|(_, r)| r)
            .unwrap_or_else(|_| path.to_string());
        Err(GraphError::parse(
            reply.status,
            method.as_str(),
            &rel,
            &reply.body,
            reply.request_id.as_deref(),
        )
        .into_error())
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    /// `GET`, with 404 as `None`.
    pub async fn get_opt(&self, path: &str) -> Result<Option<Value>> {
        let reply = self.request(Method::GET, path, None).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        self.check(&Method::GET, path, reply).map(Some)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// `PUT` (the schema update must be PUT, never PATCH: GRAPH-API.md §10).
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.call(Method::DELETE, path, None).await.map(|_| ())
    }

    /// Walk a collection page by page, following `@odata.nextLink` verbatim.
    /// Returns the number of items seen.
    pub async fn for_each_page<F>(&self, path: &str, mut on_page: F) -> Result<usize>
    where
        F: FnMut(Vec<Value>) -> Result<()>,
    {
        let mut next = Some(path.to_string());
        let mut seen = 0;
        let mut guard = self.page_guard(path);
        while let Some(p) = next.take() {
            let page = self.get(&p).await?;
            let (items, link) = split_page(page, &p)?;
            guard.page(&items)?;
            if let Some(l) = &link {
                guard.next_link(l)?;
            }
            seen += items.len();
            on_page(items)?;
            next = link;
        }
        Ok(seen)
    }

    /// Every item of a collection.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        self.for_each_page(path, |items| {
            all.extend(items);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// The rest of a collection whose first page arrived some other way (inside a `$batch`).
    pub async fn rest_of_pages(&self, first_page: Value, what: &str) -> Result<Vec<Value>> {
        let (mut all, mut next) = split_page(first_page, what)?;
        let mut guard = self.page_guard(what);
        guard.page(&all)?;
        while let Some(p) = next.take() {
            guard.next_link(&p)?;
            let (items, link) = split_page(self.get(&p).await?, &p)?;
            guard.page(&items)?;
            all.extend(items);
            next = link;
        }
        Ok(all)
    }

    /// The paging bounds for one walk through `path`.
    fn page_guard(&self, path: &str) -> crate::paging::PageGuard {
        crate::paging::PageGuard::new(format!(
            "Graph ({} {})",
            self.endpoints.graph_base,
            super::error::shown_path(path)
        ))
    }

    // ---- typed writes other commands use ----------------------------------

    /// `POST /users`: create a directory user; returns the user (with `id`).
    pub async fn create_user(&self, user: &Value) -> Result<Value> {
        self.post("/users", user).await
    }

    /// `POST /groups/{id}/members/$ref`: add a user or group to a group.
    pub async fn add_group_member(&self, group_id: &str, member_id: &str) -> Result<()> {
        let body = self.member_ref(member_id);
        self.post(&format!("/groups/{}/members/$ref", seg(group_id)), &body)
            .await
            .map(|_| ())
    }

    /// `POST /servicePrincipals/{sp}/appRoleAssignedTo`: assign a user or group to an app.
    pub async fn assign_app_role(
        &self,
        sp_id: &str,
        principal_id: &str,
        app_role_id: &str,
    ) -> Result<Value> {
        let body =
            json!({ "principalId": principal_id, "resourceId": sp_id, "appRoleId": app_role_id });
        self.post(
            &format!("/servicePrincipals/{}/appRoleAssignedTo", seg(sp_id)),
            &body,
        )
        .await
    }

    /// The `{"@odata.id": …/directoryObjects/{id}}` body of a reference add.
    pub fn member_ref(&self, member_id: &str) -> Value {
        json!({ "@odata.id": format!("{}/directoryObjects/{}", self.endpoints.graph_base, seg(member_id)) })
    }
}

/// Resource units a GET of `rel` costs (GRAPH-API.md §2.3: 1, 2 on
/// `/applications`; none for the synchronization service, which Graph proxies).
pub(crate) fn resource_units(rel: &str) -> u64 {
    if rel
        .split('?')
        .next()
        .unwrap_or(rel)
        .contains("/synchronization")
    {
        0
    } else if rel.starts_with("/applications") {
        2
    } else {
        1
    }
}

/// Retries for a GET: a 429 pauses every read ([`ReadPacer::throttled`]) and
/// is sent again for as long as the run makes progress (some read answered
/// within the pacer's stall deadline), at least `max_attempts` times; other
/// retryable statuses as the policy says.
pub(crate) struct ReadGate<'a> {
    pub(crate) pacer: &'a ReadPacer,
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) units: u64,
}

impl net::RetryGate for ReadGate<'_> {
    fn retry(
        &self,
        attempt: u32,
        status: u16,
        retry_after: Option<std::time::Duration>,
    ) -> Option<std::time::Duration> {
        let pause = self.policy.delay(attempt, retry_after);
        if status != 429 {
            return (attempt < self.policy.max_attempts).then_some(pause);
        }
        self.pacer.throttled(pause);
        if attempt >= self.policy.max_attempts && self.pacer.stalled() {
            return None;
        }
        Some(self.pacer.reserve(self.units))
    }

    fn answered(&self, _status: u16) {
        self.pacer.progressed(self.units);
    }
}

/// A collection page: its `value` and its nextLink.
fn split_page(page: Value, what: &str) -> Result<(Vec<Value>, Option<String>)> {
    let next = page
        .get("@odata.nextLink")
        .and_then(Value::as_str)
        .map(str::to_string);
    match page {
        Value::Object(mut m) => match m.remove("value") {
            Some(Value::Array(items)) => Ok((items, next)),
            _ => Err(Error::remote(format!(
                "Graph answered {} without a `value` list: is --graph-url a Microsoft Graph root?",
                super::error::shown_path(what)
            ))),
        },
        _ => Err(Error::remote(format!(
            "Graph answered {} with something that is not a collection",
            super::error::shown_path(what)
        ))),
    }
}

/// Percent-encode one path segment (ids are GUIDs, job ids have dots: kept).
pub fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Encode an OData query value (`$filter=displayName eq 'O''Brien'`).
pub fn query(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// An OData string literal: quotes doubled.
pub fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
