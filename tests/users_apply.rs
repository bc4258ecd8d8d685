//! Applying against a counting in-process SCIM mock: rows the server refuses
//! end up in the results and failed-rows files (exit 1), managers on a cycle
//! are linked after creation, POST and Bulk give the same result, and export
//! from a snapshot writes the snapshot's target users.

mod common;

use common::mock_scim;

use assert_cmd::Command;
use serde_json::{Value, json};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn run(mock: &mock_scim::Mock, args: &[&str]) -> std::process::Output {
    common::cli::bin()
        .env("SCIM_TOKEN", &mock.token)
        .args(args)
        .output()
        .unwrap()
}

fn user<'a>(us: &'a [Value], name: &str) -> &'a Value {
    us.iter().find(|u| u["userName"] == name).unwrap()
}

#[test]
fn refused_rows_go_to_the_failed_file_and_cycles_are_linked() {
    for bulk in [true, false] {
        let mock = mock_scim::start(bulk);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.csv");
        std::fs::write(
            &file,
            "Username,Email,Password,manager\n\
             a,a@example.com,pw-A-123,b\n\
             b,b@example.com,pw-B-123,a\n\
             reject.me,r@example.com,pw-R-123,\n\
             c,c@example.com,,reject.me\n\
             d,d@example.com,,c\n",
        )
        .unwrap();
        let results = dir.path().join("res.csv");
        let o = run(
            &mock,
            &[
                "users",
                "import",
                file.to_str().unwrap(),
                "--scim-url",
                &mock.base_url,
                "--yes",
                "--results",
                results.to_str().unwrap(),
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "bulk={bulk}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let us = mock.store.users.lock().unwrap().clone();
        assert_eq!(us.len(), 4, "bulk={bulk}");
        // The cycle a <-> b is linked after both exist.
        assert_eq!(
            user(&us, "a")[ENT]["manager"]["value"],
            user(&us, "b")["id"]
        );
        assert_eq!(
            user(&us, "b")[ENT]["manager"]["value"],
            user(&us, "a")["id"]
        );
        // d's manager c is created in an earlier wave, so it is in d's create body.
        assert_eq!(
            user(&us, "d")[ENT]["manager"]["value"],
            user(&us, "c")["id"]
        );
        let r = std::fs::read_to_string(&results).unwrap();
        assert!(
            r.contains("4,reject.me,create,failed,,the server answered 400 (invalidValue)")
                || r.contains("4,reject.me,create,failed,,POST"),
            "{r}"
        );
        assert!(
            r.contains("5,c,create,failed,") && r.contains("its manager (line 4) failed"),
            "{r}"
        );
        assert!(r.contains("6,d,create,ok,"), "{r}");
        let failed = std::fs::read_to_string(dir.path().join("res.failed.csv")).unwrap();
        assert_eq!(
            failed,
            "Username,Email,Password,manager\r\nreject.me,r@example.com,,\r\nc,c@example.com,,reject.me\r\n"
        );
        assert!(!r.contains("pw-") && !failed.contains("pw-"));
    }
}

#[test]
fn export_from_a_snapshot_writes_its_target_users() {
    let snap_json = json!({
        "format": "scimshift.snapshot/v2", "digest": "", "takenAt": "2026-11-23T00:00:00Z",
        "source": {"graphUrl": "http://127.0.0.1:1/v1.0", "cloud": "global", "tenantId": null, "userProperties": ["id"]},
        "app": {"servicePrincipal": {}, "servicePrincipalId": "sp", "appId": "app", "displayName": "Coda",
                "applicationTemplateId": null, "appRoles": [], "jobs": [], "settings": [], "credentialKeysPresent": [],
                "templates": [], "assignments": []},
        "groups": [], "users": [],
        "target": {"baseUrl": "http://127.0.0.1:1/v2", "serviceProviderConfig": {},
            "users": [
                {"id": "1", "userName": "ada@example.com", "active": true, "name": {"givenName": "Ada", "familyName": "Lovelace"},
                 "emails": [{"type": "work", "value": "ada@example.com", "primary": true}], "title": "=SUM(A1)"},
                {"id": "2", "userName": "alan@example.com", "active": false, "name": {"givenName": "Alan", "familyName": "Turing"},
                 ENT: {"manager": {"value": "1"}, "department": "Crypto"}}
            ],
            "groups": [{"id": "g", "displayName": "Pioneers", "members": [{"value": "1"}, {"value": "2"}]}]}
    });
    let mut snap: scimshift::snapshot::model::Snapshot = serde_json::from_value(snap_json).unwrap();
    snap.seal();
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().join("snap.json");
    std::fs::write(&sp, snap.to_bytes()).unwrap();
    let out = dir.path().join("users.csv");
    let o = Command::cargo_bin("scimshift")
        .unwrap()
        .args([
            "users",
            "export",
            "--snapshot",
            sp.to_str().unwrap(),
            "--format",
            "jumpcloud",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let body = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].starts_with("FirstName,LastName,Username,Password,Email,alternateEmail,manager,")
    );
    assert!(lines[0].ends_with(",state,Group1"));
    // The formula in the title is guarded; the manager is written by userName.
    assert!(
        lines[1].contains(",'=SUM(A1),") && lines[1].ends_with(",ACTIVATED,Pioneers"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("Alan,Turing,alan@example.com,,,,ada@example.com,"),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with(",SUSPENDED,Pioneers"), "{}", lines[2]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // And it imports into an empty target as two creates, the manager resolved by userName.
    let mock = mock_scim::start(true);
    let o = run(
        &mock,
        &[
            "users",
            "import",
            out.to_str().unwrap(),
            "--scim-url",
            &mock.base_url,
            "--yes",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let us = mock.store.users.lock().unwrap().clone();
    assert_eq!(
        user(&us, "alan@example.com")[ENT]["manager"]["value"],
        user(&us, "ada@example.com")["id"]
    );
    assert_eq!(user(&us, "alan@example.com")["active"], false);
    assert_eq!(user(&us, "ada@example.com")["title"], "=SUM(A1)");
}

fn data(p: &str) -> String {
    format!("{}/tests/data/csv/{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn google_okta_and_flat_scim_files_import() {
    for (file, detected) in [
        ("other/google_download.csv", "Google Workspace user CSV"),
        ("other/okta_import.csv", "Okta user import CSV"),
        ("other/scim_flat.csv", "flat SCIM layout"),
    ] {
        let mock = mock_scim::start(true);
        let o = run(
            &mock,
            &[
                "users",
                "import",
                &data(file),
                "--scim-url",
                &mock.base_url,
                "--yes",
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(0), "{file}: {err}");
        assert!(
            err.contains(&format!("Detected format: {detected}")),
            "{file}: {err}"
        );
        let us = mock.store.users.lock().unwrap().clone();
        assert_eq!(us.len(), 2, "{file}");
        let (ada, alan) = if file.contains("scim") {
            (user(&us, "ada").clone(), user(&us, "alan").clone())
        } else {
            (
                user(&us, "ada@example.com").clone(),
                user(&us, "alan@example.com").clone(),
            )
        };
        assert_eq!(ada["name"]["givenName"], "Ada", "{file}");
        assert_eq!(ada["title"], "Analyst", "{file}");
        assert_eq!(ada[ENT]["department"], "Research", "{file}");
        assert_eq!(alan[ENT]["manager"]["value"], ada["id"], "{file}");
        match file {
            f if f.contains("google") => {
                assert_eq!(alan["active"], false);
                assert_eq!(ada["emails"][0]["value"], "ada@example.com");
                assert_eq!(ada["emails"][1]["value"], "ada.work@example.com");
                assert_eq!(alan["phoneNumbers"][0]["type"], "mobile");
            }
            f if f.contains("okta") => {
                assert_eq!(ada["addresses"][0]["locality"], "Springfield");
                assert_eq!(alan[ENT]["division"], "R&D");
            }
            _ => {
                assert_eq!(alan["active"], false);
                assert_eq!(ada["externalId"], "ext-1");
            }
        }
    }
}

/// Random bytes shaped like CSV never panic the reader or the validator.
#[test]
fn random_input_never_panics() {
    use scimshift::users::{formats, read, validate};
    let alphabet: &[&str] = &[
        ",",
        ";",
        "\t",
        "\"",
        "\n",
        "\r\n",
        "'",
        "=",
        "@",
        "é",
        "\u{feff}",
        "Username",
        "Email",
        "state",
        "a@b.c",
        "System.Object[]",
        "@{",
        "}",
        "Group1",
        "Attribute1_name",
        "[",
        "]",
        "version:v1.0",
        " ",
        "x",
        "STAGED",
        "$true",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let len = (next() % 60) as usize;
        let mut text = String::new();
        for _ in 0..len {
            text.push_str(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        if let Ok((table, _)) = read::parse(&text, "f", false) {
            let format = formats::detect(&table.header, table.version_line.is_some())
                .unwrap_or(formats::Format::Jumpcloud);
            let v = validate::validate(&table, format);
            assert_eq!(v.rows.len(), table.records.len());
        }
        let bytes: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
        let _ = read::decode(&bytes, "f");
    }
}

/// Throttling (429 with Retry-After) is retried, and /Bulk requests stay within
/// the advertised maxOperations and maxPayloadSize.
#[test]
fn throttled_and_size_limited_targets_still_get_every_user() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.csv");
    let mut csv = String::from("Username,FirstName,LastName,Email,jobTitle,department,manager\n");
    for i in 0..300 {
        let mgr = if i % 3 == 0 {
            String::new()
        } else {
            format!("u{}", i - i % 3)
        };
        csv.push_str(&format!(
            "u{i},Given{i},Family{i},u{i}@example.com,Title {i},Dept {},{mgr}\n",
            i % 7
        ));
    }
    std::fs::write(&file, csv).unwrap();
    for bulk in [true, false] {
        let mock = mock_scim::start_with(mock_scim::Store {
            bulk,
            throttle_every: 7,
            max_ops: 25,
            max_payload: 8000,
            ..Default::default()
        });
        let o = run(
            &mock,
            &[
                "users",
                "import",
                file.to_str().unwrap(),
                "--scim-url",
                &mock.base_url,
                "--yes",
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "bulk={bulk}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(mock.store.user_count(), 300, "bulk={bulk}");
        assert!(
            mock.store
                .throttled
                .load(std::sync::atomic::Ordering::SeqCst)
                > 0
        );
        let largest = mock
            .store
            .largest_bulk
            .load(std::sync::atomic::Ordering::SeqCst);
        if bulk {
            assert!(largest > 1 && largest <= 25, "largest bulk {largest}");
        } else {
            assert_eq!(largest, 0);
        }
        let us = mock.store.users.lock().unwrap().clone();
        assert_eq!(
            user(&us, "u299")[ENT]["manager"]["value"],
            user(&us, "u297")["id"]
        );
    }
}

#[test]
fn json_output_is_one_document_with_plan_and_result() {
    let mock = mock_scim::start(true);
    let o = run(
        &mock,
        &[
            "--output",
            "json",
            "users",
            "import",
            &data("other/okta_import.csv"),
            "--scim-url",
            &mock.base_url,
            "--yes",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(v["plan"]["summary"]["create"], 2);
    assert_eq!(v["result"]["created"], 2);
    assert_eq!(v["result"]["failed"], 0);
    assert_eq!(v["format"], "okta");
}
