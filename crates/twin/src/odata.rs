//! The OData query options the twin's Graph side understands: `$filter`
//! (`eq`, `in`, `startswith`, joined by `and`; at most 15 values in `in`
//! lists, Graph's limit without advanced queries), `$select`, `$top`,
//! `$count` and `$skiptoken` paging with absolute `@odata.nextLink`s.
//!
//! It stops at what scimshift sends; anything else is refused the way Graph
//! refuses it (400 with Graph's wording where we know it).

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The parsed query string of one Graph request.
#[derive(Debug, Clone, Default)]
pub struct ODataQuery {
    /// All pairs as sent (decoded), in order.
    pub pairs: Vec<(String, String)>,
    pub filter: Option<Filter>,
    pub select: Option<Vec<String>>,
    pub top: Option<usize>,
    pub skip: usize,
    pub count: bool,
}

/// Graph's limit on the values of `in` lists in one `$filter` (without
/// `ConsistencyLevel: eventual`, which the twin does not model).
pub const MAX_IN_VALUES: usize = 15;

/// Why a query option was refused: (Graph error code, message).
pub type QueryError = (&'static str, String);

impl ODataQuery {
    /// Parse a raw query string. `$`-less names (`filter=`) are accepted like Graph does.
    pub fn parse(raw: Option<&str>) -> Result<ODataQuery, QueryError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let mut q = ODataQuery {
            pairs: pairs.clone(),
            ..Default::default()
        };
        for (k, v) in &pairs {
            let key = k.trim_start_matches('$').to_ascii_lowercase();
            match key.as_str() {
                "filter" => {
                    let f = Filter::parse(v).map_err(|m| ("BadRequest", m))?;
                    let alternatives: usize =
                        f.0.iter()
                            .map(|c| match c {
                                Cond::In(_, vs) => vs.len(),
                                _ => 0,
                            })
                            .sum();
                    if alternatives > MAX_IN_VALUES {
                        return Err((
                            "Request_UnsupportedQuery",
                            format!(
                                "Too many child clauses specified in search filter expression containing 'OR' operators: {alternatives}. Max allowed: {MAX_IN_VALUES}."
                            ),
                        ));
                    }
                    q.filter = Some(f)
                }
                "select" => {
                    q.select = Some(
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "top" => {
                    let n: i64 = v.trim().parse().map_err(|_| {
                        ("BadRequest", format!("Invalid page size specified: '{v}'. Must be between 1 and 999 inclusive."))
                    })?;
                    if !(1..=999).contains(&n) {
                        return Err((
                            "Request_BadRequest",
                            format!(
                                "Invalid page size specified: '{n}'. Must be between 1 and 999 inclusive."
                            ),
                        ));
                    }
                    q.top = Some(n as usize);
                }
                "skiptoken" => {
                    q.skip = decode_skiptoken(v)
                        .ok_or(("Request_BadRequest", "Invalid skip token.".to_string()))?
                }
                "count" => q.count = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        Ok(q)
    }

    /// Refuse filters on properties the resource does not support filtering on.
    pub fn check_filter(&self, allowed: &[&str], resource: &str) -> Result<(), QueryError> {
        if let Some(f) = &self.filter {
            for c in &f.0 {
                let p = c.prop();
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(p)) {
                    return Err((
                        "Request_UnsupportedQuery",
                        format!(
                            "Unsupported or invalid query filter clause specified for property '{p}' of resource '{resource}'."
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Keep the items the filter accepts.
    pub fn apply_filter(&self, items: Vec<Value>, case_insensitive: bool) -> Vec<Value> {
        match &self.filter {
            Some(f) => items
                .into_iter()
                .filter(|v| f.matches(v, case_insensitive))
                .collect(),
            None => items,
        }
    }
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Eq(String, Value),
    /// `prop in ('a', 'b')`: equal to any of the values.
    In(String, Vec<Value>),
    StartsWith(String, String),
}

impl Cond {
    pub fn prop(&self) -> &str {
        match self {
            Cond::Eq(p, _) | Cond::In(p, _) | Cond::StartsWith(p, _) => p,
        }
    }
}

/// `got` equals `want` as `eq` compares (strings case-insensitively when `ci`).
fn equal(got: Option<&Value>, want: &Value, ci: bool) -> bool {
    match (got, want) {
        (None | Some(Value::Null), Value::Null) => true,
        (Some(Value::String(a)), Value::String(b)) => {
            if ci {
                a.to_lowercase() == b.to_lowercase()
            } else {
                a == b
            }
        }
        (Some(a), b) => a == b,
        _ => false,
    }
}

/// Conditions joined by `and`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(pub Vec<Cond>);

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut p = FilterParser {
            s: text.as_bytes(),
            i: 0,
        };
        let mut conds = vec![p.cond().map_err(|e| invalid_filter(text, &e))?];
        loop {
            p.ws();
            if p.i >= p.s.len() {
                break;
            }
            if !p.keyword("and") {
                return Err(invalid_filter(text, "only `and` can join conditions here"));
            }
            conds.push(p.cond().map_err(|e| invalid_filter(text, &e))?);
        }
        Ok(Filter(conds))
    }

    /// The string value of an `eq` condition on `prop`, if the filter has one.
    pub fn eq_value(&self, prop: &str) -> Option<&str> {
        self.0.iter().find_map(|c| match c {
            Cond::Eq(p, Value::String(v)) if p.eq_ignore_ascii_case(prop) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The string values `prop` must be one of, when the filter is exactly
    /// `prop eq '…'` or `prop in ('…', …)` (a lookup by key, no scan).
    pub fn key_values(&self, prop: &str) -> Option<Vec<&str>> {
        match self.0.as_slice() {
            [Cond::Eq(p, Value::String(v))] if p.eq_ignore_ascii_case(prop) => Some(vec![v]),
            [Cond::In(p, vs)] if p.eq_ignore_ascii_case(prop) => {
                vs.iter().map(Value::as_str).collect()
            }
            _ => None,
        }
    }

    pub fn matches(&self, obj: &Value, ci: bool) -> bool {
        self.0.iter().all(|c| match c {
            Cond::Eq(p, want) => equal(lookup(obj, p), want, ci),
            Cond::In(p, wants) => {
                let got = lookup(obj, p);
                wants.iter().any(|w| equal(got, w, ci))
            }
            Cond::StartsWith(p, prefix) => match lookup(obj, p) {
                Some(Value::String(a)) => {
                    if ci {
                        a.to_lowercase().starts_with(&prefix.to_lowercase())
                    } else {
                        a.starts_with(prefix.as_str())
                    }
                }
                _ => false,
            },
        })
    }
}

fn invalid_filter(text: &str, why: &str) -> String {
    format!("Invalid filter clause: {why} (in `{text}`).")
}

/// A property by name (case-insensitive), `a/b` for nested ones.
fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in path.split('/') {
        let map = cur.as_object()?;
        cur = map.get(part).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                .map(|(_, v)| v)
        })?;
    }
    Some(cur)
}

struct FilterParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl FilterParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let end = self.i + kw.len();
        if end <= self.s.len()
            && self.s[self.i..end].eq_ignore_ascii_case(kw.as_bytes())
            && (end == self.s.len() || !self.s[end].is_ascii_alphanumeric())
        {
            self.i = end;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || matches!(self.s[self.i], b'/' | b'_' | b'.'))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err("a property name was expected".into());
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("`{}` was expected", c as char))
        }
    }
    /// `'…'` with `''` as an escaped quote.
    fn quoted(&mut self) -> Result<String, String> {
        self.expect(b'\'')?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err("a string literal is not closed".into()),
                Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.i += 2;
                }
                Some(b'\'') => {
                    self.i += 1;
                    break;
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
    fn literal(&mut self) -> Result<Value, String> {
        self.ws();
        if self.s.get(self.i) == Some(&b'\'') {
            return self.quoted().map(Value::String);
        }
        let word = self.ident()?;
        match word.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => word
                .parse::<i64>()
                .map(|n| json!(n))
                .map_err(|_| format!("`{word}` is not a literal (quote strings with ')")),
        }
    }
    fn cond(&mut self) -> Result<Cond, String> {
        self.ws();
        let save = self.i;
        if self.keyword("startswith") {
            self.ws();
            if self.s.get(self.i) == Some(&b'(') {
                self.i += 1;
                let prop = self.ident()?;
                self.expect(b',')?;
                self.ws();
                let v = self.quoted()?;
                self.expect(b')')?;
                return Ok(Cond::StartsWith(prop, v));
            }
            self.i = save;
        }
        let prop = self.ident()?;
        if self.keyword("in") {
            self.expect(b'(')?;
            let mut values = vec![self.literal()?];
            loop {
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => {
                        self.i += 1;
                        values.push(self.literal()?);
                    }
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err("`,` or `)` was expected in an `in` list".into()),
                }
            }
            return Ok(Cond::In(prop, values));
        }
        if !self.keyword("eq") {
            return Err(format!(
                "only `eq`, `in` and `startswith` are supported after `{prop}`"
            ));
        }
        let v = self.literal()?;
        Ok(Cond::Eq(prop, v))
    }
}

fn encode_skiptoken(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("twin-offset:{offset}"))
}

fn decode_skiptoken(tok: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok.trim())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("twin-offset:")?
        .parse()
        .ok()
}

/// Keep only the selected properties (matched case-insensitively) and `@odata.type`.
pub fn select(v: Value, fields: &[String]) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, val) in map {
                if k.starts_with("@odata") || fields.iter().any(|f| f.eq_ignore_ascii_case(&k)) {
                    out.insert(k, val);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// One page of a collection: `value`, `@odata.context`, `@odata.count` (first
/// page, with `$count=true`) and an absolute `@odata.nextLink` to `self_url`
/// (the collection URL without query) carrying the original options.
pub fn page(
    items: Vec<Value>,
    q: &ODataQuery,
    self_url: &str,
    context: &str,
    default_size: usize,
) -> Value {
    let total = items.len();
    page_lazy(
        total,
        items.into_iter(),
        |v| v,
        q,
        self_url,
        context,
        default_size,
    )
}

/// [`page`] over `total` items of which only the requested page is
/// converted to JSON: listing 100,000 users a page at a time stays linear.
#[allow(clippy::too_many_arguments)]
pub fn page_lazy<T, I: Iterator<Item = T>>(
    total: usize,
    items: I,
    convert: impl Fn(T) -> Value,
    q: &ODataQuery,
    self_url: &str,
    context: &str,
    default_size: usize,
) -> Value {
    let size = q.top.unwrap_or(default_size).max(1);
    let start = q.skip.min(total);
    let end = (start + size).min(total);
    let mut value: Vec<Value> = items.skip(start).take(end - start).map(convert).collect();
    if let Some(fields) = &q.select {
        value = value.into_iter().map(|v| select(v, fields)).collect();
    }
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    if q.count && start == 0 {
        out.insert("@odata.count".into(), json!(total));
    }
    if end < total {
        let mut query: Vec<String> = q
            .pairs
            .iter()
            .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken"))
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect();
        query.push(format!("$skiptoken={}", encode_skiptoken(end)));
        out.insert(
            "@odata.nextLink".into(),
            json!(format!("{self_url}?{}", query.join("&"))),
        );
    }
    out.insert("value".into(), Value::Array(value));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_eq_startswith_and_quotes() {
        let f = Filter::parse("displayName eq 'O''Brien' and startswith(mail,'sio')").unwrap();
        assert_eq!(f.0[0], Cond::Eq("displayName".into(), json!("O'Brien")));
        assert_eq!(f.0[1], Cond::StartsWith("mail".into(), "sio".into()));
        assert!(f.matches(&json!({"displayName":"o'brien","mail":"Siobhan@x"}), true));
        assert!(!f.matches(&json!({"displayName":"o'brien","mail":"Siobhan@x"}), false));
        assert!(Filter::parse("displayName ne 'x'").is_err());
        assert!(Filter::parse("displayName eq 'x").is_err());
        assert!(
            Filter::parse("accountEnabled eq true")
                .unwrap()
                .matches(&json!({"accountEnabled":true}), true)
        );
    }

    #[test]
    fn in_lists_match_any_value_up_to_graphs_limit() {
        let f = Filter::parse("id in ('a', 'B','c')").unwrap();
        assert_eq!(f.key_values("id"), Some(vec!["a", "B", "c"]));
        assert!(f.matches(&json!({"id":"b"}), true));
        assert!(!f.matches(&json!({"id":"b"}), false));
        assert!(!f.matches(&json!({"id":"d"}), true));
        assert!(Filter::parse("id in ('a'").is_err());
        assert!(Filter::parse("id in ()").is_err());
        let list = |n: usize| {
            let ids: Vec<String> = (0..n).map(|i| format!("'{i}'")).collect();
            format!("$filter=id in ({})", ids.join(","))
        };
        assert!(ODataQuery::parse(Some(&list(15))).is_ok());
        let e = ODataQuery::parse(Some(&list(16))).unwrap_err();
        assert_eq!(e.0, "Request_UnsupportedQuery");
        assert!(e.1.contains("16. Max allowed: 15."), "{}", e.1);
        // Not a pure key lookup: the filter is evaluated item by item.
        let g = Filter::parse("id in ('a') and displayName eq 'x'").unwrap();
        assert_eq!(g.key_values("id"), None);
    }

    #[test]
    fn top_bounds_and_skiptoken_round_trip() {
        let e = ODataQuery::parse(Some("$top=1000")).unwrap_err();
        assert_eq!(
            e.1,
            "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
        );
        assert!(ODataQuery::parse(Some("$top=0")).is_err());
        let q = ODataQuery::parse(Some("$top=2&$select=id")).unwrap();
        let items: Vec<Value> = (0..5)
            .map(|i| json!({"id": i.to_string(), "x": 1}))
            .collect();
        let p = page(items.clone(), &q, "http://h/v1.0/users", "ctx", 100);
        assert_eq!(p["value"].as_array().unwrap().len(), 2);
        assert_eq!(p["value"][0], json!({"id":"0"}));
        let next = p["@odata.nextLink"].as_str().unwrap();
        let q2 = ODataQuery::parse(Some(next.split_once('?').unwrap().1)).unwrap();
        assert_eq!(q2.skip, 2);
        let p3 = page(items, &ODataQuery { skip: 4, ..q2 }, "u", "c", 100);
        assert!(p3.get("@odata.nextLink").is_none());
        assert_eq!(p3["value"].as_array().unwrap().len(), 1);
    }
}
