//! The twin's embedded SCIM 2.0 target: Users and Groups in memory, filters,
//! paging, PATCH, ServiceProviderConfig and bearer auth, as an axum router.

use crate::secret::Secret;

/// The in-memory store.
#[derive(Debug, Default)]
pub struct ScimStore {}

/// The router serving `/Users`, `/Groups`, `/ServiceProviderConfig`… relative to
/// where it is nested (the twin nests it at `/scim/v2`).
pub fn router(_store: std::sync::Arc<ScimStore>, _token: Secret) -> axum::Router {
    axum::Router::new()
}
