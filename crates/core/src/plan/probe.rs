//! Named probes and the evaluation of a `doneWhen` expectation: the one place
//! that says what each probe reads from a response and how each `op`
//! compares. What a JSON pointer can name is a pointer; what it cannot (a
//! secret by key, a mapping's matching attribute, a count over pages) is a
//! probe from the closed list below. `apply`, `verify` and `status` evaluate
//! done-checks with [`holds`]; this module sends nothing and stops at one
//! (merged) response: following pages is the executor's, for probes that say
//! they are [`Probe::paged`].

use super::findings::expr_text;
use super::model::{Expect, ExpectOp, Subject};
use super::placeholder::{Bound, fill};
use crate::mapping::schema::Mappings;
use serde_json::Value;
use std::fmt;

/// The closed list of named probes (serialised as `secret:<key>`,
/// `userMatching`, `groupMappingEnabled`, `principalIds`, `duplicateUserNames`,
/// `displayNames`, `synchronizedUsers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Probe {
    /// Graph's `…/synchronization/secrets` answer: the `value` of the
    /// `{key, value}` item with this key in the `value` list. A listed key
    /// without a value reads as `""` (Graph does not return credential
    /// values); an unlisted key is absent.
    Secret(String),
    /// A synchronization schema: the User mapping's first matching attribute
    /// as `target ← source` (`userName ← [mail]`), read with the same
    /// `mapping::schema` code the planner and the twin's engine use.
    UserMatching,
    /// A synchronization schema: whether its Group mapping exists and is enabled.
    GroupMappingEnabled,
    /// A Graph list of app role assignments: the `principalId` of every item
    /// in `value`, over every page (`@odata.nextLink`).
    PrincipalIds,
    /// A SCIM `/Users` list: how many users share a userName with an earlier
    /// one (case-insensitive), over every page (`Resources`).
    DuplicateUserNames,
    /// A SCIM list (`/Groups`): the `displayName` of every resource, over
    /// every page (`Resources`).
    DisplayNames,
    /// A synchronization job: how many users it keeps in sync, the sum of
    /// the `User to …` counts in `status.synchronizedEntryCountByType`. A
    /// first cycle that ran before the engine saw the assignments (Entra's
    /// assignment lag) reaches steady state with none.
    SynchronizedUsers,
}

/// Every probe name, with what it checks, for the docs and `--help`-style listings.
pub const PROBES: &[(&str, &str)] = &[
    (
        "secret:<key>",
        "the value of the secret with that key in Graph's synchronization secrets (\"\" when Graph lists the key without its value)",
    ),
    (
        "userMatching",
        "the schema's User mapping's first matching attribute, `target ← source`",
    ),
    (
        "groupMappingEnabled",
        "whether the schema's Group mapping exists and is enabled",
    ),
    (
        "principalIds",
        "the principalId of every app role assignment listed, over all pages",
    ),
    (
        "duplicateUserNames",
        "the number of SCIM users whose userName (case-insensitive) an earlier user already has, over all pages",
    ),
    (
        "displayNames",
        "the displayName of every SCIM resource listed (groups), over all pages",
    ),
    (
        "synchronizedUsers",
        "the users a synchronization job keeps in sync: the sum of the `User to …` counts in status.synchronizedEntryCountByType",
    ),
];

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Secret(k) => write!(f, "secret:{k}"),
            Probe::UserMatching => f.write_str("userMatching"),
            Probe::GroupMappingEnabled => f.write_str("groupMappingEnabled"),
            Probe::PrincipalIds => f.write_str("principalIds"),
            Probe::DuplicateUserNames => f.write_str("duplicateUserNames"),
            Probe::DisplayNames => f.write_str("displayNames"),
            Probe::SynchronizedUsers => f.write_str("synchronizedUsers"),
        }
    }
}

