//! A user's Graph attributes in a snapshot, in a compact form.
//!
//! A snapshot holds one attribute object per user (a million or more). As a
//! `serde_json::Value` (with the `preserve_order` feature) every attribute is a
//! 112-byte `IndexMap` entry plus a hash table, and every key is its own heap
//! string: about 1.4 KB of map per user before any value. Here an object is
//! its list of keys, shared by every object with the same keys (the usual
//! Graph property names are `&'static str`, no allocation), and its values
//! packed in file order into one byte buffer: a tag byte, then a number's 8
//! bytes or a string's length and text; anything else (arrays, objects) stays
//! a `Value` beside it. A string equal to an earlier one of the same user (a
//! mail equal to the UPN) is packed as the earlier one's position, and a value
//! many users share (a department, a city) as an index into one table of them
//! for the process. 125 bytes a user on the twin's million-user tenant (190
//! without the last two), where 24-byte value slots and a heap string per
//! long value took 460.
//!
//! It serialises exactly as the `Value` object it was read from (same keys,
//! order and numbers), so the file bytes and the digest do not change.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::HashMap;
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

/// One attribute value, read from an [`Attributes`]: the scalar kinds as
/// they are, strings and anything else (arrays, objects) borrowed.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(&'a str),
    /// An array or object (e.g. `businessPhones`), as read.
    Json(&'a Value),
}

impl<'a> AttrValue<'a> {
    /// A view of a JSON value.
    pub fn of(v: &'a Value) -> AttrValue<'a> {
        match v {
            Value::Null => AttrValue::Null,
            Value::Bool(b) => AttrValue::Bool(*b),
            Value::Number(n) => AttrValue::Number(n.clone()),
            Value::String(s) => AttrValue::String(s),
            other => AttrValue::Json(other),
        }
    }
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
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
            AttrValue::String(s) => Value::String(s.to_string()),
            AttrValue::Json(v) => (*v).clone(),
        }
    }
}

impl PartialEq<&str> for AttrValue<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for AttrValue<'_> {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl Serialize for AttrValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The same calls as `Value`'s own Serialize: the same bytes.
        match self {
            AttrValue::Null => s.serialize_unit(),
            AttrValue::Bool(b) => s.serialize_bool(*b),
            AttrValue::Number(n) => n.serialize(s),
            AttrValue::String(v) => s.serialize_str(v),
            AttrValue::Json(v) => v.serialize(s),
        }
    }
}

// How a value is packed: a tag byte, then for a number its 8 bytes
// (little-endian), for a string its length (LEB128) and its bytes, for an
// array or object its index (LEB128) in the object's own list of them; a
// string equal to an earlier one of the object (a mail equal to the UPN) is
// the earlier one's position, and a common value (see [`Words`]) its index in
// the process's table of them.
const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const POS_INT: u8 = 3;
const NEG_INT: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const JSON: u8 = 7;
const SAME: u8 = 8;
const WORD: u8 = 9;

/// Values many users share (a department, a job title, a city, a country,
/// a user type), held once for the process: a user's buffer holds an index.
/// Each attribute shares its first [`WORDS_PER_KEY`] different values (an
/// attribute whose values are all different, like a UPN, stops there), at
/// most [`MAX_WORDS`] in all; they are kept for the life of the process (at
/// most 4 MB), so an index read back is always there.
#[derive(Default)]
struct Words {
    by_key: HashMap<Box<str>, HashMap<&'static str, u32>>,
    list: Vec<&'static str>,
}

const WORDS_PER_KEY: usize = 256;
const MAX_WORDS: usize = 1 << 16;
/// Longer values are not shared (nor shorter than 2 bytes: no gain).
const WORD_LEN: std::ops::RangeInclusive<usize> = 2..=64;

static WORDS: std::sync::LazyLock<std::sync::RwLock<Words>> =
    std::sync::LazyLock::new(Default::default);

/// The index of `value` of attribute `key` in the table, added when there is room.
fn word_of(key: &str, value: &str) -> Option<u32> {
    if !WORD_LEN.contains(&value.len()) {
        return None;
    }
    let known = |w: &Words| w.by_key.get(key).map(|m| (m.get(value).copied(), m.len()));
    let read = known(&WORDS.read().unwrap_or_else(|e| e.into_inner()));
    match read {
        Some((Some(i), _)) => return Some(i),
        Some((None, n)) if n >= WORDS_PER_KEY => return None,
        _ => {}
    }
    let mut w = WORDS.write().unwrap_or_else(|e| e.into_inner());
    match known(&w) {
        Some((Some(i), _)) => return Some(i),
        Some((None, n)) if n >= WORDS_PER_KEY => return None,
        _ if w.list.len() >= MAX_WORDS => return None,
        _ => {}
    }
    let i = w.list.len() as u32;
    let text: &'static str = Box::leak(value.into());
    w.list.push(text);
    w.by_key.entry(key.into()).or_default().insert(text, i);
    Some(i)
}

