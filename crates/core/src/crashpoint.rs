//! A test hook for crash safety, and nothing else: with
//! `SCIMSHIFT_TEST_KILL_AT=N` in the environment, the process sends itself
//! SIGKILL the Nth time it reaches a crash point. Crash points are every
//! journal append (so the Nth point is "just before the Nth record of this
//! run is written": after a request was sent and before its result is
//! journaled, in the middle of an assignment batch, …). Unset, it costs one
//! atomic increment. The crash tests (`tests/apply_crash.rs`) walk N over
//! every point of an apply and check that each re-run converges.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static KILL_AT: OnceLock<Option<usize>> = OnceLock::new();
static REACHED: AtomicUsize = AtomicUsize::new(0);

/// Count a crash point; die here when it is the one asked for.
pub fn reached() {
    let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    let at = KILL_AT.get_or_init(|| {
        std::env::var("SCIMSHIFT_TEST_KILL_AT")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    if *at == Some(n) {
        kill_self();
    }
}

fn kill_self() {
    #[cfg(unix)]
    // SAFETY: sends SIGKILL to this very process; nothing runs after it.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort();
}
