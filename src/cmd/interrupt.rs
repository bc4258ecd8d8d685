//! The one SIGINT/SIGTERM handler of the commands that write (apply,
//! rollback, users import and export): the first signal sets the command's
//! [`Flag`] and prints what happens next (no new writes, the ones in flight
//! finish, results are written); a second removes the temp files in progress
//! and exits 130 at once.

use crate::error::exit;
use crate::interrupt::Flag;
use std::sync::atomic::Ordering;

/// Watch for SIGINT and SIGTERM; `first` is printed on the first, `second` on
/// the second (before the exit at once). Returns the flag the work checks.
pub fn watch(first: &'static str, second: &'static str) -> Flag {
    let flag = Flag::default();
    let set = flag.clone();
    let mut signals = Signals::new();
    tokio::spawn(async move {
        if signals.next().await {
            set.store(true, Ordering::SeqCst);
            eprintln!(
                "\ninterrupted: {first}; press Ctrl-C again (or send SIGTERM) to stop at once"
            );
            if signals.next().await {
                crate::interrupt::remove_temp_files();
                eprintln!("stopped at once: {second}");
                std::process::exit(exit::INTERRUPTED);
            }
        }
    });
    flag
}

/// SIGINT and SIGTERM, registered once (before `watch` returns, so a signal
/// sent right after is not missed).
struct Signals {
    #[cfg(unix)]
    kinds: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let kinds = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(i), Ok(t)) => Some((i, t)),
                _ => None,
            };
            Signals { kinds }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next signal; false if none can be watched.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.kinds {
            return tokio::select! {
                r = int.recv() => r.is_some(),
                r = term.recv() => r.is_some(),
            };
        }
        tokio::signal::ctrl_c().await.is_ok()
    }
}