impl TryFrom<String> for Probe {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Ok(match s.as_str() {
            "userMatching" => Probe::UserMatching,
            "groupMappingEnabled" => Probe::GroupMappingEnabled,
            "principalIds" => Probe::PrincipalIds,
            "duplicateUserNames" => Probe::DuplicateUserNames,
            "displayNames" => Probe::DisplayNames,
            "synchronizedUsers" => Probe::SynchronizedUsers,
            _ => match s.strip_prefix("secret:") {
                Some(k) if !k.is_empty() => Probe::Secret(k.to_string()),
                _ => {
                    return Err(format!(
                        "`{s}` is not a known probe (known: {})",
                        PROBES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            },
        })
    }
}

impl From<Probe> for String {
    fn from(p: Probe) -> String {
        p.to_string()
    }
}

impl Probe {
    /// Whether the executor must merge every page of the list (Graph's
    /// `@odata.nextLink`, SCIM's `startIndex`) into one body before [`Probe::read`].
    pub fn paged(&self) -> bool {
        matches!(
            self,
            Probe::PrincipalIds | Probe::DuplicateUserNames | Probe::DisplayNames
        )
    }

    /// What the probe reads from a response body; `None` = absent.
    pub fn read(&self, body: &Value) -> Option<Value> {
        match self {
            Probe::Secret(key) => body
                .get("value")?
                .as_array()?
                .iter()
                .find(|kv| kv.get("key").and_then(Value::as_str) == Some(key))
                .map(|kv| match kv.get("value") {
                    None | Some(Value::Null) => Value::from(""),
                    Some(v) => v.clone(),
                }),
            Probe::UserMatching => {
                let maps = Mappings::from_schema(body).ok()?;
                let user = maps.user?;
                let m = user.matching().first().copied()?;
                Some(Value::from(format!(
                    "{} ← {}",
                    m.target,
                    expr_text(&m.expr)
                )))
            }
            Probe::GroupMappingEnabled => Mappings::from_schema(body)
                .ok()
                .map(|m| Value::Bool(m.pushes_groups())),
            Probe::PrincipalIds => Some(Value::Array(
                body.get("value")?
                    .as_array()?
                    .iter()
                    .filter_map(|a| a.get("principalId").cloned())
                    .collect(),
            )),
            Probe::DuplicateUserNames => {
                let users = body.get("Resources")?.as_array()?;
                let mut seen = std::collections::HashSet::new();
                let dups = users
                    .iter()
                    .filter_map(|u| u.get("userName").and_then(Value::as_str))
                    .filter(|n| !seen.insert(n.to_lowercase()))
                    .count();
                Some(Value::from(dups))
            }
            Probe::DisplayNames => Some(Value::Array(
                body.get("Resources")?
                    .as_array()?
                    .iter()
                    .filter_map(|g| g.get("displayName").cloned())
                    .collect(),
            )),
            Probe::SynchronizedUsers => Some(Value::from(
                body.pointer("/status/synchronizedEntryCountByType")?
                    .as_array()?
                    .iter()
                    .filter(|kv| {
                        kv.get("key")
                            .and_then(Value::as_str)
                            .is_some_and(|k| k.starts_with("User to "))
                    })
                    .filter_map(|kv| kv.get("value").and_then(Value::as_u64))
                    .sum::<u64>(),
            )),
        }
    }
}

/// A timestamp as RFC 3339 (`2026-12-01T22:57:35Z`, Graph's) or an HTTP date
/// (`Tue, 01 Dec 2026 22:57:35 GMT`, a `Date` header).
fn timestamp(v: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(s))
        .ok()
}

/// Whether `expect` holds for a response (`status`, `body`), with the
/// placeholders in its `value` filled from `bound`. An expectation whose
/// value names a placeholder that is not bound does not hold.
pub fn holds(expect: &Expect, status: u16, body: &Value, bound: &Bound) -> bool {
    let want = match &expect.value {
        None => None,
        Some(v) => match fill(v, bound) {
            Ok(v) => Some(v),
            Err(_) => return false,
        },
    };
    if expect.op == ExpectOp::Status {
        return want.as_ref().and_then(Value::as_u64) == Some(u64::from(status));
    }
    let got = match &expect.subject {
        Subject::Path(p) => p.resolve(body).cloned(),
        Subject::Probe(p) => p.read(body),
    };
    let number = |v: Option<&Value>| v.and_then(Value::as_f64);
    match expect.op {
        ExpectOp::Status => unreachable!("handled above"),
        ExpectOp::Equals => got.unwrap_or(Value::Null) == want.unwrap_or(Value::Null),
        ExpectOp::Exists => got.is_some_and(|v| !v.is_null()),
        ExpectOp::ContainsAll => match (got.as_ref().and_then(Value::as_array), want) {
            (Some(have), Some(Value::Array(need))) => need.iter().all(|n| have.contains(n)),
            _ => false,
        },
        ExpectOp::ContainsNone => match (got.as_ref(), want) {
            (None | Some(Value::Null), Some(Value::Array(_))) => true,
            (Some(Value::Array(have)), Some(Value::Array(none))) => {
                none.iter().all(|n| !have.contains(n))
            }
            _ => false,
        },
        ExpectOp::CountAtLeast => match (
            got.as_ref().and_then(Value::as_array),
            number(want.as_ref()),
        ) {
            (Some(have), Some(n)) => have.len() as f64 >= n,
            _ => false,
        },
        ExpectOp::AtLeast => match (number(got.as_ref()), number(want.as_ref())) {
            (Some(a), Some(b)) => a >= b,
            _ => false,
        },
        ExpectOp::NotBefore => match (
            got.as_ref().and_then(timestamp),
            want.as_ref().and_then(timestamp),
        ) {
            (Some(a), Some(b)) => a >= b,
            _ => false,
        },
    }
}

/// Whether every expectation of a done-check holds for one response.
pub fn all_hold(expects: &[Expect], status: u16, body: &Value, bound: &Bound) -> bool {
    expects.iter().all(|e| holds(e, status, body, bound))
}
