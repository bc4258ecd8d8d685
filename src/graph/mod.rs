//! Microsoft Graph client: clouds and endpoints (`cloud`), tokens (`auth`,
//! certificate assertions in `cert`),
//! requests with retries and paging (`client`), `$batch` (`batch`), the write
//! pacer (`pacer`), replication waits (`replication`) and error sentences
//! (`error`). It knows Graph's protocol, not what scimshift does with it: the
//! reads a snapshot needs are in `crate::snapshot::capture`.

pub mod auth;
pub mod batch;
pub mod cert;
pub mod client;
pub mod cloud;
pub mod error;
pub mod pacer;
pub mod replication;

pub use auth::{AuthSettings, Credential, TokenProvider};
pub use batch::{BatchRequest, BatchResponse};
pub use client::{GraphClient, Reply};
pub use cloud::{Cloud, Endpoints};
pub use error::GraphError;
pub use pacer::WritePacer;
pub use replication::{Replicated, ReplicationPolicy};

use crate::cli::GraphArgs;
use crate::error::Result;

/// The client for `--cloud`/`--graph-url`/`--authority-url` and the credential
/// the environment and flags name. URLs are checked before any credential is read.
pub fn client_from_args(args: &GraphArgs) -> Result<GraphClient> {
    let endpoints = Endpoints::resolve(
        args.cloud,
        args.graph_url.as_deref(),
        args.authority_url.as_deref(),
    )?;
    let credential = Credential::from_env(args)?;
    GraphClient::new(endpoints, credential)
}
