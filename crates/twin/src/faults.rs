//! Faults the twin injects into Graph and SCIM answers, so clients are tested
//! against a flaky service. Parsed from `--faults`, or built by tests.
//!
//! Random ones: 429 (with `Retry-After: 1`), 503, dropped connections and added
//! latency (`429:0.05,503:0.02,reset:0.01,latency:20ms`).
//!
//! Scripted, deterministic ones ([`Scripted`]): "the requests matching METHOD
//! and a path substring pass `skip` times, then the next `times` are struck"
//! with a status, a dropped connection, or a timeout: the request does its
//! work and the answer is held back, as when Graph created the app but the
//! client gave up waiting. In a spec:
//! `at:POST:/instantiate:timeout=2s:times=1`, `at:GET:/servicePrincipals:503:skip=2`
//! (`*` for any method). They are counted per rule, in arrival order, and win
//! over the random draw.
//!
//! One Graph-specific fault: `instantiate404:P` makes `instantiate` answer 404
//! *after* creating the app, as production sometimes does (terraform-provider-
//! azuread PR #1406), so clients must look the app up before retrying.
//!
//! A "reset" is served as a response whose body fails before its first byte:
//! hyper then closes the connection (an orderly TCP close, not an RST) before
//! writing even the status line, so the client sees the connection closed
//! without an answer (hyper: `IncompleteMessage`), never an HTTP status.

use crate::error::{Error, Result};
use std::time::Duration;

/// Fault probabilities (0–1 each, summing to at most 1), a fixed added
/// latency, and scripted faults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub p429: f64,
    pub p503: f64,
    pub reset: f64,
    pub latency: Duration,
    /// Probability that `instantiate` creates the app yet answers 404.
    pub instantiate_404: f64,
    /// Deterministic faults, tried in order before the random draw.
    pub scripted: Vec<Scripted>,
}

/// What a scripted fault does to a request it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// Answer this status (Graph or SCIM error body; 429 with `Retry-After: 1`)
    /// without doing the work.
    Status(u16),
    /// Close the connection without an answer, without doing the work.
    Reset,
    /// Do the work, then hold the answer this long (or until the twin stops):
    /// a client with a shorter timeout gives up after the server acted.
    Timeout(Duration),
}

/// "Strike the requests matching `method` and `path_contains` after `skip`
/// of them passed, `times` times."
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    /// `None` matches any method.
    pub method: Option<String>,
    /// A substring of the path and query as sent (`/v1.0/…?…`, `/scim/v2/…`).
    pub path_contains: String,
    pub strike: Strike,
    pub skip: u32,
    pub times: u32,
}

impl Scripted {
    /// Strike the first request matching `method` (`*` for any) and
    /// `path_contains`, once.
    pub fn once(method: &str, path_contains: &str, strike: Strike) -> Scripted {
        Scripted {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_contains: path_contains.to_string(),
            strike,
            skip: 0,
            times: 1,
        }
    }

    pub fn skip(mut self, n: u32) -> Scripted {
        self.skip = n;
        self
    }

    pub fn times(mut self, n: u32) -> Scripted {
        self.times = n;
        self
    }

    fn matches(&self, method: &str, path_query: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path_query.contains(&self.path_contains)
    }

