//! The malformed-CSV corpus (tests/data/csv/malformed, table in
//! docs/csv-formats.md): every file is rejected with its pointed message or
//! handled as documented, and a rejected file causes zero writes at the target
//! (a counting in-process SCIM mock sees every request).

mod common;

use common::mock_scim;

use assert_cmd::Command;
use std::path::PathBuf;

enum Expect {
    /// Exit 1, stderr contains this, zero writes.
    Reject(&'static str),
    /// Exit 0 with this many users created.
    Accept(usize),
}
use Expect::*;

const CORPUS: &[(&str, Expect)] = &[
    ("utf16le_bom.csv", Reject("the file is UTF-16 LE")),
    ("utf16be_bom.csv", Reject("the file is UTF-16 BE")),
    (
        "utf16le_nobom.csv",
        Reject("UTF-16 LE without a byte order mark"),
    ),
    (
        "cp1252_smart_quotes.csv",
        Reject(":2:3: the file is not UTF-8 (byte 0xEB"),
    ),
    ("latin1.csv", Reject("Windows-1252 or Latin-1")),
    ("xlsx_renamed.csv", Reject("Excel .xlsx workbook")),
    ("empty.csv", Reject(":1:1: the file is empty")),
    (
        "header_only.csv",
        Reject(":1:1: the file has a header but no rows"),
    ),
    ("blank_lines_only.csv", Reject("the file has no header row")),
    ("semicolon.csv", Accept(2)),
    ("tab.csv", Accept(2)),
    ("bom_crlf_excel.csv", Accept(2)),
    (
        "unterminated_quote.csv",
        Reject(":2:1: a quoted field opened on this line is never closed"),
    ),
    (
        "newline_in_username.csv",
        Reject(":2:3: Username `ada lovelace`: a user name cannot contain spaces"),
    ),
    ("multiline_description.csv", Accept(2)),
    (
        "ragged_extra_field.csv",
        Reject(":2:5: this row has 5 fields but the header has 4"),
    ),
    ("ragged_short_rows.csv", Accept(2)),
    (
        "duplicate_username.csv",
        Reject(":3:3: duplicate user name `ADA` (first on line 2)"),
    ),
    (
        "duplicate_email.csv",
        Reject(":3:4: duplicate email `ada@example.com` (first on line 2)"),
    ),
    (
        "invalid_email.csv",
        Reject(":2:4: Email `ada at example.com`: is not a valid email address"),
    ),
    (
        "no_username_column.csv",
        Reject(":1:1: could not tell the format from the header"),
    ),
    (
        "export_missing_email_column.csv",
        Reject(":1:1: missing required column `email`"),
    ),
    ("empty_username.csv", Reject(":3:3: the user name is empty")),
    (
        "unknown_state.csv",
        Reject(":2:4: state `DISABLED` is not a JumpCloud state"),
    ),
    (
        "bad_boolean.csv",
        Reject(":2:5: Administrator `maybe` is not a boolean"),
    ),
    (
        "system_object.csv",
        Reject(":2:5: jobTitle is `System.Object[]`"),
    ),
    (
        "powershell_hashtable.csv",
        Reject(":2:5: department is `@{name=Eng; id=1}`, a PowerShell hashtable"),
    ),
    (
        "formula_injection.csv",
        Reject(":2:1: FirstName `=HYPERLINK("),
    ),
    ("guarded_formula_prefix.csv", Accept(1)),
    (
        "enormous_value.csv",
        Reject(":2:5: jobTitle is 200000 characters long; the limit is 1024"),
    ),
    ("nul_byte.csv", Reject(":2:4: the file contains a NUL byte")),
    (
        "duplicate_header.csv",
        Reject(":1:5: column `Email` appears twice (also column 4)"),
    ),
    (
        "headerless_legacy.csv",
        Reject("this looks like a headerless file"),
    ),
    ("powershell_type_line.csv", Accept(1)),
    (
        "attribute_without_value.csv",
        Reject(":2:5: Attribute1_name is set but Attribute1_value is empty"),
    ),
    (
        "unix_uid_out_of_range.csv",
        Reject(":2:5: unix_uid `4294967296` is not a whole number"),
    ),
    ("entra_tab_leading_spaces.csv", Accept(2)),
    (
        "manager_unknown.csv",
        Reject(":2:5: manager `nobody.here` is neither in the file nor in the target"),
    ),
    (
        "value_without_header.csv",
        Reject(":2:5: value `stray` is in a column with no header"),
    ),
    ("staged_user_skipped.csv", Accept(1)),
    (
        "space_in_username.csv",
        Reject(":2:3: Username `ada lovelace`: a user name cannot contain spaces"),
    ),
    ("password_column.csv", Accept(1)),
];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/csv/malformed")
}

#[test]
fn every_malformed_file_is_rejected_or_handled_as_documented() {
    let files: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    for f in &files {
        assert!(
            CORPUS.iter().any(|(n, _)| n == f),
            "{f} has no expectation in CORPUS"
        );
    }
    let mut failures = Vec::new();
    for (name, expect) in CORPUS {
        let mock = mock_scim::start(true);
        let path = corpus_dir().join(name);
        let out = Command::cargo_bin("scimshift")
            .unwrap()
            .env("SCIM_TOKEN", &mock.token)
            .args(["users", "import"])
            .arg(&path)
            .args(["--scim-url", &mock.base_url, "--yes"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code();
        let writes = mock.store.writes();
        match expect {
            Reject(msg) => {
                if code != Some(1) || !stderr.contains(msg) || writes != 0 {
                    failures.push(format!(
                        "{name}: expected exit 1, no writes and `{msg}`; got exit {code:?}, {writes} writes\n{stderr}"
                    ));
                }
                if !stderr.contains(&format!("{}:", path.display())) {
                    failures.push(format!(
                        "{name}: the message does not start with FILE:LINE:COLUMN\n{stderr}"
                    ));
                }
            }
            Accept(n) => {
                if code != Some(0) || mock.store.user_count() != *n {
                    failures.push(format!(
                        "{name}: expected exit 0 and {n} users; got exit {code:?}, {} users\n{stderr}{stdout}",
                        mock.store.user_count()
                    ));
                }
            }
        }
        assert!(
            !stderr.contains("Hunter2") && !stdout.contains("Hunter2"),
            "{name}: a password was echoed"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn guarded_prefix_is_stripped_and_passwords_never_sent() {
    let import = |name: &str| {
        let mock = mock_scim::start(false);
        Command::cargo_bin("scimshift")
            .unwrap()
            .env("SCIM_TOKEN", &mock.token)
            .args(["users", "import"])
            .arg(corpus_dir().join(name))
            .args(["--scim-url", &mock.base_url, "--yes"])
            .assert()
            .code(0);
        mock.store.users.lock().unwrap().clone()
    };
    let users = import("guarded_formula_prefix.csv");
    assert_eq!(users[0]["name"]["givenName"], "=Ada");
    assert_eq!(users[0]["phoneNumbers"][0]["value"], "+1 415-555-0100");
    let users = import("password_column.csv");
    assert_eq!(users.len(), 1);
    let all = serde_json::to_string(&users).unwrap();
    assert!(!all.contains("Hunter2"), "a password reached the target");
}
