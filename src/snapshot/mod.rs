//! `scimshift snapshot`: capture the gallery app and the target into one file, and compare two.

pub mod attributes;
pub mod capture;
pub mod compact;
pub mod diff;
pub mod model;

pub use model::Snapshot;
