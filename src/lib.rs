//! scimshift: move an Entra ID app's SCIM provisioning from its gallery app to a
//! custom (non-gallery) app without duplicating, deactivating or losing anyone.
//!
//! The binary is a thin shell over this library: `cli` parses, `context`
//! validates, and each command lives in the module named for its concern.

pub mod cli;
pub mod context;
pub mod demo;
pub mod error;
pub mod graph;
pub mod mapping;
pub mod net;
pub mod output;
pub mod plan;
pub mod scim;
pub mod secret;
pub mod snapshot;
pub mod twin;
pub mod users;

pub use error::{Error, Result};
