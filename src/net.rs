//! HTTP transport shared by the Graph and SCIM clients: which URLs we may talk
//! to, one configured `reqwest` client, and retrying throttled requests.
//!
//! Retries know idempotency: every send says whether the request may be sent
//! again once it may have reached the server ([`Idempotent`]). A connection
//! that could not be made is always retried (no byte was sent); a timeout or a
//! connection lost after sending, or a gateway's 502/504, is retried only for
//! an idempotent request. A create (`POST`) that timed out is not sent again:
//! its caller looks at the live state instead (did the app get created?).
//! 429 and 503 (the server refused the work) are retried for every request.
//!
//! Policy: HTTPS with certificate verification for every remote host; plain
//! `http://` only for loopback (the twin, a local test server). There is no
//! switch that turns certificate checks off.

use crate::error::{Error, Result};
use std::time::Duration;
use url::Url;

/// Parse `raw` and check it against the transport policy. `what` names the URL
/// in the error ("the SCIM URL", "--graph-url").
pub fn checked_url(raw: &str, what: &str) -> Result<Url> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::usage(format!("{what} `{raw}` is not a valid URL: {e}")))?;
    check_transport(&url, what)?;
    Ok(url)
}

/// Refuse anything but https, or http to a loopback address.
pub fn check_transport(url: &Url, what: &str) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::usage(format!(
            "{what} `{url}` uses plain http: https is required for any host other than loopback (127.0.0.1, ::1, localhost)"
        ))),
        other => Err(Error::usage(format!(
            "{what} `{url}` has scheme `{other}`: only https (or http to loopback) is supported"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// How long one request may take, connection to last byte, by default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The shared HTTP client: rustls with the platform's roots, sane timeouts.
pub fn http_client() -> reqwest::Client {
    http_client_with_timeout(REQUEST_TIMEOUT)
}

/// [`http_client`] with another request timeout (tests, slow targets).
pub fn http_client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("scimshift/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("the TLS backend is compiled in")
}

/// How to retry throttled or failed requests.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// First back-off when the server gave no `Retry-After`.
    pub base_delay: Duration,
    /// Longest single wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1): the server's
    /// `Retry-After` when it gave one, else exponential back-off with full jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let jitter: f64 = rand::random::<f64>();
        Duration::from_secs_f64(cap.as_secs_f64() * (0.5 + jitter / 2.0))
    }
}

/// Whether sending a request twice has the same effect as sending it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    /// Reads, `PUT`, `DELETE`, a `PATCH` that sets full state, the sync verbs
    /// (`start`, `pause`): safe to send again after a timeout.
    Yes,
    /// Creates (`POST`): sent again only when it surely never left.
    No,
}

impl Idempotent {
    /// The default for a method: `GET`/`HEAD`/`OPTIONS`/`PUT`/`DELETE` yes,
    /// `POST`/`PATCH` no. Callers that know better (a `POST …/start`, a
    /// replace-only `PATCH`) say so explicitly.
    pub fn by_method(method: &reqwest::Method) -> Idempotent {
        use reqwest::Method;
        if [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PUT,
            Method::DELETE,
        ]
        .contains(method)
        {
            Idempotent::Yes
        } else {
            Idempotent::No
        }
    }
}

/// Whether an answer with `status` is worth sending again. The one list, used
/// for direct requests and for the requests inside a Graph `$batch`: 429 and
/// 503 (the server turned the work away) for every request; 502 and 504 (a
/// gateway lost the answer: the work may have been done) only when
/// `idempotent`.
pub fn is_retryable_status(status: u16, idempotent: Idempotent) -> bool {
    match status {
        429 | 503 => true,
        502 | 504 => idempotent == Idempotent::Yes,
        _ => false,
    }
}

/// Whether a transport failure may be followed by another attempt: a
/// connection that was never made, always; a timeout or a connection lost
/// after the request may have been sent, only when `idempotent`.
pub fn may_resend_after(connect_failed: bool, idempotent: Idempotent) -> bool {
    connect_failed || idempotent == Idempotent::Yes
}

/// Read `Retry-After` (seconds form; the HTTP-date form is treated as absent).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Attempts in total when the connection itself fails.
pub const TRANSPORT_ATTEMPTS: u32 = 3;

