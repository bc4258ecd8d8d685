//! `scimshift users import|export`: CSV formats, validation, import plans.

pub mod export;
pub mod import;
