//! A string that cannot be printed by accident: tokens, client secrets, passwords.
//!
//! `Debug` and `Display` print `(redacted)`; the value is reachable only through
//! [`Secret::expose`], so every place that sends a secret is easy to find.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The raw value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

/// Read a secret from a file (first line, trimmed), refusing files others can read.
pub fn read_secret_file(path: &std::path::Path) -> crate::error::Result<Secret> {
    use crate::error::Error;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| Error::io_at(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::input(format!(
                "{} can be read by other users; run `chmod 600 {}` first",
                path.display(),
                path.display()
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_at(path, e))?;
    let value = text.lines().next().unwrap_or("").trim().to_string();
    if value.is_empty() {
        return Err(Error::input(format!("{} is empty", path.display())));
    }
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "(redacted) (redacted)");
        assert_eq!(s.expose(), "hunter2");
    }
}
