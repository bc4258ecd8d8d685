//! `scimshift users import|export`: CSV formats, validation, import plans.
//!
//! Reading goes `read` (bytes → records) → `formats` (which layout, what each
//! column means) → `validate` (records → [`model::UserRow`]s and diagnostics) →
//! `plan` (rows against the target's users) → `apply` → `results`. `export`
//! goes the other way through `mapping` and `formats::Writer`.

pub mod apply;
pub mod entra;
pub mod export;
pub mod formats;
pub mod import;
pub mod mapping;
pub mod model;
pub mod plan;
pub mod read;
pub mod results;
pub mod validate;
