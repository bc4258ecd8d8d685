//! `users import --to entra` through the binary against the twin's Graph
//! (started in-process): every real JumpCloud sample imports onto a verified
//! domain (or is refused with its sentence) and a second run is a no-op; a
//! changed file gives exactly the expected field updates; an unverified
//! domain and a weak password are refused with no write in the twin's request
//! log; generated passwords reach only the 0600 password file; missing groups
//! are created and filled; `--deactivate-missing` disables only users of the
//! file's domains; the twin itself refuses what Graph refuses.

mod common;

use assert_cmd::Command;
use scimshift::twin::seed::{Seed, SeedSpec};
use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use scimshift::twin::state::{Domain, Tenant};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn cmd(t: &RunningTwin) -> Command {
    let mut c = common::cli::bin();
    c.env("SCIMSHIFT_GRAPH_URL", &t.graph_url)
        .env("SCIMSHIFT_AUTHORITY_URL", &t.authority_url)
        .env("AZURE_TENANT_ID", &t.tenant_id)
        .env("AZURE_CLIENT_ID", &t.client_id)
        .env("AZURE_CLIENT_SECRET", t.client_secret.expose());
    c
}

fn run(t: &RunningTwin, args: &[&str]) -> std::process::Output {
    tokio::task::block_in_place(|| cmd(t).args(args).output().unwrap())
}

