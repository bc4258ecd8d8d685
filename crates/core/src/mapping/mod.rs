//! Entra attribute-mapping semantics shared by the twin's engine and the planner:
//! mapping expressions (`expr`) and reading a synchronization schema into
//! object mappings, matching attributes and scoping filters (`schema`). The
//! planner predicts with the same code the engine runs.

pub mod expr;
pub mod schema;
