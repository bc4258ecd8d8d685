//! Mutations: a seeded generator (the same seed gives the same run), byte-level
//! changes (flips, interesting bytes, inserted and deleted runs, splices with
//! another corpus entry, dictionary tokens) and JSON-aware ones (a value
//! replaced by a hostile one, a key dropped or renamed, an array repeated),
//! which reach far past the first parse error that random bytes stop at.

use serde_json::{Map, Value};

/// xorshift64*: small, fast, and reproducible from `--seed`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text that has broken parsers and terminals before: controls, bidi
/// overrides, formula starts, quotes, odd encodings, huge and negative numbers.
pub const HOSTILE_STRINGS: &[&str] = &[
    "",
    " ",
    "\u{1b}[2J\u{1b}[H",
    "\u{1b}]0;owned\u{7}",
    "\u{7}",
    "\u{8}\u{8}\u{8}",
    "\u{202e}evil",
    "\u{2066}",
    "\0",
    "\r\n",
    "\n",
    "\r",
    "\t",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "\"",
    "\\",
    "'",
    ",",
    ";",
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(1)",
    "é",
    "e\u{301}",
    "𝔘𝔰𝔢𝔯",
    "İ",
    "ß",
    "null",
    "true",
    "0",
    "1e308",
    "-0",
    "18446744073709551616",
    "9223372036854775807",
    "NaN",
    "%00",
    "%2F..%2F",
    "../../etc",
    "{",
    "}",
    "[",
    "]",
    "a@b.c",
    "@",
    "user@",
    "a\u{0}b@example.com",
    "#EXT#",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:api:messages:2.0:ListResponse",
    "urn:ietf:params:scim:api:messages:2.0:Error",
    "{base}",
    "{other}",
    "{other}/v1.0/users",
    "{base}/v1.0/users?$skiptoken=x",
];

/// JSON values that stress a reader's assumptions about types and sizes.
/// `donor` is a part of the same document, to be put where it does not belong.
fn hostile_value(rng: &mut Rng, donor: &Value) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => Value::from(*rng.pick(&[
            -1i64,
            0,
            1,
            2,
            255,
            65_536,
            i32::MAX as i64,
            i64::MAX,
            i64::MIN,
        ])),
        3 => Value::from(*rng.pick(&[u64::MAX, 1 << 53, 150_001, 1_000_000_000])),
        4 => serde_json::json!(*rng.pick(&[0.5f64, -1.5, 1e300, f64::MIN_POSITIVE])),
        5 => Value::Array(Vec::new()),
        6 => Value::Object(Map::new()),
        7 => Value::String("x".repeat(1 << rng.below(17))),
        8 => {
            // A deep array: recursion limits.
            let mut v = Value::Null;
            for _ in 0..(1 + rng.below(140)) {
                v = Value::Array(vec![v]);
            }
            v
        }
        9 => donor.clone(),
        10 => Value::String(format!(
            "{}{}",
            rng.pick(HOSTILE_STRINGS),
            rng.pick(HOSTILE_STRINGS)
        )),
        _ => Value::String(rng.pick(HOSTILE_STRINGS).to_string()),
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

fn node(v: &Value, mut i: usize) -> Option<&Value> {
    if i == 0 {
        return Some(v);
    }
    i -= 1;
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Array(a) => Box::new(a.iter()),
        Value::Object(o) => Box::new(o.values()),
        _ => return None,
    };
    for c in children {
        let n = count(c);
        if i < n {
            return node(c, i);
        }
        i -= n;
    }
    None
}

fn node_mut(v: &mut Value, mut i: usize) -> Option<&mut Value> {
    if i == 0 {
        return Some(v);
    }
    i -= 1;
    let children: Box<dyn Iterator<Item = &mut Value>> = match v {
        Value::Array(a) => Box::new(a.iter_mut()),
        Value::Object(o) => Box::new(o.values_mut()),
        _ => return None,
    };
    for c in children {
        let n = count(c);
        if i < n {
            return node_mut(c, i);
        }
        i -= n;
    }
    None
}

