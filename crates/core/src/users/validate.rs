//! Turn raw records into [`UserRow`]s and find every problem before anything is
//! sent: loose booleans, states, emails, PowerShell leftovers, formulas, ragged
//! rows, and duplicates within the file. Each problem carries its line and column.

use super::formats::{Col, Format, header_roles, unguard};
use super::model::{Field, UserRow};
use super::read::{Diag, RawTable};
use std::collections::HashMap;

/// Longest value accepted (JumpCloud's API limit for every string).
pub const MAX_VALUE_CHARS: usize = 1024;

/// The outcome of validating a table.
#[derive(Debug, Clone)]
pub struct Validated {
    pub format: Format,
    /// One per record, valid or not (same order as `RawTable::records`).
    pub rows: Vec<UserRow>,
    /// `invalid[i]`: record `i` has at least one error.
    pub invalid: Vec<bool>,
    pub diags: Vec<Diag>,
    /// The header (or the whole file) is unusable: no row can be imported.
    pub fatal: bool,
    /// Which columns held passwords (blanked in the failed-rows file).
    pub password_columns: Vec<usize>,
}

impl Validated {
    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.error).count()
    }
}

/// Loose booleans: `True`, `TRUE`, `$true`, `yes`, `1`, `y`, `on` (and false forms).
pub fn parse_bool(v: &str) -> Option<bool> {
    let t = v.trim().trim_start_matches('$').to_ascii_lowercase();
    match t.as_str() {
        "true" | "yes" | "y" | "1" | "on" => Some(true),
        "false" | "no" | "n" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// A PowerShell object written as text instead of its value.
fn powershell_leftover(v: &str) -> Option<&'static str> {
    if v.starts_with("System.")
        && (v.ends_with("[]") || v.contains("Collections") || v.contains("Object"))
    {
        Some(
            "what PowerShell's Export-Csv writes for a list or object it could not flatten; the real value was lost when the file was exported",
        )
    } else if v.starts_with("@{") && v.ends_with('}') {
        Some(
            "a PowerShell hashtable (`@{…}`) written by Export-Csv; the real value was lost when the file was exported",
        )
    } else if v.starts_with("Microsoft.PowerShell.")
        || v.starts_with("System.Management.Automation")
    {
        Some("a PowerShell type name, not a value")
    } else {
        None
    }
}

/// A plausible email: one `@`, something on each side, a dot in the domain,
/// no spaces or list separators.
pub fn valid_email(v: &str) -> bool {
    let mut parts = v.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !v
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '"' | '(' | ')'))
}

