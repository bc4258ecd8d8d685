//! What an interrupt (SIGINT/SIGTERM) needs from the library: the flag long
//! work checks before it starts another write, and the temp files being
//! written right now, so that an abort at once (a second signal) can remove
//! them before the process exits. The signal handler itself is the command
//! layer's (`scimshift::cmd::interrupt`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT/SIGTERM; work checks it before each new write.
pub type Flag = std::sync::Arc<AtomicBool>;

/// True when `flag` is given and set.
pub fn requested(flag: Option<&Flag>) -> bool {
    flag.is_some_and(|f| f.load(Ordering::SeqCst))
}

static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temp file being written; removed from the list when dropped.
pub struct TempFile(PathBuf);

/// Note `path` as a temp file in progress until the guard is dropped.
pub fn track_temp(path: &Path) -> TempFile {
    if let Ok(mut v) = TEMP_FILES.lock() {
        v.push(path.to_path_buf());
    }
    TempFile(path.to_path_buf())
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Ok(mut v) = TEMP_FILES.lock()
            && let Some(i) = v.iter().position(|p| *p == self.0)
        {
            v.swap_remove(i);
        }
    }
}

/// Remove every temp file in progress (for an exit at once); returns how many.
pub fn remove_temp_files() -> usize {
    let paths = match TEMP_FILES.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(_) => return 0,
    };
    paths
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracked_temp_file_is_removed_and_a_finished_one_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "x").unwrap();
        std::fs::write(&b, "x").unwrap();
        let _ga = track_temp(&a);
        drop(track_temp(&b));
        assert_eq!(remove_temp_files(), 1);
        assert!(!a.exists());
        assert!(b.exists(), "a finished temp file is not removed");
    }

    #[test]
    fn requested_reads_the_flag() {
        let f: Flag = Default::default();
        assert!(!requested(Some(&f)) && !requested(None));
        f.store(true, Ordering::SeqCst);
        assert!(requested(Some(&f)));
    }
}
