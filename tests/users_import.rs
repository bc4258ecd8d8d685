//! `users import` and `users export` end to end, through the binary, against
//! the independent scim2-server: every real sample imports or is rejected with
//! a precise message, the 50-row synthetic file lands exactly, export → import
//! is a no-op plan, and the CLI contract (exit codes, dry-run, --yes, refusal
//! without a terminal, results CSVs with mode 0600, no password anywhere).

mod common;

use assert_cmd::Command;
use scimshift::scim::{Resource, ScimClient};
use scimshift::secret::Secret;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::PathBuf;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/csv")
        .join(p)
}

fn cmd(server: &common::Scim2Server) -> Command {
    let mut c = Command::cargo_bin("scimshift").unwrap();
    c.env("SCIM_TOKEN", &server.token).env_remove("CI");
    c
}

fn import(
    server: &common::Scim2Server,
    file: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    cmd(server)
        .args(["users", "import"])
        .arg(file)
        .args(["--scim-url", &server.base_url])
        .args(extra)
        .output()
        .unwrap()
}

async fn users(server: &common::Scim2Server) -> Vec<Value> {
    let c = ScimClient::new(&server.base_url, Secret::new(server.token.clone())).unwrap();
    c.list_all(Resource::Users, 1000).await.unwrap()
}

