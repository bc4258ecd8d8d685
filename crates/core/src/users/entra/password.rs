//! Initial passwords for new Entra users, chosen with `--initial-password`:
//! the file's own column (`from-file`), generated ones written only to the
//! 0600 `--password-out` file (`generate`), or a throw-away random one no one
//! is told (`none`: for federated / SSO-only sign-in, or onboarding by SSPR or
//! a Temporary Access Pass). Every password meets Entra's documented rule
//! before it is sent. Values live in [`Secret`]s: never printed or logged.

use crate::error::{Error, Result};
use crate::secret::Secret;
use std::path::Path;

/// How new users get their first password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordMode {
    /// The CSV's password column (Password, Initial password [passwordProfile]).
    FromFile,
    /// Generated, written to `--password-out` (userPrincipalName,password).
    Generate,
    /// A random password no one is told.
    #[default]
    None,
}

impl PasswordMode {
    pub fn parse(s: &str) -> Result<PasswordMode> {
        match s {
            "from-file" => Ok(PasswordMode::FromFile),
            "generate" => Ok(PasswordMode::Generate),
            "none" => Ok(PasswordMode::None),
            other => Err(Error::usage(format!(
                "--initial-password `{other}` is not known: use from-file, generate or none"
            ))),
        }
    }
}

/// The symbols Entra allows in a password (besides A–Z, a–z, 0–9).
pub const SYMBOLS: &str = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ";

/// Why `p` does not meet Entra's password rule (8–256 characters; three of
/// lowercase, uppercase, digit, symbol; only those characters), if it does not.
/// The sentence never quotes the password.
pub fn complexity_problem(p: &str) -> Option<String> {
    let n = p.chars().count();
    if !(8..=256).contains(&n) {
        return Some(format!(
            "the password is {n} characters long; Entra requires 8 to 256"
        ));
    }
    if let Some(c) = p
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !SYMBOLS.contains(*c))
    {
        let what = if c.is_ascii() {
            "a control character".to_string()
        } else {
            format!("the non-ASCII character U+{:04X}", c as u32)
        };
        return Some(format!(
            "the password contains {what}; Entra allows only A-Z, a-z, 0-9, spaces and the symbols {SYMBOLS}"
        ));
    }
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| SYMBOLS.contains(c)),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    (classes < 3).then(|| {
        format!(
            "the password uses {classes} of the 4 character kinds (lowercase, uppercase, digits, symbols); Entra requires 3"
        )
    })
}

/// A random 20-character password with every character kind (so it meets the rule).
pub fn generate() -> Secret {
    use rand::Rng;
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!@#$%^&*-_=+",
    ];
    let mut rng = rand::rng();
    let mut p: Vec<u8> = (0..20)
        .map(|i| {
            let set = SETS[i % 4];
            set[rng.random_range(0..set.len())]
        })
        .collect();
    for i in (1..p.len()).rev() {
        p.swap(i, rng.random_range(0..=i));
    }
    Secret::new(String::from_utf8(p).unwrap_or_default())
}

/// Write `userPrincipalName,password` lines (mode 0600, through a temporary
/// file and a rename). Called with no lines before the first write, to prove
/// the path is writable, and with the created users' passwords after.
pub fn write_file(path: &Path, lines: &[(String, Secret)]) -> Result<()> {
    let mut text = String::from("userPrincipalName,password\n");
    for (upn, p) in lines {
        text.push_str(upn);
        text.push(',');
        // A password with a comma or quote is quoted as CSV does.
        let v = p.expose();
        if v.contains([',', '"', '\n', '\r']) || v.starts_with(' ') || v.ends_with(' ') {
            text.push('"');
            text.push_str(&v.replace('"', "\"\""));
            text.push('"');
        } else {
            text.push_str(v);
        }
        text.push('\n');
    }
    crate::output::write_private_file(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_is_entras() {
        assert_eq!(complexity_problem("Temp123!"), None);
        assert_eq!(complexity_problem("temp1234"), Some("the password uses 2 of the 4 character kinds (lowercase, uppercase, digits, symbols); Entra requires 3".into()));
        assert!(
            complexity_problem("Tmp12!")
                .unwrap()
                .contains("6 characters")
        );
        assert!(complexity_problem("Tëmp1234!").unwrap().contains("U+00EB"));
        assert_eq!(complexity_problem("lower UPPER 1"), None);
        for _ in 0..200 {
            let p = generate();
            assert_eq!(complexity_problem(p.expose()), None, "{}", p.expose());
        }
        assert_eq!(format!("{:?}", generate()), "(redacted)");
    }
}