/// One JSON-aware change to `doc`, in place.
pub fn mutate_json(rng: &mut Rng, doc: &mut Value) {
    let n = count(doc);
    // One subtree copied, not the whole document on every mutation.
    let donor = node(doc, rng.below(n)).cloned().unwrap_or(Value::Null);
    let Some(target) = node_mut(doc, rng.below(n)) else {
        return;
    };
    match (rng.below(8), target) {
        (0 | 1, Value::Object(o)) if !o.is_empty() => {
            // Drop a key, or rename it (case, a typo, another key's name).
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = rng.pick(&keys).clone();
            let v = o.remove(&k).unwrap_or(Value::Null);
            if rng.one_in(2) {
                let renamed = match rng.below(3) {
                    0 => k.to_uppercase(),
                    1 => format!("{k}x"),
                    _ => rng.pick(&keys).clone(),
                };
                o.insert(renamed, v);
            }
        }
        (2, Value::Object(o)) => {
            let key = rng.pick(HOSTILE_STRINGS).to_string();
            o.insert(key, hostile_value(rng, &donor));
        }
        (3, Value::Array(a)) if !a.is_empty() => {
            // Repeat an element (duplicates), or drop one.
            let i = rng.below(a.len());
            if rng.one_in(3) {
                a.remove(i);
            } else {
                let v = a[i].clone();
                for _ in 0..(1 + rng.below(40)) {
                    a.push(v.clone());
                }
            }
        }
        (4, Value::String(s)) => {
            // A hostile piece inside a real value.
            let at = (0..=s.len())
                .filter(|i| s.is_char_boundary(*i))
                .nth(rng.below(s.len() + 1))
                .unwrap_or(0);
            s.insert_str(at, rng.pick::<&str>(HOSTILE_STRINGS));
        }
        (5, Value::String(s)) => {
            *s = match rng.below(3) {
                0 => s.to_uppercase(),
                1 => s.chars().rev().collect(),
                _ => s.chars().take(rng.below(s.chars().count() + 1)).collect(),
            };
        }
        (6, t @ Value::Number(_)) => {
            // Off by one either way, or a string that looks like the number.
            let n = t.as_i64().unwrap_or(0);
            *t = match rng.below(3) {
                0 => Value::from(n.saturating_add(1)),
                1 => Value::from(n.saturating_sub(1)),
                _ => Value::String(n.to_string()),
            };
        }
        (_, t) => *t = hostile_value(rng, &donor),
    }
}

/// Byte-level changes, stacked 1..=6 times.
pub fn mutate_bytes(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..(1 + rng.below(6)) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = *rng.pick(&[
                    0u8, 0x1b, 0x07, b'"', b',', b'\n', b'\r', b'\\', 0xff, 0xfe, 0xc3, 0x80,
                ]);
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                v.drain(at..at + n);
            }
            3 if len > 0 => {
                // Repeat a run (long lines, repeated records).
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(256));
                let chunk = v[at..at + n].to_vec();
                let times = 1 + rng.below(16);
                for _ in 0..times {
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            4 => {
                let at = rng.below(len + 1);
                let s = rng.pick(HOSTILE_STRINGS).as_bytes().to_vec();
                v.splice(at..at, s);
            }
            5 if !corpus.is_empty() => {
                // Splice: our head, another entry's tail.
                let other = rng.pick(corpus);
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => {
                v.truncate(rng.below(len));
            }
            7 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(at..at, bytes);
            }
            _ if len > 1 => {
                let a = rng.below(len);
                let b = rng.below(len);
                v.swap(a, b);
            }
            _ => {}
        }
    }
    v.truncate(max_len);
    v
}

/// A JSON document's mutation: JSON-aware when it parses, bytes otherwise
/// (and one time in four in any case).
pub fn mutate_json_bytes(
    rng: &mut Rng,
    input: &[u8],
    corpus: &[Vec<u8>],
    max_len: usize,
) -> Vec<u8> {
    if !rng.one_in(4)
        && let Ok(mut doc) = serde_json::from_slice::<Value>(input)
    {
        for _ in 0..(1 + rng.below(4)) {
            mutate_json(rng, &mut doc);
        }
        let mut out = if rng.one_in(2) {
            serde_json::to_vec_pretty(&doc)
        } else {
            serde_json::to_vec(&doc)
        }
        .unwrap_or_default();
        out.truncate(max_len);
        return out;
    }
    mutate_bytes(rng, input, corpus, max_len)
}

