//! The engine's SCIM client: the exact requests Entra's provisioning service
//! sends (ENTRA-OUTBOUND-SCIM.md), over `twin.http`, with retries on
//! 429/5xx honouring `Retry-After`, and the two PATCH dialects chosen by the
//! `aadOptscim062020` flag in the tenant URL. Every request is recorded as
//! `METHOD /path?query [body]` so tests can compare sequences. The token is a
//! [`Secret`] and never appears in a record or an error.

use crate::net::{self, RetryPolicy};
use crate::secret::Secret;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Why a request to the target did not give a usable answer.
#[derive(Debug, Clone)]
pub enum TargetError {
    /// 401/403: bad credentials (quarantine).
    Auth(u16),
    /// Could not connect / no answer (quarantine).
    Unreachable(String),
    /// A SCIM error status for this object (escrow), with the server's detail.
    Status(u16, String),
    /// The answer is not SCIM (escrow).
    Incompatible(String),
    /// 404 to a filter query: a SCIM compliance failure (quarantine).
    Compliance(String),
}

impl TargetError {
    /// Entra's provisioning-log error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::Auth(401) => "Unauthorized",
            TargetError::Auth(_) => "InsufficientRights",
            TargetError::Unreachable(_) => "WebExceptionProtocolError",
            TargetError::Status(404, _) => "InvalidAnchor",
            TargetError::Status(409, _) => "EntryConflict",
            TargetError::Status(429, _) => "TooManyRequests",
            TargetError::Status(405, _) => "MethodNotAllowed",
            TargetError::Status(400, _) => "SystemForCrossDomainIdentityManagementBadRequest",
            TargetError::Status(s, _) if *s >= 500 => "InternalServerError",
            TargetError::Status(..) => "SystemForCrossDomainIdentityManagementBadResponse",
            TargetError::Incompatible(_) | TargetError::Compliance(_) => {
                "SystemForCrossDomainIdentityManagementServiceIncompatible"
            }
        }
    }
    pub fn message(&self) -> String {
        match self {
            TargetError::Auth(s) => format!(
                "The SCIM endpoint answered {s}: the Secret Token is not accepted. Fix the credentials, then start the job again."
            ),
            TargetError::Unreachable(m) => m.clone(),
            TargetError::Status(s, d) => format!("The SCIM endpoint answered {s}: {d}"),
            TargetError::Incompatible(m) | TargetError::Compliance(m) => m.clone(),
        }
    }
    /// Whether the whole job must stop (quarantine) rather than escrow one object.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            TargetError::Auth(_) | TargetError::Unreachable(_) | TargetError::Compliance(_)
        )
    }
}

/// A SCIM target as the engine sees it.
pub struct Target {
    http: reqwest::Client,
    /// Base URL without the query string and trailing slash.
    base: String,
    token: Secret,
    /// `aadOptscim062020` present in the tenant URL.
    pub flag: bool,
    retry: RetryPolicy,
    sent: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base", &self.base)
            .field("flag", &self.flag)
            .field("token", &self.token)
            .finish()
    }
}

