//! No control character from a server or a file reaches the terminal, a log
//! or a report raw: hostile userNames in `plan` text and its Markdown report,
//! a hostile SCIM error detail (escape sequences, BEL, bidi, 100 kB), and a
//! CSV with ESC in a name, which is refused before anything is sent.

mod common;

use common::cli::{bin, run, text};
use common::hostile::{self, Asked};
use scimshift::plan::testkit;
use serde_json::json;
use std::sync::Arc;

const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\u{8}\u{202e}\u{2066}\u{200f}\u{9b}";

/// No raw control or bidi character in `s` (line breaks and TAB are ours).
fn assert_clean(what: &str, s: &str) {
    let bad: Vec<char> = s
        .chars()
        .filter(|&c| scimshift::text::is_unsafe(c) && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(bad.is_empty(), "{what} holds raw {bad:?}:\n{s}");
}

#[test]
fn hostile_user_names_reach_plan_text_and_report_escaped() {
    let dir = common::schemas::tempdir();
    let mut s = testkit::demo_like();
    let target = s.target.as_mut().unwrap();
    for u in target.users.iter_mut() {
        let n = u["userName"].as_str().unwrap().to_string();
        u["userName"] = json!(format!("{n}{HOSTILE}"));
        u["displayName"] = json!(format!("Evil{HOSTILE}"));
    }
    s.app.display_name = format!("{}{HOSTILE}", s.app.display_name);
    s.seal();
    let snap = dir.path().join("snap.json");
    std::fs::write(&snap, s.to_bytes()).unwrap();
    let (plan, report) = (dir.path().join("p.json"), dir.path().join("p.md"));
    let o = bin()
        .args(["plan", "--snapshot"])
        .arg(&snap)
        .arg("--out")
        .arg(&plan)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        out.contains("\\u{1b}[2J"),
        "the name is shown, escaped:\n{out}"
    );
    assert_clean("plan stdout", &out);
    assert_clean("plan stderr", &err);
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("\\u{1b}"), "the report shows the names escaped");
    assert_clean("the report", &md);
    let shown = bin().args(["show"]).arg(&plan).output().unwrap();
    assert_clean("show stdout", &String::from_utf8_lossy(&shown.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_scim_error_is_escaped_and_cut() {
    let server = hostile::serve(Arc::new(|a: &Asked| {
        if a.path_and_query.contains("ServiceProviderConfig") {
            return hostile::json(404, json!({}));
        }
        let detail = format!("bad{HOSTILE}{}", "x".repeat(100_000));
        hostile::json(
            400,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                   "scimType": format!("invalid{HOSTILE}"), "detail": detail}),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.env("SCIM_TOKEN", "hostile-test-token")
        .args(["users", "export", "--format", "scim", "--scim-url"])
        .arg(format!("{}/scim/v2", server.base))
        .arg("--out")
        .arg(dir.path().join("u.json"));
    let o = run(c).await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("bad\\u{1b}[2J"),
        "the detail is shown, escaped: {err}"
    );
    assert!(err.contains('…'), "cut: {err}");
    assert!(
        err.len() < 2_000,
        "cut to a sentence, got {} bytes",
        err.len()
    );
    assert_clean("export stderr", &err);
    assert_clean("export stdout", &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_with_esc_in_a_name_is_refused_at_its_cell_with_no_write() {
    let server = hostile::serve(Arc::new(|a: &Asked| {
        if a.path_and_query.contains("ServiceProviderConfig") {
            return hostile::json(404, json!({}));
        }
        hostile::json(
            200,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                   "totalResults": 0, "itemsPerPage": 0, "startIndex": 1, "Resources": []}),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "username,email,firstname,lastname\nada,ada@example.com,Ada,Lovelace\nbob,bob@example.com,Bo\u{1b}[2Jb,Smith\n",
    )
    .unwrap();
    let mut c = bin();
    c.env("SCIM_TOKEN", "hostile-test-token")
        .args(["users", "import"])
        .arg(&csv)
        .args(["--yes", "--scim-url"])
        .arg(format!("{}/scim/v2", server.base));
    let o = run(c).await;
    let (out, err) = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        err.contains("people.csv:3:3:") && err.contains("U+001B"),
        "FILE:LINE:COLUMN and the character named: {err}"
    );
    assert_clean("import stderr", &err);
    assert_clean("import stdout", &out);
    let writes: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect();
    assert!(writes.is_empty(), "nothing sent: {writes:?}");
}