fn by_name<'a>(us: &'a [Value], name: &str) -> &'a Value {
    us.iter()
        .find(|u| {
            u["userName"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .unwrap_or_else(|| panic!("{name} is not in the target"))
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn every_real_sample_imports_or_is_rejected_precisely() {
    let server = common::start_scim2_server();
    let rejected = [
        (
            "jumpcloud/PowerShell_JCUserUpdateImport_10-25-2022.csv",
            ":1:1: the file has a header but no rows",
        ),
        (
            "jumpcloud/update_UpdateExample_missingAttribute.csv",
            ":2:1: Attribute1_name is set but Attribute1_value is empty",
        ),
        (
            "entra/ItsTriich_UserCreateTemplate.csv",
            ":3:1: this is the example row of Microsoft's template",
        ),
    ];
    let mut samples: Vec<String> = Vec::new();
    for dir in ["jumpcloud", "entra", "synthetic"] {
        for e in std::fs::read_dir(data(dir)).unwrap() {
            samples.push(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    samples.sort();
    assert!(samples.len() >= 22);
    for s in &samples {
        let path = data(s);
        let before = users(&server).await;
        let out = import(&server, &path, &["--yes"]);
        let after = users(&server).await;
        if let Some((_, msg)) = rejected.iter().find(|(n, _)| n == s) {
            assert_eq!(out.status.code(), Some(1), "{s}: {}", text(&out));
            assert!(
                text(&out).contains(&format!("{}{msg}", path.display())),
                "{s}: {}",
                text(&out)
            );
            assert_eq!(before, after, "{s}: a rejected file changed the target");
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{s}: {}", text(&out));
        // Every user name of the file is now in the target.
        let (table, v, _) = scimshift::users::import::load(&path, None).unwrap();
        assert_eq!(table.records.len(), v.rows.len());
        let names: HashSet<String> = after
            .iter()
            .filter_map(|u| u["userName"].as_str())
            .map(str::to_lowercase)
            .collect();
        for r in v.rows.iter().filter(|r| !r.staged) {
            assert!(
                names.contains(&r.user_name().to_lowercase()),
                "{s}: {} missing",
                r.user_name()
            );
        }
        // Importing the same file again changes nothing.
        let again = import(&server, &path, &["--dry-run"]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "{s} is not idempotent: {}",
            text(&again)
        );
    }
}

#[tokio::test]
async fn synthetic_50_lands_exactly_with_attributes_and_managers() {
    let server = common::start_scim2_server();
    let out = import(
        &server,
        &data("synthetic/jumpcloud_import_50.csv"),
        &["--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out)
            .contains("Detected format: JumpCloud PowerShell import/update template (50 rows")
    );
    let us = users(&server).await;
    assert_eq!(us.len(), 50);
    let id = |n: &str| by_name(&us, n)["id"].as_str().unwrap().to_string();
    let zoe = by_name(&us, "zoe.angstrom");
    assert_eq!(zoe["name"]["givenName"], "Zoë");
    assert_eq!(zoe["name"]["familyName"], "Ångström");
    assert_eq!(zoe["displayName"], "Zoë Ångström");
    assert_eq!(zoe["title"], "VP Engineering");
    assert_eq!(zoe[ENT]["department"], "Engineering");
    assert_eq!(zoe[ENT]["costCenter"], "CC-2000");
    assert_eq!(zoe[ENT]["organization"], "Example, Inc.");
    assert_eq!(zoe[ENT]["employeeNumber"], "E1001");
    assert_eq!(zoe[ENT]["manager"]["value"], id("avery.stone").as_str());
    assert_eq!(
        zoe["addresses"][0]["streetAddress"],
        "500 Example Ave, Suite 400"
    );
    // Emails are lowercased; plus addresses kept.
    assert_eq!(
        by_name(&us, "marco.rossi")["emails"][0]["value"],
        "marco.rossi@example.com"
    );
    assert_eq!(
        by_name(&us, "priya.natarajan")["emails"][0]["value"],
        "priya.natarajan+jc@example.com"
    );
    // Manager by a differently-cased plus email, and a forward reference.
    assert_eq!(
        by_name(&us, "cagla.yildiz")[ENT]["manager"]["value"],
        id("priya.natarajan").as_str()
    );
    assert_eq!(
        by_name(&us, "isabella.romano")[ENT]["manager"]["value"],
        id("wei.li").as_str()
    );
    assert_eq!(by_name(&us, "soren.moller")[ENT]["employeeNumber"], "00317");
    assert!(us.iter().all(|u| u["active"] == true));
    // No password anywhere in what the target holds.
    assert!(
        !serde_json::to_string(&us)
            .unwrap()
            .contains("Temp-Pa55word")
    );

    // Re-import is a no-op plan: exit 0 in dry-run.
    let again = import(
        &server,
        &data("synthetic/jumpcloud_import_50.csv"),
        &["--dry-run"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(text(&again).contains("50 unchanged"));
}

#[tokio::test]
async fn jumpcloud_export_file_maps_states_and_id_managers() {
    let server = common::start_scim2_server();
    let out = import(
        &server,
        &data("synthetic/jumpcloud_export_50.csv"),
        &["--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("Detected format: JumpCloud user export"), "{t}");
    assert!(t.contains("5 skipped"), "STAGED users are skipped: {t}");
    let us = users(&server).await;
    assert_eq!(us.len(), 45);
    // 4 SUSPENDED, and one ACTIVATED user whose password expired (active = !suspended && !password_expired).
    assert_eq!(us.iter().filter(|u| u["active"] == false).count(), 5);
    let zoe = by_name(&us, "zoe.angstrom");
    assert_eq!(zoe["externalId"], "7dda4e2449789a8c60872718");
    assert_eq!(
        zoe[ENT]["manager"]["value"],
        by_name(&us, "avery.stone")["id"]
    );
}

#[tokio::test]
async fn export_then_import_is_a_no_op_in_every_layout() {
    let server = common::start_scim2_server();
    assert_eq!(
        import(
            &server,
            &data("synthetic/jumpcloud_import_50.csv"),
            &["--yes"]
        )
        .status
        .code(),
        Some(0)
    );
    // A group with two members, to see memberships in the export.
    let c = ScimClient::new(&server.base_url, Secret::new(server.token.clone())).unwrap();
    let us = users(&server).await;
    let (a, b) = (
        by_name(&us, "avery.stone")["id"].clone(),
        by_name(&us, "wei.li")["id"].clone(),
    );
    c.create(
        Resource::Groups,
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Leaders", "members": [{"value": a}, {"value": b}]}),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for format in ["jumpcloud", "scim", "entra"] {
        let out_file = dir.path().join(format!("export-{format}.csv"));
        let o = cmd(&server)
            .args([
                "users",
                "export",
                "--scim-url",
                &server.base_url,
                "--format",
                format,
                "--out",
            ])
            .arg(&out_file)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{format}: {}", text(&o));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let body = std::fs::read_to_string(&out_file).unwrap();
        if format == "jumpcloud" {
            assert!(
                body.lines().next().unwrap().ends_with(",state,Group1"),
                "{}",
                body.lines().next().unwrap()
            );
            assert!(body.contains(",ACTIVATED,Leaders"));
            // Formula guard: phone numbers start with +.
            assert!(body.contains(",'+1 415-555-0101,"), "phones are guarded");
        }
        if format == "entra" {
            assert!(body.starts_with("version:v1.0\r\nName [displayName] Required,"));
        }
        let again = import(&server, &out_file, &["--dry-run"]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "{format} round trip is not a no-op: {}",
            text(&again)
        );
        assert!(text(&again).contains("Nothing to do"), "{}", text(&again));
    }
}

#[tokio::test]
async fn cli_contract_dry_run_yes_refusal_results_and_updates() {
    let server = common::start_scim2_server();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        "Username,FirstName,LastName,Email,Password,jobTitle,manager\n\
         ada,Ada,Lovelace,ada@example.com,Sup3r-Secret!,Analyst,\n\
         alan,Alan,Turing,alan@example.com,Sup3r-Secret!,Engineer,ada\n\
         bad,Bad,Row,not-an-email,Sup3r-Secret!,X,\n",
    )
    .unwrap();

    // Invalid row: nothing sent, FILE:LINE:COLUMN, exit 1.
    let o = import(&server, &file, &["--yes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!(
            "{}:4:4: Email `not-an-email`: is not a valid email address",
            file.display()
        )),
        "{}",
        text(&o)
    );
    assert!(users(&server).await.is_empty());

    // Dry run with --skip-invalid: exit 2, plan shown, nothing sent.
    let o = import(&server, &file, &["--skip-invalid", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("+ ada (create)") && text(&o).contains("Plan: 2 to create"),
        "{}",
        text(&o)
    );
    assert!(users(&server).await.is_empty());

    // JSON plan.
    let o = cmd(&server)
        .args(["--output", "json", "users", "import"])
        .arg(&file)
        .args([
            "--scim-url",
            &server.base_url,
            "--skip-invalid",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["summary"]["create"], 2);
    assert_eq!(v["plan"]["summary"]["invalid"], 1);

    // Without --yes and without a terminal: a refusal, not a hang; nothing sent.
    let o = import(&server, &file, &["--skip-invalid"]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    assert!(text(&o).contains("pass --yes"), "{}", text(&o));
    assert!(users(&server).await.is_empty());

    // --to entra and a SCIM URL together are refused before anything is read.
    let o = import(&server, &file, &["--to", "entra"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(
        text(&o).contains("--to entra and --scim-url cannot be combined"),
        "{}",
        text(&o)
    );

    // Apply with results.
    let results = dir.path().join("out.csv");
    let o = import(
        &server,
        &file,
        &[
            "--skip-invalid",
            "--yes",
            "--results",
            results.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let us = users(&server).await;
    assert_eq!(us.len(), 2);
    assert_eq!(
        by_name(&us, "alan")[ENT]["manager"]["value"],
        by_name(&us, "ada")["id"]
    );
    let r = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(lines[0], "line,userName,action,status,id,error");
    assert!(lines[1].starts_with("2,ada,create,ok,"), "{r}");
    assert!(lines[2].starts_with("3,alan,create,ok,"), "{r}");
    assert!(
        lines[3].starts_with("4,bad,invalid,invalid,,")
            && lines[3].contains("is not a valid email"),
        "{r}"
    );
    let failed = dir.path().join("out.failed.csv");
    let f = std::fs::read_to_string(&failed).unwrap();
    assert_eq!(
        f,
        "Username,FirstName,LastName,Email,Password,jobTitle,manager\r\nbad,Bad,Row,not-an-email,,X,\r\n"
    );
    #[cfg(unix)]
    for p in [&results, &failed] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(!r.contains("Sup3r") && !text(&o).contains("Sup3r"));

    // An update shows a field-level diff, then applies; --deactivate-missing deactivates the rest.
    std::fs::write(&file, "Username,FirstName,LastName,Email,jobTitle\nada,Ada,Lovelace,ada@example.com,Chief Analyst\n").unwrap();
    let o = import(&server, &file, &["--dry-run", "--deactivate-missing"]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("~ ada: title \"Analyst\" -> \"Chief Analyst\""),
        "{t}"
    );
    assert!(
        t.contains("- alan: active true -> false (not in the file)"),
        "{t}"
    );
    assert!(
        t.contains("Plan: 0 to create, 1 to update, 1 to deactivate"),
        "{t}"
    );
    let o = import(&server, &file, &["--yes", "--deactivate-missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let us = users(&server).await;
    assert_eq!(by_name(&us, "ada")["title"], "Chief Analyst");
    assert_eq!(by_name(&us, "alan")["active"], false);
    assert_eq!(by_name(&us, "ada")["active"], true);
    let o = import(&server, &file, &["--dry-run", "--deactivate-missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // --deactivate-missing with no valid row would deactivate everyone: refused.
    std::fs::write(&file, "Username,Email\nbroken,not-an-email\n").unwrap();
    let o = import(
        &server,
        &file,
        &["--yes", "--deactivate-missing", "--skip-invalid"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("would deactivate all 2 users of the target; refusing"),
        "{}",
        text(&o)
    );
    assert_eq!(by_name(&users(&server).await, "ada")["active"], true);
}
