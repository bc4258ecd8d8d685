//! How a snapshot user reaches the app (`direct`, `group:<id>`, `nested:<id>`,
//! `all`), as one shared string per value.
//!
//! Every member of a group reaches the app by the same `group:<id>`: a
//! million users held a million copies of a few thousand strings (64 bytes
//! each with malloc's overhead). A [`Via`] is a reference-counted string;
//! capture makes one per group and hands it to each member, and a snapshot
//! read from a file ([`shared`]) gives equal values one string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

/// One way a user reaches the app. Reads as a `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Via(Arc<str>);

impl Via {
    pub fn new(s: &str) -> Via {
        SHARED.with(|set| match set.borrow_mut().as_mut() {
            Some(set) => match set.get(s) {
                Some(v) => Via(v.clone()),
                None => {
                    let v: Arc<str> = s.into();
                    set.insert(v.clone());
                    Via(v)
                }
            },
            None => Via(s.into()),
        })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

thread_local! {
    /// The strings given out while [`shared`] runs on this thread.
    static SHARED: RefCell<Option<HashSet<Arc<str>>>> = const { RefCell::new(None) };
}

/// Runs `f` (a parse) with every [`Via`] it reads on this thread sharing one
/// string per value; the table is dropped when `f` returns.
pub fn shared<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(Option<HashSet<Arc<str>>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            SHARED.with(|set| *set.borrow_mut() = self.0.take());
        }
    }
    let outer = SHARED.with(|set| set.borrow_mut().replace(HashSet::new()));
    let _reset = Reset(outer);
    f()
}

impl std::ops::Deref for Via {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Via {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Via {
    fn from(s: &str) -> Via {
        Via::new(s)
    }
}

impl From<String> for Via {
    fn from(s: String) -> Via {
        Via::new(&s)
    }
}

impl PartialEq<str> for Via {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Via {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Via {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl Serialize for Via {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Via {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Via;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, s: &str) -> Result<Via, E> {
                Ok(Via::new(s))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_read_in_one_parse_share_one_string() {
        let text = r#"[["direct","group:g1"],["group:g1"],["nested:g2"]]"#;
        let lists: Vec<Vec<Via>> = shared(|| serde_json::from_str(text).unwrap());
        assert!(Arc::ptr_eq(&lists[0][1].0, &lists[1][0].0));
        assert_eq!(serde_json::to_string(&lists).unwrap(), text);
        assert_eq!(lists[2][0], "nested:g2");
        assert_eq!(lists[0].join(", "), "direct, group:g1");
        // Outside a parse each value is its own; the table is gone.
        let again: Vec<Vec<Via>> = serde_json::from_str(text).unwrap();
        assert!(!Arc::ptr_eq(&again[0][1].0, &again[1][0].0));
        assert_eq!(again, lists);
    }
}
