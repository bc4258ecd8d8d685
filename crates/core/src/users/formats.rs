//! The CSV layouts we read and write: JumpCloud PowerShell templates and API
//! exports, Entra's bulk-create template, Google Workspace and Okta user CSVs,
//! and a flat SCIM layout. Detection from the headers, the role of each column,
//! and the writers used by `users export`.

use super::model::{Field, UserRow};
use crate::error::{Error, Result};

/// An input or output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// JumpCloud PowerShell import/update template (`New-JCImportTemplate`).
    Jumpcloud,
    /// JumpCloud API / `Get-JCUser | Export-Csv` export (`_id`, `state`, …).
    JumpcloudExport,
    /// Entra ID "Bulk create users" template (`version:v1.0`, `Label [property]`).
    Entra,
    /// Google Workspace "Bulk update users" / download CSV.
    Google,
    /// Okta "Import Users from CSV".
    Okta,
    /// Flat SCIM: `userName,name.givenName,emails[type eq "work"].value,…`.
    Scim,
}

impl Format {
    /// `--format` for import (`auto` → `None`).
    pub fn parse_input(s: &str) -> Result<Option<Format>> {
        Ok(Some(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => return Ok(None),
            "jumpcloud" => Format::Jumpcloud,
            "jumpcloud-export" => Format::JumpcloudExport,
            "entra" => Format::Entra,
            "google" => Format::Google,
            "okta" => Format::Okta,
            "scim" => Format::Scim,
            other => {
                return Err(Error::usage(format!(
                    "--format `{other}` is not known: use auto, jumpcloud, jumpcloud-export, entra, google, okta or scim"
                )));
            }
        }))
    }

    /// `--format` for export.
    pub fn parse_output(s: &str) -> Result<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jumpcloud" => Ok(Format::Jumpcloud),
            "entra" => Ok(Format::Entra),
            "scim" => Ok(Format::Scim),
            other => Err(Error::usage(format!(
                "--format `{other}` cannot be written: use jumpcloud, entra or scim"
            ))),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Format::Jumpcloud => "JumpCloud PowerShell import/update template",
            Format::JumpcloudExport => "JumpCloud user export (Get-JCUser / API)",
            Format::Entra => "Entra ID bulk-create template",
            Format::Google => "Google Workspace user CSV",
            Format::Okta => "Okta user import CSV",
            Format::Scim => "flat SCIM layout",
        }
    }

    /// Columns that must exist (normalised keys, and how to name them to people).
    fn required(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::Jumpcloud => &[("username", "Username")],
            Format::JumpcloudExport => &[("username", "username"), ("email", "email")],
            Format::Entra => &[
                ("userprincipalname", "User name [userPrincipalName]"),
                ("displayname", "Name [displayName]"),
            ],
            Format::Google => &[("email address", "Email Address [Required]")],
            Format::Okta => &[("login", "login"), ("email", "email")],
            Format::Scim => &[("username", "userName")],
        }
    }
}

/// What a column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Field(Field),
    /// Google's primary email is also the user name.
    UserNameAndEmail,
    Password,
    WorkPoBox,
    HomePoBox,
    Group(usize),
    AttrName(usize),
    AttrValue(usize),
    /// JumpCloud `state`: ACTIVATED / STAGED / SUSPENDED.
    State,
    Suspended,
    PasswordExpired,
    Active,
    /// Entra `Block sign in (Yes/No)`: the inverse of active.
    BlockSignIn,
    /// Google `Status` / `New Status`: Active / Suspended.
    GoogleStatus,
    /// A known boolean we check but do not send.
    Bool,
    /// A known unsigned 32-bit number we check but do not send (unix uid/gid).
    Uint32,
    /// A known column with no SCIM attribute: not sent.
    Known,
    /// A column with no header.
    Blank,
    /// Not a column of this format: ignored with a warning.
    Unknown,
}

/// Normalise a header: trim, drop a stray BOM, lowercase; Entra's `[property]`
/// is taken from inside the brackets; Google's `[Required]`-style suffixes go.
pub fn normalise_header(h: &str, format: Option<Format>) -> String {
    let t = h.trim().trim_start_matches('\u{feff}').trim();
    if format == Some(Format::Entra)
        && let (Some(a), Some(b)) = (t.find('['), t.rfind(']'))
        && a < b
    {
        return t[a + 1..b].trim().to_ascii_lowercase();
    }
    let mut s = t.to_string();
    if format == Some(Format::Google) {
        while let Some(i) = s.rfind('[') {
            if s.ends_with(']') {
                s.truncate(i);
                s = s.trim().to_string();
            } else {
                break;
            }
        }
    }
    s.to_ascii_lowercase()
}

