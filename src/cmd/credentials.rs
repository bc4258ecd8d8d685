//! The one place credentials are resolved: Graph (`SCIMSHIFT_GRAPH_TOKEN`,
//! `AZURE_*` client secret or certificate, `--device-code`, `--az-cli`) and
//! SCIM (`--scim-token-file`, `SCIM_TOKEN`, a hidden prompt). URLs are checked
//! before any credential is read, so a typo fails before a prompt.
//!
//! Notes (a flag overridden by the environment) are returned for the command
//! to show; nothing here prints. The choice of Graph credential itself is
//! `crate::graph::Credential::choose`, a pure function of flags and variables.

use crate::cli::{GraphArgs, ScimArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::graph::{Credential, Endpoints, GraphSettings};
use crate::scim::ScimTarget;
use crate::secret::Secret;
use std::path::Path;

/// Graph settings from `--cloud`/`--graph-url`/`--authority-url`, the sign-in
/// flags and the process environment, with the notes to show.
pub fn graph(args: &GraphArgs) -> Result<(GraphSettings, Vec<String>)> {
    graph_with(args, |k| std::env::var(k).ok())
}

/// [`graph`] over any variable lookup.
pub fn graph_with(
    args: &GraphArgs,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(GraphSettings, Vec<String>)> {
    let endpoints = Endpoints::resolve(
        args.cloud,
        args.graph_url.as_deref(),
        args.authority_url.as_deref(),
    )?;
    let (credential, note) = Credential::choose(args.device_code, args.az_cli, var)?;
    Ok((
        GraphSettings {
            endpoints,
            credential,
        },
        note.into_iter().collect(),
    ))
}

/// The SCIM target of `--scim-url` with its token; the URL is checked before
/// the token is asked for.
pub fn scim(ctx: &Context, args: &ScimArgs) -> Result<ScimTarget> {
    let url = args
        .scim_url
        .as_deref()
        .ok_or_else(|| Error::usage("--scim-url is required"))?;
    crate::net::checked_url(url, "the SCIM URL")?;
    Ok(ScimTarget {
        url: url.to_string(),
        token: scim_token(ctx, args.scim_token_file.as_deref())?,
    })
}

/// The SCIM bearer token, from (in order) `--scim-token-file`, `SCIM_TOKEN`,
/// or a hidden prompt. Never from a flag value.
pub fn scim_token(ctx: &Context, token_file: Option<&Path>) -> Result<Secret> {
    if let Some(path) = token_file {
        return crate::secret::read_secret_file(path);
    }
    if let Some(t) = scim_token_env() {
        return Ok(t);
    }
    ctx.prompt_secret("SCIM bearer token", "SCIM_TOKEN or --scim-token-file")
}

/// `SCIM_TOKEN`, trimmed, when set and not blank.
pub fn scim_token_env() -> Option<Secret> {
    std::env::var("SCIM_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(Secret::new)
}
