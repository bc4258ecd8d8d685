//! What one row becomes in Entra: the Graph user properties it sets (the
//! JumpCloud → Entra table, [`PROPS`]), the create body, and the field-level
//! difference against a user that already exists. Passwords are not here:
//! `write` adds the `passwordProfile` to a create body at the moment it is sent.

use crate::users::mapping::Change;
use crate::users::model::{Field, UserRow};
use serde_json::{Map, Value, json};

/// Where a value goes in a Graph user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prop {
    /// A top-level string property.
    Top(&'static str),
    /// The first element of a string collection (`businessPhones`, `otherMails`).
    First(&'static str),
    /// A property of `employeeOrgData` (`costCenter`, `division`).
    OrgData(&'static str),
}

impl Prop {
    /// The name shown in plans and docs (`employeeOrgData.costCenter`).
    pub fn name(self) -> String {
        match self {
            Prop::Top(p) | Prop::First(p) => p.to_string(),
            Prop::OrgData(p) => format!("employeeOrgData.{p}"),
        }
    }
    /// The current value in a Graph user JSON.
    pub fn current(self, user: &Value) -> Option<String> {
        let v = match self {
            Prop::Top(p) => user.get(p),
            Prop::First(p) => user.get(p).and_then(|a| a.get(0)),
            Prop::OrgData(p) => user.get("employeeOrgData").and_then(|o| o.get(p)),
        };
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }
}

/// Where a row's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Field(Field),
    /// JumpCloud's `location` column (not a SCIM field, read from the file).
    Location,
}

/// The JumpCloud → Entra table: each mapped source, its Graph property, and
/// Graph's length limit for it (checked before anything is sent).
pub const PROPS: &[(Source, Prop, usize)] = &[
    (Source::Field(Field::GivenName), Prop::Top("givenName"), 64),
    (Source::Field(Field::FamilyName), Prop::Top("surname"), 64),
    (
        Source::Field(Field::DisplayName),
        Prop::Top("displayName"),
        256,
    ),
    (Source::Field(Field::Title), Prop::Top("jobTitle"), 128),
    (
        Source::Field(Field::EmployeeNumber),
        Prop::Top("employeeId"),
        16,
    ),
    (
        Source::Field(Field::Department),
        Prop::Top("department"),
        64,
    ),
    (
        Source::Field(Field::Organization),
        Prop::Top("companyName"),
        64,
    ),
    (
        Source::Field(Field::UserType),
        Prop::Top("employeeType"),
        64,
    ),
    (Source::Field(Field::Email), Prop::Top("mail"), 256),
    (
        Source::Field(Field::AltEmail),
        Prop::First("otherMails"),
        256,
    ),
    (
        Source::Field(Field::PhoneMobile),
        Prop::Top("mobilePhone"),
        64,
    ),
    (
        Source::Field(Field::PhoneWork),
        Prop::First("businessPhones"),
        64,
    ),
    (Source::Field(Field::PhoneFax), Prop::Top("faxNumber"), 64),
    (
        Source::Field(Field::WorkStreet),
        Prop::Top("streetAddress"),
        1024,
    ),
    (Source::Field(Field::WorkLocality), Prop::Top("city"), 128),
    (Source::Field(Field::WorkRegion), Prop::Top("state"), 128),
    (
        Source::Field(Field::WorkPostal),
        Prop::Top("postalCode"),
        40,
    ),
    (Source::Field(Field::WorkCountry), Prop::Top("country"), 128),
    (Source::Location, Prop::Top("officeLocation"), 128),
    (
        Source::Field(Field::CostCenter),
        Prop::OrgData("costCenter"),
        64,
    ),
    (
        Source::Field(Field::Division),
        Prop::OrgData("division"),
        64,
    ),
];

/// The row's values by property (absent cells are left out: a CSV cannot clear a field).
pub fn desired<'a>(r: &'a UserRow, location: Option<&'a str>) -> Vec<(Prop, &'a str, usize)> {
    PROPS
        .iter()
        .filter_map(|&(src, prop, max)| {
            let v = match src {
                Source::Field(f) => r.get(f),
                Source::Location => location,
            }?;
            Some((prop, v, max))
        })
        .collect()
}

/// A mail nickname from the UPN's local part (Graph allows at most 64
/// characters from a restricted set).
pub fn mail_nickname(upn: &str) -> String {
    let local = upn.split('@').next().unwrap_or(upn);
    let s: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if s.is_empty() {
        "user".into()
    } else {
        s.chars().take(64).collect()
    }
}

/// The display name: the row's, else given + family name, else the user name.
pub fn display_name(r: &UserRow) -> String {
    r.get(Field::DisplayName)
        .map(str::to_string)
        .or_else(|| {
            let n = [r.get(Field::GivenName), r.get(Field::FamilyName)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!n.is_empty()).then_some(n)
        })
        .unwrap_or_else(|| r.user_name().to_string())
}

