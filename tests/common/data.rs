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

/// The Coda profile with nothing copied from the gallery job (the wrong
/// turn: `userName ← userPrincipalName`, Entra's default), written to `dir`.
pub fn naive_coda_profile(dir: &std::path::Path) -> PathBuf {
    let coda = std::fs::read_to_string(root().join("plans/coda.toml")).unwrap();
    let naive = coda.replace("copy_from_gallery = true", "copy_from_gallery = false");
    assert_ne!(naive, coda, "plans/coda.toml copies from the gallery");
    let path = dir.join("naive.toml");
    std::fs::write(&path, naive).unwrap();
    path
}

/// A snapshot as the v1 format wrote it (format v1, no
/// `source.userProperties`, resealed): the file's bytes.
pub fn as_v1(snap: &scimshift::snapshot::model::Snapshot) -> Vec<u8> {
    let mut v = serde_json::to_value(snap).unwrap();
    v["format"] = "scimshift.snapshot/v1".into();
    v["source"]
        .as_object_mut()
        .unwrap()
        .remove("userProperties");
    v["digest"] = "".into();
    v["digest"] = scimshift::snapshot::model::sha256_json(&v).into();
    let mut bytes = serde_json::to_vec_pretty(&v).unwrap();
    bytes.push(b'\n');
    bytes
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
