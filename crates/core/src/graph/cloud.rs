//! National clouds: each has its own token authority and Graph root, and tokens
//! are not interchangeable between them (GRAPH-API.md §1.2).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Global Azure (includes Microsoft 365 GCC)
    #[default]
    Global,
    /// US Government L4 (GCC High)
    Usgov,
    /// US Government L5 (DoD)
    UsgovDod,
    /// Azure China (21Vianet)
    China,
}

/// The non-gallery ("custom") application template in the global cloud.
pub const GLOBAL_NON_GALLERY_TEMPLATE_ID: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

impl Cloud {
    /// The cloud named in a snapshot (`global`, `usgov`, …); `custom` (URL
    /// overrides, e.g. the twin) and unknown names count as global.
    pub fn from_name(name: &str) -> Cloud {
        match name {
            "usgov" => Cloud::Usgov,
            "usgov-dod" => Cloud::UsgovDod,
            "china" => Cloud::China,
            _ => Cloud::Global,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::Usgov => "usgov",
            Cloud::UsgovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }
    /// Token authority host.
    pub fn authority(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::Usgov | Cloud::UsgovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }
    /// Graph root without the version segment.
    pub fn graph_root(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::Usgov => "https://graph.microsoft.us",
            Cloud::UsgovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
    /// The `/.default` scope for client credentials.
    pub fn default_scope(self) -> String {
        format!("{}/.default", self.graph_root())
    }
    /// The non-gallery application template id: it differs per cloud
    /// (ANCHORS.md §4: US Gov and 21Vianet have their own).
    pub fn non_gallery_template_id(self) -> &'static str {
        match self {
            Cloud::Global => GLOBAL_NON_GALLERY_TEMPLATE_ID,
            Cloud::Usgov | Cloud::UsgovDod => "4602d0b4-76bb-404b-bca9-2652e1a39c6d",
            Cloud::China => "5a532e38-1581-4918-9658-008dc27c1d68",
        }
    }
}

/// Where to send token requests and Graph calls: a cloud's defaults, or the
/// `--graph-url` / `--authority-url` overrides (the twin uses these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `global`, …, or `custom` when a URL was overridden.
    pub cloud_name: String,
    pub cloud: Cloud,
    /// The Graph version root, no trailing slash: `https://graph.microsoft.com/v1.0`.
    pub graph_base: String,
    /// The authority host, no trailing slash: `https://login.microsoftonline.com`.
    pub authority: String,
    /// `{graph root}/.default`: the scope of client-credential tokens.
    pub scope: String,
    /// The Graph root as a resource (for `az account get-access-token --resource`).
    pub resource: String,
}

impl Endpoints {
    /// Resolve and check (https, or http to loopback) before any request is made.
    /// A `graph_url` without a version segment gets `/v1.0`.
    pub fn resolve(
        cloud: Cloud,
        graph_url: Option<&str>,
        authority_url: Option<&str>,
    ) -> crate::error::Result<Endpoints> {
        let custom = graph_url.is_some() || authority_url.is_some();
        let graph_base = match graph_url {
            Some(raw) => {
                let url = crate::net::checked_url(raw, "--graph-url")?;
                let s = url.as_str().trim_end_matches('/').to_string();
                let last = s.rsplit('/').next().unwrap_or("");
                if last == "v1.0" || last == "beta" {
                    s
                } else {
                    format!("{s}/v1.0")
                }
            }
            None => format!("{}/v1.0", cloud.graph_root()),
        };
        let authority = match authority_url {
            Some(raw) => crate::net::checked_url(raw, "--authority-url")?
                .as_str()
                .trim_end_matches('/')
                .to_string(),
            None => cloud.authority().to_string(),
        };
        Ok(Endpoints {
            cloud_name: if custom {
                "custom".into()
            } else {
                cloud.name().into()
            },
            cloud,
            graph_base,
            authority,
            scope: cloud.default_scope(),
            resource: cloud.graph_root().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_and_overrides() {
        let e = Endpoints::resolve(Cloud::China, None, None).unwrap();
        assert_eq!(e.graph_base, "https://microsoftgraph.chinacloudapi.cn/v1.0");
        assert_eq!(e.authority, "https://login.chinacloudapi.cn");
        assert_eq!(e.scope, "https://microsoftgraph.chinacloudapi.cn/.default");
        let e = Endpoints::resolve(
            Cloud::Global,
            Some("http://127.0.0.1:9"),
            Some("http://127.0.0.1:9/"),
        )
        .unwrap();
        assert_eq!(e.graph_base, "http://127.0.0.1:9/v1.0");
        assert_eq!(e.authority, "http://127.0.0.1:9");
        assert_eq!(e.cloud_name, "custom");
        assert!(
            Endpoints::resolve(Cloud::Global, Some("http://graph.example.com/v1.0"), None).is_err()
        );
        assert!(Endpoints::resolve(Cloud::Global, None, Some("ftp://127.0.0.1")).is_err());
        assert_eq!(
            Cloud::UsgovDod.non_gallery_template_id(),
            "4602d0b4-76bb-404b-bca9-2652e1a39c6d"
        );
    }
}
