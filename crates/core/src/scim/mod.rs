//! SCIM 2.0 client: discovery, list/filter/page, create/patch/delete, Bulk.
//! Written to tolerate how real servers differ (see `client`).

pub mod client;
pub mod filter;

pub use client::{BulkOp, BulkResult, ProviderConfig, Resource, ScimClient};

use crate::error::Result;
use crate::secret::Secret;

/// A SCIM target: its base URL (checked against the transport policy) and
/// bearer token. The command layer resolves the token from a file, the
/// environment or a prompt (`crate::cmd::credentials`).
#[derive(Debug, Clone)]
pub struct ScimTarget {
    pub url: String,
    pub token: Secret,
}

impl ScimTarget {
    pub fn client(&self) -> Result<ScimClient> {
        ScimClient::new(&self.url, self.token.clone())
    }
}
