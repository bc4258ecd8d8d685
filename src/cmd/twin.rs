//! `scimshift twin serve`: flags into [`TwinOptions`], start the twin, print
//! one JSON line with its URLs and credentials on stdout, serve until
//! SIGINT/SIGTERM. The twin itself is `crate::twin`. Realism is on by
//! default (5 s replication lag, 10 s assignment lag, time scale 1200);
//! `--no-lag` and `--time-scale 0` turn it off.

use crate::cli::TwinServeArgs;
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::secret::Secret;
use crate::twin::faults::{Faults, parse_duration};
use crate::twin::lag::Lag;
use crate::twin::seed::SeedSpec;
use crate::twin::server::{self, TwinOptions};
use std::io::Write;

/// The twin holds fake credentials and answers anyone who connects: it binds
/// to a loopback address only.
fn check_loopback(listen: &str) -> Result<()> {
    let host = match listen.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => listen,
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--listen {}: the twin binds to a loopback address only (127.0.0.1, ::1 or localhost), since it answers anyone with fake credentials",
            crate::text::clean(listen)
        )))
    }
}

/// Turn the parsed flags into validated options (the token of `--scim-target` comes from `SCIM_TOKEN`).
pub fn options(args: &TwinServeArgs, scim_token_env: Option<Secret>) -> Result<TwinOptions> {
    let faults = match &args.faults {
        Some(spec) => Some(Faults::parse(spec)?),
        None => None,
    };
    let replication = parse_duration(&args.replication_delay)
        .map_err(|e| Error::usage(format!("--replication-delay: {e}")))?;
    let assignment = parse_duration(&args.assignment_lag)
        .map_err(|e| Error::usage(format!("--assignment-lag: {e}")))?;
    let lag = if args.no_lag {
        Lag::off()
    } else {
        Lag {
            replication,
            assignment,
            seed: args.lag_seed,
        }
    };
    if !args.time_scale.is_finite() || args.time_scale < 0.0 {
        return Err(Error::usage(
            "--time-scale must be a number ≥ 0 (0 = cycles as fast as the target answers)",
        ));
    }
    if args.time_scale > 1e6 || (args.time_scale > 0.0 && args.time_scale < 1e-3) {
        return Err(Error::usage(
            "--time-scale must be 0 or between 0.001 and 1000000",
        ));
    }
    let time_scale = (args.time_scale > 0.0).then_some(args.time_scale);
    check_loopback(&args.listen)?;
    let one_scim_token = match args.one_scim_token.trim().to_ascii_lowercase().as_str() {
        "auto" => None,
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        other => {
            return Err(Error::usage(format!(
                "--one-scim-token: `{other}` is not on, off or auto"
            )));
        }
    };
    let scim_target = match &args.scim_target {
        Some(url) => {
            let token = scim_token_env.ok_or_else(|| {
                Error::usage("--scim-target needs the target's bearer token in the SCIM_TOKEN environment variable")
            })?;
            Some((url.clone(), token))
        }
        None => None,
    };
    Ok(TwinOptions {
        listen: args.listen.clone(),
        seed: SeedSpec::parse(&args.seed)?,
        scim_target,
        faults,
        lag,
        time_scale,
        one_scim_token,
        request_log: args.request_log.clone(),
        quota_scale: args.quota_scale,
        ..TwinOptions::default()
    })
}

pub async fn serve(_ctx: &Context, args: &TwinServeArgs) -> Result<i32> {
    let opts = options(args, super::credentials::scim_token_env())?;
    let twin = server::start(opts).await?;
    for w in &twin.warnings {
        eprintln!("warning: {w}");
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", twin.ready_line())
            .map_err(|e| Error::io(format!("could not write to stdout: {e}")))?;
        out.flush()
            .map_err(|e| Error::io(format!("could not write to stdout: {e}")))?;
    }
    wait_for_signal().await;
    twin.shutdown().await;
    Ok(exit::OK)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, TwinCommand};
    use clap::Parser;
    use std::time::Duration;

    fn parse(extra: &[&str]) -> TwinOptions {
        let cli = Cli::try_parse_from(["scimshift", "twin", "serve"].iter().chain(extra)).unwrap();
        let Command::Twin(TwinCommand::Serve(args)) = cli.command else {
            unreachable!()
        };
        options(&args, None).unwrap()
    }

    fn refused(extra: &[&str]) -> String {
        let cli = Cli::try_parse_from(["scimshift", "twin", "serve"].iter().chain(extra)).unwrap();
        let Command::Twin(TwinCommand::Serve(args)) = cli.command else {
            unreachable!()
        };
        options(&args, None).unwrap_err().message
    }

    #[test]
    fn a_non_loopback_listen_is_refused_in_one_sentence() {
        for a in ["0.0.0.0:0", "192.0.2.1:8080", "[::]:0", "example.com:80"] {
            let e = refused(&["--listen", a]);
            assert!(e.contains("loopback address only"), "{a}: {e}");
        }
        for a in ["127.0.0.1:0", "[::1]:0", "localhost:8080"] {
            assert_eq!(parse(&["--listen", a]).listen, a);
        }
    }

    #[test]
    fn huge_durations_and_time_scales_get_a_sentence_not_a_panic() {
        for flag in ["--replication-delay", "--assignment-lag"] {
            for v in ["100000000000000000000000000000", "99999999999h", "25h"] {
                let e = refused(&[flag, v]);
                assert!(e.contains("at most 24h"), "{flag} {v}: {e}");
            }
        }
        let e = refused(&["--faults", "latency:100000000000000000000000s"]);
        assert!(e.contains("at most 24h"), "{e}");
        for v in ["1e300", "1e-300"] {
            let e = refused(&["--time-scale", v]);
            assert!(e.contains("between 0.001 and 1000000"), "{v}: {e}");
        }
    }

    #[test]
    fn realism_is_on_by_default_and_each_part_can_be_turned_off() {
        let o = parse(&[]);
        assert_eq!(
            (o.lag.replication, o.lag.assignment),
            (Duration::from_secs(5), Duration::from_secs(10))
        );
        assert_eq!(o.time_scale, Some(1200.0));
        assert_eq!(o.one_scim_token, None);
        let o = parse(&["--no-lag", "--time-scale", "0", "--one-scim-token", "off"]);
        assert!(o.lag.is_off());
        assert_eq!((o.time_scale, o.one_scim_token), (None, Some(false)));
        let o = parse(&["--replication-delay", "2s", "--time-scale", "36000"]);
        assert_eq!(o.lag.replication, Duration::from_secs(2));
        assert_eq!(o.time_scale, Some(36000.0));
    }
}
