//! The user principal name of each row, and the domain rules Entra enforces:
//! the tenant's verified domains come from `GET /domains`; a UPN on any other
//! domain is refused before anything is sent. `--upn-domain` puts every UPN
//! on one verified domain, its local part taken from the JumpCloud username
//! (`--upn-from username`, the default) or the email's local part
//! (`--upn-from email`). Without it the UPN is the row's email, or the user
//! name when that already holds an `@`.

use crate::error::{Error, Result};
use crate::users::model::{Field, UserRow};

/// Where the local part of the UPN comes from with `--upn-domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpnFrom {
    #[default]
    Username,
    Email,
}

impl UpnFrom {
    pub fn parse(s: &str) -> Result<UpnFrom> {
        match s {
            "username" => Ok(UpnFrom::Username),
            "email" => Ok(UpnFrom::Email),
            other => Err(Error::usage(format!(
                "--upn-from `{other}` is not known: use username or email"
            ))),
        }
    }
}

/// A tenant domain as `GET /domains` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub verified: bool,
    pub federated: bool,
}

/// The UPN rule in force.
#[derive(Debug, Clone, Default)]
pub struct UpnRule {
    pub domain: Option<String>,
    pub from: UpnFrom,
}

/// The row's UPN, and which field it came from (for `FILE:LINE:COLUMN`).
pub fn upn_of(r: &UserRow, rule: &UpnRule) -> std::result::Result<(String, Field), String> {
    match &rule.domain {
        Some(d) => {
            let (local, f) = match rule.from {
                UpnFrom::Username => (
                    r.user_name().split('@').next().unwrap_or(""),
                    Field::UserName,
                ),
                UpnFrom::Email => match r.get(Field::Email) {
                    Some(e) => (e.split('@').next().unwrap_or(""), Field::Email),
                    None => {
                        return Err(
                            "--upn-from email, but the row has no email to take the UPN from"
                                .into(),
                        );
                    }
                },
            };
            Ok((format!("{local}@{d}"), f))
        }
        None => {
            if let Some(e) = r.get(Field::Email) {
                Ok((e.to_string(), Field::Email))
            } else if r.user_name().contains('@') {
                Ok((r.user_name().to_string(), Field::UserName))
            } else {
                Err("no email to use as the Entra userPrincipalName (a user name without @ is not a UPN; pass --upn-domain DOMAIN to build one from the user name)".into())
            }
        }
    }
}

/// Why `upn` is not a UPN Entra accepts here, if it is not: its local part
/// (at most 64 characters of A–Z a–z 0–9 ' . - _ ! # ^ ~, no leading, trailing
/// or double dot) and its domain (one of the tenant's verified domains).
pub fn upn_problem(upn: &str, domains: &[Domain]) -> Option<String> {
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return Some(format!("`{upn}` is not a userPrincipalName (no @)"));
    };
    if local.is_empty() || local.chars().count() > 64 {
        return Some(format!(
            "the userPrincipalName `{upn}` has a local part of {} characters; Entra allows 1 to 64",
            local.chars().count()
        ));
    }
    if let Some(c) = local
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !"'.-_!#^~".contains(*c))
    {
        return Some(format!(
            "the userPrincipalName `{upn}` contains `{c}`; Entra allows only A-Z, a-z, 0-9 and ' . - _ ! # ^ ~ before the @"
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some(format!(
            "the userPrincipalName `{upn}` starts or ends with a dot, or has two in a row; Entra refuses that"
        ));
    }
    match domains.iter().find(|d| d.name.eq_ignore_ascii_case(domain)) {
        Some(d) if d.verified => None,
        Some(_) => Some(format!(
            "the domain `{domain}` of `{upn}` is added to the tenant but not verified; verify it in Entra (Settings > Domain names) or pass --upn-domain with one of: {}",
            verified_list(domains)
        )),
        None => Some(format!(
            "the domain `{domain}` of `{upn}` is not a verified domain of this tenant; pass --upn-domain with one of: {}",
            verified_list(domains)
        )),
    }
}

/// The verified domain names, comma-separated.
pub fn verified_list(domains: &[Domain]) -> String {
    let v: Vec<&str> = domains
        .iter()
        .filter(|d| d.verified)
        .map(|d| d.name.as_str())
        .collect();
    if v.is_empty() {
        "(none: the tenant has no verified domain)".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doms() -> Vec<Domain> {
        vec![
            Domain {
                name: "northwind.example".into(),
                verified: true,
                federated: false,
            },
            Domain {
                name: "pending.example".into(),
                verified: false,
                federated: false,
            },
        ]
    }

    #[test]
    fn upns_are_built_and_checked() {
        let mut r = UserRow::default();
        r.set(Field::UserName, "avery.stone");
        r.set(Field::Email, "a.stone@jumpcloud.example");
        let rule = UpnRule {
            domain: Some("northwind.example".into()),
            from: UpnFrom::Username,
        };
        assert_eq!(
            upn_of(&r, &rule).unwrap().0,
            "avery.stone@northwind.example"
        );
        let rule = UpnRule {
            domain: Some("northwind.example".into()),
            from: UpnFrom::Email,
        };
        assert_eq!(upn_of(&r, &rule).unwrap().0, "a.stone@northwind.example");
        let (upn, f) = upn_of(&r, &UpnRule::default()).unwrap();
        assert_eq!(
            (upn.as_str(), f),
            ("a.stone@jumpcloud.example", Field::Email)
        );
        assert!(
            upn_problem(&upn, &doms())
                .unwrap()
                .contains("not a verified domain")
        );
        assert!(
            upn_problem("x@pending.example", &doms())
                .unwrap()
                .contains("not verified")
        );
        assert_eq!(upn_problem("x@NorthWind.example", &doms()), None);
        assert!(upn_problem("a b@northwind.example", &doms()).is_some());
        assert!(upn_problem("a..b@northwind.example", &doms()).is_some());
    }
}
