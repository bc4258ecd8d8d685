//! The format-neutral user row every reader produces and every writer consumes:
//! a fixed set of [`Field`]s (one per SCIM attribute we map), `active`, group
//! names, and the input line it came from. Passwords are never kept: only the
//! fact that a cell held one.

/// The enterprise extension schema URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core User schema URN.
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// One mapped attribute. The flat-SCIM column name doubles as its display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Field {
    UserName,
    GivenName,
    FamilyName,
    MiddleName,
    DisplayName,
    Title,
    UserType,
    ExternalId,
    Email,
    AltEmail,
    PhoneMobile,
    PhoneHome,
    PhoneWork,
    PhoneFax,
    PhoneOther,
    WorkStreet,
    WorkLocality,
    WorkRegion,
    WorkPostal,
    WorkCountry,
    HomeStreet,
    HomeLocality,
    HomeRegion,
    HomePostal,
    HomeCountry,
    EmployeeNumber,
    Department,
    CostCenter,
    Organization,
    Division,
    /// A reference to the manager (userName, email, or an id); resolved to the
    /// target's id when sent.
    Manager,
}

pub const FIELD_COUNT: usize = 31;

impl Field {
    pub const ALL: [Field; FIELD_COUNT] = [
        Field::UserName,
        Field::GivenName,
        Field::FamilyName,
        Field::MiddleName,
        Field::DisplayName,
        Field::Title,
        Field::UserType,
        Field::ExternalId,
        Field::Email,
        Field::AltEmail,
        Field::PhoneMobile,
        Field::PhoneHome,
        Field::PhoneWork,
        Field::PhoneFax,
        Field::PhoneOther,
        Field::WorkStreet,
        Field::WorkLocality,
        Field::WorkRegion,
        Field::WorkPostal,
        Field::WorkCountry,
        Field::HomeStreet,
        Field::HomeLocality,
        Field::HomeRegion,
        Field::HomePostal,
        Field::HomeCountry,
        Field::EmployeeNumber,
        Field::Department,
        Field::CostCenter,
        Field::Organization,
        Field::Division,
        Field::Manager,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The flat SCIM column name (also used in plan diffs).
    pub fn scim_path(self) -> &'static str {
        match self {
            Field::UserName => "userName",
            Field::GivenName => "name.givenName",
            Field::FamilyName => "name.familyName",
            Field::MiddleName => "name.middleName",
            Field::DisplayName => "displayName",
            Field::Title => "title",
            Field::UserType => "userType",
            Field::ExternalId => "externalId",
            Field::Email => "emails[type eq \"work\"].value",
            Field::AltEmail => "emails[type eq \"other\"].value",
            Field::PhoneMobile => "phoneNumbers[type eq \"mobile\"].value",
            Field::PhoneHome => "phoneNumbers[type eq \"home\"].value",
            Field::PhoneWork => "phoneNumbers[type eq \"work\"].value",
            Field::PhoneFax => "phoneNumbers[type eq \"fax\"].value",
            Field::PhoneOther => "phoneNumbers[type eq \"other\"].value",
            Field::WorkStreet => "addresses[type eq \"work\"].streetAddress",
            Field::WorkLocality => "addresses[type eq \"work\"].locality",
            Field::WorkRegion => "addresses[type eq \"work\"].region",
            Field::WorkPostal => "addresses[type eq \"work\"].postalCode",
            Field::WorkCountry => "addresses[type eq \"work\"].country",
            Field::HomeStreet => "addresses[type eq \"home\"].streetAddress",
            Field::HomeLocality => "addresses[type eq \"home\"].locality",
            Field::HomeRegion => "addresses[type eq \"home\"].region",
            Field::HomePostal => "addresses[type eq \"home\"].postalCode",
            Field::HomeCountry => "addresses[type eq \"home\"].country",
            Field::EmployeeNumber => {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            }
            Field::Department => {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
            }
            Field::CostCenter => {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
            }
            Field::Organization => {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"
            }
            Field::Division => {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division"
            }
            Field::Manager => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        }
    }

    /// A short name for diffs (`title`, `department`, `emails.work`).
    pub fn short(self) -> &'static str {
        match self {
            Field::Email => "emails.work",
            Field::AltEmail => "emails.other",
            Field::PhoneMobile => "phone.mobile",
            Field::PhoneHome => "phone.home",
            Field::PhoneWork => "phone.work",
            Field::PhoneFax => "phone.fax",
            Field::PhoneOther => "phone.other",
            Field::WorkStreet => "work.streetAddress",
            Field::WorkLocality => "work.locality",
            Field::WorkRegion => "work.region",
            Field::WorkPostal => "work.postalCode",
            Field::WorkCountry => "work.country",
            Field::HomeStreet => "home.streetAddress",
            Field::HomeLocality => "home.locality",
            Field::HomeRegion => "home.region",
            Field::HomePostal => "home.postalCode",
            Field::HomeCountry => "home.country",
            f => {
                let p = f.scim_path();
                p.rsplit(':').next().unwrap_or(p)
            }
        }
    }

    /// Emails compare and are sent lowercased (JumpCloud lowercases them too).
    pub fn is_email(self) -> bool {
        matches!(self, Field::Email | Field::AltEmail)
    }
}

/// One user read from a file, in no particular format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRow {
    /// The physical line the record starts on (1-based).
    pub line: usize,
    /// Index of the record among data rows (0-based), to find the raw record again.
    pub record: usize,
    /// Mapped values; `None` means absent (blank cells are absent: a CSV cannot clear a field).
    pub values: [Option<String>; FIELD_COUNT],
    /// `Some` only when the file says it (a state/active/block column).
    pub active: Option<bool>,
    /// JumpCloud STAGED users are not provisioned (like JumpCloud's own connector).
    pub staged: bool,
    /// Group names from `Group<N>` (or the export's group column).
    pub groups: Vec<String>,
    /// The row carried a password. The value itself is dropped on reading.
    pub had_password: bool,
}

impl UserRow {
    pub fn get(&self, f: Field) -> Option<&str> {
        self.values[f.index()].as_deref()
    }
    pub fn set(&mut self, f: Field, v: impl Into<String>) {
        self.values[f.index()] = Some(v.into());
    }
    pub fn user_name(&self) -> &str {
        self.get(Field::UserName).unwrap_or("")
    }
}

/// Lowercase without allocating when the text has no uppercase letter (most
/// user names and emails): keys for case-insensitive lookups.
pub fn lc(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        s.to_lowercase().into()
    } else {
        s.into()
    }
}
