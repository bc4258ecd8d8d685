//! Entra attribute-mapping expressions: `[attr]`, `"literal"` and function calls
//! such as `Switch([IsSoftDeleted], , "False", "True", "True", "False")` or
//! `Join(" ", [givenName], [surname])`. Parsed once, evaluated per user.
//!
//! Values are strings or null, as in Entra (booleans are "True"/"False").
//! Each supported function behaves as Microsoft's "Reference for writing
//! expressions for attribute mappings in Microsoft Entra ID" documents it (the
//! tests cite it row by row); where the page leaves a case open or scimshift
//! cannot know the answer (a .NET-only regex, `SelectUniqueValue`'s directory
//! lookup, IIF on an empty attribute), evaluation is refused with a sentence
//! rather than approximated. Unknown functions parse, but evaluating them is an
//! error the planner can report; the engine treats the attribute as unmapped
//! for that user.

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
    /// `[country]="USA"`: a comparison, as IIF's condition allows (True/False).
    Compare(Box<Expr>, CmpOp, Box<Expr>),
}

/// The comparison operators Microsoft documents for IIF's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
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
            Expr::Compare(l, _, r) => {
                l.collect_attrs(out);
                r.collect_attrs(out);
            }
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
        match self {
            Expr::Call(name, args) => {
                f(name);
                args.iter().for_each(|a| a.walk_calls(f));
            }
            Expr::Compare(l, _, r) => {
                l.walk_calls(f);
                r.walk_calls(f);
            }
            _ => {}
        }
    }

    pub fn eval(&self, src: &dyn Source) -> Result<Option<String>, ExprError> {
        match self {
            Expr::Attr(a) => Ok(src.get(a)),
            Expr::Lit(s) => Ok(Some(s.clone())),
            Expr::Empty => Ok(None),
            Expr::Call(name, args) => call(name, args, src),
            Expr::Compare(l, op, r) => compare(l, *op, r, src).map(|b| Some(bool_str(b))),
        }
    }
}

/// `=` and `<>` compare text exactly (case-sensitive, as Switch does); the
/// ordering operators compare numbers and refuse anything else.
fn compare(l: &Expr, op: CmpOp, r: &Expr, src: &dyn Source) -> Result<bool, ExprError> {
    let a = l.eval(src)?.unwrap_or_default();
    let b = r.eval(src)?.unwrap_or_default();
    Ok(match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        _ => {
            let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) else {
                return Err(ExprError(format!(
                    "`{l}{}{r}` compares \"{a}\" with \"{b}\": {} needs two numbers",
                    op.as_str(),
                    op.as_str()
                )));
            };
            match op {
                CmpOp::Gt => x > y,
                CmpOp::Ge => x >= y,
                CmpOp::Lt => x < y,
                _ => x <= y,
            }
        }
    })
}

