//! SCIM filter expressions (RFC 7644 §3.4.2.2) for the embedded store: parse
//! once, evaluate against a resource. Supports `eq ne co sw ew pr gt ge lt le`,
//! `and`/`or`/`not`, parentheses, value paths (`emails[type eq "work"]`) and the
//! Entra form `emails[type eq "work"].value eq "x"`. Attribute names are
//! case-insensitive; string comparison is case-insensitive except for `id`,
//! `externalId` and `meta.version` (their schemas say caseExact).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Cmp {
        path: String,
        op: Op,
        value: Value,
    },
    Present(String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[inner]` optionally followed by `.sub op value` / `.sub pr`.
    Elem {
        attr: String,
        inner: Box<Filter>,
        then: Option<Box<Filter>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Parse a filter; the error is a sentence for a SCIM `invalidFilter` answer.
pub fn parse(text: &str) -> Result<Filter, String> {
    let toks = lex(text)?;
    let mut p = Parser { toks, i: 0 };
    let f = p.or()?;
    if p.i != p.toks.len() {
        return Err(format!("unexpected `{}` in filter", p.toks[p.i].text()));
    }
    Ok(f)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    LBr,
    RBr,
    /// `.sub` right after `]`
    Dot(String),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::LBr => "[".into(),
            Tok::RBr => "]".into(),
            Tok::Dot(s) => format!(".{s}"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            '[' => {
                out.push(Tok::LBr);
                i += 1
            }
            ']' => {
                out.push(Tok::RBr);
                i += 1;
                if chars.get(i) == Some(&'.') {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && !chars[j].is_whitespace() && !"()[]".contains(chars[j])
                    {
                        j += 1;
                    }
                    out.push(Tok::Dot(chars[start..j].iter().collect()));
                    i = j;
                }
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string in filter".into()),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            match chars.get(i + 1) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some(c) => s.push(*c),
                                None => return Err("unterminated string in filter".into()),
                            }
                            i += 2;
                        }
                        Some(c) => {
                            s.push(*c);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()[]\"".contains(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.i), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn or(&mut self) -> Result<Filter, String> {
        let mut l = self.and()?;
        while self.peek_word("or") {
            self.i += 1;
            let r = self.and()?;
            l = Filter::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Filter, String> {
        let mut l = self.unary()?;
        while self.peek_word("and") {
            self.i += 1;
            let r = self.unary()?;
            l = Filter::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.i += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        match self.toks.get(self.i).cloned() {
            Some(Tok::Open) => {
                self.i += 1;
                let f = self.or()?;
                if self.toks.get(self.i) != Some(&Tok::Close) {
                    return Err("missing `)` in filter".into());
                }
                self.i += 1;
                Ok(f)
            }
            Some(Tok::Word(attr)) => {
                self.i += 1;
                if self.toks.get(self.i) == Some(&Tok::LBr) {
                    self.i += 1;
                    let inner = self.or()?;
                    if self.toks.get(self.i) != Some(&Tok::RBr) {
                        return Err("missing `]` in filter".into());
                    }
                    self.i += 1;
                    let then = if let Some(Tok::Dot(sub)) = self.toks.get(self.i).cloned() {
                        self.i += 1;
                        Some(Box::new(self.comparison(sub)?))
                    } else {
                        None
                    };
                    return Ok(Filter::Elem {
                        attr,
                        inner: Box::new(inner),
                        then,
                    });
                }
                self.comparison(attr)
            }
            Some(t) => Err(format!("unexpected `{}` in filter", t.text())),
            None => Err("filter ends too early".into()),
        }
    }
    fn comparison(&mut self, path: String) -> Result<Filter, String> {
        let op = match self.toks.get(self.i) {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(format!("expected an operator after `{path}`")),
        };
        self.i += 1;
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(format!("unknown operator `{other}`")),
        };
        let value = match self.toks.get(self.i).cloned() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => match w.parse::<f64>() {
                    Ok(n) => serde_json::Number::from_f64(n)
                        .map(Value::Number)
                        .unwrap_or(Value::String(w)),
                    // Entra's legacy unquoted form: `externalId eq jyoung`.
                    Err(_) => Value::String(w),
                },
            },
            _ => return Err(format!("expected a value after `{path}`")),
        };
        self.i += 1;
        Ok(Filter::Cmp { path, op, value })
    }
}

/// Object member lookup ignoring case.
pub fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let o = obj.as_object()?;
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The schema URNs the store knows. A path that starts with one of them names
/// that schema's attributes; the core URNs' attributes sit at the top level of
/// a resource (RFC 7644 §3.10), an extension's under its URN key (RFC 7643 §3.3).
const CORE_URNS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
];
const EXTENSION_URNS: &[&str] = &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];

/// `path` without a leading core schema URN (`urn:…:core:2.0:User:userName` ->
/// `userName`); other paths unchanged.
pub fn strip_core_urn(path: &str) -> &str {
    for urn in CORE_URNS {
        if let Some(rest) = strip_prefix_ci(path, urn).and_then(|r| r.strip_prefix(':')) {
            return rest;
        }
    }
    path
}

/// Whether `urn` is one of the core schema URNs (User, Group).
pub fn is_core_urn(urn: &str) -> bool {
    CORE_URNS.iter().any(|c| c.eq_ignore_ascii_case(urn))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// Split an extension path into (`urn:…:User`, `attr.sub`). The whole extension
/// (`urn:…:enterprise:2.0:User` alone) gives an empty rest. Known extension URNs
/// and the resource's own URN keys are matched first; an unknown URN is split
/// at its last colon (attribute names have none).
pub fn split_urn<'a>(resource: &Value, path: &'a str) -> Option<(&'a str, &'a str)> {
    strip_prefix_ci(path, "urn:")?;
    let keys = resource.as_object().into_iter().flat_map(|o| o.keys());
    for urn in EXTENSION_URNS
        .iter()
        .copied()
        .chain(keys.map(String::as_str))
    {
        match strip_prefix_ci(path, urn) {
            Some("") => return Some((path, "")),
            Some(rest) if rest.starts_with(':') => {
                return Some((&path[..urn.len()], &rest[1..]));
            }
            _ => {}
        }
    }
    let pos = path.rfind(':')?;
    Some((&path[..pos], &path[pos + 1..]))
}

/// All values at `path` (multi-valued attributes flattened).
pub fn values_at<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = strip_core_urn(path);
    if let Some((urn, rest)) = split_urn(resource, path) {
        return match get_ci(resource, urn) {
            Some(ext) if rest.is_empty() => vec![ext],
            Some(ext) => values_at(ext, rest),
            None => Vec::new(),
        };
    }
    let (head, tail) = match path.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (path, None),
    };
    let Some(v) = get_ci(resource, head) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    match tail {
        None => items,
        Some(t) => items.into_iter().flat_map(|i| values_at(i, t)).collect(),
    }
}

fn case_exact(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p == "id" || p == "externalid" || p == "meta.version"
}

fn cmp_one(v: &Value, op: Op, want: &Value, exact: bool) -> bool {
    let norm = |s: &str| {
        if exact {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    match (v, want) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (norm(a), norm(b));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        // "False"/"True" stored or sent as strings against booleans.
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => match op {
            Op::Eq => b.eq_ignore_ascii_case(if *a { "true" } else { "false" }),
            Op::Ne => !b.eq_ignore_ascii_case(if *a { "true" } else { "false" }),
            _ => false,
        },
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                _ => false,
            }
        }
        _ => false,
    }
}

impl Filter {
    pub fn matches(&self, r: &Value) -> bool {
        match self {
            Filter::Cmp { path, op, value } => {
                let vals = values_at(r, path);
                if *op == Op::Ne {
                    // ne: true when no value equals (an absent attribute is "not equal").
                    return !vals
                        .iter()
                        .any(|v| cmp_one(v, Op::Eq, value, case_exact(path)));
                }
                if value.is_null() {
                    return *op == Op::Eq && vals.is_empty();
                }
                vals.iter()
                    .any(|v| cmp_one(v, *op, value, case_exact(path)))
            }
            Filter::Present(path) => values_at(r, path).iter().any(|v| match v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Null => false,
                _ => true,
            }),
            Filter::And(a, b) => a.matches(r) && b.matches(r),
            Filter::Or(a, b) => a.matches(r) || b.matches(r),
            Filter::Not(a) => !a.matches(r),
            Filter::Elem { attr, inner, then } => values_at(r, attr)
                .into_iter()
                .any(|e| inner.matches(e) && then.as_ref().is_none_or(|t| t.matches(e))),
        }
    }

    /// `Some(value)` when the whole filter is `<attr> eq "<value>"` (index lookups).
    pub fn eq_on(&self, attr: &str) -> Option<&str> {
        match self {
            Filter::Cmp {
                path,
                op: Op::Eq,
                value: Value::String(s),
            } if path.eq_ignore_ascii_case(attr) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostile_input_never_panics() {
        let u = json!({"userName": "ü", "urn:ex:é": {"a": 1}, "urn:ex:ab": {"c": 1}, "emails": [{"type": "work"}]});
        for f in [
            "",
            "(",
            ")",
            "[",
            "]",
            "a[",
            "a]b[",
            "]",
            "\"",
            "a eq",
            "a eq \"\\",
            "urn:ex:é:a eq 1",
            "ü eq \"ü\"",
            "emails[type eq \"work\"].",
            "emails[].value eq 1",
            "not",
            "a pr and",
            "((a pr)",
        ] {
            if let Ok(p) = parse(f) {
                p.matches(&u);
            }
        }
        for p in ["urn:ex:é:a", "urn:", "urn:é", "urn:ex:éa", "urn:ex:aé:z"] {
            let _ = values_at(&u, p);
        }
        let mut r = u.clone();
        for path in [
            "a]b[",
            "x][",
            "emails[",
            "emails[type eq \"work\"]",
            "urn:ex:é:a.b",
            "urn:",
            "meta.x",
            "ü.ü",
            "members[value eq \"x\"].y",
        ] {
            for op in ["add", "replace", "remove"] {
                let _ = super::super::patch::apply(
                    &mut r,
                    &json!({"Operations": [{"op": op, "path": path, "value": "v"}]}),
                );
                let _ = super::super::patch::apply(
                    &mut r,
                    &json!({"Operations": [{"op": op, "path": path, "value": {"k": [1]}}]}),
                );
            }
        }
        let _ = super::super::patch::apply(
            &mut r,
            &json!({"Operations": [{"op": "add", "value": {"urn:ex:é": {"b": 2}, "a.b.c": 1}}]}),
        );
        let _ = super::super::patch::apply(&mut r, &json!({"Operations": "x"}));
        let _ = super::super::patch::apply(&mut r, &json!([]));
    }

    fn user() -> Value {
        json!({"id":"A1","userName":"O'Brien@X.com","externalId":"ext","active":true,
            "name":{"givenName":"Pat"},
            "emails":[{"type":"work","value":"pat@x.com"},{"type":"home","value":"p@home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}})
    }

    #[test]
    fn operators_and_paths() {
        let u = user();
        let t = |f: &str| parse(f).unwrap().matches(&u);
        assert!(t(r#"userName eq "o'brien@x.com""#));
        assert!(t(r#"USERNAME sw "o'b" and active eq true"#));
        assert!(!t(r#"externalId eq "EXT""#));
        assert!(t(r#"externalId eq "ext""#));
        assert!(t(r#"emails[type eq "work"].value eq "PAT@x.com""#));
        assert!(!t(r#"emails[type eq "work"].value eq "p@home""#));
        assert!(t(r#"emails[type eq "home" and value co "home"]"#));
        assert!(t(r#"emails.value eq "p@home""#));
        assert!(t(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#
        ));
        assert!(t(r#"title pr or name.givenName pr"#));
        assert!(t(r#"not (userName ew "y.com")"#));
        assert!(t(r#"displayName ne "x""#));
        assert!(t(r#"userName eq "a\"b" or id eq "A1""#));
        assert!(parse(r#"userName eq "a"#).is_err());
        assert!(parse("userName xx \"a\"").is_err());
        assert!(parse("(userName eq \"a\"").is_err());
        assert_eq!(
            parse(r#"userName eq "Q""#).unwrap().eq_on("username"),
            Some("Q")
        );
    }
}
