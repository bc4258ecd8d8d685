//! The simulated tenant in-process for a test: start it (demo seed or given
//! options), sign in as its admin client, and reach its SCIM target.

use scimshift::graph::GraphClient;
use scimshift::graph::auth::Credential;
use scimshift::scim::ScimClient;
use scimshift::twin::server::{RunningTwin, TwinOptions, start};

/// The demo tenant (seed `demo`, default timing).
pub async fn demo() -> RunningTwin {
    with(TwinOptions::default()).await
}

/// A twin with these options.
pub async fn with(opts: TwinOptions) -> RunningTwin {
    start(opts).await.expect("the twin starts on loopback")
}

/// A Graph client signed in with the twin's admin client secret.
pub fn admin_graph(t: &RunningTwin) -> GraphClient {
    GraphClient::from_urls(
        &t.graph_url,
        &t.authority_url,
        Credential::ClientSecret {
            tenant: t.tenant_id.clone(),
            client_id: t.client_id.clone(),
            secret: t.client_secret.clone(),
        },
    )
    .expect("a Graph client for the twin")
}

/// A SCIM client for the twin's target, with its token.
pub fn scim(t: &RunningTwin) -> ScimClient {
    ScimClient::new(&t.scim_url, t.scim_token.clone()).expect("a SCIM client for the twin")
}
