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
//!
//! Hostile servers: no redirect is ever followed (a 3xx is answered with one
//! sentence naming its `Location`, [`read_answer`]); a proxy is used only for
//! https to a non-loopback host, from `HTTPS_PROXY`/`https_proxy` minus
//! `NO_PROXY`/`no_proxy` (`HTTP_PROXY` and `ALL_PROXY` are ignored: a bearer
//! token never travels to a proxy in clear); every answer body is read in
//! chunks and refused once its decoded size passes
//! [`max_response_bytes`] (64 MiB unless `SCIMSHIFT_MAX_RESPONSE_BYTES` says
//! otherwise), so a gzip bomb or an endless body stops there. Paging limits
//! live with the SCIM and Graph pagers.

use crate::error::{Error, Result};
use std::time::Duration;
use url::Url;

/// Parse `raw` and check it against the transport policy. `what` names the URL
/// in the error ("the SCIM URL", "--graph-url").
pub fn checked_url(raw: &str, what: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::usage(format!(
            "{what} `{}` is not a valid URL: {e}",
            without_userinfo(raw)
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::usage(format!(
            "{what} `{}` has a user name or password in it (before `@`): scimshift sends credentials only as headers, so remove them from the URL",
            without_userinfo(raw)
        )));
    }
    check_transport(&url, what)?;
    Ok(url)
}

/// `raw` with anything between `://` and an `@` of the authority replaced by
/// `…`, so a user name or password in a URL is never repeated.
pub fn without_userinfo(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}…{}", &raw[..start], &rest[at..]),
        None => raw.to_string(),
    }
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

/// The shared HTTP client: rustls with the platform's roots, sane timeouts,
/// no redirects, a proxy only as [`proxy_for`] says.
pub fn http_client() -> reqwest::Client {
    http_client_with_timeout(REQUEST_TIMEOUT)
}