/// Validate every record of `table` read as `format`.
pub fn validate(table: &RawTable, format: Format) -> Validated {
    let (roles, mut diags) = header_roles(format, &table.header, table.header_line);
    let fatal = diags.iter().any(|d| d.error);
    let header = &table.header;
    let hname = |i: usize| {
        header
            .get(i)
            .map(|h| crate::text::excerpt(h.trim(), 80))
            .unwrap_or_default()
    };
    let password_columns: Vec<usize> = roles
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == Col::Password)
        .map(|(i, _)| i)
        .collect();
    let mut rows = Vec::with_capacity(table.records.len());
    let mut invalid = Vec::with_capacity(table.records.len());
    let mut warned_cols = vec![false; roles.len()];
    let mut warned_groups = false;
    let mut short_rows = 0usize;
    for (ri, rec) in table.records.iter().enumerate() {
        let line = rec.line;
        let mut errs: Vec<Diag> = Vec::new();
        let mut u = UserRow {
            line,
            record: ri,
            ..Default::default()
        };
        let mut attr_names: HashMap<usize, (usize, bool)> = HashMap::new();
        let mut attr_values: HashMap<usize, (usize, bool)> = HashMap::new();
        let (mut work_po, mut home_po) = (None, None);
        let (mut suspended, mut expired, mut state_active) = (None, None, None);
        if rec.fields.len() > roles.len() {
            if rec
                .fields
                .iter()
                .skip(roles.len())
                .any(|f| !f.trim().is_empty())
            {
                errs.push(Diag::error(
                    line,
                    roles.len() + 1,
                    format!(
                        "this row has {} fields but the header has {}: a value is not under any column (an unquoted delimiter inside a value?)",
                        rec.fields.len(),
                        roles.len()
                    ),
                ));
            }
        } else if rec.fields.len() < roles.len() {
            short_rows += 1;
            if short_rows <= 3 {
                diags.push(Diag::warning(
                    line,
                    rec.fields.len() + 1,
                    format!(
                        "this row has {} fields but the header has {}: the missing ones are read as empty",
                        rec.fields.len(),
                        roles.len()
                    ),
                ));
            }
        }
        for (ci, raw) in rec.fields.iter().enumerate().take(roles.len()) {
            let role = roles[ci];
            let col = ci + 1;
            let v = unguard(raw.trim());
            if v.is_empty() || v == "\"\"" {
                continue;
            }
            if role == Col::Password {
                u.had_password = true;
                continue;
            }
            // Line breaks are checked per attribute below; TAB is plain text.
            if let Some(c) = v
                .chars()
                .find(|&c| crate::text::is_unsafe(c) && !matches!(c, '\t' | '\n' | '\r'))
            {
                errs.push(Diag::error(
                    line,
                    col,
                    format!(
                        "{} holds the control character U+{:04X}, which would act on a terminal rather than print: remove it from the cell",
                        hname(ci),
                        c as u32
                    ),
                ));
                continue;
            }
            if let Some(why) = powershell_leftover(v) {
                match role {
                    Col::Known | Col::Unknown => {
                        if !warned_cols[ci] {
                            warned_cols[ci] = true;
                            diags.push(Diag::warning(
                                line,
                                col,
                                format!("column `{}` holds `{}`, {why}; the column is not imported", hname(ci), short(v)),
                            ));
                        }
                    }
                    _ => errs.push(Diag::error(
                        line,
                        col,
                        format!("{} is `{}`, {why}: export again with the property selected explicitly (Select-Object) or fix the cell", hname(ci), short(v)),
                    )),
                }
                continue;
            }
            let mapped = !matches!(role, Col::Known | Col::Unknown | Col::Blank);
            if mapped && raw.trim().starts_with('=') {
                errs.push(Diag::error(
                    line,
                    col,
                    format!("{} `{}` looks like a spreadsheet formula: refusing to import it (write it as text, or prefix it with ' if the value really starts with =)", hname(ci), short(v)),
                ));
                continue;
            }
            if mapped && v.chars().count() > MAX_VALUE_CHARS {
                errs.push(Diag::error(
                    line,
                    col,
                    format!(
                        "{} is {} characters long; the limit is {MAX_VALUE_CHARS}",
                        hname(ci),
                        v.chars().count()
                    ),
                ));
                continue;
            }
            match role {
                Col::Field(f) => {
                    if let Some(e) = check_field(f, v) {
                        errs.push(Diag::error(line, col, format!("{} `{}`: {e}", hname(ci), short(v))));
                        continue;
                    }
                    let val = if f.is_email() { v.to_lowercase() } else { v.to_string() };
                    u.set(f, val);
                }
                Col::UserNameAndEmail => {
                    if !valid_email(v) {
                        errs.push(Diag::error(line, col, format!("{} `{}` is not a valid email address", hname(ci), short(v))));
                        continue;
                    }
                    u.set(Field::UserName, v.to_lowercase());
                    u.set(Field::Email, v.to_lowercase());
                }
                Col::WorkPoBox => work_po = Some(v.to_string()),
                Col::HomePoBox => home_po = Some(v.to_string()),
                Col::Group(_) => {
                    u.groups.push(v.to_string());
                    if !warned_groups {
                        warned_groups = true;
                        diags.push(Diag::warning(
                            line,
                            col,
                            "Group<N> columns are not sent to a SCIM target (the JumpCloud → SCIM table has no group attribute); they are kept for --to entra",
                        ));
                    }
                }
                Col::AttrName(n) => {
                    attr_names.insert(n, (col, true));
                }
                Col::AttrValue(n) => {
                    attr_values.insert(n, (col, true));
                }
                Col::State => match v.to_ascii_uppercase().as_str() {
                    "ACTIVATED" => state_active = Some(true),
                    "SUSPENDED" => state_active = Some(false),
                    "STAGED" => u.staged = true,
                    _ => errs.push(Diag::error(
                        line,
                        col,
                        format!("state `{}` is not a JumpCloud state: expected ACTIVATED, STAGED or SUSPENDED", short(v)),
                    )),
                },
                Col::Suspended | Col::PasswordExpired | Col::Active | Col::BlockSignIn | Col::Bool => {
                    match parse_bool(v) {
                        None => errs.push(Diag::error(
                            line,
                            col,
                            format!("{} `{}` is not a boolean: use True/False (also accepted: $true, yes/no, 1/0)", hname(ci), short(v)),
                        )),
                        Some(b) => match role {
                            Col::Suspended => suspended = Some(b),
                            Col::PasswordExpired => expired = Some(b),
                            Col::Active => u.active = Some(b),
                            Col::BlockSignIn => u.active = Some(!b),
                            _ => {}
                        },
                    }
                }
                Col::GoogleStatus => match v.to_ascii_lowercase().as_str() {
                    "active" => u.active = Some(true),
                    "suspended" => u.active = Some(false),
                    _ => errs.push(Diag::error(line, col, format!("status `{}` is not Active or Suspended", short(v)))),
                },
                Col::Uint32 => {
                    if v.parse::<u64>().ok().filter(|n| *n <= u32::MAX as u64).is_none() {
                        errs.push(Diag::error(
                            line,
                            col,
                            format!("{} `{}` is not a whole number between 0 and 4294967295", hname(ci), short(v)),
                        ));
                    }
                }
                Col::Blank => errs.push(Diag::error(
                    line,
                    col,
                    format!("value `{}` is in a column with no header", short(v)),
                )),
                Col::Password | Col::Known | Col::Unknown => {}
            }
        }
        for (n, (col, _)) in &attr_names {
            if !attr_values.contains_key(n) {
                errs.push(Diag::error(
                    line,
                    *col,
                    format!("Attribute{n}_name is set but Attribute{n}_value is empty: null attribute values are not supported (JumpCloud refuses them too)"),
                ));
            }
        }
        for (n, (col, _)) in &attr_values {
            if !attr_names.contains_key(n) {
                errs.push(Diag::error(
                    line,
                    *col,
                    format!("Attribute{n}_value is set but Attribute{n}_name is empty"),
                ));
            }
        }
        append_po_box(&mut u, Field::WorkStreet, work_po);
        append_po_box(&mut u, Field::HomeStreet, home_po);
        if state_active.is_some() || suspended.is_some() || expired.is_some() {
            // JumpCloud's connector: active = !suspended && !password_expired.
            let base = state_active.unwrap_or(!suspended.unwrap_or(false));
            u.active = Some(base && !suspended.unwrap_or(false) && !expired.unwrap_or(false));
        }
        if !fatal {
            if u.get(Field::UserName).is_none() {
                let col = roles
                    .iter()
                    .position(|r| matches!(r, Col::Field(Field::UserName) | Col::UserNameAndEmail))
                    .map(|c| c + 1)
                    .unwrap_or(0);
                if !errs.iter().any(|d| d.column == col) {
                    errs.push(Diag::error(
                        line,
                        col,
                        "the user name is empty: every row needs one",
                    ));
                }
            }
            if format == Format::Entra && u.user_name() == "chris@contoso.com" {
                errs.push(Diag::error(
                    line,
                    0,
                    "this is the example row of Microsoft's template (Chris Green, chris@contoso.com): delete it before importing",
                ));
            }
        }
        invalid.push(!errs.is_empty());
        diags.extend(errs);
        rows.push(u);
    }
    if short_rows > 3 {
        diags.push(Diag::warning(
            table.header_line,
            0,
            format!("{short_rows} rows in all have fewer fields than the header (read as empty)"),
        ));
    }
    if !fatal {
        duplicates(&rows, &mut invalid, &mut diags, &roles);
    }
    if fatal {
        invalid.iter_mut().for_each(|i| *i = true);
    }
    Validated {
        format,
        rows,
        invalid,
        diags,
        fatal,
        password_columns,
    }
}

