//! Entra attribute-mapping expressions: `[attr]`, `"literal"` and function calls
//! such as `Switch([IsSoftDeleted], , "False", "True", "True", "False")` or
//! `Join(" ", [givenName], [surname])`. Parsed once, evaluated per user.
//!
//! Values are strings or null, as in Entra (booleans are "True"/"False").
//! Unknown functions parse, but evaluating them is an error the planner can
//! report; the engine treats the attribute as unmapped for that user.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `[name]`
    Attr(String),
    /// `"text"`
    Lit(String),
    /// An empty argument (`Switch([x], , …)`): null.
    Empty,
    /// `Name(args…)`
    Call(String, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExprError(pub String);

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where attribute values come from when evaluating.
pub trait Source {
    /// The value of a source attribute (case-insensitive name), or None when null.
    fn get(&self, name: &str) -> Option<String>;
    /// How many values the attribute holds when it is multi-valued (a list
    /// with more than one entry); scoping filters need to know, because
    /// Microsoft does not support filtering on multi-valued attributes.
    fn count(&self, name: &str) -> usize {
        usize::from(self.get(name).is_some())
    }
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            text,
        };
        let e = p.expr()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(ExprError(format!(
                "unexpected `{}` in expression `{text}`",
                &text[p.i..]
            )));
        }
        Ok(e)
    }

    /// Source attributes this expression reads.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_attrs(&mut out);
        out
    }

    fn collect_attrs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Attr(a) => out.push(a),
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_attrs(out)),
            _ => {}
        }
    }

    /// Functions this expression calls that [`Expr::eval`] does not know.
    pub fn unsupported_functions(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk_calls(&mut |name| {
            if !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                out.push(name.to_string());
            }
        });
        out
    }

    fn walk_calls(&self, f: &mut dyn FnMut(&str)) {
        if let Expr::Call(name, args) = self {
            f(name);
            args.iter().for_each(|a| a.walk_calls(f));
        }
    }

    pub fn eval(&self, src: &dyn Source) -> Result<Option<String>, ExprError> {
        match self {
            Expr::Attr(a) => Ok(src.get(a)),
            Expr::Lit(s) => Ok(Some(s.clone())),
            Expr::Empty => Ok(None),
            Expr::Call(name, args) => call(name, args, src),
        }
    }
}

const SUPPORTED: &[&str] = &[
    "Switch",
    "Join",
    "ToLower",
    "ToUpper",
    "Coalesce",
    "Append",
    "IIF",
    "Not",
    "IsPresent",
    "IsNull",
    "IsNullOrEmpty",
    "Trim",
    "StripSpaces",
    "Replace",
    "Left",
    "Mid",
    "SelectUniqueValue",
    "NormalizeDiacritics",
    "SingleAppRoleAssignment",
    "Word",
];