/// [`http_client`] with another request timeout (tests, slow targets).
pub fn http_client_with_timeout(timeout: Duration) -> reqwest::Client {
    let https_proxy = env_proxy();
    let no_proxy = reqwest::NoProxy::from_env();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("scimshift/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        // Drop reqwest's own reading of the proxy variables (it sends plain
        // http, loopback included, through HTTP_PROXY/ALL_PROXY).
        .no_proxy();
    if let Some(proxy) = https_proxy {
        builder = builder
            .proxy(reqwest::Proxy::custom(move |url| proxy_for(url, &proxy)).no_proxy(no_proxy));
    }
    builder.build().expect("the TLS backend is compiled in")
}

/// The https proxy from the environment (`HTTPS_PROXY`, then `https_proxy`),
/// when it is set and is a URL.
fn env_proxy() -> Option<Url> {
    ["HTTPS_PROXY", "https_proxy"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .and_then(|v| {
            Url::parse(&v)
                .or_else(|_| Url::parse(&format!("http://{v}")))
                .ok()
        })
}

/// Which proxy a request to `url` goes through: `proxy` for https to a host
/// that is not loopback, none otherwise (plain http is loopback only, and a
/// token to the twin has no business at a proxy). `NO_PROXY` is applied on top
/// by reqwest.
pub fn proxy_for(url: &Url, proxy: &Url) -> Option<Url> {
    (url.scheme() == "https" && !is_loopback(url)).then(|| proxy.clone())
}

/// The largest answer body read by default: 64 MiB after decompression.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The answer size limit: `SCIMSHIFT_MAX_RESPONSE_BYTES` when it is a
/// positive number, else [`DEFAULT_MAX_RESPONSE_BYTES`].
pub fn max_response_bytes() -> u64 {
    std::env::var("SCIMSHIFT_MAX_RESPONSE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES)
}

/// An answer read to its end within the limits.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Read `resp` for the server named `base`: a redirect (3xx other than 304)
/// is refused with one sentence naming its `Location`; the body is read chunk
/// by chunk (decoded bytes, so gzip counts inflated) and refused once it
/// passes [`max_response_bytes`].
pub async fn read_answer(resp: reqwest::Response, base: &str) -> Result<Answer> {
    read_answer_limited(resp, base, max_response_bytes()).await
}

/// [`read_answer`] with an explicit limit.
pub async fn read_answer_limited(
    mut resp: reqwest::Response,
    base: &str,
    limit: u64,
) -> Result<Answer> {
    let status = resp.status();
    if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(Error::remote(redirect_sentence(
            base,
            status.as_u16(),
            location.as_deref(),
        )));
    }
    let headers = resp.headers().clone();
    if matches!(status.as_u16(), 429 | 503)
        && let Some(d) = retry_after(&headers).filter(|d| *d > MAX_RETRY_AFTER)
    {
        return Err(Error::remote(format!(
            "{base} answered {} asking to wait {} before the next request (Retry-After: {} s); scimshift waits at most {}, so it stopped here: run again after that wait",
            status.as_u16(),
            duration_in_words(d),
            d.as_secs(),
            duration_in_words(MAX_RETRY_AFTER)
        )));
    }
    let mut body = Vec::new();
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| Error::remote(describe_transport_error(base, &e)))?;
        let Some(chunk) = chunk else { break };
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Error::remote(format!(
                "{base} sent an answer larger than {}: scimshift stops reading there (set SCIMSHIFT_MAX_RESPONSE_BYTES to allow more)",
                bytes_in_words(limit)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status: status.as_u16(),
        headers,
        body,
    })
}

/// One sentence for a redirect we did not follow.
fn redirect_sentence(base: &str, status: u16, location: Option<&str>) -> String {
    match location {
        Some(loc) => format!(
            "{base} answered HTTP {status} redirecting to `{}`: scimshift follows no redirects (a token must not travel to another address); use the final URL directly if you trust it",
            shown(loc, 200)
        ),
        None => format!(
            "{base} answered HTTP {status} (a redirect without a Location): scimshift follows no redirects"
        ),
    }
}

/// `s` cut to `max` characters with control characters escaped, for a
/// server-supplied value inside a sentence.
fn shown(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

fn bytes_in_words(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
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
        .and_then(duration_from_secs)
}

/// Seconds a server sent (a `Retry-After`, a token's `expires_in`) as a
/// duration; `None` for a negative, NaN or infinite number or one past what a
/// `Duration` holds (`1e24` would panic `Duration::from_secs_f64`).
pub fn duration_from_secs(s: f64) -> Option<Duration> {
    if s.is_finite() && s >= 0.0 {
        Duration::try_from_secs_f64(s).ok()
    } else {
        None
    }
}

/// The longest `Retry-After` scimshift waits out. A server asking for more
/// gets its answer handed back at once, and [`read_answer`] turns it into one
/// sentence with the wait in words (not minutes of silence).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// `d` in words: `45 s`, `3 min 20 s`, `27 h 46 min`, `3 days 2 h`.
pub fn duration_in_words(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days} day{} {h} h", if days == 1 { "" } else { "s" })
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {sec} s")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The request's address for a log line: scheme, host, port and path (no
/// query, no userinfo).
fn where_to(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path()
    )
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
    build: F,
) -> Result<reqwest::Response, reqwest::Error>
where
    F: FnMut() -> reqwest::RequestBuilder,
{
    send_with_retry_gated(policy, idempotent, &Attempts(policy), build).await
}

/// Decides, for [`send_with_retry_gated`], whether a retryable answer is sent
/// again and after how long; told of every answer that was not retried.
pub trait RetryGate: Sync {
    /// Attempt `attempt` was answered `status` (retryable) with `retry_after`:
    /// the wait before the next attempt, or `None` to hand the answer back.
    fn retry(&self, attempt: u32, status: u16, retry_after: Option<Duration>) -> Option<Duration>;
    /// An answer that is not retried arrived.
    fn answered(&self, _status: u16) {}
}

/// The plain policy: `max_attempts`, waits from [`RetryPolicy::delay`].
pub struct Attempts<'a>(pub &'a RetryPolicy);

impl RetryGate for Attempts<'_> {
    fn retry(&self, attempt: u32, _: u16, retry_after: Option<Duration>) -> Option<Duration> {
        (attempt < self.0.max_attempts).then(|| self.0.delay(attempt, retry_after))
    }
}

