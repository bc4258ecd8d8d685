//! Heap bytes held by each part of a loaded snapshot and of the plan built
//! from it, counted by a counting allocator (live bytes plus 16 bytes of
//! malloc overhead per block, so freed-but-kept memory does not blur it):
//! `cargo run --release --example memory_by_part -- SNAPSHOT [PILOT_GROUP]`.
//! It tells which part to make smaller when `plan` or a command that loads
//! a snapshot needs too much memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

static BYTES: AtomicI64 = AtomicI64::new(0);
static BLOCKS: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

struct Counting;

/// Adds `delta` bytes and `blocks` blocks, and keeps the peak of what is held.
fn count(delta: i64, blocks: i64) {
    let b = BYTES.fetch_add(delta, Relaxed) + delta;
    let n = BLOCKS.fetch_add(blocks, Relaxed) + blocks;
    PEAK.fetch_max(b + 16 * n, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size() as i64, 1);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as i64), -1);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count(n as i64 - l.size() as i64, 0);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap held now, in kB.
fn held() -> i64 {
    (BYTES.load(Relaxed) + 16 * BLOCKS.load(Relaxed)) / 1024
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().expect("SNAPSHOT"));
    let pilot = args
        .next()
        .unwrap_or_else(|| "Synthetic Group 00000".into());
    let mut snap = scimshift::snapshot::Snapshot::load(&path).expect("snapshot");
    let loaded = held();
    println!("snapshot loaded: {loaded} kB");

    let profile = scimshift::plan::Profile::builtin("coda").expect("coda profile");
    let opts = scimshift::plan::PlanOptions {
        pilot_group: Some(pilot),
        ..Default::default()
    };
    PEAK.store(0, Relaxed);
    let mut plan = scimshift::plan::build(&snap, &profile, &opts).expect("plan");
    println!(
        "plan built: holds {} kB; heap peak while building {} kB",
        held() - loaded,
        PEAK.load(Relaxed) / 1024
    );

    let mut last = held();
    let mut freed = |name: &str| {
        let now = held();
        println!("  {name:<32} {:>9} kB", last - now);
        last = now;
    };
    println!("plan, by part:");
    plan.impact = Vec::new();
    freed("impact (per user)");
    for s in plan.steps.iter_mut() {
        s.diff = Vec::new();
    }
    freed("steps: diff lines");
    for s in plan.steps.iter_mut() {
        s.undo.requests = Vec::new();
    }
    freed("steps: undo requests");
    for r in plan.steps.iter_mut().flat_map(|s| s.requests.iter_mut()) {
        r.binds = Vec::new();
    }
    freed("steps: request binds");
    for r in plan.steps.iter_mut().flat_map(|s| s.requests.iter_mut()) {
        r.body = None;
    }
    freed("steps: request bodies");
    plan.steps = Vec::new();
    freed("steps: the rest");
    plan.group_impact = Vec::new();
    freed("group impact");
    drop(plan);
    freed("the rest (findings, summary…)");

    println!("snapshot, by part:");
    for g in snap.groups.iter_mut() {
        g.members = Vec::new();
    }
    freed("group members");
    for u in snap.users.iter_mut() {
        u.via = Vec::new();
    }
    freed("users' via");
    for u in snap.users.iter_mut() {
        u.attributes = Default::default();
    }
    freed("users' attributes");
    snap.users = Vec::new();
    freed("users' ids and list");
    drop(snap);
    freed("the rest (app, jobs, groups…)");
}
