//! CSV import and export against the twin's own SCIM target, with the twin's
//! request log as the witness: a rejected file sends zero writes, the 50-row
//! JumpCloud file lands exactly 50 users, and export → import is a no-op.

mod common;

use scimshift::twin::server::{RunningTwin, TwinOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/csv")
        .join(rel)
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// tests/data/csv/malformed holds 42 files; these 10 are well-formed in a way
/// a spreadsheet produces (other delimiters, a BOM and CRLF, a multi-line
/// quoted value, short rows, a guarded formula prefix, a PowerShell type
/// line, tab-and-space padding, a staged user, an ignored password column),
/// as tests/users_malformed.rs documents; the other 32 are rejected.
const MALFORMED_FILES: usize = 42;
const MALFORMED_ACCEPTED: &[&str] = &[
    "bom_crlf_excel.csv",
    "entra_tab_leading_spaces.csv",
    "guarded_formula_prefix.csv",
    "multiline_description.csv",
    "password_column.csv",
    "powershell_type_line.csv",
    "ragged_short_rows.csv",
    "semicolon.csv",
    "staged_user_skipped.csv",
    "tab.csv",
];

/// The real samples: 18 JumpCloud, 2 Entra, 3 other.
const SAMPLES: usize = 23;
/// The samples rejected, in the order read, each for what its data holds: a
/// header and one row of empty fields; `Attribute1_name` set with an empty
/// `Attribute1_value`; Microsoft's example row (chris@contoso.com) left in.
const SAMPLES_REJECTED: &[&str] = &[
    "PowerShell_JCUserUpdateImport_10-25-2022.csv",
    "update_UpdateExample_missingAttribute.csv",
    "ItsTriich_UserCreateTemplate.csv",
];

fn writes(path: &Path) -> usize {
    log_lines(path)
        .iter()
        .filter(|l| l["write"] == true)
        .count()
}

/// Run an import against the in-process twin. The binary blocks, so it runs
/// with block_in_place: the runtime's other worker keeps serving the twin.
fn import(twin: &RunningTwin, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = common::cli::bin();
    c.env("SCIM_TOKEN", twin.scim_token.expose())
        .args(["users", "import"])
        .arg(file)
        .args(["--scim-url", &twin.scim_url])
        .args(extra);
    tokio::task::block_in_place(|| c.output().unwrap())
}

async fn twin_with_log(dir: &Path) -> (RunningTwin, PathBuf) {
    let log = dir.join("requests.jsonl");
    let twin = scimshift::twin::server::start(TwinOptions {
        request_log: Some(log.clone()),
        ..TwinOptions::default()
    })
    .await
    .unwrap();
    (twin, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_files_send_no_write_to_the_twin() {
    let dir = tempfile::tempdir().unwrap();
    let (twin, log) = twin_with_log(dir.path()).await;
    let mut rejected = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(data("malformed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), MALFORMED_FILES, "the corpus changed");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let before = writes(&log);
        let out = import(&twin, &path, &["--yes"]);
        let expected = if MALFORMED_ACCEPTED.contains(&name) {
            0
        } else {
            1
        };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.code() == Some(1) {
            rejected += 1;
            assert_eq!(
                writes(&log),
                before,
                "{} was rejected but sent a write",
                path.display()
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(&format!("{}:", path.display())), "{stderr}");
        }
    }
    assert_eq!(rejected, MALFORMED_FILES - MALFORMED_ACCEPTED.len());
    // The log itself never holds the token.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(twin.scim_token.expose()));
    twin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_land_and_export_then_import_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (twin, log) = twin_with_log(dir.path()).await;
    let before_users = twin.twin.scim_store.users().len();

    // Dry run first: a plan, exit 2, and not one write.
    let out = import(
        &twin,
        &data("synthetic/jumpcloud_import_50.csv"),
        &["--dry-run"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(writes(&log), 0);

    let results = dir.path().join("results.csv");
    let out = import(
        &twin,
        &data("synthetic/jumpcloud_import_50.csv"),
        &["--yes", "--results", results.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(twin.twin.scim_store.users().len(), before_users + 50);
    let rows = std::fs::read_to_string(&results).unwrap();
    assert_eq!(rows.lines().count(), 51, "one result row per input row");

    // Export everything the target holds, then import it back: nothing to do.
    let export = dir.path().join("export.csv");
    let mut c = common::cli::bin();
    c.env("SCIM_TOKEN", twin.scim_token.expose())
        .args([
            "users",
            "export",
            "--scim-url",
            &twin.scim_url,
            "--format",
            "jumpcloud",
            "--out",
        ])
        .arg(&export);
    let o = tokio::task::block_in_place(|| c.output().unwrap());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let writes_before = writes(&log);
    let out = import(&twin, &export, &["--dry-run"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "export -> import must be a no-op plan:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(writes(&log), writes_before);
    twin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_sample_imports_into_the_twin_or_is_rejected_without_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let (twin, log) = twin_with_log(dir.path()).await;
    let mut imported = vec![];
    let mut rejected = vec![];
    for sub in ["jumpcloud", "entra", "other"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let before = writes(&log);
            let out = import(&twin, &path, &["--yes"]);
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            match out.status.code() {
                Some(0) => {
                    imported.push(name);
                    // Importing it again is a no-op.
                    let again = import(&twin, &path, &["--dry-run"]);
                    assert_eq!(
                        again.status.code(),
                        Some(0),
                        "{}: {}",
                        path.display(),
                        String::from_utf8_lossy(&again.stdout)
                    );
                }
                Some(1) => {
                    rejected.push((name, stderr.trim().to_string()));
                    assert!(stderr.contains(&format!("{}:", path.display())), "{stderr}");
                    assert_eq!(
                        writes(&log),
                        before,
                        "{}: rejected but wrote",
                        path.display()
                    );
                }
                other => panic!("{}: exit {other:?}\n{stderr}", path.display()),
            }
        }
    }
    let names: Vec<&str> = rejected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, SAMPLES_REJECTED, "rejected: {rejected:#?}");
    assert_eq!(
        imported.len(),
        SAMPLES - SAMPLES_REJECTED.len(),
        "{imported:?}"
    );
    twin.shutdown().await;
}