fn call(name: &str, args: &[Expr], src: &dyn Source) -> Result<Option<String>, ExprError> {
    let ev = |i: usize| -> Result<Option<String>, ExprError> {
        args.get(i).map(|a| a.eval(src)).unwrap_or(Ok(None))
    };
    let lname = name.to_ascii_lowercase();
    let need = |n: usize| {
        if args.len() < n {
            Err(ExprError(format!(
                "{name}() needs at least {n} argument(s)"
            )))
        } else {
            Ok(())
        }
    };
    Ok(match lname.as_str() {
        "switch" => {
            need(2)?;
            let v = ev(0)?;
            let default = ev(1)?;
            let mut i = 2;
            let mut out = default;
            while i + 1 < args.len() {
                let key = ev(i)?;
                if key.is_some() && key == v {
                    out = ev(i + 1)?;
                    break;
                }
                i += 2;
            }
            out
        }
        "join" => {
            need(1)?;
            let sep = ev(0)?.unwrap_or_default();
            let mut parts = Vec::new();
            for i in 1..args.len() {
                if let Some(v) = ev(i)?.filter(|s| !s.is_empty()) {
                    parts.push(v);
                }
            }
            Some(parts.join(&sep))
        }
        "tolower" => {
            need(1)?;
            ev(0)?.map(|s| s.to_lowercase())
        }
        "toupper" => {
            need(1)?;
            ev(0)?.map(|s| s.to_uppercase())
        }
        "coalesce" | "selectuniquevalue" => {
            let mut out = None;
            for i in 0..args.len() {
                if let Some(v) = ev(i)?.filter(|s| !s.is_empty()) {
                    out = Some(v);
                    break;
                }
            }
            out
        }
        "append" => {
            need(2)?;
            match (ev(0)?, ev(1)?) {
                (Some(a), Some(b)) => Some(a + &b),
                (a, None) => a,
                (None, b) => b,
            }
        }
        "iif" => {
            need(3)?;
            if truthy(&ev(0)?) { ev(1)? } else { ev(2)? }
        }
        "not" => {
            need(1)?;
            Some(bool_str(!truthy(&ev(0)?)))
        }
        "ispresent" => Some(bool_str(ev(0)?.is_some_and(|s| !s.is_empty()))),
        "isnull" => Some(bool_str(ev(0)?.is_none())),
        "isnullorempty" => Some(bool_str(ev(0)?.is_none_or(|s| s.is_empty()))),
        "trim" => ev(0)?.map(|s| s.trim().to_string()),
        "stripspaces" => ev(0)?.map(|s| s.chars().filter(|c| !c.is_whitespace()).collect()),
        "normalizediacritics" => ev(0)?.map(|s| s.chars().map(strip_diacritic).collect()),
        "replace" => {
            // Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName, template)
            need(1)?;
            let source = ev(0)?;
            let old = ev(1)?;
            let pattern = ev(2)?;
            let replacement = ev(4)?.or(ev(5)?).unwrap_or_default();
            match (source, old, pattern) {
                (None, _, _) => None,
                (Some(s), Some(old), _) if !old.is_empty() => Some(s.replace(&old, &replacement)),
                (Some(s), _, Some(p)) => {
                    let re = regex::Regex::new(&p)
                        .map_err(|e| ExprError(format!("Replace(): bad pattern `{p}`: {e}")))?;
                    Some(re.replace_all(&s, replacement.as_str()).into_owned())
                }
                (Some(s), _, _) => Some(s),
            }
        }
        "left" => {
            need(2)?;
            let n: usize = ev(1)?.and_then(|n| n.trim().parse().ok()).unwrap_or(0);
            ev(0)?.map(|s| s.chars().take(n).collect())
        }
        "mid" => {
            need(3)?;
            let start: usize = ev(1)?.and_then(|n| n.trim().parse().ok()).unwrap_or(1);
            let len: usize = ev(2)?.and_then(|n| n.trim().parse().ok()).unwrap_or(0);
            ev(0)?.map(|s| s.chars().skip(start.saturating_sub(1)).take(len).collect())
        }
        "word" => {
            need(3)?;
            let n: usize = ev(1)?.and_then(|n| n.trim().parse().ok()).unwrap_or(1);
            let delims = ev(2)?.unwrap_or_else(|| " ".into());
            ev(0)?.and_then(|s| {
                s.split(|c| delims.contains(c))
                    .filter(|w| !w.is_empty())
                    .nth(n.saturating_sub(1))
                    .map(str::to_string)
            })
        }
        "singleapproleassignment" => ev(0)?,
        _ => {
            return Err(ExprError(format!(
                "the mapping function {name}() is not supported by scimshift yet"
            )));
        }
    })
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("true") || s == "1")
}

fn bool_str(b: bool) -> String {
    if b { "True".into() } else { "False".into() }
}