/// Percent-encode a query value (spaces as %20, as Entra sends them).
pub fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A SCIM string literal: `"` and `\` escaped (apostrophes need nothing).
pub fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Target {
    /// `base_address` is the job's `BaseAddress` secret (may carry `?aadOptscim062020`).
    pub fn new(http: reqwest::Client, base_address: &str, token: Secret) -> Result<Target, String> {
        let url = net::checked_url(base_address, "the tenant URL (BaseAddress)")
            .map_err(|e| e.message)?;
        let flag = url.query().is_some_and(|q| {
            q.split('&').any(|p| {
                p.split('=')
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case("aadOptscim062020"))
            })
        });
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        let base = base.as_str().trim_end_matches('/').to_string();
        let retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        };
        Ok(Target {
            http,
            base,
            token,
            flag,
            retry,
            sent: Mutex::new(Vec::new()),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Requests sent so far (`METHOD /path?query [body]`).
    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Send one request; `path_query` is relative to the base (`/Users?filter=…`).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path_query: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), TargetError> {
        let url = format!("{}{}", self.base, path_query);
        {
            let mut line = format!("{method} {path_query}");
            if let Some(b) = body {
                line.push(' ');
                line.push_str(&b.to_string());
            }
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
        }
        // Like the engine: a create that timed out is not sent again.
        let idempotent = net::Idempotent::by_method(&method);
        let resp = net::send_with_retry(&self.retry, idempotent, || {
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.token.expose())
                .header(
                    reqwest::header::ACCEPT,
                    "application/scim+json, application/json",
                );
            if let Some(b) = body {
                rb = rb
                    .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
                    .body(b.to_string());
            }
            rb
        })
        .await
        .map_err(|e| TargetError::Unreachable(net::describe_transport_error(&self.base, &e)))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| TargetError::Unreachable(net::describe_transport_error(&self.base, &e)))?;
        if status == 401 || status == 403 {
            return Err(TargetError::Auth(status));
        }
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if status < 300 => {
                    return Err(TargetError::Incompatible(format!(
                        "{} answered {method} {path_query} with {status} and a body that is not JSON",
                        self.base
                    )));
                }
                Err(_) => Value::Null,
            }
        };
        if status >= 300 {
            let detail = value
                .get("detail")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let t: String = text.chars().take(200).collect();
                    if t.is_empty() { "no detail".into() } else { t }
                });
            return Err(TargetError::Status(status, detail));
        }
        Ok((status, value))
    }

    /// `GET /{Users|Groups}?[excludedAttributes=members&]filter=<attr> eq "<v>"`: the Resources.
    pub async fn query(
        &self,
        endpoint: &str,
        attr: &str,
        value: &str,
    ) -> Result<Vec<Value>, TargetError> {
        let filter = encode(&format!("{attr} eq {}", quote(value)));
        let pq = if endpoint == "Groups" {
            format!("/Groups?excludedAttributes=members&filter={filter}")
        } else {
            format!("/{endpoint}?filter={filter}")
        };
        let (_, v) = self.send(reqwest::Method::GET, &pq, None).await.map_err(|e| match e {
            // 404 on a query is a compliance failure, not "not found".
            TargetError::Status(404, d) => TargetError::Compliance(format!(
                "{} answered 404 to a filter query ({d}); a SCIM endpoint must answer 200 with an empty ListResponse",
                self.base
            )),
            other => other,
        })?;
        let resources = v.get("Resources").or_else(|| v.get("resources"));
        match resources {
            Some(Value::Array(a)) => Ok(a.clone()),
            None if v.get("totalResults").and_then(Value::as_u64) == Some(0) => Ok(Vec::new()),
            _ => Err(TargetError::Incompatible(format!(
                "{} did not answer a filter query with a SCIM ListResponse",
                self.base
            ))),
        }
    }

    /// `GET /Users/{id}` or `GET /Groups/{id}?excludedAttributes=members`.
    pub async fn get(&self, endpoint: &str, id: &str) -> Result<Value, TargetError> {
        let pq = if endpoint == "Groups" {
            format!("/Groups/{}?excludedAttributes=members", encode(id))
        } else {
            format!("/{endpoint}/{}", encode(id))
        };
        let (_, v) = self.send(reqwest::Method::GET, &pq, None).await?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(TargetError::Incompatible(format!(
                "{} answered GET {pq} without a resource",
                self.base
            )))
        }
    }

    /// `POST /{endpoint}`: the created resource's `id`.
    pub async fn create(&self, endpoint: &str, body: &Value) -> Result<String, TargetError> {
        let (_, v) = self
            .send(reqwest::Method::POST, &format!("/{endpoint}"), Some(body))
            .await?;
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                TargetError::Incompatible(format!(
                    "{} created a resource but returned no id",
                    self.base
                ))
            })
    }

    /// `PATCH /{endpoint}/{id}` with these operations.
    pub async fn patch(
        &self,
        endpoint: &str,
        id: &str,
        ops: Vec<Value>,
    ) -> Result<(), TargetError> {
        let body = json!({"schemas": [PATCH_URN], "Operations": ops});
        self.send(
            reqwest::Method::PATCH,
            &format!("/{endpoint}/{}", encode(id)),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// `DELETE /{endpoint}/{id}`.
    pub async fn delete(&self, endpoint: &str, id: &str) -> Result<(), TargetError> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/{endpoint}/{}", encode(id)),
            None,
        )
        .await
        .map(|_| ())
    }

    // ---- the two PATCH dialects (ENTRA-OUTBOUND-SCIM.md §5)

    fn op(&self, name: &str) -> String {
        if self.flag {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        }
    }

    /// Operations for changed attributes: `(target path, new value, had a value before)`.
    pub fn attribute_ops(&self, changes: &[(String, Value, bool)]) -> Vec<Value> {
        let mut ops = Vec::new();
        let mut grouped = serde_json::Map::new();
        for (path, value, existed) in changes {
            let value = self.wire_value(path, value);
            if !existed {
                ops.push(json!({"op": self.op("Add"), "path": path, "value": value}));
            } else if self.flag && !path.contains('[') {
                grouped.insert(path.clone(), value);
            } else {
                ops.push(json!({"op": self.op("Replace"), "path": path, "value": value}));
            }
        }
        if !grouped.is_empty() {
            ops.push(json!({"op": "replace", "value": grouped}));
        }
        ops
    }

    /// `active` is the string "True"/"False" in the default dialect, a boolean with the flag.
    fn wire_value(&self, path: &str, v: &Value) -> Value {
        if path.eq_ignore_ascii_case("active")
            && !self.flag
            && let Value::Bool(b) = v
        {
            return json!(if *b { "True" } else { "False" });
        }
        v.clone()
    }

    /// The disable operation.
    pub fn disable_op(&self) -> Value {
        if self.flag {
            json!({"op": "replace", "path": "active", "value": false})
        } else {
            json!({"op": "Replace", "path": "active", "value": "False"})
        }
    }

    pub fn add_members_op(&self, ids: &[String]) -> Vec<Value> {
        let values: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
        vec![json!({"op": self.op("Add"), "path": "members", "value": values})]
    }

    pub fn remove_members_ops(&self, ids: &[String]) -> Vec<Value> {
        if self.flag {
            ids.iter()
                .map(|i| json!({"op": "remove", "path": format!("members[value eq {}]", quote(i))}))
                .collect()
        } else {
            let values: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
            vec![json!({"op": "Remove", "path": "members", "value": values})]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_dialects() {
        assert_eq!(quote(r#"o'brien"x\y"#), r#""o'brien\"x\\y""#);
        assert_eq!(
            encode(r#"userName eq "a b""#),
            "userName%20eq%20%22a%20b%22"
        );
        let http = reqwest::Client::new();
        let d = Target::new(
            http.clone(),
            "http://127.0.0.1:1/scim/v2/",
            Secret::new("t"),
        )
        .unwrap();
        assert!(!d.flag);
        assert_eq!(d.base(), "http://127.0.0.1:1/scim/v2");
        let ops = d.attribute_ops(&[
            ("active".into(), json!(false), true),
            ("nickName".into(), json!("B"), false),
        ]);
        assert_eq!(
            ops,
            vec![
                json!({"op":"Replace","path":"active","value":"False"}),
                json!({"op":"Add","path":"nickName","value":"B"})
            ]
        );
        let f = Target::new(
            http,
            "http://127.0.0.1:1/scim?aadOptscim062020",
            Secret::new("t"),
        )
        .unwrap();
        assert!(f.flag);
        let ops = f.attribute_ops(&[
            ("displayName".into(), json!("D"), true),
            ("emails[type eq \"work\"].value".into(), json!("e"), true),
            ("name.givenName".into(), json!("G"), true),
        ]);
        assert_eq!(
            ops[0],
            json!({"op":"replace","path":"emails[type eq \"work\"].value","value":"e"})
        );
        assert_eq!(
            ops[1],
            json!({"op":"replace","value":{"displayName":"D","name.givenName":"G"}})
        );
        assert_eq!(
            f.remove_members_ops(&["u1".into()]),
            vec![json!({"op":"remove","path":"members[value eq \"u1\"]"})]
        );
        assert!(format!("{f:?}").contains("(redacted)"));
        assert!(
            Target::new(
                reqwest::Client::new(),
                "http://example.com/scim",
                Secret::new("t")
            )
            .is_err()
        );
    }
}
