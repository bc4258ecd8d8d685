//! Paths of the data the tests read: tests/data (CSV corpus, Graph and twin
//! reference copies) and tests/fixtures (static snapshots, test certificate).
//! Nothing here reads ../shared: what a test needs is copied in.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under tests/data.
pub fn data(rel: &str) -> PathBuf {
    root().join("tests/data").join(rel)
}

/// A file under tests/data/csv, as a string argument for the binary.
pub fn csv(rel: &str) -> String {
    data(&format!("csv/{rel}")).display().to_string()
}

/// A file under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}
