//! What every outcome must satisfy, whatever the input: an error is one
//! sentence (one line, bounded, no raw line break or TAB, not empty) and never
//! an "internal" error, which means a bug; and a run in which the server
//! elsewhere received a token is a finding however it ended.

use scimshift_core::error::{Error, ErrorKind};

/// The longest error message a hostile input may produce (server text is cut
/// to 300 characters; a message holds a few values and a sentence of advice).
pub const MAX_MESSAGE_CHARS: usize = 3_000;

/// An oracle's complaint: a short description, kept with the input as a finding.
pub type Violation = String;

/// Check an error; its outcome signature when it passes.
pub fn error(e: &Error) -> Result<String, Violation> {
    if e.kind == ErrorKind::Internal {
        return Err(format!(
            "an internal error (a bug) from input: {}",
            e.message
        ));
    }
    sentence(&e.message)?;
    Ok(signature(e))
}

/// One sentence: not empty, one line, bounded, no TAB.
pub fn sentence(m: &str) -> Result<(), Violation> {
    if m.trim().is_empty() {
        return Err("an empty error message".into());
    }
    let n = m.chars().count();
    if n > MAX_MESSAGE_CHARS {
        let head: String = m.chars().take(200).collect();
        return Err(format!(
            "an error message of {n} characters (more than {MAX_MESSAGE_CHARS}): {head}…"
        ));
    }
    // The binary prints a message through `text::clean_lines`, which escapes
    // every control character but the line break and TAB it keeps for views
    // of our own: those two must not come from an input.
    if let Some(c) = m.chars().find(|c| matches!(c, '\n' | '\t')) {
        let head: String = scimshift_core::text::clean(m).chars().take(300).collect();
        return Err(format!(
            "a raw control character U+{:04X} in an error message: {head}",
            c as u32
        ));
    }
    Ok(())
}

/// An outcome's class, so that the runner keeps an input that reaches a new
/// one: the error's kind and its first words, digits and quoted values dropped.
pub fn signature(e: &Error) -> String {
    let mut words = Vec::new();
    for w in e.message.split_whitespace() {
        if w.starts_with(['`', '"', '\'', '(']) || w.contains("://") || w.contains(':') {
            continue;
        }
        let w: String = w.chars().filter(|c| c.is_alphabetic()).collect();
        if !w.is_empty() {
            words.push(w);
        }
        if words.len() == 8 {
            break;
        }
    }
    format!("{:?}:{}", e.kind, words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_must_be_one_clean_bounded_line() {
        assert!(error(&Error::remote("the server said no")).is_ok());
        assert!(error(&Error::remote("two\nlines")).is_err());
        assert!(error(&Error::remote("a\tTAB")).is_err());
        assert!(error(&Error::remote("x".repeat(MAX_MESSAGE_CHARS + 1))).is_err());
        assert!(error(&Error::remote("  ")).is_err());
        assert!(error(&Error::internal("a bug")).is_err());
    }

    #[test]
    fn signatures_drop_values() {
        let a = signature(&Error::remote("http://127.0.0.1:1 answered 500: `boom`"));
        let b = signature(&Error::remote("http://127.0.0.1:2 answered 503: `bang`"));
        assert_eq!(a, b);
    }
}
