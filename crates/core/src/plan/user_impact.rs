//! One user's predicted first cycle, in the form a plan holds a million of.
//!
//! A plan holds one [`UserImpact`] per snapshot user. As a struct of `String`
//! and `Option<String>` fields it took about 515 bytes a user at 1,000,000
//! users (ten field slots of 24 bytes, and four to six heap strings of 16
//! bytes' overhead each). Here a user's nine text fields are one string, and
//! each field is a span of it; a field whose text is already there (the
//! userName inside `userName eq "…"`, a UPN equal to the mail) points into the
//! text instead of repeating it: 171 bytes a user on the twin's
//! million-user tenant. It is built from [`UserImpactParts`] (the plain
//! fields), read through accessors, and reads and writes the plan file
//! exactly as those fields do.

use super::model::{DiffLine, UserAction};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The plain fields of a [`UserImpact`], as the plan file spells them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserImpactParts {
    pub id: String,
    pub user_principal_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    pub action: UserAction,
    /// The userName the custom mappings produce (what a create would send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The matching attribute and value looked up (`userName eq "…"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_on: Option<String>,
    /// The target user matched (match) or duplicated (create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_user_name: Option<String>,
    /// A create that makes a second account for someone already in the target.
    pub duplicate: bool,
    /// Which identifier ties this user to the target user in `targetId` when
    /// nothing matched: `objectId = target externalId`, `mail = target emails`,
    /// `gallery userName ← [mail] = target userName`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie: Option<String>,
    /// Why skipped, or a note (`scoping-filter`, `disabled`, `nested-only`, `not-assigned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a match: what the first cycle's update changes in the matched
    /// account's identity attributes (`userName`, `externalId`, `emails…`),
    /// one line each (`~ userName: old → new` is a rename). Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<DiffLine>,
}

// The text fields, by their index in `UserImpact::spans`.
const ID: usize = 0;
const UPN: usize = 1;
const MAIL: usize = 2;
const USER_NAME: usize = 3;
const MATCHED_ON: usize = 4;
const TARGET_ID: usize = 5;
const TARGET_USER_NAME: usize = 6;
const TIE: usize = 7;
const REASON: usize = 8;
const FIELDS: usize = 9;

/// The order fields are added to the text: those likely to hold another's
/// text first (`matchedOn` holds the userName, which is often the UPN and the
/// mail), so the others are found in them.
const BUILD_ORDER: [usize; FIELDS] = [
    ID,
    MATCHED_ON,
    USER_NAME,
    UPN,
    MAIL,
    TARGET_ID,
    TARGET_USER_NAME,
    TIE,
    REASON,
];

/// One user's predicted first cycle (see the module comment). `action`,
/// `duplicate` and `diff` are plain fields; the text fields are read with
/// [`UserImpact::id`], [`UserImpact::mail`], … and all of them at once with
/// [`UserImpact::parts`].
#[derive(Clone, PartialEq)]
pub struct UserImpact {
    text: Box<str>,
    spans: Spans,
    /// Bit `i`: field `i` is present (the id and the UPN always are).
    present: u16,
    pub action: UserAction,
    pub duplicate: bool,
    pub diff: Box<[DiffLine]>,
}

/// Each field's start and length in the text: two bytes each when the text
/// is shorter than 64 KB (every real user), four otherwise.
#[derive(Clone, PartialEq)]
enum Spans {
    Short([[u16; 2]; FIELDS]),
    Long(Box<[[u32; 2]; FIELDS]>),
}

impl Spans {
    fn of(spans: [[usize; 2]; FIELDS], text_len: usize) -> Spans {
        if text_len <= usize::from(u16::MAX) {
            Spans::Short(spans.map(|s| s.map(|x| x as u16)))
        } else {
            // A user's text is a few hundred bytes: far below 4 GB.
            Spans::Long(Box::new(spans.map(|s| s.map(|x| x as u32))))
        }
    }
    fn get(&self, i: usize) -> [usize; 2] {
        match self {
            Spans::Short(s) => s[i].map(usize::from),
            Spans::Long(s) => s[i].map(|x| x as usize),
        }
    }
}

impl From<UserImpactParts> for UserImpact {
    fn from(p: UserImpactParts) -> Self {
        let fields: [Option<&str>; FIELDS] = [
            Some(&p.id),
            Some(&p.user_principal_name),
            p.mail.as_deref(),
            p.user_name.as_deref(),
            p.matched_on.as_deref(),
            p.target_id.as_deref(),
            p.target_user_name.as_deref(),
            p.tie.as_deref(),
            p.reason.as_deref(),
        ];
        let mut text = String::with_capacity(fields.iter().flatten().map(|f| f.len()).sum());
        let mut spans = [[0usize; 2]; FIELDS];
        let mut present = 0u16;
        for i in BUILD_ORDER {
            let Some(f) = fields[i] else { continue };
            present |= 1 << i;
            let start = text.find(f).unwrap_or_else(|| {
                text.push_str(f);
                text.len() - f.len()
            });
            spans[i] = [start, f.len()];
        }
        UserImpact {
            spans: Spans::of(spans, text.len()),
            text: text.into_boxed_str(),
            present,
            action: p.action,
            duplicate: p.duplicate,
            diff: p.diff.into_boxed_slice(),
        }
    }
}

