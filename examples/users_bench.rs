//! Benchmarks for `users import` (run in release; `bench/run` collects the
//! `RESULT` lines into bench/RESULTS.md):
//!
//! 1. read + validate + plan 100,000 rows against a target of 50,000 users;
//! 2. import 10,000 users into an in-process axum SCIM store (Bulk and POST),
//!    and M users into the twin's embedded store against a plain concurrent
//!    POST loop on the same kind of store;
//! 3. import N users into scim2-server, against a plain concurrent POST loop
//!    on a fresh server in the same run (the ratio is what matters).
//!
//! `cargo run --release --example users_bench [-- N_FOR_SCIM2 [M_FOR_TWIN]]`

#[path = "../tests/common/mod.rs"]
mod common;
use common::mock_scim;

use futures::StreamExt;
use scimshift::scim::{ProviderConfig, Resource, ScimClient};
use scimshift::secret::Secret;
use scimshift::users::{import, import_plan, write};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Instant;

/// CPU time of this process so far (user + system), from /proc/self/stat, in
/// seconds: on a shared, loaded machine wall time overstates our cost.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn csv_file(n: usize, prefix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    let mut w = std::io::BufWriter::new(f.as_file_mut());
    writeln!(w, "FirstName,LastName,Username,Password,Email,manager,jobTitle,employeeIdentifier,department,costCenter,company,work_city,work_country,mobile_number,Administrator").unwrap();
    for i in 0..n {
        let mgr = if i % 10 == 0 {
            String::new()
        } else {
            format!("{prefix}{}", i - i % 10)
        };
        writeln!(
            w,
            "Given{i},Family{i},{prefix}{i},Secret-{i}!,{prefix}{i}@example.com,{mgr},Title {},E{i:06},Dept {},CC-{},\"Example, Inc.\",City {},US,+1 415-555-{:04},$false",
            i % 50,
            i % 20,
            i % 30,
            i % 100,
            i % 10000
        )
        .unwrap();
    }
    drop(w);
    f
}

fn target_users(n: usize, prefix: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": format!("t{i}"), "userName": format!("{prefix}{i}"), "active": true,
                "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
                "title": if i % 2 == 0 { format!("Title {}", i % 50) } else { "Old title".into() },
                "emails": [{"type": "work", "value": format!("{prefix}{i}@example.com"), "primary": true}]
            })
        })
        .collect()
}

async fn import_into(
    client: &ScimClient,
    file: &std::path::Path,
    opts: write::WriteOptions,
) -> (usize, f64) {
    let started = Instant::now();
    let (table, v, _) = import::load(file, None).unwrap();
    let cfg = client.service_provider_config().await.unwrap_or_default();
    let target = client.list_all(Resource::Users, 1000).await.unwrap();
    let col = table
        .header
        .iter()
        .position(|h| h == "manager")
        .map(|i| i + 1)
        .unwrap_or(0);
    let p = import_plan::build(
        &v.rows,
        &v.invalid,
        &target,
        import_plan::PlanOptions {
            deactivate_missing: false,
            manager_column: col,
        },
    );
    assert!(p.diags.is_empty());
    let pb = scimshift::progress::Task::start(&scimshift::progress::Silent, "import", None);
    let applied = write::write(client, &p, &v.rows, &target, &cfg, opts, &pb).await;
    assert_eq!(
        applied.failed(),
        0,
        "{:?}",
        applied.rows.iter().find(|o| o.status == "failed")
    );
    (p.summary.create, started.elapsed().as_secs_f64())
}

