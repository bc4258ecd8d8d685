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

impl Cloud {
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
    /// The non-gallery application template id (the same id in every cloud).
    pub fn non_gallery_template_id(self) -> &'static str {
        crate::twin::state::NON_GALLERY_TEMPLATE_ID
    }
}