impl UserImpact {
    fn field(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let [start, len] = self.spans.get(i);
        self.text.get(start..start + len)
    }
    pub fn id(&self) -> &str {
        self.field(ID).unwrap_or_default()
    }
    pub fn user_principal_name(&self) -> &str {
        self.field(UPN).unwrap_or_default()
    }
    pub fn mail(&self) -> Option<&str> {
        self.field(MAIL)
    }
    /// The userName the custom mappings produce (what a create would send).
    pub fn user_name(&self) -> Option<&str> {
        self.field(USER_NAME)
    }
    /// The matching attribute and value looked up (`userName eq "…"`).
    pub fn matched_on(&self) -> Option<&str> {
        self.field(MATCHED_ON)
    }
    /// The target user matched (match) or duplicated (create).
    pub fn target_id(&self) -> Option<&str> {
        self.field(TARGET_ID)
    }
    pub fn target_user_name(&self) -> Option<&str> {
        self.field(TARGET_USER_NAME)
    }
    /// Which identifier ties this user to the target user in `targetId` when
    /// nothing matched.
    pub fn tie(&self) -> Option<&str> {
        self.field(TIE)
    }
    /// Why skipped, or a note (`scoping-filter`, `disabled`, …).
    pub fn reason(&self) -> Option<&str> {
        self.field(REASON)
    }
    /// `(old, new)` when the first cycle renames the matched account (its
    /// `userName` changes, case included).
    pub fn rename(&self) -> Option<(String, String)> {
        let d = self.diff.iter().find(|d| d.path == "userName")?;
        let text = |v: &Option<Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Some((text(&d.before), text(&d.after)))
    }
    /// All the fields, as plain values.
    pub fn parts(&self) -> UserImpactParts {
        let owned = |i| self.field(i).map(str::to_string);
        UserImpactParts {
            id: self.id().to_string(),
            user_principal_name: self.user_principal_name().to_string(),
            mail: owned(MAIL),
            action: self.action,
            user_name: owned(USER_NAME),
            matched_on: owned(MATCHED_ON),
            target_id: owned(TARGET_ID),
            target_user_name: owned(TARGET_USER_NAME),
            duplicate: self.duplicate,
            tie: owned(TIE),
            reason: owned(REASON),
            diff: self.diff.to_vec(),
        }
    }
}

impl std::fmt::Debug for UserImpact {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.parts().fmt(f)
    }
}

/// The fields borrowed, in the file's order and spelling: what
/// [`UserImpactParts`] writes, without copying them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct View<'a> {
    id: &'a str,
    user_principal_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mail: Option<&'a str>,
    action: UserAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    matched_on: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_user_name: Option<&'a str>,
    duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tie: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    diff: &'a [DiffLine],
}

impl Serialize for UserImpact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        View {
            id: self.id(),
            user_principal_name: self.user_principal_name(),
            mail: self.mail(),
            action: self.action,
            user_name: self.user_name(),
            matched_on: self.matched_on(),
            target_id: self.target_id(),
            target_user_name: self.target_user_name(),
            duplicate: self.duplicate,
            tie: self.tie(),
            reason: self.reason(),
            diff: &self.diff,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for UserImpact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UserImpactParts::deserialize(d).map(UserImpact::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> UserImpactParts {
        UserImpactParts {
            id: "u1".into(),
            user_principal_name: "ann@x.example".into(),
            mail: Some("ann@x.example".into()),
            action: UserAction::Match,
            user_name: Some("ann@x.example".into()),
            matched_on: Some("userName eq \"ann@x.example\"".into()),
            target_id: Some("t1".into()),
            target_user_name: Some("Ann@X.example".into()),
            duplicate: false,
            tie: None,
            reason: Some(String::new()),
            diff: vec![DiffLine::change(
                "userName",
                Value::from("Ann@X.example"),
                Value::from("ann@x.example"),
            )],
        }
    }

    #[test]
    fn reads_and_writes_as_its_fields() {
        let p = parts();
        let u = UserImpact::from(p.clone());
        assert_eq!(u.parts(), p);
        assert_eq!(u.id(), "u1");
        assert_eq!(u.mail(), Some("ann@x.example"));
        assert_eq!(u.tie(), None);
        // An empty field is present, not missing.
        assert_eq!(u.reason(), Some(""));
        assert_eq!(
            u.rename(),
            Some(("Ann@X.example".into(), "ann@x.example".into()))
        );
        // The same bytes as the plain fields, both ways.
        let text = serde_json::to_string_pretty(&u).unwrap();
        assert_eq!(text, serde_json::to_string_pretty(&p).unwrap());
        let back: UserImpact = serde_json::from_str(&text).unwrap();
        assert_eq!(back, u);
        let bare = UserImpactParts {
            mail: None,
            user_name: None,
            matched_on: None,
            target_id: None,
            target_user_name: None,
            reason: None,
            diff: vec![],
            ..p.clone()
        };
        let b = UserImpact::from(bare.clone());
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            serde_json::to_string(&bare).unwrap()
        );
        assert!(serde_json::from_str::<UserImpact>(r#"{"id":"u"}"#).is_err());
        // A text of 64 KB or more keeps its fields too.
        let long = UserImpactParts {
            reason: Some("r".repeat(70_000)),
            ..p.clone()
        };
        let l = UserImpact::from(long.clone());
        assert!(matches!(l.spans, Spans::Long(_)));
        assert_eq!(l.parts(), long);
        assert!(matches!(u.spans, Spans::Short(_)));
        assert!(std::mem::size_of::<UserImpact>() <= 80);
        // The UPN, mail and userName are the text inside `matchedOn`: held once.
        assert_eq!(
            u.text.len(),
            "u1".len() + "userName eq \"ann@x.example\"".len() + "t1Ann@X.example".len()
        );
    }
}
