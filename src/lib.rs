//! scimshift: move an Entra ID app's SCIM provisioning from its gallery app to a
//! custom (non-gallery) app without duplicating, deactivating or losing anyone.
//!
//! The binary is a thin shell over this library: `cli` parses, `cmd` turns the
//! flags into validated options and credentials and calls the module named for
//! the concern (`snapshot`, `plan`, `users`, `twin`, `demo`), which never sees
//! a clap struct. `context` is what every command receives.

pub mod apply;
pub mod cli;
pub mod cmd;
pub mod context;
pub mod crashpoint;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod graph;
pub mod journal;
pub mod mapping;
pub mod net;
pub mod output;
pub mod paging;
pub mod permissions;
pub mod plan;
pub mod progress;
pub mod rehearse;
pub mod scim;
pub mod secret;
pub mod snapshot;
pub mod text;
pub mod twin;
pub mod users;
pub mod verify;

pub use error::{Error, Result};
