//! scimshift: move an Entra ID app's SCIM provisioning from its gallery app to a
//! custom (non-gallery) app without duplicating, deactivating or losing anyone.
//!
//! This crate is the product library: the clients (`graph`, `scim`), the
//! commands' logic (`snapshot`, `plan`, `apply`, `verify`, `users`, `doctor`)
//! and what they share. It cannot name the twin (the twin depends on it, not
//! the other way round) nor the command line (`cli`, `cmd` live in the
//! `scimshift` package, which never passes a clap struct down here).
//! `context` is what every command receives.

pub mod apply;
pub mod context;
pub mod crashpoint;
pub mod doctor;
pub mod error;
pub mod graph;
pub mod interrupt;
pub mod journal;
pub mod mapping;
pub mod net;
pub mod output;
pub mod paging;
pub mod permissions;
pub mod plan;
pub mod progress;
pub mod scim;
pub mod secret;
pub mod snapshot;
pub mod text;
pub mod users;
pub mod verify;

pub use error::{Error, Result};
