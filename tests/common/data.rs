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

/// The demo seed's independent truth (src/twin/seed.rs, trap 1, `WINGTIP`):
/// the 12 in-scope users whose mail is on the legacy domain, as (UPN, mail).
/// Written out literally, so a wrong evaluation of `[mail]` or
/// `[userPrincipalName]` in the planner cannot move the expectation with it.
pub const DEMO_WINGTIP: [(&str, &str); 12] = [
    ("chloe.berg@northwind.example", "chloe.berg@wingtip.example"),
    (
        "clara.silva@northwind.example",
        "clara.silva@wingtip.example",
    ),
    (
        "grace.murphy@northwind.example",
        "grace.murphy@wingtip.example",
    ),
    (
        "kenji.weber@northwind.example",
        "kenji.weber@wingtip.example",
    ),
    (
        "kwame.ivanova@northwind.example",
        "kwame.ivanova@wingtip.example",
    ),
    (
        "liam.nguyen2@northwind.example",
        "liam.nguyen2@wingtip.example",
    ),
    (
        "lucas.jensen@northwind.example",
        "lucas.jensen@wingtip.example",
    ),
    (
        "mateo.rossi@northwind.example",
        "mateo.rossi@wingtip.example",
    ),
    (
        "mateo.walsh@northwind.example",
        "mateo.walsh@wingtip.example",
    ),
    ("mia.garcia@northwind.example", "mia.garcia@wingtip.example"),
    (
        "olivia.weber@northwind.example",
        "olivia.weber@wingtip.example",
    ),
    ("sofia.chen@northwind.example", "sofia.chen@wingtip.example"),
];

/// The demo target's three hand-made users no Entra user is assigned to (trap 2).
pub const DEMO_ORPHANS: [&str; 3] = [
    "auditor@kpmg-partner.example",
    "coda.admin@northwind.example",
    "former.intern@northwind.example",
];
