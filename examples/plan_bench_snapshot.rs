//! Writes a synthetic snapshot of N users (default 100000) to PATH, for
//! timing the whole `scimshift plan` command: `cargo run --release --example
//! plan_bench_snapshot -- 100000 /tmp/snap-100k.json`.

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let path = args.next().unwrap_or_else(|| format!("snap-{n}.json"));
    std::fs::write(&path, scimshift::plan::testkit::synthetic(n).to_bytes()).unwrap();
    println!("{path}");
}
