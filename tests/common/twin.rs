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

/// A Graph access token for the admin client a `twin serve` ready line names
/// (client-credentials grant at its token endpoint).
pub async fn token_from_ready_line(ready: &serde_json::Value) -> String {
    let text = |k: &str| {
        ready[k]
            .as_str()
            .expect("the ready line names it")
            .to_string()
    };
    let tok: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            text("authority_url"),
            text("tenant_id")
        ))
        .form(&[
            ("client_id", text("client_id")),
            ("client_secret", text("client_secret")),
            ("scope", "https://graph.microsoft.com/.default".to_string()),
            ("grant_type", "client_credentials".to_string()),
        ])
        .send()
        .await
        .expect("the twin's token endpoint answers")
        .json()
        .await
        .expect("a token response");
    tok["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}
