//! Random faults the twin injects into Graph and SCIM answers, so clients are
//! tested against a flaky service: 429 (with `Retry-After: 1`), 503, dropped
//! connections and added latency. Parsed from `--faults`
//! (`429:0.05,503:0.02,reset:0.01,latency:20ms`).
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

/// Fault probabilities (0–1 each, summing to at most 1) and a fixed added latency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub p429: f64,
    pub p503: f64,
    pub reset: f64,
    pub latency: Duration,
    /// Probability that `instantiate` creates the app yet answers 404.
    pub instantiate_404: f64,
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
        let hint = "use 429:P, 503:P, reset:P, instantiate404:P (P between 0 and 1) or latency:DURATION, comma-separated, e.g. 429:0.05,503:0.02,reset:0.01,latency:20ms";
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
                "latency" => {
                    f.latency = parse_duration(value).map_err(|_| {
                        Error::usage(format!(
                            "--faults: `{part}` needs a duration such as 20ms or 1s; {hint}"
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
    Ok(Duration::from_secs_f64(secs))
}

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
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
