//! Microsoft Graph client: clouds and endpoints (`cloud`), tokens (`auth`,
//! certificate assertions in `cert`),
//! requests with retries and paging (`client`), `$batch` (`batch`), the write
//! pacer (`pacer`), replication waits (`replication`) and error sentences
//! (`error`). It knows Graph's protocol, not what scimshift does with it: the
//! reads a snapshot needs are in `crate::snapshot::capture`.

pub mod auth;
pub mod batch;
pub mod cert;
pub mod claims;
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
pub use pacer::{ReadPacer, WritePacer};
pub use replication::{Replicated, ReplicationPolicy};

use crate::error::Result;

/// Where Graph is and which credential signs in: validated, ready to make a
/// client. The command layer builds it from flags and the environment
/// (`crate::cmd::credentials`); tests and the demo build it directly.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub endpoints: Endpoints,
    pub credential: Credential,
}

impl GraphSettings {
    pub fn client(&self) -> Result<GraphClient> {
        GraphClient::new(self.endpoints.clone(), self.credential.clone())
    }
}
