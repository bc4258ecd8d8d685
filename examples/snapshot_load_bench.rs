//! Where a snapshot's memory goes when it is loaded and planned: heap held by
//! the loaded snapshot (users, target), the peak heap while loading, the
//! process's peak RSS after the load (read before anything else is
//! allocated), then the same for `plan::build` on it (the plan's heap, the
//! build's peak over the snapshot), for `Snapshot::load` (`load`) or a
//! `BufReader` parse (`reader`):
//! `cargo run --release --example snapshot_load_bench -- PATH [load|reader]`.

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

fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
        .unwrap_or_default()
}

fn mb(b: usize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().expect("PATH"));
    let mode = args.next().unwrap_or_else(|| "load".into());
    let t = Instant::now();
    let snap: scimshift::snapshot::Snapshot = match mode.as_str() {
        "reader" => {
            let f = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&path).unwrap());
            let s: scimshift::snapshot::Snapshot = serde_json::from_reader(f).unwrap();
            assert_eq!(s.compute_digest(), s.digest);
            s
        }
        _ => scimshift::snapshot::Snapshot::load(&path).unwrap(),
    };
    let dt = t.elapsed();
    let held = CURRENT.load(Relaxed);
    let (load_peak, load_hwm) = (PEAK.load(Relaxed), status("VmHWM:"));
    // The plan, as `scimshift plan` builds it (no pilot group).
    PEAK.store(held, Relaxed);
    let t = Instant::now();
    let profile = scimshift::plan::Profile::builtin("coda").unwrap();
    let plan = scimshift::plan::build(&snap, &profile, &Default::default()).unwrap();
    let plan_dt = t.elapsed();
    let (plan_held, plan_peak) = (CURRENT.load(Relaxed) - held, PEAK.load(Relaxed) - held);
    let plan_hwm = status("VmHWM:");
    let impact: usize = {
        let before = CURRENT.load(Relaxed);
        let copy = plan.impact.clone();
        let n = CURRENT.load(Relaxed) - before;
        drop(copy);
        n
    };
    drop(plan);
    let users: usize = {
        let before = CURRENT.load(Relaxed);
        let copy = snap.users.clone();
        let n = CURRENT.load(Relaxed) - before;
        drop(copy);
        n
    };
    let target: usize = {
        let before = CURRENT.load(Relaxed);
        let copy = snap.target.clone();
        let n = CURRENT.load(Relaxed) - before;
        drop(copy);
        n
    };
    let groups: usize = {
        let before = CURRENT.load(Relaxed);
        let copy = snap.groups.clone();
        let n = CURRENT.load(Relaxed) - before;
        drop(copy);
        n
    };
    // Of the users: their attributes, their `via` lists, their ids.
    let (attrs, via): (usize, usize) = {
        let before = CURRENT.load(Relaxed);
        let a: Vec<_> = snap.users.iter().map(|u| u.attributes.clone()).collect();
        let n = CURRENT.load(Relaxed) - before;
        drop(a);
        let before = CURRENT.load(Relaxed);
        let v: Vec<_> = snap.users.iter().map(|u| u.via.clone()).collect();
        let m = CURRENT.load(Relaxed) - before;
        drop(v);
        (n, m)
    };
    println!(
        "users: attributes ≈ {:.0} MB, via ≈ {:.0} MB (each with its Vec of the users' count); groups ≈ {:.0} MB",
        mb(attrs),
        mb(via),
        mb(groups)
    );
    println!(
        "{mode}: {} users, {:?}; heap held {:.0} MB (users ≈ {:.0} MB, target ≈ {:.0} MB), peak {:.0} MB; VmHWM {load_hwm} kB",
        snap.users.len(),
        dt,
        mb(held),
        mb(users),
        mb(target),
        mb(load_peak)
    );
    println!(
        "plan: {plan_dt:?}; heap held {:.0} MB (impact ≈ {:.0} MB), build peak {:.0} MB over the snapshot; VmHWM {plan_hwm} kB",
        mb(plan_held),
        mb(impact),
        mb(plan_peak)
    );
}
