//! Phases of the whole `plan` command on a snapshot file (load, build, write),
//! each with its wall and CPU time and the process's peak RSS after it:
//! `cargo run --release --example plan_phases -- PATH [slice|reader]`
//! (`PILOT_GROUP` names the pilot group, "Team 0" by default).

use std::time::Instant;

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default()
}

/// CPU seconds of this process (utime + stime, 10 ms ticks).
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest: Vec<&str> = s
        .rsplit_once(')')
        .map(|x| x.1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let t = |i: usize| {
        rest.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (t(11) + t(12)) / 100.0
}

fn main() {
    let path = std::path::PathBuf::from(std::env::args().nth(1).expect("PATH"));
    let mut last = (Instant::now(), cpu());
    let mut phase = |name: &str| {
        let now = (Instant::now(), cpu());
        println!(
            "{name:<6} wall {:.2} s  cpu {:.2} s  VmRSS {} kB  VmHWM {} kB",
            (now.0 - last.0).as_secs_f64(),
            now.1 - last.1,
            proc_field("/proc/self/status", "VmRSS:"),
            proc_field("/proc/self/status", "VmHWM:")
        );
        last = (Instant::now(), cpu());
    };
    // `parts`: the steps of Snapshot::load one by one, reading the file whole
    // (`slice`) or through a reader (default).
    let snap = match std::env::args().nth(2).as_deref() {
        Some(how @ ("slice" | "reader")) => {
            let snap: scimshift::snapshot::Snapshot = if how == "slice" {
                let bytes = std::fs::read(&path).unwrap();
                phase("read");
                serde_json::from_slice(&bytes).unwrap()
            } else {
                let f = std::fs::File::open(&path).unwrap();
                serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, f)).unwrap()
            };
            phase("parse");
            assert_eq!(snap.compute_digest(), snap.digest);
            phase("digest");
            snap
        }
        _ => {
            let snap = scimshift::snapshot::Snapshot::load(&path).unwrap();
            phase("load");
            snap
        }
    };
    let profile = scimshift::plan::Profile::builtin("coda").unwrap();
    let opts = scimshift::plan::PlanOptions {
        // The testkit's synthetic snapshots have "Team 0"; the twin's, "Synthetic Group 00000".
        pilot_group: Some(std::env::var("PILOT_GROUP").unwrap_or_else(|_| "Team 0".into())),
        ..Default::default()
    };
    let plan = scimshift::plan::build(&snap, &profile, &opts).unwrap();
    phase("build");
    plan.write_to(&mut std::io::sink()).unwrap();
    phase("write");
    let text = scimshift::plan::render_text(&plan);
    phase("text");
    drop((text, plan, snap));
    phase("drop");
}
