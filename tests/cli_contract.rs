//! The command-line contract the README promises, through the binary:
//! `--help` exits 0 for every command, a bad command line (unknown flag,
//! missing argument) exits 64 with clap's sentence; the SCIM token comes from
//! a 0600 file, from SCIM_TOKEN, or a refusal when no one can type it (no
//! hang); colour is on for a terminal and off with NO_COLOR or --no-color
//! (under a real pseudo-terminal, `script`); and `-vv` output never holds the
//! client secret, SCIM token or access token a run used.

mod common;

use common::cli::{bin, run, text};
use std::path::Path;
use std::time::Duration;

/// Every command and subcommand, as typed.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["demo"],
    &["twin"],
    &["twin", "serve"],
    &["snapshot"],
    &["snapshot", "diff"],
    &["plan"],
    &["show"],
    &["users"],
    &["users", "import"],
    &["users", "export"],
    &["doctor"],
    &["completions"],
    &["man"],
    &["verify"],
];

/// The commands that do work (leaves of the tree).
const LEAVES: &[&[&str]] = &[
    &["demo"],
    &["twin", "serve"],
    &["snapshot"],
    &["snapshot", "diff"],
    &["plan"],
    &["show"],
    &["users", "import"],
    &["users", "export"],
    &["doctor"],
    &["completions", "bash"],
    &["man"],
    &["verify"],
];

#[test]
fn help_exits_0_for_every_command() {
    for cmd in COMMANDS {
        let o = bin().args(*cmd).arg("--help").output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{cmd:?} --help: {err}");
        let usage = format!("Usage: scimshift {}", cmd.join(" "));
        assert!(out.contains(usage.trim_end()), "{cmd:?} --help:\n{out}");
    }
    let o = bin().arg("--version").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.starts_with("scimshift "), "{:?}", text(&o).0);
}

#[test]
fn an_unknown_flag_exits_64_with_one_sentence() {
    for cmd in LEAVES {
        let o = bin().args(*cmd).arg("--bogus").output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(64), "{cmd:?} --bogus: {err}");
        assert!(
            err.starts_with("error: unexpected argument '--bogus' found"),
            "{cmd:?}: {err}"
        );
        assert!(
            out.is_empty() && !err.contains("panicked"),
            "{cmd:?}: {out}{err}"
        );
    }
}

#[test]
fn a_missing_required_argument_exits_64_naming_it() {
    // (command line, what the sentence names). `demo` and `twin serve` need
    // no argument; `twin` and `users` need a subcommand.
    let cases: &[(&[&str], &str)] = &[
        (&["plan"], "--snapshot <SNAPSHOT>"),
        (&["show"], "<PLAN>"),
        (&["verify"], "<PLAN>"),
        (&["users", "import"], "<FILE>"),
        (&["users", "export"], "--format <FORMAT>"),
        (&["users", "export", "--format", "scim"], "--out <OUT>"),
        (&["snapshot", "diff"], "<A>"),
        (&["snapshot", "diff", "a.json"], "<B>"),
        (&["snapshot"], "--app is required"),
        (&["completions"], "<SHELL>"),
        (&["twin"], "Usage: scimshift twin"),
        (&["users"], "Usage: scimshift users"),
        (&[], "Usage: scimshift"),
    ];
    for (cmd, names) in cases {
        let o = bin().args(*cmd).output().unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(64), "{cmd:?}: {err}");
        assert!(err.contains(names), "{cmd:?} should name {names}: {err}");
        assert!(!err.contains("panicked"), "{cmd:?}: {err}");
    }
}

