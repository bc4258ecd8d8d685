//! A SCIM 2.0 client that tolerates what real servers differ on (RFC 7644
//! allows both): PATCH answering 204 or 200 with a body, `itemsPerPage` that
//! does not match the page, a missing `Location` header, case-sensitive or
//! insensitive `userName` filters, list items without `schemas`. Retries 429
//! and 503 with `Retry-After`; transport policy from [`crate::net`].

use crate::error::{Error, Result};
use crate::net::{self, Idempotent, RetryPolicy};
use crate::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// The two resource types we manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Users,
    Groups,
}

impl Resource {
    pub fn path(self) -> &'static str {
        match self {
            Resource::Users => "Users",
            Resource::Groups => "Groups",
        }
    }
}

/// What `/ServiceProviderConfig` advertises, with RFC defaults for the absent parts.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct ProviderConfig {
    pub patch: bool,
    pub bulk: bool,
    pub bulk_max_operations: usize,
    pub bulk_max_payload: usize,
    pub filter: bool,
    pub filter_max_results: usize,
    pub etag: bool,
    pub sort: bool,
    /// The document as returned.
    pub raw: Value,
}

impl ProviderConfig {
    pub fn from_json(raw: Value) -> ProviderConfig {
        let b = |p: &str| raw.pointer(p).and_then(Value::as_bool).unwrap_or(false);
        let n = |p: &str, d: usize| {
            raw.pointer(p)
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .unwrap_or(d)
        };
        ProviderConfig {
            patch: b("/patch/supported"),
            bulk: b("/bulk/supported"),
            bulk_max_operations: n("/bulk/maxOperations", 0),
            bulk_max_payload: n("/bulk/maxPayloadSize", 0),
            filter: b("/filter/supported"),
            filter_max_results: n("/filter/maxResults", 100),
            etag: b("/etag/supported"),
            sort: b("/sort/supported"),
            raw,
        }
    }
}

/// A SCIM error answer, kept apart so callers can branch on the status.
#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: String,
}

/// One operation of a `/Bulk` request.
#[derive(Debug, Clone)]
pub struct BulkOp {
    pub method: Method,
    /// `/Users` or `/Users/{id}`.
    pub path: String,
    pub bulk_id: Option<String>,
    pub data: Option<Value>,
}

/// One operation's outcome.
#[derive(Debug, Clone)]
pub struct BulkResult {
    pub bulk_id: Option<String>,
    pub status: u16,
    pub location: Option<String>,
    pub response: Option<Value>,
}

#[derive(Clone)]
pub struct ScimClient {
    base: String,
    token: Secret,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl std::fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

/// A bearer token is one line of visible characters: a line break or another
/// control character would make the header unsendable (reqwest reports that
/// as a failed connection), so it gets its own sentence here.
fn check_token(token: &Secret) -> Result<()> {
    let t = token.expose();
    let Some((i, c)) = t.char_indices().find(|(_, c)| c.is_control()) else {
        return Ok(());
    };
    let what = match c {
        '\n' | '\r' => "a line break",
        '\t' => "a tab",
        _ => "a control character",
    };
    Err(Error::input(format!(
        "the SCIM token contains {what} (at character {}): a bearer token is one line; check SCIM_TOKEN or the token file (only its first line is read)",
        t[..i].chars().count() + 1
    )))
}

impl ScimClient {
    /// A client for `base_url` (an opaque prefix: `/v2`, `/scim/v2/organizations/org-1`…).
    /// Refuses plain http to anything but loopback before any request.
    pub fn new(base_url: &str, token: Secret) -> Result<ScimClient> {
        let url = net::checked_url(base_url, "the SCIM URL")?;
        check_token(&token)?;
        Ok(ScimClient {
            base: url.as_str().trim_end_matches('/').to_string(),
            token,
            http: net::http_client(),
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Send one request (with retries as the method allows, see
    /// [`Idempotent::by_method`]) and return status + parsed JSON body (Null when empty).
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value, Option<String>)> {
        let idempotent = Idempotent::by_method(&method);
        self.send_as(method, path, query, body, idempotent).await
    }

    /// [`ScimClient::send`] for a caller that knows whether the request may be repeated.
    async fn send_as(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: Idempotent,
    ) -> Result<(u16, Value, Option<String>)> {
        let url = self.url(path);
        let resp = net::send_with_retry(&self.retry, idempotent, || {
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.token.expose())
                .header("Accept", "application/scim+json, application/json");
            if !query.is_empty() {
                rb = rb.query(query);
            }
            if let Some(b) = body {
                rb = rb
                    .header("Content-Type", "application/scim+json")
                    .body(serde_json::to_vec(b).expect("JSON value serialises"));
            }
            rb
        })
        .await
        .map_err(|e| Error::remote(net::describe_transport_error(&self.base, &e)))?;
        let answer = net::read_answer(resp, &self.base).await?;
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header("location");
        let content_type = header("content-type").unwrap_or_default();
        let bytes = answer.body;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => v,
                Err(_) => {
                    return Err(Error::remote(format!(
                        "{} does not look like a SCIM server: {method} {path} answered HTTP {} with {} instead of SCIM JSON",
                        self.base,
                        status.as_u16(),
                        if content_type.is_empty() {
                            "a non-JSON body".to_string()
                        } else {
                            format!("`{content_type}`")
                        }
                    )));
                }
            }
        };
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            return Err(self.error_from(status.as_u16(), &method, path, &value));
        }
        Ok((status.as_u16(), value, location))
    }

