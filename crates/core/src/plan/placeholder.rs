//! Placeholders: the closed list of `{name}` / `{name:arg}` a plan may hold
//! in URLs, bodies and expected values, where each value comes from (a
//! step's `binds`, or a known input the executor reads at apply time), the
//! plan-time check that every use is bound before it is needed ([`check`]),
//! and the substitution an executor performs ([`fill`]). It stops at the
//! names: reading responses is `model::Bind`'s, comparing is `probe`'s.

use super::model::{Plan, Request};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Values bound so far, by placeholder name (`customSpId`, `customAppRole:User`).
pub type Bound = BTreeMap<String, Value>;

/// Where a placeholder's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A step's `binds` (a request's, or its `doneWhen`'s).
    Bound,
    /// Read by the executor at apply time; never in the plan.
    Input,
}

/// One kind of placeholder.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    /// What follows `:` (`<rule name>`), when the kind takes one.
    pub arg: Option<&'static str>,
    pub source: Source,
    pub meaning: &'static str,
}

const fn bound(name: &'static str, arg: Option<&'static str>, meaning: &'static str) -> Kind {
    Kind {
        name,
        arg,
        source: Source::Bound,
        meaning,
    }
}

/// Every placeholder kind a plan may use. A `{…}` that does not start with one
/// of these names followed by `}` or `:` is plain text.
pub const KINDS: &[Kind] = &[
    bound(
        "customSpId",
        None,
        "the custom app's service principal id (create-app)",
    ),
    bound(
        "customAppId",
        None,
        "the custom app's appId (create-app); its application is `/applications(appId='…')`",
    ),
    bound(
        "customJobId",
        None,
        "the custom app's provisioning job id, `scim.…` (create-job)",
    ),
    bound(
        "customSchemaId",
        None,
        "the id of the custom job's schema (put-schema, from the job's default schema)",
    ),
    bound(
        "customDirectoryId",
        Some("directory name"),
        "the id of the directory with that name in the custom job's default schema (put-schema)",
    ),
    bound(
        "customRuleId",
        Some("rule name"),
        "the id of the synchronization rule with that name in the custom job's schema (put-schema)",
    ),
    bound(
        "schemaBeforeApply",
        None,
        "the custom job's whole schema read just before the PUT, for the undo (put-schema)",
    ),
    bound(
        "customAppRole",
        Some("role value or display name"),
        "the id of the custom app's role with that value (display name for User and msiam_access) (assignments)",
    ),
    bound(
        "assignmentId",
        Some("principal id"),
        "the id of the assignment the step created for that principal, from its `$batch` answer (assignments)",
    ),
    bound(
        "customJobStartedAt",
        None,
        "the server's `Date` when it answered the custom job's start (start-custom-job)",
    ),
    Kind {
        name: "secret",
        arg: Some("scimToken"),
        source: Source::Input,
        meaning: "the SCIM token, read by apply from SCIM_TOKEN, --scim-token-file or a hidden prompt; never written to a file",
    },
    Kind {
        name: "scimBaseUrl",
        arg: None,
        source: Source::Input,
        meaning: "the SCIM base URL given to apply (only when the snapshot has no BaseAddress)",
    },
];

/// The full names of the known inputs.
pub const INPUTS: &[&str] = &["secret:scimToken", "scimBaseUrl"];

fn kind_of(name: &str) -> Option<&'static Kind> {
    let (k, arg) = match name.split_once(':') {
        Some((k, a)) => (k, Some(a)),
        None => (name, None),
    };
    KINDS
        .iter()
        .find(|kind| kind.name == k && kind.arg.is_some() == arg.is_some())
}

/// A placeholder's argument as a plan writes it: `%`, `{` and `}`
/// percent-encoded, so an id or a name that holds a brace (Graph allows them
/// in an app role's value) can neither end its placeholder early nor start
/// another. Every GUID and every directory and rule name Entra ships is
/// written as it is.
pub fn arg(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains(['%', '{', '}']) {
        return raw.into();
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for c in raw.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
    out.into()
}

/// The text an argument [`arg`] wrote stands for.
pub fn arg_text(written: &str) -> std::borrow::Cow<'_, str> {
    if !written.contains('%') {
        return written.into();
    }
    written
        .replace("%7B", "{")
        .replace("%7D", "}")
        .replace("%25", "%")
        .into()
}

