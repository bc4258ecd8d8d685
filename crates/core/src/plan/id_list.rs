//! A list of object ids held as one string: a pushed group's members in the
//! plan's group impact (a million or more at a million users).
//!
//! As a `Vec<String>` each id took 24 bytes of slot and a heap string with
//! 16 bytes of malloc's overhead, 76 bytes for a 36-character GUID; here it is
//! its text and a 4-byte end offset. It reads and writes the plan file as the
//! JSON array of strings it is.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Default)]
pub struct IdList {
    text: String,
    /// Where each id ends in `text`.
    ends: Vec<u32>,
}

impl IdList {
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| {
            let start = i.checked_sub(1).map_or(0, |p| self.ends[p] as usize);
            self.text
                .get(start..self.ends[i] as usize)
                .unwrap_or_default()
        })
    }
    /// Adds `id` at the end.
    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        // A plan file is far below 4 GB of member ids per group.
        self.ends.push(self.text.len() as u32);
    }
    fn fit(mut self) -> IdList {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
        self
    }
}

impl<S: AsRef<str>> FromIterator<S> for IdList {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> IdList {
        let mut out = IdList::default();
        for id in ids {
            out.push(id.as_ref());
        }
        out.fit()
    }
}

impl std::fmt::Debug for IdList {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for IdList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for IdList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seq;
        impl<'de> serde::de::Visitor<'de> for Seq {
            type Value = IdList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<IdList, A::Error> {
                let mut out = IdList::default();
                while let Some(id) = seq.next_element::<String>()? {
                    out.push(&id);
                }
                Ok(out.fit())
            }
        }
        d.deserialize_seq(Seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_an_array_of_strings() {
        for text in [r#"[]"#, r#"["a","","b\"c","é"]"#] {
            let l: IdList = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&l).unwrap(), text);
        }
        let l: IdList = ["u1", "", "u3"].into_iter().collect();
        assert_eq!(l.iter().collect::<Vec<_>>(), ["u1", "", "u3"]);
        assert_eq!(l.len(), 3);
        assert!(serde_json::from_str::<IdList>(r#"["a",1]"#).is_err());
    }
}