    /// `at:METHOD:PATH:STRIKE[:skip=N][:times=N]`, without the `at:`.
    fn parse(rest: &str, part: &str) -> Result<Scripted> {
        let hint = "a scripted fault is at:METHOD:PATH:STRIKE[:skip=N][:times=N], STRIKE one of a status (400-599), reset, timeout or timeout=DURATION, e.g. at:POST:/instantiate:timeout=2s:times=1";
        let bad = |why: &str| Error::usage(format!("--faults: `{part}` {why}; {hint}"));
        let fields: Vec<&str> = rest.split(':').map(str::trim).collect();
        let [method, path, strike, options @ ..] = fields.as_slice() else {
            return Err(bad("is incomplete"));
        };
        if method.is_empty() || path.is_empty() {
            return Err(bad("needs a method (or *) and a path substring"));
        }
        let strike = match strike.to_ascii_lowercase().as_str() {
            "reset" => Strike::Reset,
            "timeout" => Strike::Timeout(Duration::from_secs(30)),
            t if t.starts_with("timeout=") => Strike::Timeout(
                parse_duration(&t["timeout=".len()..])
                    .map_err(|_| bad("has a timeout that is not a duration"))?,
            ),
            t => match t.parse::<u16>() {
                Ok(code) if (400..600).contains(&code) => Strike::Status(code),
                _ => return Err(bad("has no strike (a status, reset or timeout)")),
            },
        };
        let mut s = Scripted::once(method, path, strike);
        for o in options {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| bad("has an option without =N"))?;
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| bad("has an option that is not a whole number"))?;
            match k.trim() {
                "skip" => s.skip = n,
                "times" => s.times = n,
                _ => return Err(bad("has an unknown option (skip, times)")),
            }
        }
        Ok(s)
    }
}

/// Scripted faults in a running twin: each rule with its count of matches.
#[derive(Debug, Default)]
pub struct Script {
    rules: Vec<(Scripted, std::sync::atomic::AtomicU32)>,
}

