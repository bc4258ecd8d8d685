//! Getting a Graph access token, and keeping it fresh.
//!
//! Sources, in order of precedence (the Azure SDK's environment names):
//! a ready token in `SCIMSHIFT_GRAPH_TOKEN`; client credentials from
//! `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`, or with
//! `AZURE_CLIENT_CERTIFICATE_PATH` instead of the secret (a PEM certificate +
//! key, see `cert`); `--device-code` (a person signs in on another device);
//! `--az-cli` (reuse `az login`).
//!
//! Tokens are cached in memory and fetched again shortly before they expire.
//! Every token, secret and refresh token is a [`Secret`]; nothing here logs or
//! formats one. This module stops at the token: Graph calls are in `client`.

use super::cert::ClientCertificate;
use super::cloud::Endpoints;
use super::error::oauth_error;
use crate::error::{Error, Result};
use crate::net;
use crate::secret::Secret;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where a token comes from.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A token obtained elsewhere (`SCIMSHIFT_GRAPH_TOKEN`); used as-is, never refreshed.
    StaticToken(Secret),
    /// App-only sign-in with a client secret.
    ClientSecret {
        tenant: String,
        client_id: String,
        secret: Secret,
    },
    /// Delegated sign-in with a device code (a public-client app registration).
    DeviceCode { tenant: String, client_id: String },
    /// App-only sign-in with a certificate (signed client assertion).
    ClientCertificate {
        tenant: String,
        client_id: String,
        certificate: Arc<ClientCertificate>,
    },
    /// `az account get-access-token`.
    AzCli,
}

impl Credential {
    /// A short name for messages (`client credentials`, `device code`…).
    pub fn describe(&self) -> &'static str {
        match self {
            Credential::StaticToken(_) => "SCIMSHIFT_GRAPH_TOKEN",
            Credential::ClientSecret { .. } => "client credentials",
            Credential::ClientCertificate { .. } => "client certificate",
            Credential::DeviceCode { .. } => "device code",
            Credential::AzCli => "Azure CLI",
        }
    }

    /// Pick the credential from the flags and a variable lookup (the process
    /// environment in `crate::cmd::credentials`; a map in tests). Returns a
    /// note when a flag is overridden by a source of higher precedence: the
    /// caller decides whether and how to show it.
    pub fn choose(
        device_code: bool,
        az_cli: bool,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<(Credential, Option<String>)> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let flag = if device_code {
            Some("--device-code")
        } else if az_cli {
            Some("--az-cli")
        } else {
            None
        };
        let overridden = |by: &str| flag.map(|f| format!("{f} is ignored because {by} is set"));
        if let Some(t) = get("SCIMSHIFT_GRAPH_TOKEN") {
            let t = t.strip_prefix("Bearer ").unwrap_or(&t).trim().to_string();
            return Ok((
                Credential::StaticToken(Secret::new(t)),
                overridden("SCIMSHIFT_GRAPH_TOKEN"),
            ));
        }
        let tenant = get("AZURE_TENANT_ID");
        let client_id = get("AZURE_CLIENT_ID");
        if let (Some(tenant), Some(client_id), Some(secret)) = (
            tenant.clone(),
            client_id.clone(),
            get("AZURE_CLIENT_SECRET"),
        ) {
            return Ok((
                Credential::ClientSecret {
                    tenant,
                    client_id,
                    secret: Secret::new(secret),
                },
                overridden("AZURE_CLIENT_SECRET"),
            ));
        }
        if let Some(path) = get("AZURE_CLIENT_CERTIFICATE_PATH") {
            if get("AZURE_CLIENT_CERTIFICATE_PASSWORD").is_some() {
                return Err(Error::auth(
                    "password-protected certificates (AZURE_CLIENT_CERTIFICATE_PASSWORD) are not supported yet: export the key without a password into a PEM file of mode 0600",
                ));
            }
            let (Some(tenant), Some(client_id)) = (tenant.clone(), client_id.clone()) else {
                return Err(Error::auth(
                    "AZURE_CLIENT_CERTIFICATE_PATH needs AZURE_TENANT_ID and AZURE_CLIENT_ID too",
                ));
            };
            let certificate = Arc::new(ClientCertificate::load(std::path::Path::new(&path))?);
            return Ok((
                Credential::ClientCertificate {
                    tenant,
                    client_id,
                    certificate,
                },
                overridden("AZURE_CLIENT_CERTIFICATE_PATH"),
            ));
        }
        if device_code {
            let Some(client_id) = client_id else {
                return Err(Error::auth(
                    "--device-code needs AZURE_CLIENT_ID: the id of an app registration that allows public client flows (and AZURE_TENANT_ID, else \"organizations\")",
                ));
            };
            return Ok((
                Credential::DeviceCode {
                    tenant: tenant.unwrap_or_else(|| "organizations".into()),
                    client_id,
                },
                None,
            ));
        }
        if az_cli {
            return Ok((Credential::AzCli, None));
        }
        Err(Error::auth(
            "no Graph credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or use --device-code (or --az-cli, or a token in SCIMSHIFT_GRAPH_TOKEN)",
        ))
    }

    fn refreshable(&self) -> bool {
        !matches!(self, Credential::StaticToken(_))
    }
}