/// The functions [`Expr::eval`] evaluates as Microsoft's "Reference for writing
/// expressions for attribute mappings in Microsoft Entra ID" documents them
/// (learn.microsoft.com/entra/identity/app-provisioning/functions-for-customizing-application-data).
/// Each one has a table test citing that page. Functions Entra has but whose
/// result scimshift cannot know (`SelectUniqueValue` asks the target directory,
/// `SingleAppRoleAssignment` needs the user's role assignments) are refused
/// with a sentence instead of approximated, and so is `Trim`, which Entra does
/// not have.
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
    "StripSpaces",
    "Replace",
    "Left",
    "Mid",
    "NormalizeDiacritics",
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
            // Switch(source, defaultValue, key1, value1, key2, value2, …): keys
            // compare case-sensitively; a missing source matches the key "".
            need(4)?;
            if !args.len().is_multiple_of(2) {
                return Err(ExprError(format!(
                    "Switch() takes its keys and values in pairs, but has {} arguments (an even number is needed)",
                    args.len()
                )));
            }
            let v = ev(0)?.unwrap_or_default();
            let mut out = ev(1)?;
            for pair in (2..args.len()).step_by(2) {
                if ev(pair)?.unwrap_or_default() == v {
                    out = ev(pair + 1)?;
                    break;
                }
            }
            out
        }
        "join" => {
            need(2)?;
            let sep = ev(0)?.unwrap_or_default();
            let mut parts = Vec::new();
            for i in 1..args.len() {
                if let Some(v) = ev(i)?.filter(|s| !s.is_empty()) {
                    parts.push(v);
                }
            }
            Some(parts.join(&sep))
        }
        "tolower" | "toupper" => {
            need(1)?;
            if ev(1)?.is_some_and(|c| !c.is_empty()) {
                return Err(ExprError(format!(
                    "{name}() with a culture argument is not supported: scimshift converts case with the invariant culture only"
                )));
            }
            let upper = lname == "toupper";
            ev(0)?.map(|s| {
                if upper {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                }
            })
        }
        "coalesce" => {
            // The first argument that is not null; the last one is the default.
            need(1)?;
            let mut out = None;
            for i in 0..args.len() {
                if let Some(v) = ev(i)? {
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
            // "If the source attribute used within the IIF function is empty or
            // null, the condition check fails": refuse rather than guess.
            for a in args[0].attributes() {
                if src.get(a).is_none_or(|v| v.is_empty()) {
                    return Err(ExprError(format!(
                        "IIF() cannot decide: [{a}] in its condition is empty or null, and Entra's condition check then fails (test for empty values with Switch instead)"
                    )));
                }
            }
            match ev(0)? {
                Some(c) if c.eq_ignore_ascii_case("true") => ev(1)?,
                Some(c) if c.eq_ignore_ascii_case("false") => ev(2)?,
                other => {
                    return Err(ExprError(format!(
                        "IIF() needs a condition that is True or False, not {}",
                        other.map_or("null".to_string(), |c| format!("\"{c}\""))
                    )));
                }
            }
        }
        "not" => {
            // True becomes False; anything else becomes True.
            need(1)?;
            Some(bool_str(
                !ev(0)?.is_some_and(|s| s.eq_ignore_ascii_case("true")),
            ))
        }
        "ispresent" => {
            need(1)?;
            Some(bool_str(ev(0)?.is_some_and(|s| !s.is_empty())))
        }
        "isnull" => {
            need(1)?;
            Some(bool_str(ev(0)?.is_none()))
        }
        "isnullorempty" => {
            need(1)?;
            Some(bool_str(ev(0)?.is_none_or(|s| s.is_empty())))
        }
        "stripspaces" => {
            // Only the space character (" "), not other white space.
            need(1)?;
            ev(0)?.map(|s| s.replace(' ', ""))
        }
        "normalizediacritics" => {
            need(1)?;
            ev(0)?.map(|s| normalize_diacritics(&s))
        }
        "replace" => replace(args, src)?,
        "left" => {
            // Left(String, NumChars): 0 → "", < 0 → the whole string, null → "".
            need(2)?;
            let n = int_arg(name, "NumChars", ev(1)?)?;
            let s = ev(0)?.unwrap_or_default();
            Some(if n < 0 {
                s
            } else {
                s.chars().take(n as usize).collect()
            })
        }
        "mid" => {
            // Mid(source, start, length): start counts from 1; a length past the
            // end returns the rest of the string.
            need(3)?;
            let start = int_arg(name, "start", ev(1)?)?;
            let len = int_arg(name, "length", ev(2)?)?;
            if start < 1 || len < 0 {
                return Err(ExprError(format!(
                    "Mid() needs start >= 1 and length >= 0 (got {start} and {len})"
                )));
            }
            ev(0)?.map(|s| {
                s.chars()
                    .skip(start as usize - 1)
                    .take(len as usize)
                    .collect()
            })
        }
        "word" => {
            // Word(String, WordNumber, Delimiters): "" when the number is < 1,
            // the string is null, or it has fewer words.
            need(3)?;
            let n = int_arg(name, "WordNumber", ev(1)?)?;
            let delims = ev(2)?.unwrap_or_default();
            let s = ev(0)?.unwrap_or_default();
            Some(if n < 1 {
                String::new()
            } else {
                s.split(|c| delims.contains(c))
                    .filter(|w| !w.is_empty())
                    .nth(n as usize - 1)
                    .unwrap_or_default()
                    .to_string()
            })
        }
        "trim" => {
            return Err(ExprError(
                "Trim() is not an Entra mapping function (Microsoft's reference has no such function); use Replace() with a pattern"
                    .into(),
            ));
        }
        "selectuniquevalue" => {
            return Err(ExprError(
                "SelectUniqueValue() is not supported: its result depends on which values already exist in the target directory, and Entra offers it only for provisioning to Active Directory"
                    .into(),
            ));
        }
        "singleapproleassignment" => {
            return Err(ExprError(
                "SingleAppRoleAssignment() is not supported: scimshift does not read users' app role assignments as mapping input, so it cannot predict the role"
                    .into(),
            ));
        }
        _ => {
            return Err(ExprError(format!(
                "the mapping function {name}() is not supported by scimshift yet"
            )));
        }
    })
}

/// An integer argument, or a sentence naming it.
fn int_arg(func: &str, what: &str, v: Option<String>) -> Result<i64, ExprError> {
    let text = v.unwrap_or_default();
    text.trim().parse().map_err(|_| {
        ExprError(format!(
            "{func}() needs a whole number for {what}, not \"{text}\""
        ))
    })
}