/// Work out the layout from the header row.
pub fn detect(header: &[String], version_line: bool) -> Result<Format, String> {
    let raw: Vec<String> = header.iter().map(|h| normalise_header(h, None)).collect();
    let has = |k: &str| raw.iter().any(|h| h == k);
    if version_line || raw.iter().any(|h| h.contains("[userprincipalname]")) {
        return Ok(Format::Entra);
    }
    if raw.iter().any(|h| h.starts_with("email address")) {
        return Ok(Format::Google);
    }
    if raw.iter().any(|h| {
        h.starts_with("name.")
            || h.starts_with("emails[")
            || h.starts_with("urn:ietf:params:scim")
            || h.starts_with("phonenumbers[")
            || h.starts_with("addresses[")
    }) {
        return Ok(Format::Scim);
    }
    if has("login") && has("email") {
        return Ok(Format::Okta);
    }
    // An export has `_id`, or `state` without a password column (our own
    // JumpCloud-template export adds `state` but keeps `Password`).
    if has("username") && (has("_id") || (has("state") && !has("password"))) {
        return Ok(Format::JumpcloudExport);
    }
    if has("username") {
        return Ok(Format::Jumpcloud);
    }
    if header.iter().any(|h| h.contains('@')) {
        return Err("the first row looks like data (it holds an email address), not a header: this looks like a headerless file such as JumpCloud's legacy CSVImporter output; add a header row (Username,FirstName,LastName,Email,…)".into());
    }
    let shown: Vec<String> = header
        .iter()
        .take(6)
        .map(|h| crate::text::excerpt(h.trim(), 80))
        .collect();
    Err(format!(
        "could not tell the format from the header ({}{}): expected a JumpCloud template (Username, FirstName, LastName, Email), a JumpCloud export (username, email, state), an Entra template (version:v1.0), a Google or Okta CSV, or flat SCIM (userName, name.givenName, …); pass --format",
        shown.join(", "),
        if header.len() > 6 { ", …" } else { "" }
    ))
}

/// The role of a column in a layout.
pub fn column_role(format: Format, key: &str) -> Col {
    use super::model::Field as F;
    use Col::*;
    if key.is_empty() {
        return Blank;
    }
    match format {
        Format::Jumpcloud | Format::JumpcloudExport => jumpcloud_role(key),
        Format::Entra => match key {
            "displayname" => Field(F::DisplayName),
            "userprincipalname" => Field(F::UserName),
            "passwordprofile" => Password,
            "accountenabled" => BlockSignIn,
            "givenname" => Field(F::GivenName),
            "surname" => Field(F::FamilyName),
            "jobtitle" => Field(F::Title),
            "department" => Field(F::Department),
            "streetaddress" => Field(F::WorkStreet),
            "state" => Field(F::WorkRegion),
            "country" => Field(F::WorkCountry),
            "city" => Field(F::WorkLocality),
            "postalcode" => Field(F::WorkPostal),
            "telephonenumber" => Field(F::PhoneWork),
            "mobile" => Field(F::PhoneMobile),
            "usagelocation" | "physicaldeliveryofficename" => Known,
            _ => Unknown,
        },
        Format::Google => match key {
            "first name" => Field(F::GivenName),
            "last name" => Field(F::FamilyName),
            "email address" => UserNameAndEmail,
            "password" => Password,
            "work secondary email" => Field(F::AltEmail),
            "work phone" => Field(F::PhoneWork),
            "home phone" => Field(F::PhoneHome),
            "mobile phone" => Field(F::PhoneMobile),
            "work address" => Field(F::WorkStreet),
            "home address" => Field(F::HomeStreet),
            "employee id" => Field(F::EmployeeNumber),
            "employee type" => Field(F::UserType),
            "employee title" => Field(F::Title),
            "manager email" => Field(F::Manager),
            "department" => Field(F::Department),
            "cost center" => Field(F::CostCenter),
            "status" | "new status" => GoogleStatus,
            "change password at next sign-in" => Bool,
            "password hash function"
            | "org unit path"
            | "new primary email"
            | "last sign in"
            | "recovery email"
            | "home secondary email"
            | "recovery phone"
            | "building id"
            | "floor name"
            | "floor section"
            | "2sv enrolled"
            | "2sv enforced"
            | "email usage"
            | "drive usage"
            | "total storage"
            | "advanced protection program enrollment"
            | "new licenses" => Known,
            _ => Unknown,
        },
        Format::Okta => match key {
            "login" => Field(F::UserName),
            "email" => Field(F::Email),
            "secondemail" => Field(F::AltEmail),
            "firstname" => Field(F::GivenName),
            "lastname" => Field(F::FamilyName),
            "middlename" => Field(F::MiddleName),
            "title" => Field(F::Title),
            "displayname" => Field(F::DisplayName),
            "primaryphone" => Field(F::PhoneWork),
            "mobilephone" => Field(F::PhoneMobile),
            "streetaddress" => Field(F::WorkStreet),
            "city" => Field(F::WorkLocality),
            "state" => Field(F::WorkRegion),
            "zipcode" => Field(F::WorkPostal),
            "countrycode" => Field(F::WorkCountry),
            "usertype" => Field(F::UserType),
            "employeenumber" => Field(F::EmployeeNumber),
            "costcenter" => Field(F::CostCenter),
            "organization" => Field(F::Organization),
            "division" => Field(F::Division),
            "department" => Field(F::Department),
            "managerid" => Field(F::Manager),
            "honorificprefix" | "honorificsuffix" | "nickname" | "profileurl" | "postaladdress"
            | "preferredlanguage" | "locale" | "timezone" | "manager" => Known,
            _ => Unknown,
        },
        Format::Scim => {
            for f in F::ALL {
                if f.scim_path().eq_ignore_ascii_case(key)
                    || (f == F::Manager
                        && key.eq_ignore_ascii_case(&format!("{}.value", f.scim_path())))
                {
                    return Field(f);
                }
            }
            match key {
                "active" => Active,
                "password" => Password,
                "groups" | "id" => Known,
                _ => Unknown,
            }
        }
    }
}

