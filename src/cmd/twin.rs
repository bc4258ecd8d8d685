//! `scimshift twin serve`: flags into [`TwinOptions`], start the twin, print
//! one JSON line with its URLs and credentials on stdout, serve until
//! SIGINT/SIGTERM. The twin itself is `crate::twin`.

use crate::cli::TwinServeArgs;
use crate::context::Context;
use crate::error::{Error, Result, exit};
use crate::secret::Secret;
use crate::twin::faults::{Faults, parse_duration};
use crate::twin::seed::SeedSpec;
use crate::twin::server::{self, TwinOptions};
use std::io::Write;

/// Turn the parsed flags into validated options (the token of `--scim-target` comes from `SCIM_TOKEN`).
pub fn options(args: &TwinServeArgs, scim_token_env: Option<Secret>) -> Result<TwinOptions> {
    let faults = match &args.faults {
        Some(spec) => Some(Faults::parse(spec)?),
        None => None,
    };
    let replication_delay = parse_duration(&args.replication_delay)
        .map_err(|e| Error::usage(format!("--replication-delay: {e}")))?;
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
        replication_delay,
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