/// Send a request built by `build` until it gets a non-retryable answer or the
/// policy runs out. Transport failures are retried as [`may_resend_after`]
/// says, statuses as [`is_retryable_status`] says, both by `idempotent`.
/// `build` is called once per attempt because a `RequestBuilder` is consumed.
pub async fn send_with_retry<F>(
    policy: &RetryPolicy,
    idempotent: Idempotent,
    mut build: F,
) -> Result<reqwest::Response, reqwest::Error>
where
    F: FnMut() -> reqwest::RequestBuilder,
{
    let mut attempt = 1;
    loop {
        match build().send().await {
            Ok(resp)
                if is_retryable_status(resp.status().as_u16(), idempotent)
                    && attempt < policy.max_attempts =>
            {
                let wait = policy.delay(attempt, retry_after(resp.headers()));
                tracing::debug!(
                    status = resp.status().as_u16(),
                    ?wait,
                    "retrying throttled request"
                );
                tokio::time::sleep(wait).await;
            }
            Ok(resp) => return Ok(resp),
            // A refused or reset connection is retried, but only a couple of
            // times: an unreachable host should get its sentence in seconds.
            Err(e)
                if (e.is_connect() || e.is_request() || e.is_timeout())
                    && may_resend_after(e.is_connect(), idempotent)
                    && attempt < policy.max_attempts.min(TRANSPORT_ATTEMPTS) =>
            {
                let wait = policy.delay(attempt, None);
                tracing::debug!(error = %e, ?wait, "retrying after a transport error");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
    }
}

/// One sentence for a transport failure, without reqwest's nested debug chain.
pub fn describe_transport_error(url: &str, err: &reqwest::Error) -> String {
    if err.is_connect() {
        format!("could not connect to {url}: is the address right and the server up?")
    } else if err.is_timeout() {
        format!("{url} did not answer in time")
    } else if err.is_decode() || err.is_body() {
        format!("{url} sent an answer that could not be read")
    } else {
        format!("request to {url} failed: connection reset or refused")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        assert!(checked_url("https://graph.microsoft.com/v1.0", "x").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/v1.0", "x").is_ok());
        assert!(checked_url("http://localhost:1/scim", "x").is_ok());
        assert!(checked_url("http://[::1]:1/", "x").is_ok());
        let e = checked_url("http://coda.io/scim/v2", "the SCIM URL").unwrap_err();
        assert!(e.message.contains("https is required"), "{}", e.message);
        assert!(checked_url("ftp://127.0.0.1/", "x").is_err());
        assert!(checked_url("not a url", "x").is_err());
    }

    #[test]
    fn only_idempotent_requests_are_resent_once_they_may_have_arrived() {
        use reqwest::Method;
        assert_eq!(Idempotent::by_method(&Method::GET), Idempotent::Yes);
        assert_eq!(Idempotent::by_method(&Method::PUT), Idempotent::Yes);
        assert_eq!(Idempotent::by_method(&Method::DELETE), Idempotent::Yes);
        assert_eq!(Idempotent::by_method(&Method::POST), Idempotent::No);
        assert_eq!(Idempotent::by_method(&Method::PATCH), Idempotent::No);
        // Refused work: resend anything.
        for s in [429, 503] {
            assert!(is_retryable_status(s, Idempotent::No), "{s}");
            assert!(is_retryable_status(s, Idempotent::Yes), "{s}");
        }
        // A gateway lost the answer: the work may be done.
        for s in [502, 504] {
            assert!(!is_retryable_status(s, Idempotent::No), "{s}");
            assert!(is_retryable_status(s, Idempotent::Yes), "{s}");
        }
        for s in [200, 400, 404, 409, 500] {
            assert!(!is_retryable_status(s, Idempotent::Yes), "{s}");
        }
        assert!(may_resend_after(true, Idempotent::No));
        assert!(!may_resend_after(false, Idempotent::No));
        assert!(may_resend_after(false, Idempotent::Yes));
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(3, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        let d = p.delay(1, None);
        assert!(d >= Duration::from_millis(250) && d <= Duration::from_millis(500));
    }
}
