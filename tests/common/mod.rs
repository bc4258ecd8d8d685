//! The one home for helpers the integration tests share. Each test binary
//! says `mod common;` and uses what it needs:
//! - [`scim2`]: the independent SCIM server scim2-server on loopback;
//! - [`twin`]: the simulated tenant in-process, its admin Graph client and token;
//! - [`bench`]: for the benchmarks, a command under `bench/timed` and the `RESULT` line;
//! - [`cli`]: the `scimshift` binary with a clean environment;
//! - [`data`]: paths of the committed test data (tests/data, tests/fixtures);
//! - [`hostile`]: hostile servers (redirects, huge bodies, endless pages) and a capturing listener;
//! - [`migration`]: a whole migration on the twin (snapshot, plan, apply through the binary) and its end state;
//! - [`mock_scim`]: a counting in-process SCIM target;
//! - [`net`]: a loopback port that refuses connections (for "unreachable" cases);
//! - [`schemas`]: every snapshot, plan and journal a test made scimshift write, against docs/schemas;
//! - [`mock_graph`]: a Graph mock with scripted faults (see its doc for why it
//!   stays beside the twin).
#![allow(dead_code, unused_imports)]

pub mod bench;
pub mod cli;
pub mod data;
pub mod hostile;
pub mod migration;
pub mod mock_graph;
pub mod mock_scim;
pub mod net;
pub mod schemas;
pub mod scim2;
pub mod twin;

pub use scim2::{Scim2Server, scim2_server_bin, start_scim2_server};
