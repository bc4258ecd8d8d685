//! Entra attribute-mapping semantics shared by the twin's engine and the planner:
//! mapping expressions (`expr`) and reading a synchronization schema into
//! object mappings, matching attributes and scoping filters (`schema`), and
//! where Entra's source attribute names live in Graph (`graph_user`). The
//! planner predicts with the same code the engine runs.

pub mod expr;
pub mod graph_user;
pub mod schema;
