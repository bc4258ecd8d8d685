//! Clean text: everything read from a file or a server passes through here
//! before it reaches a terminal, a log or a report. Control characters (C0,
//! DEL, C1, ESC, BEL, backspace) and bidi controls are shown visibly as
//! `\u{1b}` instead of acting on the terminal; text a server supplied (error
//! details) is also cut to [`SERVER_TEXT_MAX`] characters.

use std::borrow::Cow;

/// Characters of server-supplied text kept in a message; the rest is "…".
pub const SERVER_TEXT_MAX: usize = 300;

/// Whether `c` would act on a terminal (or reorder what it shows) rather than print.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            o.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            o.push(c);
        }
    }
    Cow::Owned(o)
}

/// One value (a name, an id, a detail): every control character escaped, line breaks included.
pub fn clean(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// A whole message or view we built ourselves: line breaks and TABs kept, every
/// other control escaped.
pub fn clean_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

/// A rendered terminal view: like [`clean_lines`], and when colour is on for
/// stdout the SGR colour sequences (`ESC [ digits ; m`) that `console` wrote are kept.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    keep_colour(s, console::colors_enabled())
}

fn keep_colour(s: &str, colour: bool) -> Cow<'_, str> {
    if !colour {
        return clean_lines(s);
    }
    let mut o = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\x1b') {
        o.push_str(&clean_lines(&rest[..i]));
        let after = &rest[i + 1..];
        let sgr = after.strip_prefix('[').and_then(|a| {
            let n = a.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            (a[n..].starts_with('m')).then_some(n + 2)
        });
        match sgr {
            Some(len) => {
                o.push_str(&rest[i..i + 1 + len]);
                rest = &after[len..];
            }
            None => {
                o.push_str("\\u{1b}");
                rest = after;
            }
        }
    }
    o.push_str(&clean_lines(rest));
    Cow::Owned(o)
}

/// Text a server or a file supplied (an error detail, a parser's complaint
/// quoting the file, a column name): cleaned, trimmed and cut to
/// [`SERVER_TEXT_MAX`] characters with "…".
pub fn server_text(s: &str) -> String {
    let s = s.trim();
    let cut: String = match s.char_indices().nth(SERVER_TEXT_MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    };
    clean(&cut).into_owned()
}

/// How much of a file's unknown `format` string a refusal quotes.
pub const FORMAT_SHOWN: usize = 60;

/// A value quoted inside a message (a cell, a column name): one line, every
/// control escaped; past `max` characters, its first `max - 3` and "…".
pub fn excerpt(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    let cut: String = if one_line.chars().count() > max {
        format!(
            "{}…",
            one_line
                .chars()
                .take(max.saturating_sub(3))
                .collect::<String>()
        )
    } else {
        one_line
    };
    clean(&cut).into_owned()
}

/// Join names for a sentence: `a, b, c and 4 more`.
pub fn names_list<S: AsRef<str>>(names: &[S], max: usize) -> String {
    let shown: Vec<&str> = names.iter().take(max).map(AsRef::as_ref).collect();
    if names.len() <= max {
        shown.join(", ")
    } else {
        format!("{} and {} more", shown.join(", "), names.len() - max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_one_clean_bounded_line() {
        assert_eq!(excerpt("a\tb\nc", 60), "a\\u{9}b c");
        assert_eq!(excerpt(&"x".repeat(61), 60), format!("{}…", "x".repeat(57)));
        assert_eq!(excerpt(&"x".repeat(60), 60), "x".repeat(60));
    }

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(clean("a\x1b[2Jb\x07c\x08"), "a\\u{1b}[2Jb\\u{7}c\\u{8}");
        assert_eq!(
            clean("x\u{202E}y\u{2066}\u{200F}"),
            "x\\u{202e}y\\u{2066}\\u{200f}"
        );
        assert_eq!(clean("\u{9b}2J"), "\\u{9b}2J");
        assert!(matches!(clean("plain café ✓"), Cow::Borrowed(_)));
        assert_eq!(clean("a\nb"), "a\\u{a}b");
        assert_eq!(clean_lines("a\n\tb\rc"), "a\n\tb\\u{d}c");
    }

    #[test]
    fn server_text_is_cut() {
        let long = "x".repeat(100_000);
        let s = server_text(&long);
        assert_eq!(s.chars().count(), SERVER_TEXT_MAX + 1);
        assert!(s.ends_with('…'));
        assert_eq!(server_text("  short\x1b "), "short\\u{1b}");
    }

    #[test]
    fn terminal_view_keeps_only_colour_sequences() {
        let s = keep_colour("\x1b[32mok\x1b[0m \x1b[2J\x1b]0;t\x07", true);
        assert_eq!(keep_colour("\x1b[32mok", false), "\\u{1b}[32mok");
        assert_eq!(s, "\x1b[32mok\x1b[0m \\u{1b}[2J\\u{1b}]0;t\\u{7}");
    }
}