/// Run the binary under a pseudo-terminal (`script` from util-linux) and return
/// what it printed. Fails with a sentence when `script` is missing.
fn under_a_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let script = Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "this test needs `script` (util-linux, e.g. `apt-get install util-linux`) to give the binary a terminal"
    );
    let mut line = shell_quote(&common::cli::bin_path().display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let mut c = std::process::Command::new(script);
    for k in common::cli::ENV {
        c.env_remove(k);
    }
    c.env("SHELL", "/bin/sh").env("TERM", "xterm");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(2), "plan has changes: {out}");
    out
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn colour_on_a_terminal_off_with_no_color_or_the_flag() {
    let snap = common::data::fixture("demo-snapshot.json");
    let snap = snap.display().to_string();
    let plan = ["plan", "--snapshot", &snap, "--profile", "coda"];
    let coloured = under_a_terminal(&plan, &[]);
    assert!(
        coloured.contains("\u{1b}["),
        "a terminal gets colour:\n{coloured}"
    );
    let plain = under_a_terminal(&plan, &[("NO_COLOR", "1")]);
    assert!(!plain.contains("\u{1b}["), "NO_COLOR=1:\n{plain}");
    let mut flagged = plan.to_vec();
    flagged.push("--no-color");
    let plain_flag = under_a_terminal(&flagged, &[]);
    assert!(!plain_flag.contains("\u{1b}["), "--no-color:\n{plain_flag}");
    // Same words either way: only the escapes differ.
    assert!(
        plain.contains("Plan:") && plain_flag.contains("Plan:"),
        "{plain}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    assert!(under_a_terminal(&plan, &[("NO_COLOR", "")]).contains("\u{1b}["));
}

fn write_mode(path: &Path, content: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn export(scim_url: &str, out: &Path) -> assert_cmd::Command {
    let mut c = bin();
    c.args([
        "users",
        "export",
        "--scim-url",
        scim_url,
        "--format",
        "scim",
        "--out",
    ])
    .arg(out)
    .timeout(Duration::from_secs(120));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scim_token_comes_from_a_0600_file_or_the_environment_and_is_never_prompted_for_without_a_terminal()
 {
    let t = common::twin::demo().await;
    let token = t.scim_token.expose().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scim.token");
    let out = dir.path().join("users.csv");

    // 0600 file: accepted, the export holds the target's users.
    write_mode(&file, &format!("{token}\n"), 0o600);
    let mut c = export(&t.scim_url, &out);
    c.arg("--scim-token-file").arg(&file);
    let o = run(c).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.lines().count() > 1, "{csv}");
    std::fs::remove_file(&out).unwrap();

    // 0644: refused before anything is sent or written.
    write_mode(&file, &format!("{token}\n"), 0o644);
    let mut c = export(&t.scim_url, &out);
    c.arg("--scim-token-file").arg(&file);
    let o = run(c).await;
    let (stdout, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("can be read by other users") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
    assert!(!stdout.contains(&token) && !err.contains(&token));

    // Empty (0600): refused with a sentence.
    write_mode(&file, "\n", 0o600);
    let mut c = export(&t.scim_url, &out);
    c.arg("--scim-token-file").arg(&file);
    let o = run(c).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is empty"), "{err}");

    // SCIM_TOKEN: accepted.
    let mut c = export(&t.scim_url, &out);
    c.env("SCIM_TOKEN", &token);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(out.exists());
    std::fs::remove_file(&out).unwrap();

    // A wrong SCIM_TOKEN: the target's 401 as a sentence, the value not echoed.
    let mut c = export(&t.scim_url, &out);
    c.env("SCIM_TOKEN", "wrong-token-5d1e7").arg("-vv");
    let o = run(c).await;
    let (stdout, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        !stdout.contains("wrong-token-5d1e7") && !err.contains("wrong-token-5d1e7"),
        "{err}"
    );

    // Neither, and stdin is not a terminal: a refusal, not a hang (a waiting
    // prompt would be killed by the command's 120 s timeout, and a killed
    // process has no exit code 1 and not this sentence).
    let o = run(export(&t.scim_url, &out)).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("set SCIM_TOKEN"), "{err}");
    assert!(err.contains("stdin is not a terminal"), "{err}");
    assert!(!out.exists());
    t.shutdown().await;
}

/// Every place a secret could leak to: stdout, stderr and each written file.
fn assert_absent(what: &str, secrets: &[&str], stdout: &str, stderr: &str, files: &[&Path]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!stdout.contains(s), "{what}: a secret in stdout");
        assert!(!stderr.contains(s), "{what}: a secret in stderr");
        for f in files {
            let body = std::fs::read_to_string(f).unwrap();
            assert!(!body.contains(s), "{what}: a secret in {}", f.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_of_a_real_run_never_holds_its_secrets() {
    let t = common::twin::demo().await;
    let dir = common::schemas::tempdir();
    let snap = dir.path().join("coda.snapshot.json");
    let secret = t.client_secret.expose().to_string();
    let scim_token = t.scim_token.expose().to_string();
    let mut c = bin();
    c.args([
        "snapshot",
        "--app",
        "Coda",
        "--scim-url",
        &t.scim_url,
        "--out",
    ])
    .arg(&snap)
    .arg("-vv")
    .env("SCIMSHIFT_GRAPH_URL", &t.graph_url)
    .env("SCIMSHIFT_AUTHORITY_URL", &t.authority_url)
    .env("AZURE_TENANT_ID", &t.tenant_id)
    .env("AZURE_CLIENT_ID", &t.client_id)
    .env("AZURE_CLIENT_SECRET", &secret)
    .env("SCIM_TOKEN", &scim_token)
    .timeout(Duration::from_secs(300));
    let o = run(c).await;
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("DEBUG"),
        "-vv logs at debug level: {stderr}"
    );
    // The access tokens the twin issued during the run.
    let issued = t.issued_tokens();
    assert!(!issued.is_empty(), "the run signed in");
    let mut secrets = vec![secret.as_str(), scim_token.as_str()];
    secrets.extend(issued.iter().map(|s| s.expose()));
    assert_absent("snapshot -vv", &secrets, &stdout, &stderr, &[&snap]);
    t.shutdown().await;
}
