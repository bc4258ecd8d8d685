//! A user's Graph attributes in a snapshot, in a compact form.
//!
//! A snapshot holds one attribute object per user (100,000 or more). As a
//! `serde_json::Value` (with the `preserve_order` feature) every attribute is a
//! 112-byte `IndexMap` entry plus a hash table, and every key is its own heap
//! string: about 1.4 KB of map per user before any value. Here an object is a
//! boxed slice of values in file order, 24 bytes each, and its list of keys,
//! shared by every object with the same keys (the usual Graph property names
//! are `&'static str`, no allocation); strings are boxed to their length, and
//! anything else (arrays, objects) stays a `Value`.
//!
//! It serialises exactly as the `Value` object it was read from (same keys,
//! order and numbers), so the file bytes and the digest do not change.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// Property names Graph returns for users beyond those the snapshot selects
/// (`capture::USER_ATTRIBUTES`): together held as `&'static str`, not one heap
/// string per user.
const MORE_KNOWN_KEYS: &[&str] = &[
    "faxNumber",
    "otherMails",
    "proxyAddresses",
    "employeeHireDate",
    "manager",
];

fn known_key(k: &str) -> Option<&'static str> {
    super::capture::USER_ATTRIBUTES
        .iter()
        .chain(MORE_KNOWN_KEYS)
        .find(|&&c| c == k)
        .copied()
}

fn key(k: String) -> Cow<'static, str> {
    match known_key(&k) {
        Some(c) => Cow::Borrowed(c),
        None => Cow::Owned(k),
    }
}

/// Reads an object key without allocating when it is a known property name.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'static, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'static, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute name")
    }
    fn visit_str<E>(self, k: &str) -> Result<Self::Value, E> {
        Ok(known_key(k).map_or_else(|| Cow::Owned(k.to_string()), Cow::Borrowed))
    }
    fn visit_string<E>(self, k: String) -> Result<Self::Value, E> {
        Ok(key(k))
    }
}

/// The longest string held inside an [`AttrValue`] itself (no allocation).
pub const SHORT_MAX: usize = 22;

/// A string of at most [`SHORT_MAX`] bytes, held inline. Most attribute
/// values are that short (names, departments, cities, codes): a million
/// users then hold millions fewer heap strings, each of which cost malloc
/// 16 bytes or more on top of its text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Short {
    len: u8,
    bytes: [u8; SHORT_MAX],
}

impl Short {
    fn new(s: &str) -> Option<Short> {
        let mut bytes = [0; SHORT_MAX];
        bytes.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(Short {
            len: s.len() as u8,
            bytes,
        })
    }
    pub fn as_str(&self) -> &str {
        // Always a whole str: `new` copies one.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for Short {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One attribute value: the scalar kinds inline, anything else as a `Value`.
/// A string is `Short` when it fits, else `String`: build one with
/// [`AttrValue::string`] (or `From<Value>`) so that equal strings compare equal.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Null,
    Bool(bool),
    Number(Number),
    Short(Short),
    String(Box<str>),
    /// An array or object (e.g. `businessPhones`), as read.
    Json(Box<Value>),
}

impl AttrValue {
    /// A string value, inline when it is at most [`SHORT_MAX`] bytes.
    pub fn string(s: String) -> AttrValue {
        match Short::new(&s) {
            Some(short) => AttrValue::Short(short),
            None => AttrValue::String(s.into_boxed_str()),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Short(s) => Some(s.as_str()),
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, AttrValue::Null)
    }
    pub fn to_value(&self) -> Value {
        match self {
            AttrValue::Null => Value::Null,
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Number(n) => Value::Number(n.clone()),
            AttrValue::Short(s) => Value::String(s.as_str().to_string()),
            AttrValue::String(s) => Value::String(s.to_string()),
            AttrValue::Json(v) => (**v).clone(),
        }
    }
}

impl From<Value> for AttrValue {
    fn from(v: Value) -> Self {
        match v {
            Value::Null => AttrValue::Null,
            Value::Bool(b) => AttrValue::Bool(b),
            Value::Number(n) => AttrValue::Number(n),
            Value::String(s) => AttrValue::string(s),
            other => AttrValue::Json(Box::new(other)),
        }
    }
}

impl PartialEq<&str> for AttrValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for AttrValue {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The same calls as `Value`'s own Serialize: the same bytes.
        match self {
            AttrValue::Null => s.serialize_unit(),
            AttrValue::Bool(b) => s.serialize_bool(*b),
            AttrValue::Number(n) => n.serialize(s),
            AttrValue::Short(v) => s.serialize_str(v.as_str()),
            AttrValue::String(v) => s.serialize_str(v),
            AttrValue::Json(v) => v.serialize(s),
        }
    }
}

