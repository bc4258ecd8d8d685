//! The one error type every command returns, and the exit codes it maps to.
//!
//! An [`Error`] is a sentence for an admin, not a debug dump: it says what went
//! wrong and, where it can, what to do about it. It never carries a secret.

use std::fmt;

/// Exit codes, documented in the README.
pub mod exit {
    /// Success, nothing (more) to do.
    pub const OK: i32 = 0;
    /// An error: bad input, a remote failure, an I/O failure.
    pub const ERROR: i32 = 1;
    /// Success, and changes are pending (like `terraform plan -detailed-exitcode`).
    pub const CHANGES: i32 = 2;
    /// The plan is stale: live state changed since its snapshot (apply).
    pub const STALE: i32 = 3;
    /// The command line itself was wrong (unknown flag, missing argument).
    pub const USAGE: i32 = 64;
    /// Stopped by Ctrl-C (or `q`); resumable (apply).
    pub const INTERRUPTED: i32 = 130;
}

/// What kind of failure this is; decides nothing but the prefix and the exit code today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line or a flag value.
    Usage,
    /// A file or value the user gave us.
    Input,
    /// Credentials or permissions.
    Auth,
    /// A remote service (Graph, SCIM) said no or could not be reached.
    Remote,
    /// Local files.
    Io,
    /// A bug in scimshift.
    Internal,
    /// Live state no longer matches what a plan was made from.
    Stale,
    /// Stopped by SIGINT/SIGTERM before it finished.
    Interrupted,
}

/// An error with one clear sentence.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }
    pub fn remote(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Remote, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn stale(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Stale, message)
    }
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }

    /// Wrap an I/O error with the path it happened on.
    pub fn io_at(path: &std::path::Path, err: std::io::Error) -> Self {
        Self::io(format!("{}: {}", path.display(), io_reason(&err)))
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage => exit::USAGE,
            ErrorKind::Stale => exit::STALE,
            ErrorKind::Interrupted => exit::INTERRUPTED,
            _ => exit::ERROR,
        }
    }
}

fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "no such file or directory".into(),
        K::PermissionDenied => "permission denied".into(),
        K::AlreadyExists => "already exists".into(),
        _ => {
            // std's Display appends " (os error N)"; keep the words only.
            let s = err.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::input(format!("invalid JSON: {e}"))
    }
}
