//! `users import --to entra` through the binary against the twin's Graph
//! (started in-process): users created via `$batch`, added to the groups of
//! their `Group<N>` columns, assigned to an app; an unknown group stops the
//! import before any write; a second run is a no-op plan.

use assert_cmd::Command;
use scimshift::twin::server::{RunningTwin, TwinOptions, start};
use serde_json::Value;

fn cmd(t: &RunningTwin) -> Command {
    let mut c = Command::cargo_bin("scimshift").unwrap();
    c.env_remove("CI")
        .env_remove("SCIMSHIFT_GRAPH_TOKEN")
        .env("SCIMSHIFT_GRAPH_URL", &t.graph_url)
        .env("SCIMSHIFT_AUTHORITY_URL", &t.authority_url)
        .env("AZURE_TENANT_ID", &t.tenant_id)
        .env("AZURE_CLIENT_ID", &t.client_id)
        .env("AZURE_CLIENT_SECRET", t.client_secret.expose());
    c
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

/// What a write could change in the tenant: users, group memberships, app
/// role assignments (read from the twin's state, not through the importer).
fn census(t: &RunningTwin) -> (usize, usize, usize) {
    let tenant = t.twin.tenant();
    (
        tenant.users.len(),
        tenant.groups.values().map(|g| g.members.len()).sum(),
        tenant.assignments.len(),
    )
}

async fn exists(t: &RunningTwin, upn: &str) -> bool {
    let v = get(t, &format!("/users?$filter=userPrincipalName eq '{upn}'")).await;
    !v["value"].as_array().unwrap().is_empty()
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jumpcloud_file_into_entra_with_groups_and_app() {
    let t = start(TwinOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jc.csv");
    std::fs::write(
        &file,
        "FirstName,LastName,Username,Password,Email,jobTitle,Group1,Group2\n\
         Avery,Stone,avery.stone,Secret-Pa55!,avery.stone@example.com,CEO,Coda Engineering,Platform Guild\n\
         Zoe,Angstrom,zoe.angstrom,,zoe.angstrom@example.com,VP,Coda Engineering,\n",
    )
    .unwrap();

    let f = file.to_str().unwrap().to_string();
    let args = [
        "users",
        "import",
        &f,
        "--to",
        "entra",
        "--assign-app",
        "Coda",
    ];
    let o = tokio::task::block_in_place(|| cmd(&t).args(args).arg("--dry-run").output().unwrap());
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("+ avery.stone@example.com (create in Entra)"),
        "{}",
        out(&o)
    );
    assert!(
        out(&o).contains("Plan (Entra): 2 to create, 3 group membership(s), 2 app assignment(s)"),
        "{}",
        out(&o)
    );

    let results = dir.path().join("res.csv");
    let o = tokio::task::block_in_place(|| {
        cmd(&t)
            .args(args)
            .args(["--yes", "--results", results.to_str().unwrap()])
            .output()
            .unwrap()
    });
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(!out(&o).contains("Secret-Pa55"));
    let r = std::fs::read_to_string(&results).unwrap();
    assert!(r.contains("2,avery.stone@example.com,create,ok,"), "{r}");

    let found = get(
        &t,
        "/users?$filter=userPrincipalName eq 'avery.stone@example.com'",
    )
    .await;
    let avery = &found["value"][0];
    let id = avery["id"].as_str().unwrap().to_string();
    assert_eq!(avery["userPrincipalName"], "avery.stone@example.com");
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
    // poll, bounded, until five reads in a row show both new assignments.
    let zoe_id = get(
        &t,
        "/users?$filter=userPrincipalName eq 'zoe.angstrom@example.com'",
    )
    .await["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut in_a_row = 0;
    while in_a_row < 5 {
        let assigned = get(&t, &format!("/servicePrincipals/{sp}/appRoleAssignedTo")).await;
        let shows = |who: &str| {
            assigned["value"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["principalId"] == who)
        };
        in_a_row = if shows(&id) && shows(&zoe_id) {
            in_a_row + 1
        } else {
            0
        };
        assert!(
            std::time::Instant::now() < deadline,
            "the assignments never settled: {assigned}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let zoe = get(
        &t,
        "/users?$filter=userPrincipalName eq 'zoe.angstrom@example.com'",
    )
    .await;
    assert_eq!(zoe["value"].as_array().unwrap().len(), 1);

    // Second run: nothing to do.
    let o = tokio::task::block_in_place(|| cmd(&t).args(args).arg("--dry-run").output().unwrap());
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // An unknown group stops everything before a write.
    std::fs::write(&file, "FirstName,LastName,Username,Email,Group1\nNew,Person,new.person,new.person@example.com,No Such Group\n").unwrap();
    let before = census(&t);
    let o = tokio::task::block_in_place(|| cmd(&t).args(args).arg("--yes").output().unwrap());
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains(":2:1: group `No Such Group` does not exist in Entra"),
        "{}",
        out(&o)
    );
    assert!(
        !exists(&t, "new.person@example.com").await,
        "the refused row was not created"
    );
    assert_eq!(
        census(&t),
        before,
        "no user, membership or assignment written"
    );

    // With --skip-invalid the valid row is created and the invalid one lands in the failed file.
    std::fs::write(
        &file,
        "FirstName,LastName,Username,Password,Email,Group1\n\
         New,Person,new.person,pw-Secret-1,new.person@example.com,No Such Group\n\
         Ok,Person,ok.person,pw-Secret-2,ok.person@example.com,Coda Engineering\n",
    )
    .unwrap();
    let o = tokio::task::block_in_place(|| {
        cmd(&t)
            .args(args)
            .args([
                "--yes",
                "--skip-invalid",
                "--results",
                results.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    });
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let ok = get(
        &t,
        "/users?$filter=userPrincipalName eq 'ok.person@example.com'",
    )
    .await;
    assert_eq!(ok["value"].as_array().unwrap().len(), 1);
    assert!(
        !exists(&t, "new.person@example.com").await,
        "the invalid row was skipped, not created"
    );
    let failed = std::fs::read_to_string(dir.path().join("res.failed.csv")).unwrap();
    assert_eq!(
        failed,
        "FirstName,LastName,Username,Password,Email,Group1\r\nNew,Person,new.person,,new.person@example.com,No Such Group\r\n"
    );
}
