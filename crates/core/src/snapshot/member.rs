//! A group's direct member in a snapshot, in the form a snapshot holds a
//! million of.
//!
//! A tenant of 50,000 groups holds a million or more memberships. As three
//! `String`s (id, type, displayName) each took about 184 bytes: 72 of field
//! slots and two or three heap strings. Here the id and the name are one
//! string, and the type is an index into the types Graph names (`user`,
//! `group`, …), any other type kept at the end of the same string: about
//! 100 bytes. It reads and writes the snapshot file exactly as the three
//! fields do, so the file and its digest do not change.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The member types held without text: Graph's `@odata.type` names, short.
const KINDS: &[&str] = &[
    "user",
    "group",
    "servicePrincipal",
    "device",
    "orgContact",
    "application",
];

/// `kind_at` when the type is not one of [`KINDS`]: its text follows the name.
const OTHER_KIND: u8 = u8::MAX;

/// One direct member of a group: its object id, its type (`user`, `group`,
/// …) and its displayName when Graph gave one.
#[derive(Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The id, then the displayName, then the type when it is not a known one.
    text: Box<str>,
    id_len: u32,
    /// The displayName's length, or `u32::MAX` when there is none.
    name_len: u32,
    kind_at: u8,
}

const NO_NAME: u32 = u32::MAX;

impl MemberRef {
    pub fn new(id: &str, kind: &str, display_name: Option<&str>) -> MemberRef {
        let known = KINDS.iter().position(|k| *k == kind);
        let mut text = String::with_capacity(
            id.len() + display_name.map_or(0, str::len) + known.map_or(kind.len(), |_| 0),
        );
        text.push_str(id);
        text.push_str(display_name.unwrap_or_default());
        if known.is_none() {
            text.push_str(kind);
        }
        // An id and a name are far below 4 GB.
        MemberRef {
            text: text.into_boxed_str(),
            id_len: id.len() as u32,
            name_len: display_name.map_or(NO_NAME, |n| n.len() as u32),
            kind_at: known.map_or(OTHER_KIND, |k| k as u8),
        }
    }
    fn name_end(&self) -> usize {
        self.id_len as usize
            + if self.name_len == NO_NAME {
                0
            } else {
                self.name_len as usize
            }
    }
    pub fn id(&self) -> &str {
        self.text.get(..self.id_len as usize).unwrap_or_default()
    }
    /// `user`, `group`, or another directory object type.
    pub fn kind(&self) -> &str {
        match KINDS.get(usize::from(self.kind_at)) {
            Some(k) => k,
            None => self.text.get(self.name_end()..).unwrap_or_default(),
        }
    }
    pub fn display_name(&self) -> Option<&str> {
        if self.name_len == NO_NAME {
            return None;
        }
        self.text.get(self.id_len as usize..self.name_end())
    }
}

impl std::fmt::Debug for MemberRef {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("MemberRef")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field("display_name", &self.display_name())
            .finish()
    }
}

/// The file's fields, borrowed (writing) or owned (reading).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fields<S> {
    id: S,
    /// `user` or `group`.
    #[serde(rename = "type")]
    kind: S,
    #[serde(default)]
    display_name: Option<S>,
}

impl Serialize for MemberRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Fields {
            id: self.id(),
            kind: self.kind(),
            display_name: self.display_name(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MemberRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = Fields::<String>::deserialize(d)?;
        Ok(MemberRef::new(&f.id, &f.kind, f.display_name.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_its_three_fields() {
        for text in [
            r#"{"id":"g1","type":"group","displayName":"Sales"}"#,
            r#"{"id":"u1","type":"user","displayName":null}"#,
            r##"{"id":"x1","type":"#microsoft.graph.device","displayName":""}"##,
            r#"{"id":"s1","type":"servicePrincipal","displayName":"Bot \"q\""}"#,
        ] {
            let m: MemberRef = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), text);
        }
        let m = MemberRef::new("x1", "#microsoft.graph.device", Some(""));
        assert_eq!(
            (m.id(), m.kind(), m.display_name()),
            ("x1", "#microsoft.graph.device", Some(""))
        );
        let u = MemberRef::new("u1", "user", None);
        assert_eq!((u.id(), u.kind(), u.display_name()), ("u1", "user", None));
        // displayName may be left out; another field is refused.
        let bare: MemberRef = serde_json::from_str(r#"{"id":"u1","type":"user"}"#).unwrap();
        assert_eq!(bare, u);
        assert!(serde_json::from_str::<MemberRef>(r#"{"id":"u1","type":"user","x":1}"#).is_err());
        assert!(std::mem::size_of::<MemberRef>() <= 32);
    }
}
