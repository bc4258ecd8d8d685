//! What one row becomes in Entra: its user principal name, its mail nickname,
//! the Graph user body of a create, and the random initial password.

use crate::users::model::{Field, UserRow};
use serde_json::{Map, Value, json};

/// The row's UPN: its email, or its user name when that is already one.
pub fn upn_of(r: &UserRow) -> Option<String> {
    r.get(Field::Email)
        .map(str::to_string)
        .or_else(|| Some(r.user_name().to_string()).filter(|u| u.contains('@')))
}

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

fn random_password() -> String {
    use rand::Rng;
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!@#$%^&*-_=+",
    ];
    let mut rng = rand::rng();
    let mut p: Vec<u8> = (0..24)
        .map(|i| {
            let set = SETS[i % 4];
            set[rng.random_range(0..set.len())]
        })
        .collect();
    for i in (1..p.len()).rev() {
        p.swap(i, rng.random_range(0..=i));
    }
    String::from_utf8(p).unwrap_or_default()
}

/// The Graph user body for a row (no password from the file, ever).
pub fn user_body(r: &UserRow, upn: &str) -> Value {
    let mut m = Map::new();
    let display = r
        .get(Field::DisplayName)
        .map(str::to_string)
        .or_else(|| {
            let n = [r.get(Field::GivenName), r.get(Field::FamilyName)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!n.is_empty()).then_some(n)
        })
        .unwrap_or_else(|| r.user_name().to_string());
    m.insert("accountEnabled".into(), json!(r.active.unwrap_or(true)));
    m.insert("displayName".into(), json!(display));
    m.insert("mailNickname".into(), json!(mail_nickname(upn)));
    m.insert("userPrincipalName".into(), json!(upn));
    m.insert(
        "passwordProfile".into(),
        json!({"forceChangePasswordNextSignIn": true, "password": random_password()}),
    );
    for (f, k) in [
        (Field::GivenName, "givenName"),
        (Field::FamilyName, "surname"),
        (Field::Title, "jobTitle"),
        (Field::Department, "department"),
        (Field::EmployeeNumber, "employeeId"),
        (Field::Organization, "companyName"),
        (Field::UserType, "employeeType"),
        (Field::PhoneMobile, "mobilePhone"),
        (Field::WorkStreet, "streetAddress"),
        (Field::WorkLocality, "city"),
        (Field::WorkRegion, "state"),
        (Field::WorkPostal, "postalCode"),
        (Field::WorkCountry, "country"),
        (Field::Email, "mail"),
    ] {
        if let Some(v) = r.get(f) {
            m.insert(k.into(), json!(v));
        }
    }
    if let Some(p) = r.get(Field::PhoneWork) {
        m.insert("businessPhones".into(), json!([p]));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_never_carries_the_file_password() {
        let mut r = UserRow {
            had_password: true,
            ..Default::default()
        };
        r.set(Field::UserName, "avery.stone");
        r.set(Field::Email, "avery.stone@example.com");
        r.set(Field::GivenName, "Avery");
        let b = user_body(&r, "avery.stone@example.com");
        assert_eq!(b["mailNickname"], "avery.stone");
        assert_eq!(b["displayName"], "Avery");
        assert_eq!(b["passwordProfile"]["forceChangePasswordNextSignIn"], true);
        assert_eq!(b["passwordProfile"]["password"].as_str().unwrap().len(), 24);
        assert_eq!(upn_of(&r).as_deref(), Some("avery.stone@example.com"));
    }
}