/// The keys of one attributes object, in order. Shared by every object
/// with the same keys: a snapshot's users mostly have the same ones (one
/// `$select`, the same properties set), so a million users hold a handful of
/// key lists instead of a million (24 bytes a key a user).
type Keys = std::sync::Arc<[Cow<'static, str>]>;

/// At most this many different key lists are shared; others are kept apart.
const MAX_SHARED_KEYS: usize = 4096;

fn shared_keys(keys: &[Cow<'static, str>]) -> Keys {
    static SHAPES: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<Keys>>> =
        std::sync::LazyLock::new(Default::default);
    let mut set = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = set.get(keys) {
        return k.clone();
    }
    let k: Keys = keys.into();
    if set.len() < MAX_SHARED_KEYS {
        set.insert(k.clone());
    }
    k
}

/// A user's attributes: a JSON object, in order (its keys shared, its
/// values its own).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes {
    keys: Keys,
    values: Box<[AttrValue]>,
}

static NULL: AttrValue = AttrValue::Null;

impl Attributes {
    /// The value of `key` (exact case), if present.
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.keys
            .iter()
            .position(|k| k == key)
            .map(|i| &self.values[i])
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        self.keys.iter().map(|k| k.as_ref()).zip(self.values.iter())
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    /// The object as a `Value` (for the mapping evaluator and diffs).
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(self.len());
        for (k, v) in self.iter() {
            m.insert(k.to_string(), v.to_value());
        }
        Value::Object(m)
    }
    /// From `(key, value)` pairs; a repeated key keeps its first position and
    /// its last value, as a JSON object read by serde_json does.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, Value)>) -> Self {
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        for (k, v) in pairs {
            put(&mut keys, &mut values, key(k), v.into());
        }
        Attributes {
            keys: shared_keys(&keys),
            values: values.into_boxed_slice(),
        }
    }
}

/// Adds one attribute: a repeated key keeps its first position and its last value.
fn put(
    keys: &mut Vec<Cow<'static, str>>,
    values: &mut Vec<AttrValue>,
    k: Cow<'static, str>,
    v: AttrValue,
) {
    match keys.iter().position(|x| *x == k) {
        Some(i) => values[i] = v,
        None => {
            keys.push(k);
            values.push(v);
        }
    }
}

/// A JSON object's attributes; anything but an object gives none.
impl From<Value> for Attributes {
    fn from(v: Value) -> Self {
        match v {
            Value::Object(m) => Attributes::from_pairs(m),
            _ => Attributes::default(),
        }
    }
}

impl std::ops::Index<&str> for Attributes {
    type Output = AttrValue;
    /// Like `Value`'s index: a missing key reads as null.
    fn index(&self, key: &str) -> &AttrValue {
        self.get(key).unwrap_or(&NULL)
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Obj;
        impl<'de> Visitor<'de> for Obj {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of user attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes, A::Error> {
                // A million users are read through one reused pair of lists,
                // known keys without an allocation, and each user's values
                // allocated once at their size: no per-user scratch left
                // between the values the snapshot keeps (it made the heap
                // ragged: RSS half as large again as the bytes held).
                thread_local! {
                    static SCRATCH: std::cell::RefCell<(Vec<Cow<'static, str>>, Vec<AttrValue>)> =
                        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
                }
                SCRATCH.with(|scratch| {
                    let mut guard = scratch.borrow_mut();
                    let (keys, values) = &mut *guard;
                    keys.clear();
                    values.clear();
                    while let Some(k) = map.next_key_seed(KeySeed)? {
                        let v = map.next_value_seed(super::compact::Compact)?.into();
                        put(keys, values, k, v);
                    }
                    let out = Attributes {
                        keys: shared_keys(keys),
                        values: values.drain(..).collect(),
                    };
                    keys.clear();
                    Ok(out)
                })
            }
        }
        d.deserialize_map(Obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_the_value_it_was_read_from() {
        let text = r#"{"id":"u1","userPrincipalName":"a@b","accountEnabled":true,"x_ext":1.5,
            "businessPhones":["+1 555"],"big":18446744073709551615,"neg":-3,"n":null,
            "o":{"b":1,"a":[]},"id":"u2","e":"\u00e9\n"}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let a: Attributes = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        assert_eq!(
            serde_json::to_string_pretty(&a).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
        assert_eq!(a.to_value(), v);
        assert_eq!(Attributes::from(v.clone()), a);
        assert_eq!(a["id"], "u2");
        assert_eq!(a["accountEnabled"], true);
        assert!(a["missing"].is_null());
        assert_eq!(
            a.get("businessPhones").map(AttrValue::to_value),
            Some(v["businessPhones"].clone())
        );
        // Short strings inline, long ones on the heap, and neither costs more
        // than the 24 bytes a value had.
        assert!(matches!(a["id"], AttrValue::Short(_)));
        let long = "x".repeat(SHORT_MAX + 1);
        assert!(matches!(
            AttrValue::from(Value::from(long.clone())),
            AttrValue::String(_)
        ));
        assert_eq!(
            AttrValue::from(Value::from(long.clone())).as_str(),
            Some(long.as_str())
        );
        let edge = "é".repeat(SHORT_MAX / 2);
        assert_eq!(
            AttrValue::from(Value::from(edge.clone())).as_str(),
            Some(edge.as_str())
        );
        assert_eq!(std::mem::size_of::<AttrValue>(), 24);
        let empty: Attributes = serde_json::from_str("{}").unwrap();
        assert_eq!(serde_json::to_string_pretty(&empty).unwrap(), "{}");
        assert_eq!(empty, Attributes::default());
        // Objects with the same keys share one key list; values stay their own.
        let b: Attributes = serde_json::from_str(text.replace("u2", "u3").as_str()).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a.keys, &b.keys));
        assert_eq!(b["id"], "u3");
        assert_ne!(a, b);
    }
}