/// [`send_with_retry`] with `gate` deciding about retryable statuses
/// (Graph reads: the read pacer retries a 429 while the run makes progress).
/// Transport failures are retried as [`send_with_retry`] does.
pub async fn send_with_retry_gated<F>(
    policy: &RetryPolicy,
    idempotent: Idempotent,
    gate: &dyn RetryGate,
    mut build: F,
) -> Result<reqwest::Response, reqwest::Error>
where
    F: FnMut() -> reqwest::RequestBuilder,
{
    let mut attempt = 1;
    loop {
        match build().send().await {
            Ok(resp) if is_retryable_status(resp.status().as_u16(), idempotent) => {
                let status = resp.status().as_u16();
                let asked = retry_after(resp.headers());
                if asked.is_some_and(|d| d > MAX_RETRY_AFTER) {
                    return Ok(resp);
                }
                let Some(wait) = gate.retry(attempt, status, asked) else {
                    return Ok(resp);
                };
                // A gate may retry past `max_attempts` (the read pacer, while
                // the run makes progress): then there is no "of N" to show.
                let of = if attempt < policy.max_attempts {
                    format!(" of {}", policy.max_attempts)
                } else {
                    String::new()
                };
                tracing::warn!(
                    "{} answered {status}; trying again in {} (attempt {}{of})",
                    where_to(resp.url()),
                    duration_in_words(wait),
                    attempt + 1,
                );
                tokio::time::sleep(wait).await;
            }
            Ok(resp) => {
                gate.answered(resp.status().as_u16());
                return Ok(resp);
            }
            // A refused or reset connection is retried, but only a couple of
            // times: an unreachable host should get its sentence in seconds.
            Err(e)
                if (e.is_connect() || e.is_request() || e.is_timeout())
                    && !is_tls_verification(&e)
                    && may_resend_after(e.is_connect(), idempotent)
                    && attempt < policy.max_attempts.min(TRANSPORT_ATTEMPTS) =>
            {
                let wait = policy.delay(attempt, None);
                tracing::warn!(
                    "{}: {}; trying again in {} (attempt {} of {})",
                    e.url().map(where_to).unwrap_or_default(),
                    transport_reason(&e),
                    duration_in_words(wait),
                    attempt + 1,
                    policy.max_attempts.min(TRANSPORT_ATTEMPTS)
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
    }
}

/// A few words for a transport failure, for a retry line.
fn transport_reason(err: &reqwest::Error) -> &'static str {
    if err.is_connect() {
        "could not connect"
    } else if err.is_timeout() {
        "no answer in time"
    } else {
        "connection lost"
    }
}

/// Whether `err` is a TLS certificate verification failure (untrusted,
/// expired, or for another name): never retried, and named as such.
pub fn is_tls_verification(err: &reqwest::Error) -> bool {
    tls_reason(err).is_some()
}

/// rustls's words for the certificate problem, from `err`'s source chain.
fn tls_reason(err: &reqwest::Error) -> Option<String> {
    let mut src: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = src {
        let s = e.to_string();
        if let Some(i) = s.find("invalid peer certificate") {
            return Some(crate::text::clean(&s[i..]).chars().take(200).collect());
        }
        src = e.source();
    }
    None
}

/// One sentence for a transport failure, without reqwest's nested debug chain.
pub fn describe_transport_error(url: &str, err: &reqwest::Error) -> String {
    if let Some(reason) = tls_reason(err) {
        format!(
            "TLS verification failed for {url}: its certificate is not trusted ({reason}); scimshift trusts the system's root certificates only, so give the server a certificate from a trusted authority"
        )
    } else if err.is_connect() {
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
    fn userinfo_in_a_url_is_refused_and_never_repeated() {
        for raw in [
            "https://admin:hunter2@scim.example.com/v2",
            "http://hunter2@127.0.0.1:1/scim",
            "https://admin:hunter2@[bad/v2",
        ] {
            let e = checked_url(raw, "the SCIM URL").unwrap_err().message;
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = checked_url("https://a:hunter2@x.example/v2", "the SCIM URL").unwrap_err();
        assert!(
            e.message
                .contains("`https://…@x.example/v2` has a user name or password"),
            "{}",
            e.message
        );
        assert_eq!(
            without_userinfo("https://x.example/a@b"),
            "https://x.example/a@b"
        );
    }

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
    fn proxies_only_for_remote_https() {
        let proxy = Url::parse("http://proxy.example:3128").unwrap();
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            proxy_for(&u("https://graph.microsoft.com/v1.0"), &proxy),
            Some(proxy.clone())
        );
        for direct in [
            "http://127.0.0.1:8080/scim",
            "http://localhost:1/",
            "https://127.0.0.1:8443/",
            "https://[::1]:1/",
            "https://localhost/",
            "http://coda.io/scim",
        ] {
            assert_eq!(proxy_for(&u(direct), &proxy), None, "{direct}");
        }
    }

    #[test]
    fn redirect_sentence_names_location_and_escapes_it() {
        let s = redirect_sentence("http://127.0.0.1:1", 302, Some("http://192.0.2.1/\x1b[2J"));
        assert!(s.contains("redirecting to `http://192.0.2.1/"), "{s}");
        let s = redirect_sentence("b", 307, Some("http://x/\u{1b}[2J"));
        assert!(!s.contains('\u{1b}'), "{s}");
        assert_eq!(bytes_in_words(64 * 1024 * 1024), "64 MiB");
        assert_eq!(bytes_in_words(1000), "1000 bytes");
    }

    #[test]
    fn seconds_past_a_duration_are_refused_not_a_panic() {
        assert_eq!(duration_from_secs(1.5), Some(Duration::from_millis(1500)));
        for s in [1e24, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(duration_from_secs(s), None, "{s}");
        }
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            "1009223372036854775807000".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
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
