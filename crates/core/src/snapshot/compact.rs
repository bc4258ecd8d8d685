//! Reading the large parts of a snapshot (users' attributes, the target's SCIM
//! resources) into `serde_json::Value`s that take no more memory than they need.
//!
//! serde_json's own `Value` deserializer grows each object map one insert at a
//! time; with the `preserve_order` feature a map is an `IndexMap` whose entry
//! vector is grown to match its hash table (room for 14 entries for 8), and
//! each entry is about 100 bytes. For a 100,000-user snapshot that is well over
//! 100 MB of empty slots. Here every object is collected first and then moved
//! into a map of exactly its size, and arrays are trimmed to their length.
//! The result is the same `Value` (same keys, same order, same numbers), so
//! the snapshot serialises to the same bytes and the digest is unchanged.

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// `#[serde(deserialize_with = "compact::value")]`
pub fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Compact.deserialize(d)
}

/// `#[serde(deserialize_with = "compact::values")]` for a `Vec<Value>`.
pub fn values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    struct Seq;
    impl<'de> Visitor<'de> for Seq {
        type Value = Vec<Value>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(v) = seq.next_element_seed(Compact)? {
                out.push(v);
            }
            out.shrink_to_fit();
            Ok(out)
        }
    }
    d.deserialize_seq(Seq)
}

/// `#[serde(deserialize_with = "compact::list")]` for a `Vec` read in
/// bulk (a user's `via`, a group's members): no spare capacity.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let mut v = Vec::<T>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

/// A `Value` with exact-size maps and arrays, at every depth.
#[derive(Clone, Copy)]
pub struct Compact;

impl<'de> DeserializeSeed<'de> for Compact {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Compact {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's own Value: a non-finite float is null.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, mut v: String) -> Result<Value, E> {
        v.shrink_to_fit();
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(Compact)? {
            out.push(v);
        }
        out.shrink_to_fit();
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(Compact)?;
            entries.push((k, v));
        }
        // Inserting in order keeps serde_json's behaviour for a repeated key:
        // the last value, at the first key's position.
        let mut out = Map::with_capacity(entries.len());
        out.extend(entries);
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json() {
        let text = r#"{"b":1,"a":[1,-2,3.5,1e400,"x\n",{"z":null,"y":true}],"c":{},"d":[],
            "e":"\u00e9","b":2,"f":18446744073709551615,"g":-9223372036854775808}"#;
        let ours = value(&mut serde_json::Deserializer::from_str(text));
        let theirs: Result<Value, _> = serde_json::from_str(text);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b);
                assert_eq!(
                    serde_json::to_string(&a).unwrap(),
                    serde_json::to_string(&b).unwrap()
                );
            }
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{a:?} vs {b:?}"),
        }
        let text = r#"{"b":1,"a":[1,-2,3.5,"x\n",{"z":null,"y":true}],"c":{},"d":[],"b":2}"#;
        let ours = value(&mut serde_json::Deserializer::from_str(text)).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&theirs).unwrap()
        );
    }
}