fn word(i: usize) -> &'static str {
    let w = WORDS.read().unwrap_or_else(|e| e.into_inner());
    w.list.get(i).copied().unwrap_or_default()
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Appends `values[i]`, the value of `key`, to `data` (arrays and objects
/// are moved to `json`; strings stay in `values` for the ones after to be
/// compared with).
fn pack(data: &mut Vec<u8>, json: &mut Vec<Value>, key: &str, values: &mut [Value], i: usize) {
    match &values[i] {
        Value::Null => data.push(NULL),
        Value::Bool(b) => data.push(if *b { TRUE } else { FALSE }),
        Value::Number(n) => {
            let (tag, bytes) = if let Some(u) = n.as_u64() {
                (POS_INT, u.to_le_bytes())
            } else if let Some(i) = n.as_i64() {
                (NEG_INT, i.to_le_bytes())
            } else {
                (FLOAT, n.as_f64().unwrap_or_default().to_le_bytes())
            };
            data.push(tag);
            data.extend_from_slice(&bytes);
        }
        Value::String(s) => {
            let earlier = values[..i].iter().position(|e| e.as_str() == Some(s));
            if let Some(j) = earlier.filter(|_| s.len() >= 4) {
                data.push(SAME);
                put_len(data, j);
            } else if let Some(w) = word_of(key, s) {
                data.push(WORD);
                put_len(data, w as usize);
            } else {
                data.push(STRING);
                put_len(data, s.len());
                data.extend_from_slice(s.as_bytes());
            }
        }
        _ => {
            data.push(JSON);
            put_len(data, json.len());
            json.push(std::mem::take(&mut values[i]));
        }
    }
}

/// A user's attributes: a JSON object, in order (its keys shared, its
/// values packed into one byte buffer of its own).
#[derive(Clone, Default)]
pub struct Attributes {
    keys: Keys,
    data: Box<[u8]>,
    json: Box<[Value]>,
}

/// Reads the packed values of an [`Attributes`] in order.
struct Values<'a> {
    attrs: &'a Attributes,
    at: usize,
}

impl<'a> Values<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.attrs.data.get(self.at).copied().unwrap_or(NULL);
        self.at += 1;
        b
    }
    fn len(&mut self) -> usize {
        let (mut n, mut shift) = (0usize, 0);
        loop {
            let b = self.byte();
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 || shift > 56 {
                return n;
            }
            shift += 7;
        }
    }
    fn eight(&mut self) -> [u8; 8] {
        let mut b = [0; 8];
        if let Some(s) = self.attrs.data.get(self.at..self.at + 8) {
            b.copy_from_slice(s);
        }
        self.at += 8;
        b
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = AttrValue<'a>;
    fn next(&mut self) -> Option<AttrValue<'a>> {
        if self.at >= self.attrs.data.len() {
            return None;
        }
        // The buffer is only ever written by `pack`: every read is in bounds
        // and every string whole.
        Some(match self.byte() {
            FALSE => AttrValue::Bool(false),
            TRUE => AttrValue::Bool(true),
            POS_INT => AttrValue::Number(u64::from_le_bytes(self.eight()).into()),
            NEG_INT => AttrValue::Number(i64::from_le_bytes(self.eight()).into()),
            FLOAT => Number::from_f64(f64::from_le_bytes(self.eight()))
                .map_or(AttrValue::Null, AttrValue::Number),
            STRING => {
                let n = self.len();
                let bytes = self
                    .attrs
                    .data
                    .get(self.at..self.at + n)
                    .unwrap_or_default();
                self.at += n;
                AttrValue::String(std::str::from_utf8(bytes).unwrap_or_default())
            }
            SAME => {
                let j = self.len();
                self.attrs
                    .values()
                    .nth(j)
                    .filter(|v| matches!(v, AttrValue::String(_)))
                    .unwrap_or(AttrValue::Null)
            }
            WORD => AttrValue::String(word(self.len())),
            JSON => {
                let i = self.len();
                self.attrs
                    .json
                    .get(i)
                    .map_or(AttrValue::Null, AttrValue::Json)
            }
            _ => AttrValue::Null,
        })
    }
}

impl Attributes {
    fn values(&self) -> Values<'_> {
        Values { attrs: self, at: 0 }
    }
    /// The value of `key` (exact case), if present.
    pub fn get(&self, key: &str) -> Option<AttrValue<'_>> {
        let i = self.keys.iter().position(|k| k == key)?;
        self.values().nth(i)
    }
    /// The string value of `key` (exact case), if it is one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, AttrValue<'_>)> {
        self.keys.iter().map(|k| k.as_ref()).zip(self.values())
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
            put(&mut keys, &mut values, key(k), v);
        }
        Attributes::packed(&keys, &mut values)
    }
    fn packed(keys: &[Cow<'static, str>], values: &mut [Value]) -> Self {
        thread_local! {
            static DATA: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        DATA.with(|data| {
            let mut data = data.borrow_mut();
            data.clear();
            let mut json = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                pack(&mut data, &mut json, k, values, i);
            }
            Attributes {
                keys: shared_keys(keys),
                data: data.as_slice().into(),
                json: json.into_boxed_slice(),
            }
        })
    }
}