fn jumpcloud_role(key: &str) -> Col {
    use super::model::Field as F;
    use Col::*;
    if let Some(n) = key
        .strip_prefix("group")
        .and_then(|n| n.parse::<usize>().ok())
    {
        return Group(n);
    }
    if let Some(rest) = key.strip_prefix("attribute") {
        if let Some(n) = rest.strip_suffix("_name").and_then(|n| n.parse().ok()) {
            return AttrName(n);
        }
        if let Some(n) = rest.strip_suffix("_value").and_then(|n| n.parse().ok()) {
            return AttrValue(n);
        }
    }
    match key {
        "username" => Field(F::UserName),
        "firstname" | "first name" => Field(F::GivenName),
        "lastname" | "last name" => Field(F::FamilyName),
        "middlename" | "middle name" => Field(F::MiddleName),
        "password" => Password,
        "email" | "company email" => Field(F::Email),
        "alternateemail" | "alternate email" => Field(F::AltEmail),
        "manager" => Field(F::Manager),
        "preferredname" | "displayname" | "display name" => Field(F::DisplayName),
        "jobtitle" | "job title" => Field(F::Title),
        "employeeidentifier" | "employee id" => Field(F::EmployeeNumber),
        "department" => Field(F::Department),
        "costcenter" | "cost center" => Field(F::CostCenter),
        "company" => Field(F::Organization),
        "employeetype" | "employee type" => Field(F::UserType),
        "_id" => Field(F::ExternalId),
        "home_streetaddress" => Field(F::HomeStreet),
        "home_pobox" => HomePoBox,
        "home_city" | "home_locality" => Field(F::HomeLocality),
        "home_state" | "home_region" => Field(F::HomeRegion),
        "home_postalcode" => Field(F::HomePostal),
        "home_country" => Field(F::HomeCountry),
        "work_streetaddress" => Field(F::WorkStreet),
        "work_pobox" => WorkPoBox,
        "work_city" | "work_locality" => Field(F::WorkLocality),
        "work_state" | "work_region" => Field(F::WorkRegion),
        "work_postalcode" => Field(F::WorkPostal),
        "work_country" => Field(F::WorkCountry),
        "mobile_number" => Field(F::PhoneMobile),
        "home_number" => Field(F::PhoneHome),
        "work_number" => Field(F::PhoneWork),
        "work_mobile_number" => Field(F::PhoneOther),
        "work_fax_number" => Field(F::PhoneFax),
        "state" => State,
        "suspended" => Suspended,
        "password_expired" => PasswordExpired,
        "unix_uid" | "unix_guid" => Uint32,
        "enable_user_portal_multifactor"
        | "administrator"
        | "ldap_binding_user"
        | "account_locked"
        | "allow_public_key"
        | "enable_managed_uid"
        | "externally_managed"
        | "passwordless_sudo"
        | "sudo"
        | "password_never_expires"
        | "activated" => Bool,
        "recoveryemail"
        | "managedappleid"
        | "managed apple id"
        | "description"
        | "location"
        | "enrollmentdays"
        | "ldapserver_id"
        | "systemid"
        | "external_dn"
        | "external_source_type"
        | "created"
        | "mfa"
        | "addresses"
        | "phonenumbers"
        | "attributes"
        | "totp_enabled"
        | "organization"
        | "creationsource"
        | "tags"
        | "ssh_keys"
        | "public_key"
        | "badloginattempts"
        | "password_date"
        | "password_expiration_date"
        | "account_locked_date"
        | "samba_service_user"
        | "mfaenrollment"
        | "relationships"
        | "restrictedfields"
        | "delegatedauthority"
        | "disabledevicemaxloginattempts"
        | "external_password_expiration_date"
        | "admin" => Known,
        _ => Unknown,
    }
}