/// Step ids of the demo plan the journal target resumes against, read from
/// that plan (so they follow it): a record that names one reaches apply's
/// resume logic for that step.
static PLAN_STEPS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let plan: Value =
        serde_json::from_slice(include_bytes!("../corpus/plan/demo-plan.json")).unwrap_or_default();
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect()
});

/// A JSON Lines file's mutation (a journal), record-aware: one record's JSON
/// changed, a record repeated, dropped, moved, taken from another input or
/// pointed at another step, or the last line torn as a crash leaves it;
/// bytes one time in eight.
pub fn mutate_jsonl(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(input) else {
        return mutate_bytes(rng, input, corpus, max_len);
    };
    if rng.one_in(8) {
        return mutate_bytes(rng, input, corpus, max_len);
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push("{}".into());
    }
    for _ in 0..(1 + rng.below(3)) {
        let i = rng.below(lines.len());
        match rng.below(8) {
            0..=2 => {
                if let Ok(mut v) = serde_json::from_str::<Value>(&lines[i]) {
                    mutate_json(rng, &mut v);
                    lines[i] = v.to_string();
                }
            }
            3 => {
                let copy = lines[i].clone();
                let at = rng.below(lines.len() + 1);
                lines.insert(at, copy);
            }
            4 if lines.len() > 1 => {
                lines.remove(i);
            }
            5 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            6 if !corpus.is_empty() => {
                let donor = rng.pick(corpus);
                let donor: Vec<&str> = std::str::from_utf8(donor)
                    .map(|t| t.lines().collect())
                    .unwrap_or_default();
                if !donor.is_empty() {
                    let line = rng.pick(&donor).to_string();
                    lines.insert(rng.below(lines.len() + 1), line);
                }
            }
            _ => {
                if let Ok(mut v) = serde_json::from_str::<Value>(&lines[i])
                    && let Some(o) = v.as_object_mut()
                    && !PLAN_STEPS.is_empty()
                {
                    o.insert("step".into(), Value::from(rng.pick(&PLAN_STEPS).as_str()));
                    lines[i] = v.to_string();
                }
            }
        }
    }
    let mut out = lines.join("\n").into_bytes();
    if rng.one_in(6) {
        // A torn last record, as a crash mid-write leaves it.
        let keep = out.len() - rng.below(out.len().min(40) + 1);
        out.truncate(keep);
    } else {
        out.push(b'\n');
    }
    out.truncate(max_len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_mutations_keep_most_records_readable() {
        let seed =
            b"{\"event\":\"started\",\"at\":\"x\"}\n{\"event\":\"stepDone\",\"step\":\"a\"}\n";
        let mut rng = Rng::new(3);
        let (mut json_lines, mut lines, mut changed) = (0, 0, 0);
        for _ in 0..200 {
            let out = mutate_jsonl(&mut rng, seed, &[seed.to_vec()], 1 << 20);
            changed += usize::from(out != seed);
            for l in String::from_utf8_lossy(&out).lines() {
                lines += 1;
                json_lines += usize::from(serde_json::from_str::<Value>(l).is_ok());
            }
        }
        assert!(changed > 150, "{changed}");
        // Most records still parse, so the resume logic sees them.
        assert!(json_lines * 10 > lines * 6, "{json_lines} of {lines}");
    }

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let seed = br#"{"a":[1,2,{"b":"c"}],"d":"e"}"#;
        let run = |s| {
            let mut rng = Rng::new(s);
            (0..50)
                .map(|_| mutate_json_bytes(&mut rng, seed, &[], 1 << 20))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn json_mutations_keep_json_and_change_it() {
        let seed = br#"{"a":[1,2,{"b":"c"}],"d":"e"}"#;
        let mut rng = Rng::new(1);
        let mut changed = 0;
        for _ in 0..200 {
            let mut doc: Value = serde_json::from_slice(seed).unwrap();
            mutate_json(&mut rng, &mut doc);
            if doc != serde_json::from_slice::<Value>(seed).unwrap() {
                changed += 1;
            }
        }
        assert!(
            changed > 150,
            "only {changed} of 200 mutations changed the document"
        );
    }
}
