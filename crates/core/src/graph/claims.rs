//! What an access token says about itself: the claims in the payload of a
//! JWT (`roles` for app-only tokens, `scp` for delegated ones, `wids` for the
//! signed-in user's directory roles, and the times). Read without checking
//! the signature: this is for telling an admin what their token can do
//! (`scimshift doctor`), never for trusting it. The token itself is never
//! copied out of its `Secret`.

use crate::secret::Secret;
use base64::Engine;
use serde_json::Value;

/// The claims scimshift reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// Application permissions (app-only tokens).
    pub roles: Vec<String>,
    /// Delegated permissions (space-separated `scp`).
    pub scopes: Vec<String>,
    /// Directory role template ids of the signed-in user (delegated tokens).
    pub wids: Vec<String>,
    pub tenant: Option<String>,
    /// The client (app) id the token was issued to.
    pub app_id: Option<String>,
    pub audience: Option<String>,
    /// Issued-at, not-before and expiry, in seconds since the epoch.
    pub issued_at: Option<i64>,
    pub not_before: Option<i64>,
    pub expires: Option<i64>,
}

impl Claims {
    /// Decode the payload of a JWT; `None` when the token is not one (an
    /// opaque token, or garbage).
    pub fn of(token: &Secret) -> Option<Claims> {
        let payload = token.expose().split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let text = |k: &str| v[k].as_str().map(str::to_string);
        Some(Claims {
            roles: strings("roles"),
            scopes: v["scp"]
                .as_str()
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            wids: strings("wids"),
            tenant: text("tid"),
            app_id: text("appid").or_else(|| text("azp")),
            audience: text("aud"),
            issued_at: v["iat"].as_i64(),
            not_before: v["nbf"].as_i64(),
            expires: v["exp"].as_i64(),
        })
    }

    /// Whether the token was issued to a signed-in person (delegated).
    pub fn delegated(&self) -> bool {
        !self.scopes.is_empty()
    }

    /// The permissions the token carries, whichever kind it is.
    pub fn permissions(&self) -> Vec<String> {
        if self.delegated() {
            self.scopes.clone()
        } else {
            self.roles.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> Secret {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        Secret::new(format!("{}.{}.sig", e(r#"{"alg":"RS256"}"#), e(payload)))
    }

    #[test]
    fn app_only_and_delegated_tokens() {
        let c = Claims::of(&jwt(
            r#"{"roles":["Application.Read.All"],"tid":"t","appid":"a","iat":10,"nbf":10,"exp":3610}"#,
        ))
        .unwrap();
        assert!(!c.delegated());
        assert_eq!(c.permissions(), ["Application.Read.All"]);
        assert_eq!((c.issued_at, c.expires), (Some(10), Some(3610)));
        let d = Claims::of(&jwt(
            r#"{"scp":"User.Read Synchronization.ReadWrite.All","wids":["r1"]}"#,
        ))
        .unwrap();
        assert!(d.delegated());
        assert_eq!(
            d.permissions(),
            ["User.Read", "Synchronization.ReadWrite.All"]
        );
        assert_eq!(d.wids, ["r1"]);
        assert_eq!(Claims::of(&Secret::new("opaque-token")), None);
    }
}