fn put(m: &mut Map<String, Value>, prop: Prop, v: &str) {
    match prop {
        Prop::Top(p) => {
            m.insert(p.into(), json!(v));
        }
        Prop::First(p) => {
            m.insert(p.into(), json!([v]));
        }
        Prop::OrgData(p) => {
            if let Some(o) = m
                .entry("employeeOrgData")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                o.insert(p.into(), json!(v));
            }
        }
    }
}

/// The Graph user body of a create, without the password.
pub fn create_body(r: &UserRow, upn: &str, location: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("accountEnabled".into(), json!(r.active.unwrap_or(true)));
    m.insert("displayName".into(), json!(display_name(r)));
    m.insert("mailNickname".into(), json!(mail_nickname(upn)));
    m.insert("userPrincipalName".into(), json!(upn));
    for (prop, v, _) in desired(r, location) {
        put(&mut m, prop, v);
    }
    Value::Object(m)
}

/// The changes a row makes to `user` and the PATCH body that makes them
/// (`None` when the user already matches). `employeeOrgData` is sent whole,
/// merged with its current values, since Graph replaces it whole.
pub fn update(r: &UserRow, user: &Value, location: Option<&str>) -> (Vec<Change>, Option<Value>) {
    let mut changes = Vec::new();
    let mut m = Map::new();
    for (prop, v, _) in desired(r, location) {
        let cur = prop.current(user);
        let same = match (&cur, prop) {
            (Some(c), Prop::Top("mail") | Prop::First("otherMails")) => c.eq_ignore_ascii_case(v),
            (Some(c), _) => c == v,
            (None, _) => false,
        };
        if same {
            continue;
        }
        changes.push(Change {
            field: leak_name(prop),
            from: cur,
            to: v.to_string(),
        });
        put(&mut m, prop, v);
    }
    if let Some(Value::Object(new)) = m.get_mut("employeeOrgData")
        && let Some(Value::Object(old)) = user.get("employeeOrgData")
    {
        for (k, v) in old {
            new.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(a) = r.active {
        let cur = user
            .get("accountEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if a != cur {
            changes.push(Change {
                field: "accountEnabled",
                from: Some(cur.to_string()),
                to: a.to_string(),
            });
            m.insert("accountEnabled".into(), json!(a));
        }
    }
    let body = (!m.is_empty()).then_some(Value::Object(m));
    (changes, body)
}

/// The static name of a property (every [`PROPS`] entry has one).
fn leak_name(prop: Prop) -> &'static str {
    match prop {
        Prop::Top(p) | Prop::First(p) => p,
        Prop::OrgData("costCenter") => "employeeOrgData.costCenter",
        Prop::OrgData("division") => "employeeOrgData.division",
        Prop::OrgData(p) => p,
    }
}

/// The properties `state` reads for every user (what matching and diffs need).
pub fn select() -> String {
    let mut names: Vec<&str> = vec!["id", "userPrincipalName", "accountEnabled"];
    for (_, prop, _) in PROPS {
        let n = match prop {
            Prop::Top(p) | Prop::First(p) => p,
            Prop::OrgData(_) => &"employeeOrgData",
        };
        if !names.contains(n) {
            names.push(n);
        }
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> UserRow {
        let mut r = UserRow {
            had_password: true,
            ..Default::default()
        };
        r.set(Field::UserName, "avery.stone");
        r.set(Field::Email, "avery.stone@example.com");
        r.set(Field::GivenName, "Avery");
        r.set(Field::CostCenter, "CC-1");
        r.set(Field::PhoneWork, "+1 555");
        r
    }

    #[test]
    fn create_body_maps_columns_and_carries_no_password() {
        let b = create_body(&row(), "avery.stone@northwind.example", Some("HQ"));
        assert_eq!(b["mailNickname"], "avery.stone");
        assert_eq!(b["displayName"], "Avery");
        assert_eq!(b["officeLocation"], "HQ");
        assert_eq!(b["employeeOrgData"]["costCenter"], "CC-1");
        assert_eq!(b["businessPhones"], json!(["+1 555"]));
        assert!(b.get("passwordProfile").is_none());
    }

    #[test]
    fn update_lists_only_what_differs_and_keeps_other_org_data() {
        let user = json!({"givenName": "Avery", "mail": "AVERY.STONE@example.com",
            "businessPhones": ["+1 555"], "employeeOrgData": {"costCenter": "CC-0", "division": "East"}});
        let (changes, body) = update(&row(), &user, None);
        let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["employeeOrgData.costCenter"]);
        assert_eq!(
            body.unwrap(),
            json!({"employeeOrgData": {"costCenter": "CC-1", "division": "East"}})
        );
        let same = json!({"givenName": "Avery", "mail": "avery.stone@example.com",
            "businessPhones": ["+1 555"], "employeeOrgData": {"costCenter": "CC-1"}});
        assert_eq!(update(&row(), &same, None).1, None);
    }
}
