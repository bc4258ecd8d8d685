//! Mapping between [`UserRow`] fields and SCIM 2.0 User resources, following
//! the JumpCloud → SCIM table (seed 003, CSV-FORMATS.md §3): core attributes,
//! typed emails/phones/addresses, and the enterprise extension (department,
//! costCenter, employeeNumber, organization, division, manager by the target's id).

use super::model::{CORE_USER, ENTERPRISE, Field, UserRow};
use serde_json::{Map, Value, json};

/// Where a field lives in a SCIM User.
enum Loc {
    Top(&'static str),
    Name(&'static str),
    Multi {
        attr: &'static str,
        kind: &'static str,
        sub: &'static str,
    },
    Enterprise(&'static str),
}

fn loc(f: Field) -> Loc {
    use Field::*;
    use Loc::*;
    match f {
        UserName => Top("userName"),
        DisplayName => Top("displayName"),
        Title => Top("title"),
        UserType => Top("userType"),
        ExternalId => Top("externalId"),
        GivenName => Name("givenName"),
        FamilyName => Name("familyName"),
        MiddleName => Name("middleName"),
        Email => Multi {
            attr: "emails",
            kind: "work",
            sub: "value",
        },
        AltEmail => Multi {
            attr: "emails",
            kind: "other",
            sub: "value",
        },
        PhoneMobile => Multi {
            attr: "phoneNumbers",
            kind: "mobile",
            sub: "value",
        },
        PhoneHome => Multi {
            attr: "phoneNumbers",
            kind: "home",
            sub: "value",
        },
        PhoneWork => Multi {
            attr: "phoneNumbers",
            kind: "work",
            sub: "value",
        },
        PhoneFax => Multi {
            attr: "phoneNumbers",
            kind: "fax",
            sub: "value",
        },
        PhoneOther => Multi {
            attr: "phoneNumbers",
            kind: "other",
            sub: "value",
        },
        WorkStreet => Multi {
            attr: "addresses",
            kind: "work",
            sub: "streetAddress",
        },
        WorkLocality => Multi {
            attr: "addresses",
            kind: "work",
            sub: "locality",
        },
        WorkRegion => Multi {
            attr: "addresses",
            kind: "work",
            sub: "region",
        },
        WorkPostal => Multi {
            attr: "addresses",
            kind: "work",
            sub: "postalCode",
        },
        WorkCountry => Multi {
            attr: "addresses",
            kind: "work",
            sub: "country",
        },
        HomeStreet => Multi {
            attr: "addresses",
            kind: "home",
            sub: "streetAddress",
        },
        HomeLocality => Multi {
            attr: "addresses",
            kind: "home",
            sub: "locality",
        },
        HomeRegion => Multi {
            attr: "addresses",
            kind: "home",
            sub: "region",
        },
        HomePostal => Multi {
            attr: "addresses",
            kind: "home",
            sub: "postalCode",
        },
        HomeCountry => Multi {
            attr: "addresses",
            kind: "home",
            sub: "country",
        },
        EmployeeNumber => Enterprise("employeeNumber"),
        Department => Enterprise("department"),
        CostCenter => Enterprise("costCenter"),
        Organization => Enterprise("organization"),
        Division => Enterprise("division"),
        Manager => Enterprise("manager"),
    }
}

/// The element of a multi-valued attribute of a given type. For the work email
/// with no typed entry, the primary (or only) email stands in.
fn find_typed<'a>(user: &'a Value, attr: &str, kind: &str) -> Option<&'a Value> {
    let arr = user.get(attr)?.as_array()?;
    let typed = arr.iter().find(|e| {
        e.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    });
    if typed.is_some() || attr != "emails" || kind != "work" {
        return typed;
    }
    arr.iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| (arr.len() == 1 && arr[0].get("type").is_none()).then(|| &arr[0]))
}

/// A field's value in a SCIM User (for the manager: the manager's id).
pub fn scim_value(user: &Value, f: Field) -> Option<String> {
    let s = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match loc(f) {
        Loc::Top(a) => s(user.get(a)),
        Loc::Name(a) => s(user.get("name").and_then(|n| n.get(a))),
        Loc::Multi { attr, kind, sub } => s(find_typed(user, attr, kind).and_then(|e| e.get(sub))),
        Loc::Enterprise("manager") => {
            let m = user.get(ENTERPRISE)?.get("manager")?;
            match m {
                Value::String(id) if !id.is_empty() => Some(id.clone()),
                _ => s(m.get("value")),
            }
        }
        Loc::Enterprise(a) => s(user.get(ENTERPRISE).and_then(|e| e.get(a))),
    }
}

/// `active`, absent meaning true (RFC 7643 leaves it to the provider; every
/// server we know defaults it to true).
pub fn scim_active(user: &Value) -> bool {
    match user.get("active") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
        _ => true,
    }
}