impl Script {
    pub fn new(rules: &[Scripted]) -> Script {
        Script {
            rules: rules
                .iter()
                .map(|r| (r.clone(), std::sync::atomic::AtomicU32::new(0)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many requests each rule has matched so far, in rule order.
    pub fn matches(&self) -> Vec<u32> {
        self.rules
            .iter()
            .map(|(_, n)| n.load(std::sync::atomic::Ordering::SeqCst))
            .collect()
    }

    /// The strike for this request, if a rule hits it. Every rule the request
    /// matches counts it; the first rule whose window it falls in strikes.
    pub fn strike(&self, method: &str, path_query: &str) -> Option<Strike> {
        let mut hit = None;
        for (rule, seen) in &self.rules {
            if !rule.matches(method, path_query) {
                continue;
            }
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if hit.is_none() && n >= rule.skip && n - rule.skip < rule.times {
                hit = Some(rule.strike);
            }
        }
        hit
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Throttle,
    Unavailable,
    Reset,
}

impl Faults {
    /// Parse a `--faults` spec; errors are one sentence naming the bad part.
    pub fn parse(spec: &str) -> Result<Faults> {
        let mut f = Faults::default();
        let hint = "use 429:P, 503:P, reset:P, instantiate404:P (P between 0 and 1), latency:DURATION or at:METHOD:PATH:STRIKE (scripted), comma-separated, e.g. 429:0.05,503:0.02,reset:0.01,latency:20ms";
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, value)) = part.split_once(':') else {
                return Err(Error::usage(format!(
                    "--faults: `{part}` is not a fault; {hint}"
                )));
            };
            let prob = || -> Result<f64> {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| {
                        Error::usage(format!(
                            "--faults: `{part}` needs a probability between 0 and 1; {hint}"
                        ))
                    })
            };
            match kind.trim().to_ascii_lowercase().as_str() {
                "429" => f.p429 = prob()?,
                "503" => f.p503 = prob()?,
                "reset" => f.reset = prob()?,
                "instantiate404" => f.instantiate_404 = prob()?,
                "at" => f.scripted.push(Scripted::parse(value, part)?),
                "latency" => {
                    f.latency = parse_duration(value).map_err(|e| {
                        Error::usage(format!(
                            "--faults: `{part}` needs a duration such as 20ms or 1s ({e}); {hint}"
                        ))
                    })?
                }
                _ => {
                    return Err(Error::usage(format!(
                        "--faults: `{kind}` is not a fault kind; {hint}"
                    )));
                }
            }
        }
        if f.p429 + f.p503 + f.reset > 1.0 + 1e-9 {
            return Err(Error::usage(format!(
                "--faults: the probabilities in `{spec}` add up to more than 1"
            )));
        }
        Ok(f)
    }

    /// Draw the fault for one request.
    pub fn draw(&self) -> Fault {
        let x: f64 = rand::random();
        if x < self.p429 {
            Fault::Throttle
        } else if x < self.p429 + self.p503 {
            Fault::Unavailable
        } else if x < self.p429 + self.p503 + self.reset {
            Fault::Reset
        } else {
            Fault::None
        }
    }
}

/// Parse `500ms`, `2s`, `1.5s`, `1m`, `0` (seconds when no unit).
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("`{text}` is not a duration"));
    }
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{text}` has an unknown unit (use ms, s, m or h)")),
    };
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "`{text}` is longer than the twin accepts (at most 24h)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The longest duration a twin flag takes (a bigger one would overflow the
/// clock arithmetic; no simulated lag needs more than a day).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_and_refuses_bad_ones() {
        let f = Faults::parse("429:0.05,503:0.02,reset:0.01,latency:20ms").unwrap();
        assert_eq!(
            f,
            Faults {
                p429: 0.05,
                p503: 0.02,
                reset: 0.01,
                latency: Duration::from_millis(20),
                instantiate_404: 0.0,
                scripted: vec![],
            }
        );
        for bad in [
            "429",
            "429:2",
            "teapot:0.1",
            "latency:fast",
            "429:0.6,503:0.6",
            "reset:-0.1",
        ] {
            let e = Faults::parse(bad).unwrap_err();
            assert!(e.message.starts_with("--faults: "), "{bad}: {}", e.message);
            assert!(!e.message.contains('\n'));
        }
        assert_eq!(Faults::parse("429:1").unwrap().draw(), Fault::Throttle);
        assert_eq!(Faults::parse("reset:1").unwrap().draw(), Fault::Reset);
        assert_eq!(
            Faults::parse("instantiate404:1").unwrap().instantiate_404,
            1.0
        );
        assert_eq!(Faults::parse("").unwrap().draw(), Fault::None);
    }

    #[test]
    fn scripted_faults_strike_the_kth_match_only() {
        let f = Faults::parse(
            "at:POST:/instantiate:timeout=2s:times=1, at:*:/servicePrincipals:503:skip=1:times=2",
        )
        .unwrap();
        assert_eq!(
            f.scripted,
            vec![
                Scripted::once(
                    "POST",
                    "/instantiate",
                    Strike::Timeout(Duration::from_secs(2))
                ),
                Scripted::once("*", "/servicePrincipals", Strike::Status(503))
                    .skip(1)
                    .times(2),
            ]
        );
        let s = Script::new(&f.scripted);
        assert_eq!(
            s.strike("GET", "/v1.0/applicationTemplates/x/instantiate"),
            None
        );
        assert_eq!(
            s.strike("post", "/v1.0/applicationTemplates/x/instantiate"),
            Some(Strike::Timeout(Duration::from_secs(2)))
        );
        assert_eq!(
            s.strike("POST", "/v1.0/applicationTemplates/x/instantiate"),
            None
        );
        let sp = "/v1.0/servicePrincipals?$filter=x";
        assert_eq!(s.strike("GET", sp), None);
        assert_eq!(s.strike("GET", sp), Some(Strike::Status(503)));
        assert_eq!(s.strike("DELETE", sp), Some(Strike::Status(503)));
        assert_eq!(s.strike("GET", sp), None);
        assert_eq!(
            Faults::parse("at:*:/Users:reset").unwrap().scripted[0].strike,
            Strike::Reset
        );
        for bad in [
            "at:POST",
            "at:POST:/x:teapot",
            "at:POST:/x:200",
            "at:POST:/x:503:often=2",
            "at:POST:/x:503:times=many",
            "at:POST:/x:timeout=soon",
            "at::/x:503",
        ] {
            let e = Faults::parse(bad).unwrap_err();
            assert!(e.message.starts_with("--faults: "), "{bad}: {}", e.message);
            assert!(!e.message.contains('\n'));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
