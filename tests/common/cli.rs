//! The `scimshift` binary as a test runs it: every credential and colour
//! variable of the caller's environment removed (a developer's SCIM_TOKEN or
//! CI=true must not change a result), stdin closed, and helpers to run it from
//! async tests without blocking the runtime's workers.

use std::process::Output;

/// Variables the binary reads; removed so each test states what it sets.
pub const ENV: &[&str] = &[
    "SCIMSHIFT_GRAPH_TOKEN",
    "SCIMSHIFT_GRAPH_URL",
    "SCIMSHIFT_AUTHORITY_URL",
    "SCIMSHIFT_LOG",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "SCIM_TOKEN",
    "NO_COLOR",
    "CI",
    "SCIMSHIFT_MAX_RESPONSE_BYTES",
    "SCIMSHIFT_MAX_OBJECTS",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `scimshift` with a clean environment (assert_cmd gives it a closed stdin
/// pipe: never a terminal).
pub fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("scimshift").expect("the scimshift binary is built");
    for k in ENV {
        c.env_remove(k);
    }
    c
}

/// The path of the built binary (for `script -c` and the like).
pub fn bin_path() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("scimshift")
}

/// Run a command from an async test on the blocking pool.
pub async fn run(mut c: assert_cmd::Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run scimshift"))
        .await
        .expect("the blocking task ends")
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