/// The create body for a row; `manager_id` is the target id of the manager when known now.
pub fn to_scim(row: &UserRow, manager_id: Option<&str>) -> Value {
    let mut user = Map::new();
    let mut schemas = vec![json!(CORE_USER)];
    let mut name = Map::new();
    let mut ent = Map::new();
    let mut multi: Vec<(&'static str, &'static str, Map<String, Value>)> = Vec::new();
    for f in Field::ALL {
        let Some(v) = row.get(f) else { continue };
        match loc(f) {
            Loc::Top(a) => {
                user.insert(a.into(), json!(v));
            }
            Loc::Name(a) => {
                name.insert(a.into(), json!(v));
            }
            Loc::Multi { attr, kind, sub } => {
                match multi.iter_mut().find(|(a, k, _)| *a == attr && *k == kind) {
                    Some((_, _, m)) => {
                        m.insert(sub.into(), json!(v));
                    }
                    None => {
                        let mut m = Map::new();
                        m.insert("type".into(), json!(kind));
                        m.insert(sub.into(), json!(v));
                        multi.push((attr, kind, m));
                    }
                }
            }
            Loc::Enterprise("manager") => {
                if let Some(id) = manager_id {
                    ent.insert("manager".into(), json!({ "value": id }));
                }
            }
            Loc::Enterprise(a) => {
                ent.insert(a.into(), json!(v));
            }
        }
    }
    if !name.is_empty() {
        user.insert("name".into(), Value::Object(name));
    }
    for (attr, kind, mut m) in multi {
        if attr == "emails" && kind == "work" {
            m.insert("primary".into(), json!(true));
        }
        let arr = user.entry(attr).or_insert_with(|| json!([]));
        if let Value::Array(a) = arr {
            a.push(Value::Object(m));
        }
    }
    user.insert("active".into(), json!(row.active.unwrap_or(true)));
    if !ent.is_empty() {
        schemas.push(json!(ENTERPRISE));
        user.insert(ENTERPRISE.into(), Value::Object(ent));
    }
    user.insert("schemas".into(), Value::Array(schemas));
    Value::Object(user)
}

/// One changed field, for showing and for building PATCH operations.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub field: &'static str,
    pub from: Option<String>,
    pub to: String,
}

/// PATCH operations that set `changes` (fields → new values; for the manager the
/// new id) and `active` on `target`. Multi-valued attributes are replaced whole,
/// merged from the target's current elements, so other types are kept.
pub fn patch_ops(target: &Value, changes: &[(Field, String)], active: Option<bool>) -> Vec<Value> {
    let mut ops = Vec::new();
    let mut multi: Vec<&'static str> = Vec::new();
    for (f, v) in changes {
        match loc(*f) {
            Loc::Top(a) => ops.push(json!({"op": "replace", "path": a, "value": v})),
            Loc::Name(a) => ops.push(json!({"op": "replace", "path": format!("name.{a}"), "value": v})),
            Loc::Enterprise("manager") => ops.push(json!({"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": v}})),
            Loc::Enterprise(a) => ops.push(json!({"op": "replace", "path": format!("{ENTERPRISE}:{a}"), "value": v})),
            Loc::Multi { attr, .. } => {
                if !multi.contains(&attr) {
                    multi.push(attr);
                }
            }
        }
    }
    for attr in multi {
        let mut arr: Vec<Value> = target
            .get(attr)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (f, v) in changes {
            let Loc::Multi { attr: a, kind, sub } = loc(*f) else {
                continue;
            };
            if a != attr {
                continue;
            }
            let pos = arr.iter().position(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            });
            let pos = match pos {
                Some(p) => p,
                None if attr == "emails"
                    && kind == "work"
                    && arr.len() == 1
                    && arr[0].get("type").is_none() =>
                {
                    arr[0]["type"] = json!("work");
                    0
                }
                None => {
                    arr.push(json!({"type": kind}));
                    arr.len() - 1
                }
            };
            arr[pos][sub] = json!(v);
            if attr == "emails" && kind == "work" {
                arr[pos]["primary"] = json!(true);
            }
        }
        ops.push(json!({"op": "replace", "path": attr, "value": arr}));
    }
    if let Some(a) = active {
        ops.push(json!({"op": "replace", "path": "active", "value": a}));
    }
    ops
}

/// Read a SCIM User back into a row (for export and round trips). The manager
/// is left as the id; the caller swaps in the manager's userName.
pub fn from_scim(user: &Value) -> UserRow {
    let mut u = UserRow::default();
    for f in Field::ALL {
        if let Some(v) = scim_value(user, f) {
            u.set(f, v);
        }
    }
    u.active = Some(scim_active(user));
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_to_scim_and_back() {
        let mut r = UserRow::default();
        r.set(Field::UserName, "alice");
        r.set(Field::GivenName, "Alice");
        r.set(Field::Email, "alice@x.com");
        r.set(Field::PhoneMobile, "+1 2");
        r.set(Field::WorkLocality, "Paris");
        r.set(Field::Department, "Eng");
        r.set(Field::Manager, "bob");
        let v = to_scim(&r, Some("id-bob"));
        assert_eq!(v["emails"][0]["primary"], true);
        assert_eq!(v[ENTERPRISE]["manager"]["value"], "id-bob");
        let back = from_scim(&v);
        assert_eq!(back.get(Field::Manager), Some("id-bob"));
        assert_eq!(back.get(Field::WorkLocality), Some("Paris"));
        assert_eq!(back.get(Field::Email), Some("alice@x.com"));
    }

    #[test]
    fn patch_keeps_other_emails() {
        let t = json!({"emails": [{"type": "home", "value": "h@x.com"}, {"type": "work", "value": "old@x.com"}]});
        let ops = patch_ops(
            &t,
            &[
                (Field::Email, "new@x.com".into()),
                (Field::Title, "T".into()),
            ],
            Some(false),
        );
        assert_eq!(ops.len(), 3);
        let emails = &ops[1]["value"];
        assert_eq!(emails[0]["value"], "h@x.com");
        assert_eq!(emails[1]["value"], "new@x.com");
    }
}
