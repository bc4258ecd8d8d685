//! The workspace's boundaries, checked over the manifests and the source tree:
//! - the product library (`crates/core`, package `scimshift-core`) does not
//!   depend on the twin (`crates/twin`) nor on the server or progress-bar
//!   crates: product code (snapshot, plan, apply, verify, users, the clients)
//!   cannot call the simulated tenant, and the compiler enforces it as long as
//!   the manifest stays so — this test fails the day someone adds the arrow;
//! - in the command crate (`src/`), only the command layer (`src/cli.rs`,
//!   `src/cmd/`, `src/main.rs`) names `crate::cli`: `demo` and `rehearse` take
//!   validated options, never clap structs (the product library cannot name
//!   `cli` at all: it is not in its crate);
//! - only the command layer draws progress (names `indicatif`): the libraries
//!   report `scimshift::progress` events instead.
//!
//! A path counts however it is written: `crate::cli`, `crate::{cli, …}`, or a
//! `super::…` chain that climbs to the crate root. Comments are ignored.

use std::path::{Path, PathBuf};

/// The top-level modules a source file names through the crate root.
fn crate_roots_named(source: &str, depth: usize) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let prefix_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let mut consumed = None;
        if prefix_ok && rest.starts_with("crate") {
            consumed = Some(("crate".len(), true));
        } else if prefix_ok && rest.starts_with("super") {
            // Count the chain `super::super::…`; it reaches the root at `depth`.
            let mut n = 0;
            let mut j = 0;
            while rest[j..].starts_with("super") {
                n += 1;
                j += "super".len();
                let after = rest[j..].trim_start();
                if let Some(a) = after.strip_prefix("::") {
                    let a2 = a.trim_start();
                    if a2.starts_with("super") {
                        j = rest.len() - a2.len();
                        continue;
                    }
                }
                break;
            }
            consumed = Some((j, n == depth));
        }
        let Some((len, at_root)) = consumed else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let after = rest[len..].trim_start();
        if at_root && let Some(tail) = after.strip_prefix("::") {
            let tail = tail.trim_start();
            if let Some(group) = tail.strip_prefix('{') {
                // `crate::{a, b::c, …}`: every top-level name in the group.
                let mut level = 0;
                let mut item = String::new();
                let mut expect_name = true;
                for c in group.chars() {
                    match c {
                        '{' => level += 1,
                        '}' if level == 0 => break,
                        '}' => level -= 1,
                        ',' if level == 0 => expect_name = true,
                        c if expect_name && level == 0 && (c.is_alphanumeric() || c == '_') => {
                            item.push(c)
                        }
                        _ => {
                            if !item.is_empty() {
                                out.push(std::mem::take(&mut item));
                            }
                            if !c.is_whitespace() {
                                expect_name = false;
                            }
                        }
                    }
                }
                if !item.is_empty() {
                    out.push(item);
                }
            } else {
                let name: String = tail
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        }
        i += len.max(1);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a.rs` and `src/a/mod.rs` are depth 1 (`super` is the root), `src/a/b.rs` depth 2.
fn depth(rel: &Path) -> usize {
    let parts = rel.components().count();
    let is_mod = rel.file_name().is_some_and(|f| f == "mod.rs");
    if is_mod { parts - 1 } else { parts }
}

/// Every file under the command crate's `src/` outside the command layer that
/// names `crate::cli`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap().to_path_buf();
        let rels = rel.to_string_lossy().replace('\\', "/");
        let command_layer = rels == "cli.rs" || rels == "main.rs" || rels.starts_with("cmd/");
        let text = std::fs::read_to_string(&f).unwrap();
        for name in crate_roots_named(&text, depth(&rel)) {
            if name == "cli" && !command_layer {
                bad.push(format!(
                    "src/{rels} names crate::cli: take validated options from the command layer (src/cmd/) instead"
                ));
            }
        }
    }
    bad.dedup();
    bad
}

/// Files under `src/` outside the command layer that use indicatif.
fn progress_drawn_outside_the_command_layer(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|f| !f.strip_prefix(src).unwrap().starts_with("cmd"))
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| l.find("//").map_or(l, |i| &l[..i]))
                .any(|l| l.contains("indicatif"))
        })
        .map(|f| {
            format!(
                "{} draws progress: report crate::progress events instead",
                f.display()
            )
        })
        .collect()
}

/// The workspace's source trees: the command crate, the product library, the twin.
fn source_trees() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        root.join("src"),
        root.join("crates/core/src"),
        root.join("crates/twin/src"),
    ]
}

#[test]
fn only_the_command_layer_draws_progress() {
    for src in source_trees() {
        assert!(src.is_dir(), "{} is missing", src.display());
        let bad = progress_drawn_outside_the_command_layer(&src);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
    // And the check sees a use when there is one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cmd")).unwrap();
    std::fs::write(
        dir.path().join("cmd/progress.rs"),
        "use indicatif::ProgressBar;",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("output.rs"),
        "// indicatif\nuse indicatif::ProgressBar;",
    )
    .unwrap();
    assert_eq!(
        progress_drawn_outside_the_command_layer(dir.path()).len(),
        1
    );
}

#[test]
fn only_the_command_layer_names_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The packages a manifest depends on, in any dependency table (normal, dev,
/// build, or target-specific).
fn dependencies_of(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let mut names = Vec::new();
    let mut tables = vec![doc.clone()];
    if let Some(toml::Value::Table(targets)) = doc.get("target") {
        for t in targets.values() {
            if let toml::Value::Table(t) = t {
                tables.push(t.clone());
            }
        }
    }
    for t in tables {
        for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(toml::Value::Table(deps)) = t.get(key) {
                names.extend(deps.keys().cloned());
            }
        }
    }
    names
}

/// What the product library must never depend on: the twin, and the crates
/// that only a server or a terminal front end needs.
const FORBIDDEN_IN_CORE: [&str; 5] = ["scimshift-twin", "axum", "tower", "indicatif", "scimshift"];

fn forbidden_in(manifest: &Path) -> Vec<String> {
    dependencies_of(manifest)
        .into_iter()
        .filter(|d| FORBIDDEN_IN_CORE.contains(&d.as_str()))
        .collect()
}

#[test]
fn the_product_library_does_not_depend_on_the_twin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let core = root.join("crates/core/Cargo.toml");
    let bad = forbidden_in(&core);
    assert!(
        bad.is_empty(),
        "crates/core depends on {bad:?}: product code must not reach the twin, a server or progress bars"
    );
    // The command crate does depend on both, and the check sees a dependency
    // however it is declared.
    let cli = dependencies_of(&root.join("Cargo.toml"));
    assert!(cli.iter().any(|d| d == "scimshift-twin"), "{cli:?}");
    assert!(cli.iter().any(|d| d == "scimshift-core"), "{cli:?}");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("Cargo.toml");
    std::fs::write(
        &fake,
        "[package]\nname = \"x\"\n[dev-dependencies]\nscimshift-twin = { path = \"../twin\" }\n[target.'cfg(unix)'.dependencies]\naxum = \"0.8\"\n",
    )
    .unwrap();
    assert_eq!(forbidden_in(&fake), ["scimshift-twin", "axum"]);
}

#[test]
fn the_check_sees_every_spelling_and_ignores_comments() {
    let names = |s: &str, d: usize| crate_roots_named(s, d);
    assert_eq!(names("use crate::cli::GraphArgs;", 1), ["cli"]);
    assert_eq!(names("fn f(a: &crate :: cli::X) {}", 2), ["cli"]);
    assert_eq!(
        names("use crate::{error::Error, cli::{A, B}, twin};", 1),
        ["error", "cli", "twin"]
    );
    assert_eq!(names("use super::cli::ScimArgs;", 1), ["cli"]);
    assert_eq!(names("use super::super::twin::server;", 2), ["twin"]);
    // `super` that does not reach the root names a sibling, not the crate's module.
    assert!(names("use super::cli::X;", 2).is_empty());
    assert!(
        names(
            "//! see `crate::cli`\n/// crate::twin\nlet x = 1; // crate::cli",
            1
        )
        .is_empty()
    );
    assert!(names("let supercrate = 1; mycrate::cli::x();", 1).is_empty());
}

#[test]
fn a_forbidden_import_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("cmd")).unwrap();
    std::fs::create_dir_all(src.join("plan")).unwrap();
    std::fs::write(src.join("cli.rs"), "use crate::twin::x;").unwrap();
    std::fs::write(src.join("cmd/plan.rs"), "use crate::cli::PlanArgs;").unwrap();
    std::fs::write(src.join("demo.rs"), "use crate::twin::server;").unwrap();
    std::fs::write(src.join("plan/mod.rs"), "use super::cli::PlanArgs;").unwrap();
    std::fs::write(
        src.join("rehearse.rs"),
        "fn f(a: &crate::{error::Error, cli::RehearseArgs}) {}",
    )
    .unwrap();
    let bad = violations(src);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].starts_with("src/plan/mod.rs names crate::cli"),
        "{bad:?}"
    );
    assert!(
        bad[1].starts_with("src/rehearse.rs names crate::cli"),
        "{bad:?}"
    );
}