/// The full name of a placeholder with an argument: `kind:arg`, the argument
/// written by [`arg`] (`assignmentId:<principal id>`).
pub fn named(kind: &str, raw_arg: &str) -> String {
    format!("{kind}:{}", arg(raw_arg))
}

/// The placeholder itself, braces included: `{kind:arg}` (see [`named`]).
pub fn braced(kind: &str, raw_arg: &str) -> String {
    format!("{{{}}}", named(kind, raw_arg))
}

/// The placeholders in `s`, in order, as full names (`customRuleId:USER_OUTBOUND_USER`),
/// with their byte ranges (braces included).
fn spans(s: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find('{').map(|i| i + from) {
        let rest = &s[i + 1..];
        let hit = KINDS.iter().find_map(|k| {
            let after = rest.strip_prefix(k.name)?;
            if after.starts_with('}') && k.arg.is_none() {
                return Some(k.name.len());
            }
            let arg = after.strip_prefix(':').filter(|_| k.arg.is_some())?;
            let end = arg.find(['}', '{'])?;
            (arg.as_bytes()[end] == b'}' && end > 0).then_some(k.name.len() + 1 + end)
        });
        match hit {
            Some(len) => {
                out.push((i..i + len + 2, &rest[..len]));
                from = i + len + 2;
            }
            None => from = i + 1,
        }
    }
    out
}

/// The placeholder names used in `s`.
pub fn names_in(s: &str) -> Vec<&str> {
    spans(s).into_iter().map(|(_, n)| n).collect()
}

/// The placeholder names used anywhere in `v` (string values, not keys).
pub fn names_in_value<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.extend(names_in(s)),
        Value::Array(a) => a.iter().for_each(|x| names_in_value(x, out)),
        Value::Object(m) => m.values().for_each(|x| names_in_value(x, out)),
        _ => {}
    }
}

fn names_in_request(r: &Request) -> Vec<&str> {
    let mut out = names_in(&r.url);
    if let Some(b) = &r.body {
        names_in_value(b, &mut out);
    }
    out
}

/// `v` with every placeholder replaced from `bound`: a string that is exactly
/// one placeholder becomes the bound value itself (any JSON, e.g. a whole
/// schema); elsewhere the value is spliced into the text (strings as they
/// are, other JSON as its text). `Err` names the first unbound placeholder.
pub fn fill(v: &Value, bound: &Bound) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if let [(r, name)] = spans(s).as_slice()
                && r.start == 0
                && r.end == s.len()
            {
                return bound.get(*name).cloned().ok_or_else(|| name.to_string());
            }
            Value::String(fill_str(s, bound)?)
        }
        Value::Array(a) => {
            Value::Array(a.iter().map(|x| fill(x, bound)).collect::<Result<_, _>>()?)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), fill(x, bound)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// `s` with every placeholder spliced in from `bound`.