    fn error_from(&self, status: u16, method: &Method, path: &str, body: &Value) -> Error {
        let e = parse_error(status, body);
        let what = format!("{method} {}/{}", self.base, path.trim_start_matches('/'));
        match status {
            401 => Error::auth(format!(
                "the SCIM server refused the token ({what} answered 401): check SCIM_TOKEN or --scim-token-file"
            )),
            403 => Error::auth(format!(
                "the SCIM token may not do this ({what} answered 403): {}",
                e.detail
            )),
            404 if path.contains("ServiceProviderConfig")
                || path.starts_with("Users?")
                || path == "Users" =>
            {
                Error::remote(format!(
                    "{} does not look like a SCIM base URL ({what} answered 404); it usually ends in /scim/v2 or /v2",
                    self.base
                ))
            }
            _ => Error::remote(format!(
                "{what} answered {status}{}: {}",
                e.scim_type
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default(),
                if e.detail.is_empty() {
                    "no detail given".to_string()
                } else {
                    e.detail
                }
            )),
        }
    }

    /// `GET` a path relative to the base URL, query included (`Groups?filter=…`),
    /// as a plan's SCIM request names it: the status and body of a 2xx.
    pub async fn get_path(&self, path_and_query: &str) -> Result<(u16, Value)> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path_and_query, ""),
        };
        let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let query: Vec<(&str, String)> =
            query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let (status, body, _) = self.send(Method::GET, path, &query, None).await?;
        Ok((status, body))
    }

    /// `GET /ServiceProviderConfig`.
    pub async fn service_provider_config(&self) -> Result<ProviderConfig> {
        let (_, v, _) = self
            .send(Method::GET, "ServiceProviderConfig", &[], None)
            .await?;
        if !v.is_object() {
            return Err(Error::remote(format!(
                "{} answered /ServiceProviderConfig without a JSON object",
                self.base
            )));
        }
        Ok(ProviderConfig::from_json(v))
    }

    /// Walk every page of a list (optionally filtered), calling `on_page` per page.
    /// Pages until `totalResults` items were seen or a page comes back empty;
    /// never trusts `itemsPerPage`.
    pub async fn for_each_page<F>(
        &self,
        resource: Resource,
        filter: Option<&str>,
        extra: &[(&str, String)],
        page_size: usize,
        mut on_page: F,
    ) -> Result<usize>
    where
        F: FnMut(Vec<Value>, usize) -> Result<()>,
    {
        let mut start = 1usize;
        let mut seen = 0usize;
        let mut guard =
            crate::paging::PageGuard::new(format!("GET {}/{}", self.base, resource.path()));
        loop {
            let mut q: Vec<(&str, String)> = vec![
                ("startIndex", start.to_string()),
                ("count", page_size.to_string()),
            ];
            if let Some(f) = filter {
                q.push(("filter", f.to_string()));
            }
            q.extend(extra.iter().cloned());
            let (_, mut v, _) = self.send(Method::GET, resource.path(), &q, None).await?;
            let total = v
                .get("totalResults")
                .and_then(Value::as_u64)
                .map(|t| usize::try_from(t).unwrap_or(usize::MAX));
            if let (Some(t), 1) = (total, start) {
                guard.announced(t)?;
            }
            let items: Vec<Value> = match v.get_mut("Resources") {
                Some(Value::Array(a)) => std::mem::take(a),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(Error::remote(format!(
                        "{} answered a list with `Resources` that is not an array",
                        self.base
                    )));
                }
            };
            if total.is_none() && v.get("schemas").is_none() {
                return Err(Error::remote(format!(
                    "{} does not look like a SCIM server: GET {} did not answer a ListResponse",
                    self.base,
                    resource.path()
                )));
            }
            guard.page(&items)?;
            let n = items.len();
            seen += n;
            let total = total.unwrap_or(seen);
            on_page(items, total)?;
            if n == 0 || seen >= total {
                return Ok(seen);
            }
            start += n;
        }
    }

    /// Every resource of a type.
    pub async fn list_all(&self, resource: Resource, page_size: usize) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        self.for_each_page(resource, None, &[], page_size, |page, _| {
            all.extend(page);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// Resources matching `attr eq "value"` (value quoted correctly).
    pub async fn find_eq(&self, resource: Resource, attr: &str, value: &str) -> Result<Vec<Value>> {
        let filter = super::filter::eq(attr, value);
        let mut all = Vec::new();
        self.for_each_page(resource, Some(&filter), &[], 100, |page, _| {
            all.extend(page);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// `GET /{type}/{id}`; `None` when the server answers 404.
    pub async fn get(&self, resource: Resource, id: &str) -> Result<Option<Value>> {
        match self
            .send(
                Method::GET,
                &format!("{}/{}", resource.path(), urlencode(id)),
                &[],
                None,
            )
            .await
        {
            Ok((_, v, _)) => Ok(Some(v)),
            Err(e) if e.message.contains("answered 404") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /{type}`; returns the created resource (with its `id`).
    pub async fn create(&self, resource: Resource, body: &Value) -> Result<Value> {
        let (_, v, location) = self
            .send(Method::POST, resource.path(), &[], Some(body))
            .await?;
        if v.get("id").and_then(Value::as_str).is_some() {
            return Ok(v);
        }
        // Some servers answer 201 with only a Location header.
        if let Some(id) = location
            .as_deref()
            .and_then(|l| l.rsplit('/').next())
            .filter(|s| !s.is_empty())
        {
            let mut v = if v.is_object() { v } else { json!({}) };
            v["id"] = json!(id);
            return Ok(v);
        }
        Err(Error::remote(format!(
            "{} created a {} but did not say its id",
            self.base,
            resource.path()
        )))
    }

    /// `PATCH /{type}/{id}` with RFC 7644 operations (lowercase ops). Accepts
    /// 204 (no body) and 200 (the resource); returns the body when there is one.
    /// Sent again after a timeout only when every operation sets state
    /// (`replace`, `remove`): an `add` to a list may not be repeatable on every server.
    pub async fn patch(
        &self,
        resource: Resource,
        id: &str,
        operations: Vec<Value>,
    ) -> Result<Option<Value>> {
        let sets_state = operations.iter().all(|o| {
            o.get("op").and_then(Value::as_str).is_some_and(|op| {
                op.eq_ignore_ascii_case("replace") || op.eq_ignore_ascii_case("remove")
            })
        });
        let body = json!({ "schemas": [PATCH_OP_URN], "Operations": operations });
        let (_, v, _) = self
            .send_as(
                Method::PATCH,
                &format!("{}/{}", resource.path(), urlencode(id)),
                &[],
                Some(&body),
                if sets_state {
                    Idempotent::Yes
                } else {
                    Idempotent::No
                },
            )
            .await?;
        Ok(if v.is_null() { None } else { Some(v) })
    }

    /// `PUT /{type}/{id}` (full replace).
    pub async fn replace(&self, resource: Resource, id: &str, body: &Value) -> Result<Value> {
        let (_, v, _) = self
            .send(
                Method::PUT,
                &format!("{}/{}", resource.path(), urlencode(id)),
                &[],
                Some(body),
            )
            .await?;
        Ok(v)
    }

    /// `DELETE /{type}/{id}`.
    pub async fn delete(&self, resource: Resource, id: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            &format!("{}/{}", resource.path(), urlencode(id)),
            &[],
            None,
        )
        .await?;
        Ok(())
    }

    /// `POST /Bulk`. The caller keeps within the advertised maxOperations.
    pub async fn bulk(
        &self,
        ops: &[BulkOp],
        fail_on_errors: Option<usize>,
    ) -> Result<Vec<BulkResult>> {
        let operations: Vec<Value> = ops
            .iter()
            .map(|op| {
                let mut o = json!({ "method": op.method.as_str(), "path": op.path });
                if let Some(b) = &op.bulk_id {
                    o["bulkId"] = json!(b);
                }
                if let Some(d) = &op.data {
                    o["data"] = d.clone();
                }
                o
            })
            .collect();
        let mut body = json!({ "schemas": [BULK_REQUEST_URN], "Operations": operations });
        if let Some(n) = fail_on_errors {
            body["failOnErrors"] = json!(n);
        }
        // A bulk of updates may be repeated; one that creates may not.
        let idempotent = if ops.iter().all(|o| o.method != Method::POST) {
            Idempotent::Yes
        } else {
            Idempotent::No
        };
        let (_, v, _) = self
            .send_as(Method::POST, "Bulk", &[], Some(&body), idempotent)
            .await?;
        let results = v
            .get("Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                Error::remote(format!("{} answered /Bulk without Operations", self.base))
            })?;
        Ok(results
            .iter()
            .map(|r| BulkResult {
                bulk_id: r.get("bulkId").and_then(Value::as_str).map(str::to_string),
                status: status_of(r.get("status")),
                location: r
                    .get("location")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                response: r.get("response").cloned(),
            })
            .collect())
    }
}

/// Read a SCIM `status`, which servers send as a string ("409") or a number, or
/// an object with `code` (SCIM 1.1 style bulk answers).
fn status_of(v: Option<&Value>) -> u16 {
    match v {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u16,
        Some(Value::Object(o)) => status_of(o.get("code")),
        _ => 0,
    }
}

/// Parse a SCIM error body (status as string or number; detail may be absent).
pub fn parse_error(status: u16, body: &Value) -> ScimError {
    ScimError {
        status,
        scim_type: body
            .get("scimType")
            .and_then(Value::as_str)
            .map(crate::text::server_text),
        detail: crate::text::server_text(
            body.get("detail")
                .or_else(|| body.get("message"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        ),
    }
}

fn urlencode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Build the id → resource map of a list, for lookups.
pub fn by_id(resources: &[Value]) -> std::collections::HashMap<&str, &Value> {
    resources
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(|id| (id, r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_plain_http_to_remote_hosts() {
        let e = ScimClient::new("http://coda.io/scim/v2", Secret::new("t")).unwrap_err();
        assert!(e.message.contains("https is required"));
        assert!(ScimClient::new("http://127.0.0.1:9/v2/", Secret::new("t")).is_ok());
    }

    #[test]
    fn debug_hides_the_token() {
        let c = ScimClient::new("http://127.0.0.1:9/v2", Secret::new("s3cret")).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn reads_provider_config_and_status_forms() {
        let pc = ProviderConfig::from_json(
            json!({"patch":{"supported":true},"bulk":{"supported":true,"maxOperations":1000,"maxPayloadSize":1048576},"filter":{"supported":true,"maxResults":1000}}),
        );
        assert!(pc.patch && pc.bulk && pc.filter);
        assert_eq!(pc.bulk_max_operations, 1000);
        assert_eq!(status_of(Some(&json!("409"))), 409);
        assert_eq!(status_of(Some(&json!(201))), 201);
        assert_eq!(status_of(Some(&json!({"code": 400}))), 400);
    }
}
