//! `scimshift doctor` against the twin, through the binary: everything ✓ with
//! the admin client; the reader client told exactly which permissions to
//! grant; a wrong SCIM token and an unknown app each a ✗ with a sentence; and
//! not one write request in the twin's log. Also the generated shell
//! completions and man pages.

mod common;

use common::cli::{bin, run, text};
use scimshift::twin::server::{RunningTwin, TwinOptions};
use serde_json::Value;

fn doctor(t: &RunningTwin, client: usize, scim_token: &str, extra: &[&str]) -> assert_cmd::Command {
    let c = &t.clients[client];
    let mut cmd = bin();
    cmd.env("AZURE_TENANT_ID", &t.tenant_id)
        .env("AZURE_CLIENT_ID", &c.client_id)
        .env("AZURE_CLIENT_SECRET", &c.client_secret)
        .env("SCIM_TOKEN", scim_token)
        .args([
            "doctor",
            "--graph-url",
            &t.graph_url,
            "--authority-url",
            &t.authority_url,
        ])
        .args(["--scim-url", &t.scim_url])
        .args(extra);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_with_full_roles_names_what_is_missing_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let t = common::twin::with(TwinOptions {
        request_log: Some(log.clone()),
        quota_scale: 0.0,
        ..TwinOptions::default()
    })
    .await;
    assert_eq!(
        t.clients.len(),
        2,
        "the demo seed has an admin and a reader client"
    );
    let token = t.scim_token.expose().to_string();

    let o = run(doctor(&t, 0, &token, &["--app", "Coda"])).await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines.iter().all(|l| l.starts_with('✓')), "{out}");
    assert!(out.contains("'Coda' provisions with coda"), "{out}");

    // The reader holds Application.Read.All and Directory.Read.All only.
    let o = run(doctor(
        &t,
        1,
        &token,
        &["--app", "Coda", "--output", "json"],
    ))
    .await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    let failed: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| (c["name"].as_str().unwrap(), c["detail"].as_str().unwrap()))
        .collect();
    // Permissions, and the job read the missing Synchronization.Read.All forbids.
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "permissions");
    for p in [
        "Synchronization.Read.All",
        "Application.ReadWrite.All",
        "Synchronization.ReadWrite.All",
        "AppRoleAssignment.ReadWrite.All",
    ] {
        assert!(failed[0].1.contains(p), "{p} missing from: {}", failed[0].1);
    }
    assert_eq!(failed[1].0, "provisioning job");
    let o = run(doctor(&t, 1, &token, &["--for", "snapshot"])).await;
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let line = out.lines().find(|l| l.contains("permissions")).unwrap();
    assert!(
        line.starts_with('✗') && line.contains("Synchronization.Read.All"),
        "{line}"
    );
    assert!(
        !line.contains("ReadWrite"),
        "snapshot needs no write permission: {line}"
    );

    let o = run(doctor(&t, 0, "not-the-token", &["--app", "No Such App"])).await;
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("✗ gallery app") && l.contains("No Such App")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("✗ SCIM token") && l.contains("401")),
        "{out}"
    );
    assert!(
        !out.contains("not-the-token"),
        "the token never appears in output"
    );

    let requests = std::fs::read_to_string(&log).unwrap();
    let graph_requests = requests.lines().count();
    assert!(graph_requests >= 10, "{requests}");
    // The log covers the SCIM target too, so "no write" holds for it as well.
    assert!(
        requests.contains("/ServiceProviderConfig") && requests.contains("/Users"),
        "the SCIM checks are in the log: {requests}"
    );
    let writes: Vec<&str> = requests
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["write"] == true)
        .collect();
    assert!(writes.is_empty(), "doctor wrote: {writes:?}");
}

#[test]
fn completions_for_every_shell_and_man_pages_generate() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(o.stdout).unwrap();
        for sub in ["snapshot", "plan", "doctor", "users"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    // bash parses its script (bash is on every machine the suite runs on).
    let o = bin().args(["completions", "bash"]).output().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimshift.bash");
    std::fs::write(&path, &o.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let o = bin().arg("man").output().unwrap();
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(page.contains(".TH scimshift 1"), "{page}");
    assert!(
        page.contains("doctor"),
        "the top page lists the subcommands"
    );
    let o = bin()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let plan = std::fs::read_to_string(dir.path().join("scimshift-plan.1")).unwrap();
    assert!(
        plan.contains(".TH scimshift-plan 1") && plan.contains("\\-\\-snapshot"),
        "{plan}"
    );
    let o = bin()
        .args(["man", "--dir"])
        .arg(dir.path().join("absent"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"));
}

/// A reader that went away (`scimshift completions fish | head -1`): one
/// sentence and exit 1, not a panic. stdout is a pipe whose read end is
/// closed before the command starts, so every write fails with EPIPE.
#[test]
fn completions_and_man_into_a_closed_pipe_fail_with_a_sentence() {
    use std::os::fd::{FromRawFd, OwnedFd};
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["completions", "powershell"],
        &["man"],
    ] {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let mut c = std::process::Command::new(common::cli::bin_path());
        c.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped());
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.starts_with("error: could not write the"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
