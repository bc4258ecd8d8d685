//! Benchmark of `plan::build` on synthetic snapshots (10k, 50k, 100k users by
//! default, or the sizes given as arguments). Run in release:
//! `cargo run --release --example plan_bench [-- 10000 50000 100000]`.
//! A counting allocator measures heap exactly: what the snapshot holds, and
//! the peak the planner adds on top of it while it builds the plan.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// CPU seconds this thread has used (Linux `/proc/thread-self/stat`, 10 ms ticks): robust to a busy machine.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            // fields after the comm: state is [0]; utime is field 14 overall => rest[11], stime rest[12]
            Some((rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

fn mb(b: usize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 50_000, 100_000]
    } else {
        sizes
    };
    let profile = scimshift::plan::Profile::builtin("coda").unwrap();
    let opts = scimshift::plan::PlanOptions {
        pilot_group: Some("Team 0".into()),
        ..Default::default()
    };
    println!(
        "| users | target users | build wall (s) | build CPU (s) | µs CPU per user | snapshot heap (MB) | build peak heap (MB) | plan heap (MB) | plan JSON (MB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let snap = scimshift::plan::testkit::synthetic(n);
        let targets = snap.target.as_ref().map_or(0, |t| t.users.len());
        let base = CURRENT.load(Relaxed);
        PEAK.store(base, Relaxed);
        let c0 = cpu_seconds();
        let t0 = Instant::now();
        let plan = scimshift::plan::build(&snap, &profile, &opts).unwrap();
        let dt = t0.elapsed().as_secs_f64();
        let dc = cpu_seconds() - c0;
        let peak = PEAK.load(Relaxed) - base;
        let held = CURRENT.load(Relaxed) - base;
        let bytes = plan.to_bytes();
        println!(
            "| {n} | {targets} | {dt:.3} | {dc:.2} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1} |",
            dc * 1e6 / n as f64,
            mb(base),
            mb(peak),
            mb(held),
            bytes.len() as f64 / 1e6,
        );
        assert_eq!(plan.impact.len(), n);
    }
}