fn short(v: &str) -> String {
    crate::text::excerpt(v, 60)
}

fn append_po_box(u: &mut UserRow, street: Field, po: Option<String>) {
    if let Some(po) = po {
        let joined = match u.get(street) {
            Some(s) => format!("{s}, {po}"),
            None => po,
        };
        u.set(street, joined);
    }
}

fn check_field(f: Field, v: &str) -> Option<String> {
    match f {
        Field::UserName if v.chars().any(char::is_whitespace) => {
            Some("a user name cannot contain spaces or line breaks".into())
        }
        Field::Email | Field::AltEmail if !valid_email(v) => {
            Some("is not a valid email address".into())
        }
        _ if f != Field::Manager
            && v.contains(['\n', '\r'])
            && !matches!(f, Field::WorkStreet | Field::HomeStreet) =>
        {
            Some("contains a line break, which this attribute cannot hold".into())
        }
        _ => None,
    }
}

/// Duplicate user names and emails (case-insensitively) are errors, reported on
/// the later row with the line of the first; duplicate employee ids are warnings.
fn duplicates(rows: &[UserRow], invalid: &mut [bool], diags: &mut Vec<Diag>, roles: &[Col]) {
    let col_of = |f: Field| {
        roles
            .iter()
            .position(|r| {
                *r == Col::Field(f)
                    || (*r == Col::UserNameAndEmail && matches!(f, Field::UserName | Field::Email))
            })
            .map(|c| c + 1)
            .unwrap_or(0)
    };
    for (f, what, is_err) in [
        (Field::UserName, "user name", true),
        (Field::Email, "email", true),
        (Field::EmployeeNumber, "employee id", false),
    ] {
        let mut seen: HashMap<std::borrow::Cow<str>, usize> = HashMap::with_capacity(rows.len());
        let col = col_of(f);
        for (i, r) in rows.iter().enumerate() {
            let Some(v) = r.get(f) else { continue };
            match seen.entry(super::model::lc(v)) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    let first = rows[*e.get()].line;
                    let msg = format!(
                        "duplicate {what} `{}` (first on line {first}): each user must appear once",
                        short(v)
                    );
                    if is_err {
                        invalid[i] = true;
                        diags.push(Diag::error(r.line, col, msg));
                    } else {
                        diags.push(Diag::warning(r.line, col, msg));
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_booleans() {
        for t in ["True", "TRUE", "$true", "$True", "yes", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["False", "$false", "no", "0", "FALSE"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn emails() {
        assert!(valid_email("a+jc@x.example"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@x.com"));
        assert!(!valid_email("a@@x.com"));
        assert!(!valid_email("@x.com"));
    }
}
