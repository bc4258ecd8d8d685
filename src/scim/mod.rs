//! SCIM 2.0 client: discovery, list/filter/page, create/patch/delete, Bulk.
//! Written to tolerate how real servers differ (see `client`).

pub mod client;
pub mod filter;

pub use client::{BulkOp, BulkResult, ProviderConfig, Resource, ScimClient};

use crate::cli::ScimArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The SCIM bearer token, from (in order) `--scim-token-file`, `SCIM_TOKEN`,
/// or a hidden prompt. Never from a flag value.
pub fn resolve_token(ctx: &Context, args: &ScimArgs) -> Result<Secret> {
    if let Some(path) = &args.scim_token_file {
        return crate::secret::read_secret_file(path);
    }
    if let Ok(t) = std::env::var("SCIM_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(Secret::new(t.trim()));
    }
    ctx.prompt_secret("SCIM bearer token", "SCIM_TOKEN or --scim-token-file")
}

/// A client for `--scim-url` with its token; the URL is checked before the token is asked for.
pub fn client_from_args(ctx: &Context, args: &ScimArgs) -> Result<ScimClient> {
    let url = args
        .scim_url
        .as_deref()
        .ok_or_else(|| Error::usage("--scim-url is required"))?;
    crate::net::checked_url(url, "the SCIM URL")?;
    ScimClient::new(url, resolve_token(ctx, args)?)
}
