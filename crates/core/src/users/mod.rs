//! `scimshift users import|export`: CSV formats, validation, import plans.
//!
//! Reading goes `read` (bytes → records) → `formats` (which layout, what each
//! column means) → `validate` (records → [`model::UserRow`]s and diagnostics) →
//! `import_plan` (rows against the target's users) → `write` → `results`. `export`
//! goes the other way through `mapping` and `formats::Writer`.

pub mod entra;
pub mod export;
pub mod formats;
pub mod import;
pub mod import_plan;
pub mod mapping;
pub mod model;
pub mod read;
pub mod results;
pub mod validate;
pub mod write;