/// Roles for a whole header, with the diagnostics a header can raise.
pub fn header_roles(
    format: Format,
    header: &[String],
    line: usize,
) -> (Vec<Col>, Vec<super::read::Diag>) {
    use super::read::Diag;
    let mut diags = Vec::new();
    let keys: Vec<String> = header
        .iter()
        .map(|h| normalise_header(h, Some(format)))
        .collect();
    let roles: Vec<Col> = keys.iter().map(|k| column_role(format, k)).collect();
    for (need, label) in format.required() {
        if !keys.iter().any(|k| k == need) {
            diags.push(Diag::error(
                line,
                0,
                format!("missing required column `{label}` ({})", format.describe()),
            ));
        }
    }
    for (i, k) in keys.iter().enumerate() {
        if k.is_empty() {
            continue;
        }
        if let Some(j) = keys[..i].iter().position(|p| p == k) {
            diags.push(Diag::error(
                line,
                i + 1,
                format!(
                    "column `{}` appears twice (also column {}): which one holds the data is ambiguous",
                    crate::text::excerpt(header[i].trim(), 80),
                    j + 1
                ),
            ));
        }
        if roles[i] == Col::Unknown {
            diags.push(Diag::warning(
                line,
                i + 1,
                format!(
                    "column `{}` is not a {} column: ignored",
                    crate::text::excerpt(header[i].trim(), 80),
                    format.describe()
                ),
            ));
        }
    }
    (roles, diags)
}

// ----- writers -----

/// Prefix a cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
/// TAB, CR) with `'`. Import strips exactly this prefix again.
pub fn guard_formula(v: &str) -> std::borrow::Cow<'_, str> {
    match v.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{v}").into(),
        _ => v.into(),
    }
}

/// Undo [`guard_formula`]: a leading `'` before one of its characters.
pub fn unguard(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => v,
    }
}

const JC_COLUMNS: &[(&str, Option<Field>)] = &[
    ("FirstName", Some(Field::GivenName)),
    ("LastName", Some(Field::FamilyName)),
    ("Username", Some(Field::UserName)),
    ("Password", None),
    ("Email", Some(Field::Email)),
    ("alternateEmail", Some(Field::AltEmail)),
    ("manager", Some(Field::Manager)),
    ("MiddleName", Some(Field::MiddleName)),
    ("preferredName", Some(Field::DisplayName)),
    ("jobTitle", Some(Field::Title)),
    ("employeeIdentifier", Some(Field::EmployeeNumber)),
    ("department", Some(Field::Department)),
    ("costCenter", Some(Field::CostCenter)),
    ("company", Some(Field::Organization)),
    ("employeeType", Some(Field::UserType)),
    ("home_streetAddress", Some(Field::HomeStreet)),
    ("home_city", Some(Field::HomeLocality)),
    ("home_state", Some(Field::HomeRegion)),
    ("home_postalCode", Some(Field::HomePostal)),
    ("home_country", Some(Field::HomeCountry)),
    ("work_streetAddress", Some(Field::WorkStreet)),
    ("work_city", Some(Field::WorkLocality)),
    ("work_state", Some(Field::WorkRegion)),
    ("work_postalCode", Some(Field::WorkPostal)),
    ("work_country", Some(Field::WorkCountry)),
    ("mobile_number", Some(Field::PhoneMobile)),
    ("home_number", Some(Field::PhoneHome)),
    ("work_number", Some(Field::PhoneWork)),
    ("work_mobile_number", Some(Field::PhoneOther)),
    ("work_fax_number", Some(Field::PhoneFax)),
];