/// `Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
/// replacementAttributeName, template)` in the five forms Microsoft documents;
/// any other combination is refused.
fn replace(args: &[Expr], src: &dyn Source) -> Result<Option<String>, ExprError> {
    if args.is_empty() {
        return Err(ExprError("Replace() needs at least 1 argument(s)".into()));
    }
    let ev = |i: usize| -> Result<Option<String>, ExprError> {
        args.get(i).map(|a| a.eval(src)).unwrap_or(Ok(None))
    };
    let given = |i: usize| args.get(i).is_some_and(|a| *a != Expr::Empty);
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let source = ev(0)?;
    let old = nonempty(ev(1)?);
    let pattern = nonempty(ev(2)?);
    let group = nonempty(ev(3)?);
    let regex = |p: &str| {
        regex::Regex::new(p).map_err(|e| {
            ExprError(format!(
                "Replace(): the pattern `{p}` is not one scimshift can run the way Entra (.NET) does: {e}"
            ))
        })
    };
    Ok(match (old, pattern) {
        (Some(old), None) if given(6) && !given(4) => {
            // oldValue + template: the source goes into the template.
            let template = ev(6)?.unwrap_or_default();
            source.map(|s| template.replace(&old, &s))
        }
        (Some(old), None) if given(4) => {
            let with = ev(4)?.unwrap_or_default();
            source.map(|s| s.replace(&old, &with))
        }
        (None, Some(p)) if group.is_some() && given(5) && !given(4) => {
            // regexPattern + regexGroupName + replacementAttributeName: the source
            // when it has a value, else the group's match in the other attribute.
            match source.filter(|s| !s.is_empty()) {
                Some(s) => Some(s),
                None => {
                    let re = regex(&p)?;
                    let group = group.unwrap_or_default();
                    ev(5)?.and_then(|other| {
                        re.captures(&other)
                            .and_then(|c| c.name(&group).map(|m| m.as_str().to_string()))
                    })
                }
            }
        }
        (None, Some(p)) if group.is_some() && given(4) => {
            // regexPattern + regexGroupName + replacementValue: every match of
            // the group becomes the replacement value.
            let re = regex(&p)?;
            let group = group.unwrap_or_default();
            let with = ev(4)?.unwrap_or_default();
            source.map(|s| {
                let mut out = String::new();
                let mut last = 0;
                for c in re.captures_iter(&s) {
                    if let Some(m) = c.name(&group) {
                        out.push_str(&s[last..m.start()]);
                        out.push_str(&with);
                        last = m.end();
                    }
                }
                out.push_str(&s[last..]);
                out
            })
        }
        (None, Some(p)) if group.is_none() && given(4) => {
            // regexPattern + replacementValue (which may name groups: ${name}).
            let re = regex(&p)?;
            let with = ev(4)?.unwrap_or_default();
            source.map(|s| re.replace_all(&s, with.as_str()).into_owned())
        }
        _ => {
            return Err(ExprError(
                "Replace() is given a combination of arguments Microsoft does not document: use oldValue with replacementValue or template, or regexPattern with replacementValue, or regexPattern and regexGroupName with replacementValue or replacementAttributeName"
                    .into(),
            ));
        }
    })
}

fn bool_str(b: bool) -> String {
    if b { "True".into() } else { "False".into() }
}

/// NormalizeDiacritics' table, as Microsoft's reference lists it: each
/// precomposed character and what it becomes. Combining marks (the table's
/// two-code-point entries such as "ā́") are dropped after their base letter.
const DIACRITICS: &[(&str, &str)] = &[
    ("äàâãåáąăāǟǡ", "a"),
    ("ÄÀÂÃÅÁĄĂĀǞǠ", "A"),
    ("æǣ", "ae"),
    ("ÆǢ", "AE"),
    ("çčć", "c"),
    ("ÇČĆ", "C"),
    ("ďḏ", "d"),
    ("ĎḎ", "D"),
    ("ëèéêęěėēḗḕ", "e"),
    ("ËÈÉÊĘĚĖĒḖḔ", "E"),
    ("ğḡ", "g"),
    ("ĞḠ", "G"),
    ("ïîìíıī", "i"),
    ("ÏÎÌÍİĪ", "I"),
    ("ľłḹḻ", "l"),
    ("ŁĽḸḺ", "L"),
    ("ñńňṉ", "n"),
    ("ÑŃŇṈ", "N"),
    ("öòőõôóōṓṑȫǭȭȱ", "o"),
    ("ÖÒŐÕÔÓŌṒṐȪǬȬȰ", "O"),
    ("øœ", "oe"),
    ("ØŒ", "OE"),
    ("řṟṝ", "r"),
    ("ŘṞṜ", "R"),
    ("ß", "ss"),
    ("šśșş", "s"),
    ("ŠŚȘŞ", "S"),
    ("ťțṯ", "t"),
    ("ŤȚṮ", "T"),
    ("üùûúůűūǖṻṳ", "u"),
    ("ÜÙÛÚŮŰŪǕṺṲ", "U"),
    ("ÿýȳ", "y"),
    ("ŸÝȲ", "Y"),
    ("źžżẕ", "z"),
    ("ŹŽŻẔ", "Z"),
];

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