fn strip_diacritic(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'A',
        'É' | 'È' | 'Ê' | 'Ë' => 'E',
        'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' | 'Ø' => 'O',
        'Ú' | 'Ù' | 'Û' | 'Ü' => 'U',
        _ => c,
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Attr(a) => write!(f, "[{a}]"),
            Expr::Lit(s) => write!(f, "\"{}\"", s.replace('"', "\\\"")),
            Expr::Empty => Ok(()),
            Expr::Call(n, args) => {
                write!(f, "{n}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn err(&self, what: &str) -> ExprError {
        ExprError(format!(
            "{what} at position {} in expression `{}`",
            self.i + 1,
            self.text
        ))
    }
    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.ws();
        match self.s.get(self.i) {
            None => Ok(Expr::Empty),
            Some(b'[') => {
                let start = self.i + 1;
                let end = self.text[start..]
                    .find(']')
                    .ok_or_else(|| self.err("unclosed `[`"))?
                    + start;
                self.i = end + 1;
                Ok(Expr::Attr(self.text[start..end].trim().to_string()))
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let rest = &self.text[self.i..];
                    let mut chars = rest.char_indices();
                    match chars.next() {
                        None => return Err(self.err("unclosed string")),
                        Some((_, '\\')) => match chars.next() {
                            Some((j, c)) => {
                                out.push(c);
                                self.i += j + c.len_utf8();
                            }
                            None => return Err(self.err("unclosed string")),
                        },
                        Some((_, '"')) => {
                            self.i += 1;
                            break;
                        }
                        Some((_, c)) => {
                            out.push(c);
                            self.i += c.len_utf8();
                        }
                    }
                }
                Ok(Expr::Lit(out))
            }
            Some(b',') | Some(b')') => Ok(Expr::Empty),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
                {
                    self.i += 1;
                }
                let name = self.text[start..self.i].to_string();
                self.ws();
                if self.s.get(self.i) != Some(&b'(') {
                    // A bare word: Entra treats it as a constant.
                    return Ok(Expr::Lit(name));
                }
                self.i += 1;
                let mut args = Vec::new();
                loop {
                    args.push(self.expr()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b')') => {
                            self.i += 1;
                            break;
                        }
                        _ => return Err(self.err("expected `,` or `)`")),
                    }
                }
                if args.len() == 1 && args[0] == Expr::Empty {
                    args.clear();
                }
                Ok(Expr::Call(name, args))
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.')
                {
                    self.i += 1;
                }
                Ok(Expr::Lit(self.text[start..self.i].to_string()))
            }
            Some(_) => Err(self.err("unexpected character")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct M(HashMap<&'static str, &'static str>);
    impl Source for M {
        fn get(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        }
    }

    fn m(pairs: &[(&'static str, &'static str)]) -> M {
        M(pairs.iter().cloned().collect())
    }

    #[test]
    fn switch_for_active() {
        let e =
            Expr::parse(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#).unwrap();
        assert_eq!(
            e.eval(&m(&[("IsSoftDeleted", "False")]))
                .unwrap()
                .as_deref(),
            Some("True")
        );
        assert_eq!(
            e.eval(&m(&[("IsSoftDeleted", "True")])).unwrap().as_deref(),
            Some("False")
        );
        assert_eq!(e.attributes(), vec!["IsSoftDeleted"]);
    }

    #[test]
    fn join_and_case() {
        let e = Expr::parse(r#"Join(" ", [givenName], [surname])"#).unwrap();
        assert_eq!(
            e.eval(&m(&[("givenName", "Ada"), ("surname", "Lovelace")]))
                .unwrap()
                .as_deref(),
            Some("Ada Lovelace")
        );
        let e = Expr::parse("ToLower([mail])").unwrap();
        assert_eq!(
            e.eval(&m(&[("mail", "A@B.com")])).unwrap().as_deref(),
            Some("a@b.com")
        );
        assert_eq!(e.eval(&m(&[])).unwrap(), None);
    }

    #[test]
    fn escaped_quotes_and_errors() {
        let e = Expr::parse(r#"Append([a], "\"x\"")"#).unwrap();
        assert_eq!(
            e.eval(&m(&[("a", "1")])).unwrap().as_deref(),
            Some("1\"x\"")
        );
        assert!(Expr::parse("Join(\" \", [a]").is_err());
        let e = Expr::parse("FancyNew([a])").unwrap();
        assert_eq!(e.unsupported_functions(), vec!["FancyNew"]);
        assert!(e.eval(&m(&[])).is_err());
    }
}