/// A plain concurrent POST loop of the same create bodies our plan sends
/// (managers left out: a plain loop cannot resolve them).
async fn post_loop(client: &ScimClient, file: &std::path::Path, conc: usize) -> (usize, f64) {
    let (_t, v, _) = import::load(file, None).unwrap();
    let p = import_plan::build(
        &v.rows,
        &v.invalid,
        &[],
        import_plan::PlanOptions::default(),
    );
    let bodies: Vec<Value> = (0..p.rows.len())
        .map(|i| import_plan::create_body(&p, &v.rows, i, None))
        .collect();
    let n = bodies.len();
    let started = Instant::now();
    let errors = futures::stream::iter(bodies)
        .map(|body| async move { client.create(Resource::Users, &body).await.is_err() })
        .buffer_unordered(conc)
        .filter(|e| std::future::ready(*e))
        .count()
        .await;
    assert_eq!(errors, 0);
    (n, n as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let only_plan = arg == "plan";
    let n_scim2: usize = arg.parse().unwrap_or(3000);
    let n_twin: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    // Two interleaved rounds on scim2-server for small sizes (the machine is shared).
    let rounds = if n_scim2 <= 4000 { 2 } else { 1 };

    // 1. Validate + plan 100k rows.
    let f = csv_file(100_000, "user");
    let target = target_users(50_000, "user");
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let (_table, v, _) = import::load(f.path(), None).unwrap();
    let t_read = started.elapsed().as_secs_f64();
    let p = import_plan::build(
        &v.rows,
        &v.invalid,
        &target,
        import_plan::PlanOptions::default(),
    );
    let t_total = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "validate+plan 100,000 rows vs 50,000 target users: {t_total:.3} s wall, {cpu:.2} s CPU (read+validate {t_read:.3} s wall); {} create, {} update, {} unchanged, {} errors",
        p.summary.create,
        p.summary.update,
        p.summary.unchanged,
        v.error_count() + p.diags.len()
    );

    if only_plan {
        return;
    }
    // 2. In-process axum store, 10k users.
    let f10k = csv_file(10_000, "mock");
    for bulk in [true, false] {
        let mock = mock_scim::start(bulk);
        let client = ScimClient::new(&mock.base_url, Secret::new(mock.token.clone())).unwrap();
        let (n, secs) = import_into(
            &client,
            f10k.path(),
            write::WriteOptions {
                concurrency: 4,
                use_bulk: bulk,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(mock.store.user_count(), 10_000);
        println!(
            "in-process axum store, {} : {n} users in {secs:.2} s = {:.0} users/s ({} requests)",
            if bulk { "Bulk" } else { "POST" },
            n as f64 / secs,
            mock.store.writes() + mock.store.reads()
        );
    }

    // 2b. The twin's embedded SCIM store (what `twin serve` and the demo use):
    //     a plain POST loop, then our import with Bulk and with POST, each on
    //     a fresh store.
    let ftwin = csv_file(n_twin, "tw");
    let twin_store = || async {
        let store = std::sync::Arc::new(scimshift::twin::scim_store::ScimStore::default());
        let token = Secret::new("bench-token");
        let (url, task) = scimshift::twin::scim_store::serve_loopback(store.clone(), token.clone())
            .await
            .unwrap();
        (store, ScimClient::new(&url, token).unwrap(), task)
    };
    let (_store, client, _task) = twin_store().await;
    let (_, twin_plain) = post_loop(&client, ftwin.path(), 4).await;
    println!(
        "twin's embedded SCIM store, plain POST loop (4 concurrent): {n_twin} users: {twin_plain:.0} users/s"
    );
    let mut twin_rates = Vec::new();
    for bulk in [true, false] {
        let (store, client, _task) = twin_store().await;
        let (n, secs) = import_into(
            &client,
            ftwin.path(),
            write::WriteOptions {
                concurrency: 4,
                use_bulk: bulk,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(store.users().len(), n_twin);
        println!(
            "twin's embedded SCIM store, {} : {n} users in {secs:.2} s = {:.0} users/s = {:.0}% of the plain POST loop",
            if bulk { "Bulk" } else { "POST" },
            n as f64 / secs,
            100.0 * n as f64 / secs / twin_plain
        );
        twin_rates.push(n as f64 / secs);
    }
    println!(
        "RESULT {}",
        json!({"bench": "users_import", "server": "twin (embedded store)", "users": n_twin,
               "plain_per_s": twin_plain, "bulk_per_s": twin_rates[0], "post_per_s": twin_rates[1]})
    );
    // 3. scim2-server: plain POST loop vs our import, each on a fresh server,
    //    interleaved over two rounds because the machine is shared.
    let fs = csv_file(n_scim2, "s2u");
    for round in 1..=rounds {
        let mut rates = Vec::new();
        let plain = {
            let server = common::start_scim2_server();
            let client =
                ScimClient::new(&server.base_url, Secret::new(server.token.clone())).unwrap();
            let (n, rate) = post_loop(&client, fs.path(), 4).await;
            println!(
                "[round {round}] scim2-server, plain POST loop (4 concurrent, same bodies without managers), {n} users: {rate:.0} users/s"
            );
            rate
        };
        for bulk in [true, false] {
            let server = common::start_scim2_server();
            let client =
                ScimClient::new(&server.base_url, Secret::new(server.token.clone())).unwrap();
            let (n, secs) = import_into(
                &client,
                fs.path(),
                write::WriteOptions {
                    concurrency: 4,
                    use_bulk: bulk,
                    ..Default::default()
                },
            )
            .await;
            let rate = n as f64 / secs;
            println!(
                "[round {round}] scim2-server, users import ({}), {n} users incl. reading the target, planning, managers: {secs:.2} s = {rate:.0} users/s = {:.0}% of the plain POST loop",
                if bulk {
                    "Bulk, the default here"
                } else {
                    "--no-bulk"
                },
                100.0 * rate / plain
            );
            rates.push(rate);
        }
        println!(
            "RESULT {}",
            json!({"bench": "users_import", "server": "scim2-server", "round": round, "users": n_scim2,
                   "plain_per_s": plain, "bulk_per_s": rates[0], "post_per_s": rates[1]})
        );
    }
    let _ = ProviderConfig::default();
}