pub fn fill_str(s: &str, bound: &Bound) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (r, name) in spans(s) {
        let v = bound.get(name).ok_or_else(|| name.to_string())?;
        out.push_str(&s[last..r.start]);
        match v {
            Value::String(t) => out.push_str(t),
            other => out.push_str(&other.to_string()),
        }
        last = r.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// Where a name was bound: the step, and whether its `doneWhen` binds it too.
struct BoundBy {
    step: String,
    by_done_when: bool,
}

/// The plan-time binding check. Rules, step by step in order:
/// - a step's `doneWhen` (its request and expected values) may use only
///   inputs and names earlier steps bound: it is checked *before* the step too;
/// - a step's request may use those and what its earlier requests bound;
///   its `undo` may also use what any of its requests or its `doneWhen` bound;
/// - a name a later step uses must be bound by its step's `doneWhen` (not
///   only by a request), or an apply that finds the step already done, and
///   so sends none of its requests, has no value for it;
/// - every bound name is a placeholder kind bound by steps, not an input.
///
/// Returns one sentence per problem; empty when the plan is executable.
pub fn check(plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    let mut known: HashMap<String, BoundBy> = HashMap::new();
    for step in &plan.steps {
        let id = step.id.as_str();
        let mut local: HashSet<&str> = HashSet::new();
        let use_name = |name: &str,
                        place: &str,
                        local: &HashSet<&str>,
                        problems: &mut Vec<String>| {
            if INPUTS.contains(&name) || local.contains(name) {
                return;
            }
            match known.get(name) {
                None => problems.push(format!(
                    "step `{id}` {place} uses {{{name}}}, which no earlier step binds and which is not a known input"
                )),
                Some(b) if !b.by_done_when => problems.push(format!(
                    "step `{id}` {place} uses {{{name}}}, which step `{}` binds only from its requests: its doneWhen must bind it too, or an apply that finds `{}` done has no value for it",
                    b.step, b.step
                )),
                Some(_) => {}
            }
        };
        let dw = &step.done_when;
        let mut dw_names = names_in_request(&dw.request);
        for e in &dw.expect {
            if let Some(v) = &e.value {
                names_in_value(v, &mut dw_names);
            }
        }
        for n in dw_names {
            use_name(n, "doneWhen", &HashSet::new(), &mut problems);
        }
        let all_binds = step
            .requests
            .iter()
            .chain([&dw.request])
            .flat_map(|r| r.binds.iter());
        for b in all_binds.clone() {
            match kind_of(&b.name) {
                Some(k) if k.source == Source::Bound => {}
                _ => problems.push(format!(
                    "step `{id}` binds `{}`, which is not a placeholder kind a step binds",
                    b.name
                )),
            }
        }
        for (i, r) in step.requests.iter().enumerate() {
            for n in names_in_request(r) {
                use_name(n, &format!("request {}", i + 1), &local, &mut problems);
            }
            local.extend(r.binds.iter().map(|b| b.name.as_str()));
        }
        local.extend(dw.request.binds.iter().map(|b| b.name.as_str()));
        for (i, r) in step.undo.requests.iter().enumerate() {
            for n in names_in_request(r) {
                use_name(n, &format!("undo request {}", i + 1), &local, &mut problems);
            }
        }
        let by_dw: HashSet<&str> = dw.request.binds.iter().map(|b| b.name.as_str()).collect();
        for b in all_binds {
            known.insert(
                b.name.clone(),
                BoundBy {
                    step: id.to_string(),
                    by_done_when: by_dw.contains(b.name.as_str()),
                },
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_known_kinds_only() {
        assert_eq!(
            names_in("/sp/{customSpId}/jobs/{customJobId}?x={notAKind}&g={Sales}"),
            ["customSpId", "customJobId"]
        );
        assert_eq!(
            names_in("{customDirectoryId:Azure Active Directory}{customRuleId:}"),
            ["customDirectoryId:Azure Active Directory"]
        );
        assert_eq!(names_in(r#"{"Enabled":false}"#), Vec::<&str>::new());
        assert_eq!(names_in("{secret:scimToken}"), ["secret:scimToken"]);
    }

    #[test]
    fn fill_splices_text_and_replaces_whole_values() {
        let mut b = Bound::new();
        b.insert("customSpId".into(), json!("sp-1"));
        b.insert("schemaBeforeApply".into(), json!({"id": "s"}));
        let v = json!({"url": "/sp/{customSpId}/x", "body": "{schemaBeforeApply}", "n": 3});
        assert_eq!(
            fill(&v, &b).unwrap(),
            json!({"url": "/sp/sp-1/x", "body": {"id": "s"}, "n": 3})
        );
        assert_eq!(
            fill(&json!("{customJobId}"), &b).unwrap_err(),
            "customJobId"
        );
    }
}
