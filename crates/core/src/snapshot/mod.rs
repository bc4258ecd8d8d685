//! `scimshift snapshot`: capture the gallery app and the target into one file
//! (`capture`, sealed as `model::Snapshot`), summarise it (`summary`), and
//! compare two (`diff`). The command's flags are handled in `crate::cmd::snapshot`.

pub mod attributes;
pub mod capture;
pub mod compact;
pub mod diff;
pub mod member;
pub mod model;
pub mod summary;
pub mod via;

pub use model::Snapshot;
