//! Building SCIM filter expressions with correct quoting (RFC 7644 §3.4.2.2):
//! string values in double quotes, with `"` and `\` escaped, so
//! `userName eq "o'brien@contoso.com"` and `displayName eq "a \"b\""` work.

/// Quote a string value for a SCIM filter.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `attr eq "value"`.
pub fn eq(attr: &str, value: &str) -> String {
    format!("{attr} eq {}", quote(value))
}

/// Whether a value needs care in a filter (quotes, backslashes, apostrophes):
/// the planner reports these because some servers get them wrong.
pub fn needs_care(value: &str) -> bool {
    value.contains(['"', '\\', '\''])
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            eq("userName", "o'brien@x.com"),
            r#"userName eq "o'brien@x.com""#
        );
        assert_eq!(
            eq("displayName", r#"a "b" \c"#),
            r#"displayName eq "a \"b\" \\c""#
        );
        assert!(needs_care("o'brien"));
        assert!(!needs_care("plain@x.com"));
    }
}