fn normalize_diacritics(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_combining_mark(c) {
            continue;
        }
        match DIACRITICS.iter().find(|(from, _)| from.contains(c)) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
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
            Expr::Compare(l, op, r) => write!(f, "{l}{}{r}", op.as_str()),
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
    /// One argument: a value, optionally compared with another (`[a]="b"`).
    fn expr(&mut self) -> Result<Expr, ExprError> {
        let left = self.primary()?;
        if left == Expr::Empty {
            return Ok(left);
        }
        self.ws();
        let rest = &self.s[self.i..];
        let op = if rest.starts_with(b"<>") {
            CmpOp::Ne
        } else if rest.starts_with(b">=") {
            CmpOp::Ge
        } else if rest.starts_with(b"<=") {
            CmpOp::Le
        } else if rest.starts_with(b"=") {
            CmpOp::Eq
        } else if rest.starts_with(b">") {
            CmpOp::Gt
        } else if rest.starts_with(b"<") {
            CmpOp::Lt
        } else {
            return Ok(left);
        };
        self.i += op.as_str().len();
        let right = self.primary()?;
        if right == Expr::Empty {
            return Err(self.err("missing value after a comparison"));
        }
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
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

    /// What a row expects: a value, null, or a refusal whose sentence holds the text.
    enum Want {
        Val(&'static str),
        Null,
        Refused(&'static str),
    }
    use Want::*;

    /// Microsoft's "Reference for writing expressions for attribute mappings in
    /// Microsoft Entra ID"; each row names the section (#anchor) its input and
    /// output come from.
    const REF: &str = "https://learn.microsoft.com/entra/identity/app-provisioning/functions-for-customizing-application-data";

    type Row = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        Want,
    );

    fn check(rows: &[Row]) {
        for (cite, text, inputs, want) in rows {
            let at = format!("{REF}{cite}: `{text}` with {inputs:?}");
            let e = Expr::parse(text).unwrap_or_else(|err| panic!("{at}: does not parse: {err}"));
            let got = e.eval(&m(inputs));
            match want {
                Val(v) => assert_eq!(got, Ok(Some(v.to_string())), "{at}"),
                Null => assert_eq!(got, Ok(None), "{at}"),
                Refused(why) => {
                    let err = got.expect_err(&at);
                    assert!(
                        err.0.contains(why),
                        "{at}: refusal `{err}` should say `{why}`"
                    );
                }
            }
        }
    }

    #[test]
    fn append() {
        check(&[(
            "#append",
            r#"Append([userPrincipalName], ".test")"#,
            &[("userPrincipalName", "John.Doe@contoso.com")],
            Val("John.Doe@contoso.com.test"),
        )]);
    }

    #[test]
    fn coalesce() {
        check(&[
            (
                "#coalesce",
                "Coalesce([mail],[userPrincipalName])",
                &[("userPrincipalName", "John.Doe@contoso.com")],
                Val("John.Doe@contoso.com"),
            ),
            // "If all arguments are NULL and defaultValue is present, the defaultValue is returned."
            ("#coalesce", r#"Coalesce([mail], "none")"#, &[], Val("none")),
            // "... and defaultValue isn't present, Coalesce returns NULL."
            (
                "#coalesce",
                "Coalesce([mail],[userPrincipalName])",
                &[],
                Null,
            ),
            // "Returns the first source value that isn't NULL": an empty string is not NULL.
            (
                "#coalesce",
                "Coalesce([mail],[userPrincipalName])",
                &[("mail", ""), ("userPrincipalName", "j@contoso.com")],
                Val(""),
            ),
        ]);
    }

    #[test]
    fn iif_with_comparisons() {
        let usa = r#"IIF([country]="USA",[country],[department])"#;
        let and = r#"IIF([country]="USA",IIF([state]="CA","True","False"),"False")"#;
        let or = r#"IIF([country]="USA","True",IIF([state]="CA","True","False"))"#;
        check(&[
            (
                "#iif",
                usa,
                &[("country", "USA"), ("department", "Sales")],
                Val("USA"),
            ),
            (
                "#iif",
                usa,
                &[("country", "NZ"), ("department", "Sales")],
                Val("Sales"),
            ),
            (
                "#known-limitations",
                and,
                &[("country", "USA"), ("state", "CA")],
                Val("True"),
            ),
            (
                "#known-limitations",
                and,
                &[("country", "USA"), ("state", "WA")],
                Val("False"),
            ),
            (
                "#known-limitations",
                or,
                &[("country", "NZ"), ("state", "CA")],
                Val("True"),
            ),
            (
                "#known-limitations",
                or,
                &[("country", "NZ"), ("state", "WA")],
                Val("False"),
            ),
            // "If the source attribute used within the IIF function is empty or null, the condition check fails."
            (
                "#known-limitations",
                r#"IIF([country]="","Other",[country])"#,
                &[("country", "")],
                Refused("[country] in its condition is empty or null"),
            ),
            (
                "#known-limitations",
                r#"IIF(IsNullOrEmpty([country]),"Other",[country])"#,
                &[],
                Refused("[country] in its condition is empty or null"),
            ),
            (
                "#known-limitations",
                r#"IIF(IsPresent([country]),[country],"Other")"#,
                &[],
                Refused("[country] in its condition is empty or null"),
            ),
            // The recommended workaround.
            (
                "#known-limitations",
                r#"Switch([country],[country],"","Other")"#,
                &[("country", "")],
                Val("Other"),
            ),
            (
                "#known-limitations",
                r#"Switch([country],[country],"","Other")"#,
                &[],
                Val("Other"),
            ),
            (
                "#known-limitations",
                r#"Switch([country],[country],"","Other")"#,
                &[("country", "NZ")],
                Val("NZ"),
            ),
            // ">", ">=", "<", "<=" and "<>" are the other documented operators.
            (
                "#iif",
                r#"IIF([age]>=18,"adult","minor")"#,
                &[("age", "18")],
                Val("adult"),
            ),
            (
                "#iif",
                r#"IIF([age]<18,"minor","adult")"#,
                &[("age", "30")],
                Val("adult"),
            ),
            (
                "#iif",
                r#"IIF([country]<>"USA","abroad","home")"#,
                &[("country", "NZ")],
                Val("abroad"),
            ),
            (
                "#iif",
                r#"IIF([age]>"x","a","b")"#,
                &[("age", "3")],
                Refused("needs two numbers"),
            ),
        ]);
        assert_eq!(
            Expr::parse(usa).unwrap().to_string(),
            r#"IIF([country]="USA", [country], [department])"#
        );
    }

    #[test]
    fn is_null_is_null_or_empty_is_present() {
        check(&[
            // "Returns True if the attribute isn't present."
            ("#isnull", "IsNull([displayName])", &[], Val("True")),
            (
                "#isnull",
                "IsNull([displayName])",
                &[("displayName", "")],
                Val("False"),
            ),
            // "Returns True if the attribute isn't present or is an empty string."
            (
                "#isnullorempty",
                "IsNullOrEmpty([displayName])",
                &[],
                Val("True"),
            ),
            (
                "#isnullorempty",
                "IsNullOrEmpty([displayName])",
                &[("displayName", "")],
                Val("True"),
            ),
            (
                "#isnullorempty",
                "IsNullOrEmpty([displayName])",
                &[("displayName", "Ada")],
                Val("False"),
            ),
            // "The inverse of this function is named IsNullOrEmpty."
            ("#ispresent", "IsPresent([displayName])", &[], Val("False")),
            (
                "#ispresent",
                "IsPresent([displayName])",
                &[("displayName", "")],
                Val("False"),
            ),
            (
                "#ispresent",
                "IsPresent([displayName])",
                &[("displayName", "Ada")],
                Val("True"),
            ),
        ]);
    }

    #[test]
    fn join() {
        let upn = r#"Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com")"#;
        check(&[
            (
                "#add-a-comma-between-last-name-and-first-name",
                r#"Join(", ", "", [surname], [givenName])"#,
                &[("givenName", "John"), ("surname", "Doe")],
                Val("Doe, John"),
            ),
            (
                "#selectuniquevalue",
                upn,
                &[
                    ("PreferredFirstName", "John"),
                    ("PreferredLastName", "Smith"),
                ],
                Val("John.Smith@contoso.com"),
            ),
        ]);
    }

    #[test]
    fn left() {
        check(&[
            ("#left", r#"Left("John Doe", 3)"#, &[], Val("Joh")),
            // "If numChars = 0, return empty string."
            ("#left", r#"Left("John Doe", 0)"#, &[], Val("")),
            // "If numChars < 0, return input string."
            ("#left", r#"Left("John Doe", -1)"#, &[], Val("John Doe")),
            // "If string is null, return empty string."
            ("#left", "Left([nickname], 3)", &[], Val("")),
            // "... fewer characters than the number specified ... identical to string"
            ("#left", r#"Left("Jo", 3)"#, &[], Val("Jo")),
            (
                "#left",
                r#"Left("Jo", "x")"#,
                &[],
                Refused("needs a whole number for NumChars"),
            ),
        ]);
    }

    #[test]
    fn mid() {
        check(&[
            (
                "#generate-user-alias-by-concatenating-parts-of-first-and-last-name",
                "Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))",
                &[("givenName", "John"), ("surname", "Doe")],
                Val("JohDoe"),
            ),
            // "First character in the string has an index of 1."
            ("#mid", r#"Mid("John", 2, 2)"#, &[], Val("oh")),
            // "If length ends outside the source string, ... until end of source string."
            ("#mid", r#"Mid("John", 3, 10)"#, &[], Val("hn")),
            (
                "#mid",
                r#"Mid("John", 0, 2)"#,
                &[],
                Refused("needs start >= 1"),
            ),
        ]);
    }

    /// Each row of Microsoft's NormalizeDiacritics table, as the page prints it.
    const DIACRITIC_ROWS: &[(&str, &str)] = &[
        ("ä, à, â, ã, å, á, ą, ă, ā, ā́, ā̀, ā̂, ā̃, ǟ, ā̈, ǡ, a̱, å̄", "a"),
        ("Ä, À, Â, Ã, Å, Á, Ą, Ă, Ā, Ā́, Ā̀, Ā̂, Ā̃, Ǟ, Ā̈, Ǡ, A̱, Å̄", "A"),
        ("æ, ǣ", "ae"),
        ("Æ, Ǣ", "AE"),
        ("ç, č, ć, c̄, c̱", "c"),
        ("Ç, Č, Ć, C̄, C̱", "C"),
        ("ď, d̄, ḏ", "d"),
        ("Ď, D̄, Ḏ", "D"),
        ("ë, è, é, ê, ę, ě, ė, ē, ḗ, ḕ, ē̂, ē̃, ê̄, e̱, ë̄, e̊̄", "e"),
        ("Ë, È, É, Ê, Ę, Ě, Ė, Ē, Ḗ, Ḕ, Ē̂, Ē̃, Ê̄, E̱, Ë̄, E̊̄", "E"),
        ("ğ, ḡ, g̱", "g"),
        ("Ğ, Ḡ, G̱", "G"),
        ("ï, î, ì, í, ı, ī, ī́, ī̀, ī̂, ī̃, i̱", "i"),
        ("Ï, Î, Ì, Í, İ, Ī, Ī́, Ī̀, Ī̂, Ī̃, I̱", "I"),
        ("ľ, ł, l̄, ḹ, ḻ", "l"),
        ("Ł, Ľ, L̄, Ḹ, Ḻ", "L"),
        ("ñ, ń, ň, n̄, ṉ", "n"),
        ("Ñ, Ń, Ň, N̄, Ṉ", "N"),
        ("ö, ò, ő, õ, ô, ó, ō, ṓ, ṑ, ō̂, ō̃, ȫ, ō̈, ǭ, ȭ, ȱ, o̱", "o"),
        ("Ö, Ò, Ő, Õ, Ô, Ó, Ō, Ṓ, Ṑ, Ō̂, Ō̃, Ȫ, Ō̈, Ǭ, Ȭ, Ȱ, O̱", "O"),
        ("ø, ø̄, œ̄", "oe"),
        ("Ø, Ø̄, Œ̄", "OE"),
        ("ř, r̄, ṟ, ṝ", "r"),
        ("Ř, R̄, Ṟ, Ṝ", "R"),
        ("ß", "ss"),
        ("š, ś, ș, ş, s̄, s̱", "s"),
        ("Š, Ś, Ș, Ş, S̄, S̱", "S"),
        ("ť, ț, t̄, ṯ", "t"),
        ("Ť, Ț, T̄, Ṯ", "T"),
        ("ü, ù, û, ú, ů, ű, ū, ū́, ū̀, ū̂, ū̃, u̇̄, ǖ, ṻ, ṳ̄, u̱", "u"),
        ("Ü, Ù, Û, Ú, Ů, Ű, Ū, Ū́, Ū̀, Ū̂, Ū̃, U̇̄, Ǖ, Ṻ, Ṳ̄, U̱", "U"),
        ("ÿ, ý, ȳ, ȳ́, ȳ̀, ȳ̃, y̱", "y"),
        ("Ÿ, Ý, Ȳ, Ȳ́, Ȳ̀, Ȳ̃, Y̱", "Y"),
        ("ź, ž, ż, z̄, ẕ", "z"),
        ("Ź, Ž, Ż, Z̄, Ẕ", "Z"),
    ];

    #[test]
    fn normalize_diacritics_table_and_example() {
        check(&[(
            "#normalizediacritics",
            "NormalizeDiacritics([givenName])",
            &[("givenName", "Zoë")],
            Val("Zoe"),
        )]);
        let e = Expr::parse("NormalizeDiacritics([givenName])").unwrap();
        for (chars, want) in DIACRITIC_ROWS {
            for c in chars.split(", ") {
                let src = M(HashMap::from([("givenName", c)]));
                assert_eq!(
                    e.eval(&src).unwrap().as_deref(),
                    Some(*want),
                    "{REF}#normalizediacritics: `{c}` ({:?}) becomes `{want}`",
                    c.chars()
                        .map(|c| format!("U+{:04X}", c as u32))
                        .collect::<Vec<_>>()
                );
            }
        }
        // Plain letters and other scripts pass through.
        let src = M(HashMap::from([("givenName", "Zoe Smith 李")]));
        assert_eq!(e.eval(&src).unwrap().as_deref(), Some("Zoe Smith 李"));
    }

    #[test]
    fn not() {
        check(&[
            // "If source value is True, returns False. Otherwise, returns True."
            ("#not", "Not([flag])", &[("flag", "True")], Val("False")),
            ("#not", "Not([flag])", &[("flag", "False")], Val("True")),
            ("#not", "Not([flag])", &[("flag", "1")], Val("True")),
            ("#not", "Not([flag])", &[], Val("True")),
        ]);
    }

    #[test]
    fn replace() {
        let phone = r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )"#;
        check(&[
            (
                "#replace",
                r#"Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )"#,
                &[("BusinessTitle", "Product Developer")],
                Val("Software Engineer"),
            ),
            (
                "#replace",
                r#"Replace([UserID],"<username>", , , , , "<username>@contoso.com")"#,
                &[("UserID", "jsmith")],
                Val("jsmith@contoso.com"),
            ),
            (
                "#replace",
                phone,
                &[("telephoneNumber", "+91 9998887777")],
                Val("9998887777"),
            ),
            // The page prints 19998887777, but its pattern has no `+` in the
            // class, so every regex engine (.NET's too) keeps the leading `+`.
            (
                "#replace",
                r#"Replace([mobile], , "[()\\s-]+", , "", , )"#,
                &[("mobile", "+1 (999) 888-7777")],
                Val("+19998887777"),
            ),
            (
                "#replace",
                r#"Replace([AddressLineData], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )"#,
                &[("AddressLineData", "545 Tremont Street")],
                Val("888 Tremont Street"),
            ),
            (
                "#replace",
                r#"Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )"#,
                &[("userPrincipalName", "jsmith@contoso.com")],
                Val("jsmith"),
            ),
            (
                "#replace",
                r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )"#,
                &[("telephoneNumber", ""), ("mobile", "+91 8887779999")],
                Val("8887779999"),
            ),
            (
                "#replace",
                r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )"#,
                &[
                    ("telephoneNumber", "+1 5550100"),
                    ("mobile", "+91 8887779999"),
                ],
                Val("+1 5550100"),
            ),
            (
                "#replace",
                r#"Replace([mailNickname], , "[a-zA-Z_]*", , "", , )"#,
                &[("mailNickname", "john_doe72")],
                Val("72"),
            ),
            (
                "#strip-known-domain-name",
                r#"Replace([mail], "@contoso.com", , ,"", ,)"#,
                &[("mail", "john.doe@contoso.com")],
                Val("john.doe"),
            ),
            // "Replaces values within a string in a case-sensitive manner."
            (
                "#replace",
                r#"Replace([mail], "@contoso.com", , ,"", ,)"#,
                &[("mail", "john.doe@CONTOSO.com")],
                Val("john.doe@CONTOSO.com"),
            ),
            // .NET patterns the Rust engine cannot run are refused, not guessed.
            (
                "#replace",
                r#"Replace([mail], , "(?<=@)contoso", , "x", , )"#,
                &[("mail", "a@contoso.com")],
                Refused("is not one scimshift can run"),
            ),
            (
                "#replace",
                r#"Replace([mail], "@contoso.com")"#,
                &[("mail", "a@contoso.com")],
                Refused("a combination of arguments Microsoft does not document"),
            ),
        ]);
    }

    #[test]
    fn strip_spaces() {
        check(&[
            // "Removes all space (" ") characters from the source string."
            (
                "#stripspaces",
                "StripSpaces([displayName])",
                &[("displayName", " John  Doe ")],
                Val("JohnDoe"),
            ),
            (
                "#stripspaces",
                "StripSpaces([displayName])",
                &[("displayName", "John\tDoe")],
                Val("John\tDoe"),
            ),
        ]);
    }

    #[test]
    fn switch() {
        let tz = r#"Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")"#;
        check(&[
            (
                "#switch",
                tz,
                &[("state", "QLD")],
                Val("Australia/Brisbane"),
            ),
            ("#switch", tz, &[("state", "WA")], Val("Australia/Sydney")),
            // "Switch function performs a case-sensitive string comparison".
            (
                "#switch",
                r#"Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")"#,
                &[("statusFlag", "TRUE")],
                Val("1"),
            ),
            (
                "#switch",
                r#"Switch([statusFlag], "0", "true", "1", "false", "0")"#,
                &[("statusFlag", "TRUE")],
                Val("0"),
            ),
            // "if the source attribute statusFlag is empty, the Switch function returns the value 0".
            (
                "#switch",
                r#"Switch([statusFlag], "Default Value", "true", "1", "", "0")"#,
                &[("statusFlag", "")],
                Val("0"),
            ),
            (
                "#switch",
                r#"Switch([statusFlag], "Default Value", "true", "1", "", "0")"#,
                &[],
                Val("0"),
            ),
            // Entra's own default for SCIM `active`.
            (
                "#switch",
                r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#,
                &[("IsSoftDeleted", "False")],
                Val("True"),
            ),
            (
                "#switch",
                r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#,
                &[("IsSoftDeleted", "True")],
                Val("False"),
            ),
            // "The function always expects an even number of parameters."
            (
                "#switch",
                r#"Switch([state], "x", "NSW", "a", "QLD")"#,
                &[("state", "NSW")],
                Refused("even number"),
            ),
        ]);
    }

    #[test]
    fn to_lower_and_to_upper() {
        check(&[
            (
                "#tolower",
                r#"ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))"#,
                &[
                    ("PreferredFirstName", "John"),
                    ("PreferredLastName", "Smith"),
                ],
                Val("john.smith@contoso.com"),
            ),
            (
                "#toupper",
                "ToUpper([mail])",
                &[("mail", "john.smith@contoso.com")],
                Val("JOHN.SMITH@CONTOSO.COM"),
            ),
            ("#tolower", "ToLower([mail])", &[], Null),
            // A culture changes the rules (tr-TR's dotless i); refused rather than ignored.
            (
                "#tolower",
                r#"ToLower([mail], "tr-TR")"#,
                &[("mail", "I")],
                Refused("culture"),
            ),
        ]);
    }

    #[test]
    fn word() {
        check(&[
            (
                "#word",
                r#"Word("The quick brown fox",3," ")"#,
                &[],
                Val("brown"),
            ),
            (
                "#word",
                r#"Word("This,string!has&many separators",3,",!&#")"#,
                &[],
                Val("has"),
            ),
            // "If number < 1, returns empty string."
            (
                "#word",
                r#"Word("The quick brown fox",0," ")"#,
                &[],
                Val(""),
            ),
            // "If string is null, returns empty string."
            ("#word", r#"Word([title],1," ")"#, &[], Val("")),
            // "If string contains less than number words ... an empty string is returned."
            ("#word", r#"Word("The quick",3," ")"#, &[], Val("")),
        ]);
    }

    #[test]
    fn functions_scimshift_cannot_predict_are_refused_with_a_sentence() {
        let unique = r#"SelectUniqueValue(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"), Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"))"#;
        let john = &[
            ("PreferredFirstName", "John"),
            ("PreferredLastName", "Smith"),
        ];
        check(&[
            (
                "#selectuniquevalue",
                unique,
                john,
                Refused("depends on which values already exist in the target"),
            ),
            (
                "#singleapproleassignment",
                "SingleAppRoleAssignment([appRoleAssignments])",
                &[],
                Refused("does not read users' app role assignments"),
            ),
            (
                "#list-of-functions",
                "Trim([displayName])",
                &[("displayName", " a ")],
                Refused("not an Entra mapping function"),
            ),
            (
                "#list-of-functions",
                "FancyNew([a])",
                &[],
                Refused("not supported by scimshift yet"),
            ),
        ]);
        for (text, name) in [
            (unique, "SelectUniqueValue"),
            (
                "SingleAppRoleAssignment([appRoleAssignments])",
                "SingleAppRoleAssignment",
            ),
            ("Trim([a])", "Trim"),
        ] {
            assert_eq!(
                Expr::parse(text).unwrap().unsupported_functions(),
                vec![name],
                "{text}"
            );
        }
        // Every function the evaluator claims is exercised by a table above.
        assert_eq!(SUPPORTED.len(), 17);
    }

    #[test]
    fn attributes_escapes_and_parse_errors() {
        let e =
            Expr::parse(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#).unwrap();
        assert_eq!(e.attributes(), vec!["IsSoftDeleted"]);
        // "Company name: \"Contoso\"" (the syntax overview's escaping example).
        let e = Expr::parse(r#"Append([a], "Company name: \"Contoso\"")"#).unwrap();
        assert_eq!(
            e.eval(&m(&[("a", "1 ")])).unwrap().as_deref(),
            Some("1 Company name: \"Contoso\"")
        );
        assert!(Expr::parse("Join(\" \", [a]").is_err());
        assert!(Expr::parse(r#"IIF([a]=, "x", "y")"#).is_err());
        let e = Expr::parse(r#"IIF([country]="USA",[country],[department])"#).unwrap();
        assert_eq!(e.attributes(), vec!["country", "country", "department"]);
    }
}
