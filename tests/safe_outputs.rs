//! Output paths are never a trap: `plan --out` pointed at its own `--snapshot`
//! is refused and the snapshot is unchanged; a symlink, a FIFO or a directory
//! at the output path is refused without following, blocking on or replacing
//! it; a failed write leaves no temp file behind. Only files in a temp dir.

mod common;

use common::cli::{bin, text};
use scimshift::plan::testkit;

fn snapshot(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("snap.json");
    std::fs::write(&p, testkit::demo_like().to_bytes()).unwrap();
    p
}

fn plan_out(snap: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    bin()
        .args(["plan", "--snapshot"])
        .arg(snap)
        .arg("--out")
        .arg(out)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn refused(o: &std::process::Output, needle: &str) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(64), "{out}\n{err}");
    assert!(err.contains(needle), "wanted `{needle}`: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
}

fn no_temp_files(dir: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

#[test]
fn plan_out_onto_its_own_snapshot_is_refused_and_the_snapshot_kept() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let before = std::fs::read(&snap).unwrap();
    // Through another spelling of the same path, too.
    let other = dir.path().join(".").join("snap.json");
    for out in [&snap, &other] {
        refused(&plan_out(&snap, out), "same file as --snapshot");
        assert_eq!(std::fs::read(&snap).unwrap(), before, "snapshot unchanged");
    }
    no_temp_files(dir.path());
}

#[cfg(unix)]
#[test]
fn a_symlink_at_the_output_path_is_refused_and_its_target_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("plan.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(&plan_out(&snap, &link), "is a symbolic link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    no_temp_files(dir.path());
}

#[cfg(unix)]
#[test]
fn a_fifo_at_the_output_path_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let fifo = dir.path().join("plan.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    refused(&plan_out(&snap, &fifo), "not a regular file");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "still a FIFO"
    );
    no_temp_files(dir.path());
}

#[test]
fn a_failed_write_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let sub = dir.path().join("plan.json");
    std::fs::create_dir(&sub).unwrap();
    refused(&plan_out(&snap, &sub), "is a directory");
    no_temp_files(dir.path());
}

#[test]
fn import_results_onto_its_input_csv_is_refused_and_the_csv_kept() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    let body = "username,email,firstname,lastname\nada,ada@example.com,Ada,Lovelace\n";
    std::fs::write(&csv, body).unwrap();
    let o = bin()
        .env("SCIM_TOKEN", "safe-outputs-token")
        .args(["users", "import"])
        .arg(&csv)
        // Port 9 on loopback: the refusal must come before any connection.
        .args([
            "--dry-run",
            "--scim-url",
            "http://127.0.0.1:9/scim/v2",
            "--results",
        ])
        .arg(&csv)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    refused(&o, "same file as the input file");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), body);
}
