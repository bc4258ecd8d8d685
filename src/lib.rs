//! scimshift: move an Entra ID app's SCIM provisioning from its gallery app to a
//! custom (non-gallery) app without duplicating, deactivating or losing anyone.
//!
//! The workspace has three crates. `scimshift-core` is the product library
//! (clients, snapshot, plan, apply, verify, users import/export); it cannot
//! reach the twin. `scimshift-twin` is the simulated tenant, built on the
//! product library's mapping and snapshot types. This crate is the command
//! layer on top of both: `cli` parses, `cmd` turns the flags into validated
//! options and credentials and calls the module named for the concern, which
//! never sees a clap struct; `demo` and `rehearse` are the two commands that
//! need the product library and the twin together.
//!
//! The product library's modules are re-exported here, so `scimshift::plan`
//! and `scimshift::twin` name the same things they always did.

pub mod cli;
pub mod cmd;
pub mod demo;
pub mod rehearse;

pub use scimshift_core::*;
pub use scimshift_twin as twin;