/// Tunables, mostly for tests.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Fetch a new token this long before the old one expires (at most half its lifetime).
    pub refresh_margin: Duration,
    /// Added to the device-code polling interval on `slow_down` (RFC 8628: 5 s).
    pub slow_down_step: Duration,
    /// The Azure CLI program (`az`).
    pub az_program: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            refresh_margin: Duration::from_secs(300),
            slow_down_step: Duration::from_secs(5),
            az_program: "az".into(),
        }
    }
}

struct Cached {
    token: Secret,
    /// When to fetch a new one; `None` = never (a static token).
    refresh_at: Option<Instant>,
    /// Device-code sign-ins get one (with offline_access).
    refresh_token: Option<Secret>,
}

/// Hands out a valid token, fetching or refreshing it when needed.
pub struct TokenProvider {
    credential: Credential,
    endpoints: Endpoints,
    http: reqwest::Client,
    settings: AuthSettings,
    cache: tokio::sync::Mutex<Option<Cached>>,
    /// Where the device-code message goes (stderr by default).
    prompt: Arc<dyn Fn(&str) + Send + Sync>,
    fetches: AtomicU32,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("credential", &self.credential.describe())
            .field("authority", &self.endpoints.authority)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl TokenProvider {
    pub fn new(
        credential: Credential,
        endpoints: Endpoints,
        http: reqwest::Client,
    ) -> TokenProvider {
        TokenProvider {
            credential,
            endpoints,
            http,
            settings: AuthSettings::default(),
            cache: tokio::sync::Mutex::new(None),
            prompt: Arc::new(|m: &str| eprintln!("{m}")),
            fetches: AtomicU32::new(0),
        }
    }

    pub fn with_settings(mut self, settings: AuthSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Send the device-code message somewhere else than stderr (the demo, tests).
    pub fn with_prompt(mut self, prompt: Arc<dyn Fn(&str) + Send + Sync>) -> Self {
        self.prompt = prompt;
        self
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// How many tokens were fetched from the authority (or az) so far.
    pub fn fetch_count(&self) -> u32 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a fresh one.
    pub async fn token(&self) -> Result<Secret> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.refresh_at.is_none_or(|t| Instant::now() < t)
        {
            return Ok(c.token.clone());
        }
        let refresh_token = cache.as_ref().and_then(|c| c.refresh_token.clone());
        let fresh = match (refresh_token, &self.credential) {
            (Some(rt), Credential::DeviceCode { tenant, client_id }) => {
                match self.refresh(tenant, client_id, &rt).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!("refresh failed ({e}); signing in again");
                        self.acquire().await?
                    }
                }
            }
            _ => self.acquire().await?,
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Forget the cached token (Graph said 401). Returns whether a new one can be had.
    pub async fn invalidate(&self) -> bool {
        if !self.credential.refreshable() {
            return false;
        }
        if let Some(c) = self.cache.lock().await.as_mut() {
            c.refresh_at = Some(Instant::now());
        }
        true
    }

    fn token_url(&self, tenant: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.endpoints.authority,
            url_segment(tenant)
        )
    }

    fn cached(&self, answer: TokenAnswer) -> Cached {
        let lifetime = answer
            .expires_in
            .as_ref()
            .and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .and_then(crate::net::duration_from_secs)
            .unwrap_or(Duration::from_secs(3600))
            // A year is past any token's life; more would overflow `Instant`.
            .min(Duration::from_secs(365 * 86_400));
        let margin = self.settings.refresh_margin.min(lifetime / 2);
        Cached {
            token: Secret::new(answer.access_token),
            refresh_at: Some(Instant::now() + lifetime - margin),
            refresh_token: answer.refresh_token.map(Secret::new),
        }
    }

    async fn acquire(&self) -> Result<Cached> {
        match &self.credential {
            Credential::StaticToken(t) => Ok(Cached {
                token: t.clone(),
                refresh_at: None,
                refresh_token: None,
            }),
            Credential::ClientSecret {
                tenant,
                client_id,
                secret,
            } => {
                let form = [
                    ("client_id", client_id.as_str()),
                    ("scope", self.endpoints.scope.as_str()),
                    ("client_secret", secret.expose()),
                    ("grant_type", "client_credentials"),
                ];
                let (status, body) = self.post_form(&self.token_url(tenant), &form).await?;
                if status != 200 {
                    return Err(oauth_error(status, &body, "client credentials"));
                }
                Ok(self.cached(parse_answer(body, &self.endpoints.authority)?))
            }
            Credential::ClientCertificate {
                tenant,
                client_id,
                certificate,
            } => {
                let url = self.token_url(tenant);
                let assertion = certificate.assertion(client_id, &url)?;
                let form = [
                    ("client_id", client_id.as_str()),
                    ("scope", self.endpoints.scope.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                    ("grant_type", "client_credentials"),
                ];
                let (status, body) = self.post_form(&url, &form).await?;
                if status != 200 {
                    return Err(oauth_error(status, &body, "client certificate"));
                }
                Ok(self.cached(parse_answer(body, &self.endpoints.authority)?))
            }
            Credential::DeviceCode { tenant, client_id } => {
                self.device_code(tenant, client_id).await
            }
            Credential::AzCli => self.az_cli().await,
        }
    }

    async fn refresh(&self, tenant: &str, client_id: &str, rt: &Secret) -> Result<Cached> {
        let scope = format!("{} offline_access", self.endpoints.scope);
        let form = [
            ("client_id", client_id),
            ("scope", scope.as_str()),
            ("refresh_token", rt.expose()),
            ("grant_type", "refresh_token"),
        ];
        let (status, body) = self.post_form(&self.token_url(tenant), &form).await?;
        if status != 200 {
            return Err(oauth_error(status, &body, "refresh"));
        }
        let mut c = self.cached(parse_answer(body, &self.endpoints.authority)?);
        if c.refresh_token.is_none() {
            c.refresh_token = Some(rt.clone());
        }
        Ok(c)
    }

    async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value)> {
        // Asking the token endpoint again changes nothing (a token, a device
        // code poll): safe to repeat after a timeout.
        let resp = net::send_with_retry(
            &net::RetryPolicy {
                max_attempts: 3,
                ..Default::default()
            },
            net::Idempotent::Yes,
            || {
                self.http
                    .post(url)
                    .header("Accept", "application/json")
                    .form(form)
            },
        )
        .await
        .map_err(|e| Error::remote(net::describe_transport_error(&self.endpoints.authority, &e)))?;
        let answer = net::read_answer(resp, &self.endpoints.authority).await?;
        let status = answer.status;
        let bytes = answer.body;
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Error::remote(format!(
                "the token endpoint {} answered HTTP {status} without JSON: is --authority-url (or --cloud) right?",
                self.endpoints.authority
            ))
        })?;
        Ok((status, body))
    }

    async fn device_code(&self, tenant: &str, client_id: &str) -> Result<Cached> {
        let scope = format!("{} offline_access", self.endpoints.scope);
        let url = format!(
            "{}/{}/oauth2/v2.0/devicecode",
            self.endpoints.authority,
            url_segment(tenant)
        );
        let (status, body) = self
            .post_form(&url, &[("client_id", client_id), ("scope", &scope)])
            .await?;
        if status != 200 {
            return Err(oauth_error(status, &body, "device code"));
        }
        let device_code = body
            .get("device_code")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::remote("the device-code endpoint answered without a device_code")
            })?
            .to_string();
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}",
                    body.get("verification_uri")
                        .and_then(Value::as_str)
                        .unwrap_or("https://microsoft.com/devicelogin"),
                    body.get("user_code").and_then(Value::as_str).unwrap_or("?")
                )
            });
        (self.prompt)(&message);
        let number = |k: &str, d: f64| {
            body.get(k)
                .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
                .unwrap_or(d)
        };
        let secs = |k: &str, d: f64, lo: f64, hi: f64| {
            crate::net::duration_from_secs(number(k, d).clamp(lo, hi))
                .unwrap_or(Duration::from_secs_f64(d))
        };
        let mut interval = secs("interval", 5.0, 0.05, 600.0);
        let deadline = Instant::now() + secs("expires_in", 900.0, 1.0, 86_400.0);
        let token_url = self.token_url(tenant);
        loop {
            tokio::time::sleep(interval).await;
            if Instant::now() > deadline {
                return Err(Error::auth(
                    "the device code expired before the sign-in was finished: run the command again and sign in within the time shown",
                ));
            }
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client_id),
                ("device_code", device_code.as_str()),
            ];
            let (status, body) = self.post_form(&token_url, &form).await?;
            if status == 200 {
                return Ok(self.cached(parse_answer(body, &self.endpoints.authority)?));
            }
            match body.get("error").and_then(Value::as_str).unwrap_or("") {
                "authorization_pending" => continue,
                "slow_down" => interval += self.settings.slow_down_step,
                "authorization_declined" | "access_denied" => {
                    return Err(Error::auth(
                        "the device-code sign-in was declined: run the command again and approve the sign-in",
                    ));
                }
                "expired_token" | "code_expired" => {
                    return Err(Error::auth(
                        "the device code expired before the sign-in was finished: run the command again and sign in within the time shown",
                    ));
                }
                "bad_verification_code" => {
                    return Err(Error::auth(
                        "the device code was not recognised: run the command again",
                    ));
                }
                _ => return Err(oauth_error(status, &body, "device code")),
            }
        }
    }

    async fn az_cli(&self) -> Result<Cached> {
        let out = tokio::process::Command::new(&self.settings.az_program)
            .args(["account", "get-access-token", "--resource", &self.endpoints.resource, "-o", "json"])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::auth(
                    "--az-cli needs the Azure CLI, but `az` is not on PATH: install it and run `az login`, or use client credentials or --device-code",
                ),
                _ => Error::auth(format!("could not run the Azure CLI (`{}`): {e}", self.settings.az_program)),
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message");
            let line: String = line
                .trim_start_matches("ERROR: ")
                .chars()
                .take(200)
                .collect();
            return Err(Error::auth(format!(
                "`az account get-access-token` failed ({line}): run `az login` (with --tenant) first"
            )));
        }
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
            Error::auth("`az account get-access-token` did not print JSON: update the Azure CLI")
        })?;
        let token = v
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::auth(
                    "`az account get-access-token` printed no accessToken: update the Azure CLI",
                )
            })?;
        let now_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let lifetime = v
            .get("expires_on")
            .and_then(|e| e.as_f64().or_else(|| e.as_str()?.parse().ok()))
            .map(|epoch| (epoch - now_epoch).max(0.0))
            .unwrap_or(50.0 * 60.0);
        Ok(self.cached(TokenAnswer {
            access_token: token.to_string(),
            expires_in: Some(serde_json::json!(lifetime)),
            refresh_token: None,
        }))
    }
}

