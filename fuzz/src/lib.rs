//! scimshift-fuzz: a mutational fuzzer for everything scimshift reads from
//! files and servers, on stable Rust. It is not coverage-guided (no
//! sanitizer instrumentation): it mutates seed inputs (byte-, JSON-, CSV- and
//! answer-script-aware), keeps an input when it reaches an outcome class not
//! seen before, and checks every run against the oracles: no panic, no input
//! slower than the time bound, every error one bounded clean sentence, never
//! an internal error, no token sent to another origin.

pub mod csv_mutate;
pub mod http;
pub mod mutate;
pub mod oracle;
pub mod run;
pub mod targets;
