//! `scimshift plan` and `show` through the binary: exit codes (0 nothing to
//! do, 2 changes, 1 error), files written, byte-identical JSON, JSON on
//! stdout, profiles from files, and no secret in any output.

mod common;

use assert_cmd::Command;
use scimshift::plan::testkit;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    let mut c = common::cli::bin();
    c.env("NO_COLOR", "1");
    c
}

fn write_snapshot(dir: &Path, snap: &scimshift::snapshot::model::Snapshot) -> PathBuf {
    let p = dir.join("snap.json");
    std::fs::write(&p, snap.to_bytes()).unwrap();
    p
}

/// The step ids of a written plan, in order.
fn v2_steps(path: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn plan_exits_2_writes_identical_json_and_report() {
    let dir = common::schemas::tempdir();
    let snap = write_snapshot(dir.path(), &testkit::demo_like());
    let run = |out: &str| {
        let a = bin()
            .args(["plan", "--snapshot"])
            .arg(&snap)
            .args(["--pilot-group", "Engineering", "--out"])
            .arg(dir.path().join(out))
            .arg("--report")
            .arg(dir.path().join("plan.md"))
            .assert()
            .code(2);
        String::from_utf8(a.get_output().stdout.clone()).unwrap()
    };
    let text = run("a.json");
    run("b.json");
    assert!(text.contains("Plan: 1 app to create"), "{text}");
    let a = std::fs::read(dir.path().join("a.json")).unwrap();
    assert_eq!(
        a,
        std::fs::read(dir.path().join("b.json")).unwrap(),
        "same input, same bytes"
    );
    let json = String::from_utf8(a).unwrap();
    assert!(json.contains("\"format\": \"scimshift.plan/v2\""));
    let md = std::fs::read_to_string(dir.path().join("plan.md")).unwrap();
    assert!(md.contains("## Rollback"));
    // The planned order as a Mermaid flow for the change record: every step once,
    // in order, and the cutover steps (and only they) in their own box.
    let flow = md
        .split("```mermaid\n")
        .nth(1)
        .and_then(|f| f.split("```").next())
        .expect("a mermaid block in the report");
    let steps = v2_steps(&dir.path().join("a.json"));
    let nodes: Vec<&str> = flow
        .lines()
        .filter(|l| l.trim_start().starts_with('s') && l.contains("[\""))
        .collect();
    assert_eq!(nodes.len(), steps.len(), "{flow}");
    let order: Vec<String> = (0..steps.len()).map(|i| format!("s{i}")).collect();
    assert!(flow.contains(&order.join(" --> ")), "{flow}");
    let cutover = flow
        .split("subgraph cutover")
        .nth(1)
        .unwrap()
        .split("    end")
        .next()
        .unwrap();
    for (i, id) in steps.iter().enumerate() {
        let inside = cutover.contains(&format!("s{i}[\""));
        let is_cutover = [
            "pause-gallery-job",
            "start-custom-job",
            "pilot-on-demand",
            "wait-steady-state",
        ]
        .contains(&id.as_str());
        assert_eq!(inside, is_cutover, "{id} in the cutover box: {flow}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dir.path().join("a.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    // No-secret checks need a secret to look for: see
    // a_secret_planted_in_the_snapshot_reaches_no_output_even_at_debug_level.

    // show re-renders it and exits 0.
    let shown = bin()
        .arg("show")
        .arg(dir.path().join("a.json"))
        .assert()
        .code(0);
    let shown = String::from_utf8(shown.get_output().stdout.clone()).unwrap();
    assert!(shown.contains("Plan: 1 app to create"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let digest = v["planDigest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(
        shown.contains(&format!("plan {}", &digest[..19])),
        "{shown}"
    );
}

#[test]
fn a_secret_planted_in_the_snapshot_reaches_no_output_even_at_debug_level() {
    const PLANTED: &str = "sk-planted-4c9e1";
    let dir = common::schemas::tempdir();
    let mut s = testkit::demo_like();
    for key in ["SecretToken", "ClientSecret", "Password"] {
        s.app.settings.push(scimshift::snapshot::model::KeyValue {
            key: key.into(),
            value: PLANTED.into(),
        });
    }
    s.app.service_principal["passwordCredentials"] = serde_json::json!([{"secretText": PLANTED}]);
    s.seal();
    let snap = write_snapshot(dir.path(), &s);
    assert!(
        std::fs::read_to_string(&snap).unwrap().contains(PLANTED),
        "planted"
    );
    let (plan, report) = (dir.path().join("p.json"), dir.path().join("p.md"));
    let o = bin()
        .args(["-vv", "plan", "--snapshot"])
        .arg(&snap)
        .arg("--out")
        .arg(&plan)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let shown = bin().args(["-vv", "show"]).arg(&plan).output().unwrap();
    assert_eq!(shown.status.code(), Some(0));
    let json = bin()
        .args(["-vv", "--output", "json", "show"])
        .arg(&plan)
        .output()
        .unwrap();
    let mut texts = vec![];
    for out in [&o, &shown, &json] {
        texts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        texts.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    // Every file the run wrote (plan, report, impact table, …).
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p != snap {
            texts.push(std::fs::read_to_string(&p).unwrap());
        }
    }
    assert!(texts.len() >= 8, "plan, report and more were written");
    for t in &texts {
        assert!(!t.contains(PLANTED), "the planted secret leaked:\n{t}");
    }
}

#[test]
fn json_output_on_stdout() {
    let dir = common::schemas::tempdir();
    let snap = write_snapshot(dir.path(), &testkit::demo_like());
    let a = bin()
        .args(["--output", "json", "plan", "--snapshot"])
        .arg(&snap)
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["format"], "scimshift.plan/v2");
    common::schemas::check_plan("plan --output json", &v);
    assert_eq!(v["steps"][0]["action"], "+");
    assert_eq!(v["summary"]["duplicates"], 0);
}

#[test]
fn nothing_to_do_exits_0() {
    let dir = common::schemas::tempdir();
    let mut schema = testkit::gallery_schema("customappsso", "mail", None);
    schema["synchronizationRules"][0]["objectMappings"][1]["enabled"] = serde_json::json!(true);
    let mut s = testkit::SnapBuilder::new("Coda (SCIM custom)", schema).build();
    s.app.application_template_id = Some("8adf8e6e-67b2-4cf2-a259-e3dc5476c621".into());
    s.app.jobs[0].template_id = "scim".into();
    s.seal();
    let snap = write_snapshot(dir.path(), &s);
    let a = bin()
        .args(["plan", "--snapshot"])
        .arg(&snap)
        .assert()
        .code(0);
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("No changes"));
}

#[test]
fn errors_exit_1_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let snap = write_snapshot(dir.path(), &testkit::demo_like());
    // Pilot group not assigned.
    let a = bin()
        .args(["plan", "--snapshot"])
        .arg(&snap)
        .args(["--pilot-group", "Platform"])
        .assert()
        .code(1);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("not a group assigned") && err.trim().lines().count() == 1,
        "{err}"
    );
    // Bad profile TOML names file and line.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\ndisplay_name = \"X\"\nuser_mappings = [ { target = 1 } ]\n",
    )
    .unwrap();
    let a = bin()
        .args(["plan", "--snapshot"])
        .arg(&snap)
        .arg("--profile")
        .arg(&bad)
        .assert()
        .code(1);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(err.contains("bad.toml line 3"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // show on a file that is not a plan.
    let a = bin().arg("show").arg(&snap).assert().code(1);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(err.contains("is not a scimshift plan"), "{err}");
    // A plan an older scimshift wrote: one sentence saying to re-plan.
    let old = dir.path().join("old-plan.json");
    std::fs::write(&old, r#"{"format": "scimshift.plan/v1", "steps": []}"#).unwrap();
    let a = bin().arg("show").arg(&old).assert().code(1);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(err.contains("make a new plan"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // A snapshot edited after it was taken.
    let edited = dir.path().join("edited.json");
    std::fs::write(
        &edited,
        std::fs::read_to_string(&snap)
            .unwrap()
            .replace("ada.lovelace6", "ada.lovelace7"),
    )
    .unwrap();
    bin()
        .args(["plan", "--snapshot"])
        .arg(&edited)
        .assert()
        .code(1);
    // A v1 snapshot (no record of the user properties it read), sealed as
    // v1 wrote it: refused by every reader with one sentence to capture again.
    let v1 = dir.path().join("v1.json");
    std::fs::write(&v1, common::data::as_v1(&testkit::demo_like())).unwrap();
    let out = dir.path().join("never.json");
    for args in [
        vec!["plan", "--snapshot", "V1", "--out", "OUT"],
        vec![
            "users",
            "export",
            "--snapshot",
            "V1",
            "--format",
            "scim",
            "--out",
            "OUT",
        ],
    ] {
        let args: Vec<std::ffi::OsString> = args
            .iter()
            .map(|a| match *a {
                "V1" => v1.clone().into_os_string(),
                "OUT" => out.clone().into_os_string(),
                a => a.into(),
            })
            .collect();
        let a = bin().args(&args).assert().code(1);
        let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
        assert!(
            err.contains("is a scimshift.snapshot/v1 snapshot")
                && err.contains("capture it again with `scimshift snapshot`"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!out.exists(), "{args:?} wrote its output");
    }
}

#[test]
fn profile_file_forcing_upn_predicts_twelve_duplicates() {
    let dir = common::schemas::tempdir();
    let snap = write_snapshot(dir.path(), &testkit::demo_like());
    // The shipped example profile: Entra's default userName <- userPrincipalName, not copied.
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples/coda-userName-from-upn.toml");
    let a = bin()
        .args(["--output", "json", "plan", "--snapshot"])
        .arg(&snap)
        .arg("--profile")
        .arg(&p)
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["summary"]["duplicates"], 12);
    common::schemas::check_plan("plan --output json, userName <- UPN", &v);
    // The built-in profile (detected from the app name) predicts none.
    let a = bin()
        .args(["--output", "json", "plan", "--snapshot"])
        .arg(&snap)
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["summary"]["duplicates"], 0);
    assert_eq!(v["app"]["profile"], "coda");
}

#[test]
fn unknown_app_falls_back_to_generic_with_a_warning() {
    let dir = common::schemas::tempdir();
    let mut b = testkit::SnapBuilder::new("Slack", testkit::gallery_schema("Slack", "mail", None));
    b.user("u1", "a@x.com", Some("a@x.com"), "S", true, &["direct"])
        .assign_user("u1", "a@x.com");
    b.target_user("t1", "a@x.com", None);
    let snap = write_snapshot(dir.path(), &b.build());
    let a = bin()
        .args(["plan", "--snapshot"])
        .arg(&snap)
        .assert()
        .code(2);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(err.contains("generic-scim"), "{err}");
}

#[test]
fn large_report_puts_impact_in_a_csv() {
    let dir = common::schemas::tempdir();
    let snap = write_snapshot(dir.path(), &testkit::synthetic(300));
    bin()
        .args(["plan", "--snapshot"])
        .arg(&snap)
        .arg("--report")
        .arg(dir.path().join("r.md"))
        .assert()
        .code(2);
    let md = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    assert!(md.contains("r.impact.csv"));
    let csv = std::fs::read_to_string(dir.path().join("r.impact.csv")).unwrap();
    assert_eq!(csv.lines().count(), 301);
}