const ENTRA_COLUMNS: &[(&str, Option<Field>)] = &[
    ("Name [displayName] Required", Some(Field::DisplayName)),
    (
        "User name [userPrincipalName] Required",
        Some(Field::UserName),
    ),
    ("Initial password [passwordProfile] Required", None),
    ("Block sign in (Yes/No) [accountEnabled] Required", None),
    ("First name [givenName]", Some(Field::GivenName)),
    ("Last name [surname]", Some(Field::FamilyName)),
    ("Job title [jobTitle]", Some(Field::Title)),
    ("Department [department]", Some(Field::Department)),
    ("Usage location [usageLocation]", None),
    ("Street address [streetAddress]", Some(Field::WorkStreet)),
    ("State or province [state]", Some(Field::WorkRegion)),
    ("Country or region [country]", Some(Field::WorkCountry)),
    ("Office [physicalDeliveryOfficeName]", None),
    ("City [city]", Some(Field::WorkLocality)),
    ("ZIP or postal code [postalCode]", Some(Field::WorkPostal)),
    ("Office phone [telephoneNumber]", Some(Field::PhoneWork)),
    ("Mobile phone [mobile]", Some(Field::PhoneMobile)),
];

/// Writes rows of one layout to a CSV writer.
pub struct Writer {
    format: Format,
    groups: usize,
}

impl Writer {
    /// `groups`: how many `Group<N>` columns the JumpCloud layout gets.
    pub fn new(format: Format, groups: usize) -> Writer {
        Writer { format, groups }
    }

    /// Lines before the header (Entra's `version:v1.0`).
    pub fn preamble(&self) -> Option<&'static str> {
        (self.format == Format::Entra).then_some("version:v1.0")
    }

    pub fn header(&self) -> Vec<String> {
        match self.format {
            Format::Entra => ENTRA_COLUMNS.iter().map(|(h, _)| h.to_string()).collect(),
            Format::Scim => {
                let mut h: Vec<String> = Field::ALL
                    .iter()
                    .map(|f| f.scim_path().to_string())
                    .collect();
                h.push("active".into());
                h.push("groups".into());
                h
            }
            _ => {
                let mut h: Vec<String> = JC_COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
                h.push("state".into());
                h.extend((1..=self.groups).map(|i| format!("Group{i}")));
                h
            }
        }
    }

    /// One row, with the formula guard applied to every cell.
    pub fn row(&self, u: &UserRow) -> Vec<String> {
        let v = |f: Field| guard_formula(u.get(f).unwrap_or("")).into_owned();
        let active = u.active.unwrap_or(true);
        match self.format {
            Format::Entra => ENTRA_COLUMNS
                .iter()
                .map(|(h, f)| match f {
                    Some(f) => v(*f),
                    None if h.starts_with("Block sign in") => {
                        if active { "No" } else { "Yes" }.to_string()
                    }
                    None => String::new(),
                })
                .collect(),
            Format::Scim => {
                let mut r: Vec<String> = Field::ALL.iter().map(|f| v(*f)).collect();
                r.push(if active { "true" } else { "false" }.into());
                r.push(guard_formula(&u.groups.join(";")).into_owned());
                r
            }
            _ => {
                let mut r: Vec<String> = JC_COLUMNS
                    .iter()
                    .map(|(_, f)| f.map(v).unwrap_or_default())
                    .collect();
                r.push(if active { "ACTIVATED" } else { "SUSPENDED" }.into());
                for i in 0..self.groups {
                    r.push(
                        u.groups
                            .get(i)
                            .map(|g| guard_formula(g).into_owned())
                            .unwrap_or_default(),
                    );
                }
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn detects_layouts() {
        assert_eq!(
            detect(&h(&["FirstName", " LastName", "Username", "Email"]), false),
            Ok(Format::Jumpcloud)
        );
        assert_eq!(
            detect(&h(&["_id", "username", "email", "state"]), false),
            Ok(Format::JumpcloudExport)
        );
        assert_eq!(
            detect(&h(&["Name [displayName] Required"]), true),
            Ok(Format::Entra)
        );
        assert_eq!(
            detect(&h(&["login", "firstName", "email"]), false),
            Ok(Format::Okta)
        );
        assert_eq!(
            detect(
                &h(&["First Name [Required]", "Email Address [Required]"]),
                false
            ),
            Ok(Format::Google)
        );
        assert_eq!(
            detect(&h(&["userName", "name.givenName"]), false),
            Ok(Format::Scim)
        );
        assert!(
            detect(&h(&["a", "b@x.com"]), false)
                .unwrap_err()
                .contains("headerless")
        );
    }

    #[test]
    fn formula_guard_round_trips() {
        for v in ["=1+2", "+1 415", "-x", "@SUM", "\tx", "plain", "'quoted"] {
            assert_eq!(unguard(&guard_formula(v)), v);
        }
        assert_eq!(guard_formula("=cmd"), "'=cmd");
    }
}