fn parse_answer(body: Value, authority: &str) -> Result<TokenAnswer> {
    serde_json::from_value(body).map_err(|_| {
        Error::remote(format!(
            "the token endpoint {authority} answered 200 without an access_token"
        ))
    })
}

/// A tenant id or domain as one path segment.
fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn precedence_and_missing_credentials() {
        let all = [
            ("SCIMSHIFT_GRAPH_TOKEN", "Bearer tok"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        let (c, note) = Credential::choose(true, false, vars(&all)).unwrap();
        assert!(matches!(&c, Credential::StaticToken(t) if t.expose() == "tok"));
        assert!(note.unwrap().contains("--device-code is ignored"));
        let (c, _) = Credential::choose(false, false, vars(&all[1..])).unwrap();
        assert!(matches!(c, Credential::ClientSecret { .. }));
        assert!(!format!("{c:?}").contains("\"s\""), "{c:?}");
        let (c, _) = Credential::choose(true, false, vars(&all[1..3])).unwrap();
        assert!(matches!(c, Credential::DeviceCode { .. }));
        assert!(
            Credential::choose(true, false, vars(&[]))
                .unwrap_err()
                .message
                .contains("AZURE_CLIENT_ID")
        );
        let (c, _) = Credential::choose(false, true, vars(&all[1..3])).unwrap();
        assert!(matches!(c, Credential::AzCli));
        let e = Credential::choose(false, false, vars(&all[1..3])).unwrap_err();
        assert!(
            e.message.contains(
                "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or use --device-code"
            ),
            "{}",
            e.message
        );
        let e = Credential::choose(
            false,
            false,
            vars(&[("AZURE_CLIENT_CERTIFICATE_PATH", "/x.pem")]),
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("needs AZURE_TENANT_ID and AZURE_CLIENT_ID"),
            "{}",
            e.message
        );
        let e = Credential::choose(
            false,
            false,
            vars(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/x.pem"),
            ]),
        )
        .unwrap_err();
        assert!(
            e.message.contains("/nonexistent/x.pem: no such file"),
            "{}",
            e.message
        );
        let e = Credential::choose(
            false,
            false,
            vars(&[
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/x.pem"),
                ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pw"),
            ]),
        )
        .unwrap_err();
        assert!(e.message.contains("not supported yet"), "{}", e.message);
    }
}