/// The same keys and values (however they are packed).
impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys && self.values().eq(other.values())
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Adds one attribute: a repeated key keeps its first position and its last value.
fn put(keys: &mut Vec<Cow<'static, str>>, values: &mut Vec<Value>, k: Cow<'static, str>, v: Value) {
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

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, &v)?;
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
                // packed once at their size: no per-user scratch left
                // between the values the snapshot keeps (it made the heap
                // ragged: RSS half as large again as the bytes held).
                thread_local! {
                    static SCRATCH: std::cell::RefCell<(Vec<Cow<'static, str>>, Vec<Value>)> =
                        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
                }
                SCRATCH.with(|scratch| {
                    let mut guard = scratch.borrow_mut();
                    let (keys, values) = &mut *guard;
                    keys.clear();
                    values.clear();
                    while let Some(k) = map.next_key_seed(KeySeed)? {
                        let v = map.next_value_seed(super::compact::Compact)?;
                        put(keys, values, k, v);
                    }
                    let out = Attributes::packed(keys, values);
                    values.clear();
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
        assert_eq!(a.str("id"), Some("u2"));
        assert_eq!(a.get("accountEnabled"), Some(AttrValue::Bool(true)));
        assert_eq!(a.get("n"), Some(AttrValue::Null));
        assert!(a.get("missing").is_none());
        assert_eq!(a.get("e").and_then(|e| e.as_str()), Some("\u{e9}\n"));
        assert_eq!(
            a.get("businessPhones").map(|p| p.to_value()),
            Some(v["businessPhones"].clone())
        );
        for k in ["x_ext", "big", "neg", "o"] {
            assert_eq!(a.get(k).map(|x| x.to_value()).as_ref(), Some(&v[k]), "{k}");
        }
        // Every value in the object's one buffer: the scalars' bytes and the
        // strings' text, nothing else on the heap but arrays and objects.
        assert_eq!(a.json.len(), 2);
        let long = "x".repeat(300);
        let b = Attributes::from_pairs([("k".to_string(), Value::from(long.clone()))]);
        assert_eq!(b.str("k"), Some(long.as_str()));
        assert_eq!(b.data.len(), 1 + 2 + 300);
        // A string equal to an earlier one is its position; a common value is
        // one string for the process.
        let upn = format!("{}@x.example", "a".repeat(70));
        let twice = Attributes::from_pairs([
            ("userPrincipalName".to_string(), Value::from(upn.clone())),
            ("mail".to_string(), Value::from(upn.clone())),
            ("department".to_string(), Value::from("Engineering")),
        ]);
        assert_eq!(twice.str("mail"), Some(upn.as_str()));
        assert_eq!(twice.str("department"), Some("Engineering"));
        assert_eq!(twice.data[..2 + upn.len() + 2], {
            let mut d = vec![STRING, upn.len() as u8];
            d.extend_from_slice(upn.as_bytes());
            d.extend_from_slice(&[SAME, 0]);
            d
        });
        assert_eq!(twice.data[2 + upn.len() + 2], WORD);
        let other =
            Attributes::from_pairs([("department".to_string(), Value::from("Engineering"))]);
        assert_eq!(other.data.len(), twice.data.len() - (2 + upn.len() + 2));
        assert_eq!(
            serde_json::to_string(&twice).unwrap(),
            format!(r#"{{"userPrincipalName":"{upn}","mail":"{upn}","department":"Engineering"}}"#)
        );
        // An attribute with more different values than are shared keeps the rest as text.
        let many: Vec<Attributes> = (0..WORDS_PER_KEY + 10)
            .map(|i| Attributes::from_pairs([("x_many".to_string(), Value::from(format!("v{i}")))]))
            .collect();
        for (i, a) in many.iter().enumerate() {
            assert_eq!(a.str("x_many"), Some(format!("v{i}").as_str()));
        }
        assert_eq!(many.last().unwrap().data[0], STRING);
        let empty: Attributes = serde_json::from_str("{}").unwrap();
        assert_eq!(serde_json::to_string_pretty(&empty).unwrap(), "{}");
        assert_eq!(empty, Attributes::default());
        // Objects with the same keys share one key list; values stay their own.
        let b: Attributes = serde_json::from_str(text.replace("u2", "u3").as_str()).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a.keys, &b.keys));
        assert_eq!(b.str("id"), Some("u3"));
        assert_ne!(a, b);
    }
}