async fn get(t: &RunningTwin, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", t.graph_url))
        .bearer_auth(t.admin_token().expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(t: &RunningTwin, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", t.graph_url))
        .bearer_auth(t.admin_token().expose())
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn user(t: &RunningTwin, upn: &str) -> Option<Value> {
    let v = get(t, &format!("/users?$filter=userPrincipalName eq '{upn}'")).await;
    v["value"].as_array().unwrap().first().cloned()
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/csv/jumpcloud")
        .join(name)
}

/// A tenant with no users: `corp.example` verified, `pending.example` added but unverified.
async fn empty_twin(log: Option<&Path>) -> RunningTwin {
    let seed = Seed {
        tenant: Tenant {
            domains: vec![
                Domain {
                    is_default: true,
                    ..Domain::verified("corp.example")
                },
                Domain {
                    is_verified: false,
                    ..Domain::verified("pending.example")
                },
            ],
            ..Default::default()
        },
        ..Default::default()
    };
    start(TwinOptions {
        seed: SeedSpec::Data(Box::new(seed)),
        lag: scimshift::twin::lag::Lag::off(),
        provision_at_start: false,
        request_log: log.map(Path::to_path_buf),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Writes in the request log (inner `$batch` requests included).
fn writes_in(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["write"] == true)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_jumpcloud_sample_imports_onto_a_verified_domain_and_reruns_as_a_no_op() {
    // (file, expected: Ok(users created) or Err(the sentence))
    let expect: &[(&str, Result<usize, &str>)] = &[
        (
            "PowerShell_JCUserUpdateImport_10-25-2022.csv",
            Err(":1:1: the file has a header but no rows"),
        ),
        ("import_ImportExample_Pester_Tests_1.1.0.csv", Ok(26)),
        ("import_ImportExample_allNewAttributes.csv", Ok(2)),
        ("import_ImportExample_telephonyAttributes.csv", Ok(2)),
        ("import_ImportExample_uid_guid.csv", Ok(1)),
        (
            "import_ImportExample_userInformationAttributes.csv",
            Err(":2:9: employeeId would be 25 characters; Entra allows at most 16"),
        ),
        ("import_ImportExample_userLocationAttributes.csv", Ok(2)),
        ("import_Ldap_Import.csv", Ok(1)),
        ("import_MFA_Import.csv", Ok(1)),
        ("update_Ldap_Update.csv", Ok(1)),
        ("update_MFA_Update.csv", Ok(1)),
        (
            "update_UpdateExample_AllNewAttributes.csv",
            Err(":2:9: employeeId would be 37 characters; Entra allows at most 16"),
        ),
        (
            "update_UpdateExample_AllNewAttributesAndAllCustom.csv",
            Err(":2:9: employeeId would be 38 characters; Entra allows at most 16"),
        ),
        ("update_UpdateExample_NoChanges.csv", Ok(2)),
        (
            "update_UpdateExample_missingAttribute.csv",
            Err(":2:1: Attribute1_name is set but Attribute1_value is empty"),
        ),
        ("update_UpdateExample_telephonyAttributes.csv", Ok(2)),
        ("update_UpdateExample_uid_guid.csv", Ok(1)),
        (
            "update_UpdateExample_userInformationAttributes.csv",
            Err(":2:9: employeeId would be 27 characters; Entra allows at most 16"),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let listed: Vec<String> = std::fs::read_dir(sample(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    assert_eq!(
        listed.len(),
        expect.len(),
        "every sample has an expectation"
    );
    for (name, want) in expect {
        // A fresh tenant per file, so each sample stands on its own.
        let log = dir.path().join(format!("{name}.log"));
        let t = empty_twin(Some(&log)).await;
        let f = sample(name);
        let pw = dir.path().join(format!("{name}.pw"));
        let o = run(
            &t,
            &[
                "users",
                "import",
                f.to_str().unwrap(),
                "--to",
                "entra",
                "--upn-domain",
                "corp.example",
                "--initial-password",
                "generate",
                "--password-out",
                pw.to_str().unwrap(),
                "--yes",
            ],
        );
        match want {
            Ok(n) => {
                assert_eq!(o.status.code(), Some(0), "{name}: {}", out(&o));
                assert!(
                    out(&o).contains(&format!("Done (Entra): {n} created")),
                    "{name}: {}",
                    out(&o)
                );
                assert_eq!(t.twin.tenant().users.len(), *n, "{name}");
                let again = run(
                    &t,
                    &[
                        "users",
                        "import",
                        f.to_str().unwrap(),
                        "--to",
                        "entra",
                        "--upn-domain",
                        "corp.example",
                        "--initial-password",
                        "none",
                        "--dry-run",
                    ],
                );
                assert_eq!(again.status.code(), Some(0), "{name}: {}", out(&again));
                assert!(
                    out(&again).contains("Nothing to do: Entra already matches the file."),
                    "{name}: {}",
                    out(&again)
                );
            }
            Err(sentence) => {
                assert_eq!(o.status.code(), Some(1), "{name}: {}", out(&o));
                assert!(out(&o).contains(sentence), "{name}: {}", out(&o));
                assert_eq!(writes_in(&log), 0, "{name}: refused before any write");
            }
        }
    }

    // Without --upn-domain the samples' own domains are not the tenant's.
    let log = dir.path().join("own-domain.log");
    let t = empty_twin(Some(&log)).await;
    let f = sample("import_ImportExample_telephonyAttributes.csv");
    let o = run(
        &t,
        &[
            "users",
            "import",
            f.to_str().unwrap(),
            "--to",
            "entra",
            "--initial-password",
            "from-file",
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains(":2:4: the domain `pleasedelete.me` of `deleteme1@pleasedelete.me` is not a verified domain of this tenant; pass --upn-domain with one of: corp.example"),
        "{}",
        out(&o)
    );
    assert_eq!(writes_in(&log), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_gives_exactly_the_expected_field_updates() {
    let t = empty_twin(None).await;
    let base = [
        "--to",
        "entra",
        "--upn-domain",
        "corp.example",
        "--initial-password",
        "from-file",
    ];
    let import = sample("import_ImportExample_telephonyAttributes.csv");
    let o = run(
        &t,
        &[
            &["users", "import", import.to_str().unwrap(), "--yes"][..],
            &base,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let u = user(&t, "delete.me1@corp.example").await.unwrap();
    assert_eq!(u["mobilePhone"], "mobile_number");
    assert_eq!(u["businessPhones"], json!(["work_number"]));
    assert_eq!(u["faxNumber"], "work_fax_number");
    assert_eq!(u["mail"], "deleteme1@pleasedelete.me");

    let update = sample("update_UpdateExample_telephonyAttributes.csv");
    let o = run(
        &t,
        &[
            &[
                "users",
                "import",
                update.to_str().unwrap(),
                "--dry-run",
                "--output",
                "json",
            ][..],
            &base,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = |row: usize| -> Vec<(String, String, String)> {
        plan["rows"][row]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["field"].as_str().unwrap().to_string(),
                    c["from"].as_str().unwrap_or("").to_string(),
                    c["to"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        changes(0),
        vec![
            s("mobilePhone", "mobile_number", "mobile_number2"),
            s("businessPhones", "work_number", "work_number2"),
            s("faxNumber", "work_fax_number", "work_fax_number2"),
        ]
    );
    assert_eq!(plan["rows"][0]["matchedBy"], "userPrincipalName");
    assert_eq!(plan["rows"][1]["action"], "update");
    assert_eq!(plan["summary"]["updates"], 2);
    assert_eq!(plan["summary"]["creates"], 0);

    let o = run(
        &t,
        &[
            &["users", "import", update.to_str().unwrap(), "--yes"][..],
            &base,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let u = user(&t, "delete.me1@corp.example").await.unwrap();
    assert_eq!(u["mobilePhone"], "mobile_number2");
    assert_eq!(u["businessPhones"], json!(["work_number2"]));
    assert_eq!(
        u["givenName"], "delete",
        "fields the file did not change stay"
    );

    // Matched by mail when the UPN differs, and by employeeId after that.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("by-mail.csv");
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Email,jobTitle\ndelete,me,someone.else,deleteme1@pleasedelete.me,Boss\n",
    )
    .unwrap();
    let o = run(
        &t,
        &[
            &["users", "import", f.to_str().unwrap(), "--dry-run"][..],
            &base,
        ]
        .concat(),
    );
    assert!(
        out(&o)
            .contains("~ delete.me1@corp.example (matched by mail): jobTitle (none) -> \"Boss\""),
        "{}",
        out(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_domains_and_weak_passwords_are_refused_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.log");
    let t = empty_twin(Some(&log)).await;
    let f = dir.path().join("users.csv");
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Password,Email\n\
         Ada,Lovelace,ada,Sup3r-Secret!,ada@corp.example\n\
         Alan,Turing,alan,password,alan@corp.example\n\
         Grace,Hopper,grace,Sup3r-Secret!,grace@pending.example\n",
    )
    .unwrap();
    let o = run(
        &t,
        &[
            "users",
            "import",
            f.to_str().unwrap(),
            "--to",
            "entra",
            "--initial-password",
            "from-file",
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains(":3:4: the password uses 1 of the 4 character kinds (lowercase, uppercase, digits, symbols); Entra requires 3"),
        "{text}"
    );
    assert!(
        text.contains(":4:5: the domain `pending.example` of `grace@pending.example` is added to the tenant but not verified"),
        "{text}"
    );
    assert!(
        !text.contains("Sup3r-Secret") && !text.contains(",password"),
        "{text}"
    );
    assert_eq!(writes_in(&log), 0, "no write reached the twin");
    assert!(t.twin.tenant().users.is_empty());

    // --upn-domain must itself be verified.
    let o = run(
        &t,
        &[
            "users",
            "import",
            f.to_str().unwrap(),
            "--to",
            "entra",
            "--initial-password",
            "none",
            "--upn-domain",
            "pending.example",
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("--upn-domain `pending.example` is not a verified domain of this tenant; verified: corp.example"),
        "{}",
        out(&o)
    );
    assert_eq!(writes_in(&log), 0);

    // The twin refuses what Graph refuses, whoever sends it.
    let (status, body) = post(
        &t,
        "/users",
        json!({"accountEnabled": true, "displayName": "G", "mailNickname": "g",
               "userPrincipalName": "g@pending.example",
               "passwordProfile": {"password": "Sup3r-Secret!"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."
    );
    let (status, body) = post(
        &t,
        "/users",
        json!({"accountEnabled": true, "displayName": "G", "mailNickname": "g",
               "userPrincipalName": "g@corp.example",
               "passwordProfile": {"password": "password"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "The specified password does not comply with password complexity requirements. Please provide a different password."
    );
    let domains = get(&t, "/domains").await;
    assert_eq!(domains["value"][1]["id"], "pending.example");
    assert_eq!(domains["value"][1]["isVerified"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_passwords_reach_only_the_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.log");
    let t = empty_twin(Some(&log)).await;
    let f = dir.path().join("users.csv");
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Email,manager,Group1,Group2\n\
         Ada,Lovelace,ada,ada@jc.example,,Engineering,\n\
         Alan,Turing,alan,alan@jc.example,ada,Engineering,Research\n\
         Grace,Hopper,grace,grace@jc.example,ada,,\n",
    )
    .unwrap();
    let pw = dir.path().join("passwords.csv");
    let results = dir.path().join("results.csv");
    let o = run(
        &t,
        &[
            "users",
            "import",
            f.to_str().unwrap(),
            "--to",
            "entra",
            "--upn-domain",
            "corp.example",
            "--initial-password",
            "generate",
            "--password-out",
            pw.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
            "-vv",
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("+ group Engineering (create security group)"),
        "{}",
        out(&o)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&pw).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "userPrincipalName,password");
    assert_eq!(lines.len(), 4, "one password per created user: {text}");
    let mut passwords = Vec::new();
    for (l, upn) in lines[1..].iter().zip([
        "ada@corp.example",
        "alan@corp.example",
        "grace@corp.example",
    ]) {
        let (u, p) = l.split_once(',').unwrap();
        assert_eq!(u, upn);
        assert_eq!(
            scimshift::users::entra::password::complexity_problem(p),
            None
        );
        passwords.push(p.to_string());
    }
    // No password anywhere else: stdout, stderr (with -vv), results, the request log, the tenant.
    let tenant = serde_json::to_string(&*t.twin.tenant()).unwrap();
    let elsewhere = [
        out(&o),
        std::fs::read_to_string(&results).unwrap(),
        std::fs::read_to_string(&log).unwrap(),
        tenant,
    ];
    for p in &passwords {
        for (k, e) in elsewhere.iter().enumerate() {
            assert!(!e.contains(p.as_str()), "a password is in output #{k}");
        }
    }
    // Groups created and filled, managers set.
    let tenant = t.twin.tenant();
    let eng = tenant
        .groups
        .values()
        .find(|g| g.display_name == "Engineering")
        .unwrap();
    assert_eq!(eng.members.len(), 2);
    assert!(eng.security_enabled && !eng.mail_enabled);
    let id = |upn: &str| {
        tenant
            .users
            .values()
            .find(|u| u.user_principal_name == upn)
            .unwrap()
            .clone()
    };
    let ada = id("ada@corp.example");
    assert_eq!(
        id("alan@corp.example").manager_id.as_deref(),
        Some(ada.id.as_str())
    );
    assert_eq!(
        id("grace@corp.example").manager_id.as_deref(),
        Some(ada.id.as_str())
    );
    drop(tenant);

    // The same file again: managers and memberships included, nothing to do.
    let base = [
        "users",
        "import",
        f.to_str().unwrap(),
        "--to",
        "entra",
        "--upn-domain",
        "corp.example",
        "--initial-password",
        "none",
    ];
    let o = run(&t, &[&base[..], &["--dry-run"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // A new manager for an existing user is a field-level change.
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Email,manager,Group1,Group2\n\
         Ada,Lovelace,ada,ada@jc.example,,Engineering,\n\
         Alan,Turing,alan,alan@jc.example,ada,Engineering,Research\n\
         Grace,Hopper,grace,grace@jc.example,alan,,\n",
    )
    .unwrap();
    let o = run(&t, &[&base[..], &["--yes"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains(
            "~ grace@corp.example (matched by userPrincipalName): manager \"ada@corp.example\" -> \"alan@corp.example\""
        ),
        "{}",
        out(&o)
    );
    assert!(
        out(&o).contains("Plan (Entra): 0 to create, 1 to update"),
        "{}",
        out(&o)
    );
    let alan_id = t
        .twin
        .tenant()
        .users
        .values()
        .find(|u| u.user_principal_name == "alan@corp.example")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        t.twin
            .tenant()
            .users
            .values()
            .find(|u| u.user_principal_name == "grace@corp.example")
            .unwrap()
            .manager_id,
        Some(alan_id)
    );

    // --password-out never overwrites a file.
    let o = run(
        &t,
        &[
            "users",
            "import",
            f.to_str().unwrap(),
            "--to",
            "entra",
            "--initial-password",
            "generate",
            "--password-out",
            pw.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(64), "{}", out(&o));
    assert!(out(&o).contains("already exists"), "{}", out(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_missing_touches_only_the_files_domains() {
    let t = empty_twin(None).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("users.csv");
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Email\nAda,L,ada,ada@corp.example\nAlan,T,alan,alan@corp.example\n",
    )
    .unwrap();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "users",
            "import",
            f.to_str().unwrap(),
            "--to",
            "entra",
            "--initial-password",
            "none",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let o = run(
        &t,
        &args(&["--yes"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // A user on another domain the file does not use.
    t.twin
        .tenant()
        .domains
        .push(Domain::verified("other.example"));
    let (status, _) = post(
        &t,
        "/users",
        json!({"accountEnabled": true, "displayName": "Op", "mailNickname": "op",
               "userPrincipalName": "op@other.example",
               "passwordProfile": {"password": "Sup3r-Secret!"}}),
    )
    .await;
    assert_eq!(status, 201);
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Email\nAda,L,ada,ada@corp.example\n",
    )
    .unwrap();
    let o = run(
        &t,
        &args(&["--deactivate-missing", "--yes"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("- alan@corp.example: accountEnabled true -> false (not in the file)"),
        "{}",
        out(&o)
    );
    assert!(!out(&o).contains("op@other.example"), "{}", out(&o));
    assert_eq!(
        user(&t, "alan@corp.example").await.unwrap()["accountEnabled"],
        false
    );
    assert_eq!(
        user(&t, "op@other.example").await.unwrap()["accountEnabled"],
        true
    );
    // No valid row: refused.
    std::fs::write(
        &f,
        "FirstName,LastName,Username,Email\nX,Y,x,x@pending.example\n",
    )
    .unwrap();
    let o = run(
        &t,
        &args(&["--deactivate-missing", "--skip-invalid", "--yes"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("--deactivate-missing with no valid row"),
        "{}",
        out(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jumpcloud_file_into_the_demo_tenant_with_groups_and_app() {
    let t = start(TwinOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jc.csv");
    std::fs::write(
        &file,
        "FirstName,LastName,Username,Password,Email,jobTitle,location,costCenter,Group1,Group2\n\
         Avery,Stone,avery.stone,Secret-Pa55!,avery.stone@northwind.example,CEO,HQ,CC-1,Coda Engineering,Platform Guild\n\
         Zoe,Angstrom,zoe.angstrom,Secret-Pa55!,zoe.angstrom@northwind.example,VP,,,Coda Engineering,\n",
    )
    .unwrap();
    let f = file.to_str().unwrap().to_string();
    let args = [
        "users",
        "import",
        &f,
        "--to",
        "entra",
        "--initial-password",
        "from-file",
        "--assign-app",
        "Coda",
    ];
    let o = run(&t, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("+ avery.stone@northwind.example (create in Entra)"),
        "{}",
        out(&o)
    );
    let results = dir.path().join("res.csv");
    let o = run(
        &t,
        &[
            &args[..],
            &["--yes", "--results", results.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(!out(&o).contains("Secret-Pa55"));
    let r = std::fs::read_to_string(&results).unwrap();
    assert!(
        r.contains("2,avery.stone@northwind.example,create,ok,"),
        "{r}"
    );
    assert!(!r.contains("Secret-Pa55"));
    let avery = user(&t, "avery.stone@northwind.example").await.unwrap();
    assert_eq!(avery["officeLocation"], "HQ");
    assert_eq!(avery["employeeOrgData"]["costCenter"], "CC-1");
    assert_eq!(avery["jobTitle"], "CEO");
    let id = avery["id"].as_str().unwrap().to_string();
    let groups = get(&t, "/groups?$filter=displayName eq 'Platform Guild'").await;
    let gid = groups["value"][0]["id"].as_str().unwrap().to_string();
    let members = get(&t, &format!("/groups/{gid}/members")).await;
    assert!(
        members["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id.as_str()),
        "{members}"
    );
    let sps = get(&t, "/servicePrincipals?$filter=displayName eq 'Coda'").await;
    let sp = sps["value"][0]["id"].as_str().unwrap().to_string();
    // appRoleAssignedTo lists lag behind new assignments (as Graph's do):
    // poll, bounded, until five reads in a row show the new assignment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut in_a_row = 0;
    while in_a_row < 5 {
        let assigned = get(&t, &format!("/servicePrincipals/{sp}/appRoleAssignedTo")).await;
        let shows = assigned["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["principalId"] == id.as_str());
        in_a_row = if shows { in_a_row + 1 } else { 0 };
        assert!(
            std::time::Instant::now() < deadline,
            "the assignment never settled: {assigned}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Second run: nothing to do.
    let o = run(&t, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // With --skip-invalid the valid row is imported and the invalid one lands in the failed file.
    std::fs::write(
        &file,
        "FirstName,LastName,Username,Password,Email,Group1\n\
         New,Person,new.person,weak,new.person@northwind.example,Coda Engineering\n\
         Ok,Person,ok.person,pw-Secret-2,ok.person@northwind.example,Coda Engineering\n",
    )
    .unwrap();
    let o = run(
        &t,
        &[
            &args[..],
            &[
                "--yes",
                "--skip-invalid",
                "--results",
                results.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(user(&t, "ok.person@northwind.example").await.is_some());
    assert!(user(&t, "new.person@northwind.example").await.is_none());
    let failed = std::fs::read_to_string(dir.path().join("res.failed.csv")).unwrap();
    assert_eq!(
        failed,
        "FirstName,LastName,Username,Password,Email,Group1\r\nNew,Person,new.person,,new.person@northwind.example,Coda Engineering\r\n"
    );
}
