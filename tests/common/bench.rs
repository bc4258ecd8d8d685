//! What the benchmarks (`tests/*_bench.rs`, ignored tests) share: a command
//! run under `bench/timed` (wall, CPU and peak RSS of that process, the
//! `BENCH wall=… maxrss=… KB` line on its stderr, no /usr/bin/time needed),
//! reading that line, and the `RESULT {json}` line `bench/run` collects.

use std::path::Path;

/// `program` run under `python3 bench/timed`; add its arguments.
pub fn timed(program: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("python3");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/timed"))
        .arg(program);
    c
}

/// [`timed`] with `BENCH_WRAPPER` (e.g. `heaptrack -o /tmp/snap`, to profile
/// the heap) between bench/timed and `program`, when it is set.
pub fn timed_wrapped(program: &Path) -> std::process::Command {
    match std::env::var("BENCH_WRAPPER") {
        Ok(w) if !w.trim().is_empty() => {
            let mut words = w.split_whitespace();
            let mut c = timed(Path::new(words.next().expect("a word")));
            c.args(words).arg(program);
            c
        }
        _ => timed(program),
    }
}

/// The `BENCH …` line of a timed command's stderr (empty when missing).
pub fn timing_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("BENCH"))
        .unwrap_or("")
}

/// A number of the timing line: `field(line, "wall=")`, `"maxrss="` (KB);
/// NaN when missing.
pub fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Print the line `bench/run` collects: `RESULT {json}` on stdout.
pub fn result(value: serde_json::Value) {
    println!("RESULT {value}");
}

/// The 1-minute load average now.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
