//! The part of the snapshot `verify` compares with ([`Before`]): the ids of
//! the target's users, the orphans whole (target users the plan's `impact`
//! names as nobody's target), the target's groups, and the Entra groups the
//! custom job pushes.
//!
//! [`Before::read`] streams the file: every user and target resource is
//! parsed, hashed into the snapshot's digest and dropped, keeping only the
//! above, so a 100,000-user snapshot costs a few MB here instead of the
//! ~250 MB of a loaded [`Snapshot`]. The digest is computed over the same
//! canonical bytes as [`Snapshot::compute_digest`] (fields in file order);
//! a file whose fields come in another order falls back to
//! [`Snapshot::load`], which is also what names a file that is not a
//! snapshot at all.

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::snapshot::model::{AppSnapshot, FORMAT, GroupSnapshot, Snapshot, Source, UserSnapshot};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

/// What verify needs of the snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Before {
    /// The snapshot's digest (equal to the plan's `snapshotDigest`); empty
    /// when verify runs without a snapshot.
    pub digest: String,
    /// Whether the snapshot holds the target (it was taken with `--scim-url`).
    pub has_target: bool,
    /// The target's SCIM base URL in the snapshot (verify's default `--scim-url`).
    pub target_base_url: Option<String>,
    /// Ids of every target user in the snapshot.
    pub target_user_ids: HashSet<String>,
    /// Target users no impact entry names as its `targetId`, whole, by id.
    pub orphans: BTreeMap<String, Value>,
    /// Target groups in the snapshot: `(id, displayName)`.
    pub target_groups: Vec<(String, String)>,
    /// The Entra groups the custom job pushes (assigned to the gallery app,
    /// or every group read with scope `all`): `(id, displayName)`. Empty
    /// without a snapshot (verify then takes the custom app's assignments).
    pub pushed_groups: Vec<(String, String)>,
}

/// The target ids the plan's impact names (matched, or duplicated by a create).
fn referenced(plan: &Plan) -> HashSet<&str> {
    plan.impact.iter().filter_map(|u| u.target_id()).collect()
}

/// Raw parts gathered while streaming, turned into a [`Before`] at the end.
#[derive(Default)]
struct Parts {
    format: String,
    digest: String,
    /// The fields came in the canonical order, each once, none unknown.
    in_order: bool,
    group_assignments: Vec<String>,
    groups: Vec<(String, String)>,
    has_target: bool,
    target_base_url: Option<String>,
    target_user_ids: HashSet<String>,
    orphans: BTreeMap<String, Value>,
    target_groups: Vec<(String, String)>,
}

impl Before {
    /// Verify without a snapshot: nothing from before is known.
    pub fn none() -> Before {
        Before::default()
    }

    /// From a loaded snapshot (apply's final step has one already).
    pub fn from_snapshot(snap: &Snapshot, plan: &Plan) -> Before {
        let refs = referenced(plan);
        let mut b = Before {
            digest: snap.digest.clone(),
            ..Before::default()
        };
        if let Some(t) = &snap.target {
            b.has_target = true;
            b.target_base_url = Some(t.base_url.clone());
            for u in &t.users {
                let id = str_of(u, "id");
                if !refs.contains(id.as_str()) {
                    b.orphans.insert(id.clone(), u.clone());
                }
                b.target_user_ids.insert(id);
            }
            b.target_groups = t
                .groups
                .iter()
                .map(|g| (str_of(g, "id"), str_of(g, "displayName")))
                .collect();
        }
        let assigned: Vec<String> = snap
            .app
            .assignments
            .iter()
            .filter(|a| a.principal_type == "Group")
            .map(|a| a.principal_id.clone())
            .collect();
        let groups: Vec<(String, String)> = snap
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.display_name.clone()))
            .collect();
        b.pushed_groups = pushed(plan, &assigned, groups);
        b
    }

    /// Read the snapshot at `path` for `plan`: refused unless it is the
    /// snapshot the plan was made from, unedited.
    pub fn read(path: &Path, plan: &Plan) -> Result<Before> {
        let refs = referenced(plan);
        let file = std::fs::File::open(path).map_err(|e| Error::io_at(path, e))?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut hasher = std::io::BufWriter::with_capacity(1 << 16, HashWriter(Sha256::new()));
        let mut parts = Parts {
            in_order: true,
            ..Parts::default()
        };
        let streamed = {
            let mut de = serde_json::Deserializer::from_reader(reader);
            let top = Top {
                h: &mut hasher,
                refs: &refs,
                parts: &mut parts,
            };
            serde::Deserializer::deserialize_map(&mut de, top).and_then(|()| de.end())
        };
        let computed = hasher
            .into_inner()
            .map(|w| format!("sha256:{}", hex::encode(w.0.finalize())))
            .unwrap_or_default();
        let sound = streamed.is_ok()
            && parts.in_order
            && parts.format == FORMAT
            && !parts.digest.is_empty()
            && computed == parts.digest;
        if !sound {
            // Not JSON, not a snapshot, edited, or fields in another order:
            // the full loader decides (and says why in one sentence).
            let snap = Snapshot::load(path)?;
            check_binding(&snap.digest, plan, path)?;
            return Ok(Before::from_snapshot(&snap, plan));
        }
        check_binding(&parts.digest, plan, path)?;
        let pushed_groups = pushed(plan, &parts.group_assignments, parts.groups);
        Ok(Before {
            digest: parts.digest,
            has_target: parts.has_target,
            target_base_url: parts.target_base_url,
            target_user_ids: parts.target_user_ids,
            orphans: parts.orphans,
            target_groups: parts.target_groups,
            pushed_groups,
        })
    }
}

fn check_binding(digest: &str, plan: &Plan, path: &Path) -> Result<()> {
    if digest != plan.snapshot_digest {
        return Err(Error::input(format!(
            "{} is not the snapshot this plan was made from (its digest is {digest}, the plan's snapshotDigest is {}): give the snapshot the plan was made from with --snapshot",
            path.display(),
            plan.snapshot_digest
        )));
    }
    Ok(())
}

/// The groups the plan pushes: none when its custom job pushes no groups;
/// with scope `all` every group the snapshot read, else the assigned ones.
fn pushed(
    plan: &Plan,
    assigned: &[String],
    groups: Vec<(String, String)>,
) -> Vec<(String, String)> {
    if super::compare::expected_group_names(plan).is_empty() {
        return Vec::new();
    }
    if plan.app.scope == "all" {
        return groups;
    }
    let assigned: HashSet<&str> = assigned.iter().map(String::as_str).collect();
    groups
        .into_iter()
        .filter(|(id, _)| assigned.contains(id.as_str()))
        .collect()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Hasher = std::io::BufWriter<HashWriter>;

fn put<E: de::Error>(h: &mut Hasher, bytes: &[u8]) -> Result<(), E> {
    h.write_all(bytes).map_err(E::custom)
}

fn put_json<E: de::Error, T: serde::Serialize + ?Sized>(h: &mut Hasher, v: &T) -> Result<(), E> {
    serde_json::to_writer(&mut *h, v).map_err(E::custom)
}

/// Which known field comes at which place: the canonical order of
/// `Snapshot::compute_digest` (and of the file scimshift writes).
fn position(key: &str, order: &[&str]) -> Option<usize> {
    order.iter().position(|k| *k == key)
}

const TOP: &[&str] = &[
    "format", "digest", "takenAt", "source", "app", "groups", "users", "target",
];
const TARGET: &[&str] = &["baseUrl", "serviceProviderConfig", "users", "groups"];

/// The snapshot object: each field hashed as the digest serialises it.
struct Top<'a> {
    h: &'a mut Hasher,
    refs: &'a HashSet<&'a str>,
    parts: &'a mut Parts,
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a scimshift snapshot")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Top { h, refs, parts } = self;
        put(h, b"{")?;
        let mut next = 0;
        while let Some(key) = map.next_key::<String>()? {
            let Some(p) = position(&key, TOP) else {
                parts.in_order = false;
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if p < next {
                parts.in_order = false;
            }
            if next > 0 {
                put(h, b",")?;
            }
            next = p + 1;
            put_json(h, &key)?;
            put(h, b":")?;
            match key.as_str() {
                "format" => {
                    let v: String = map.next_value()?;
                    put_json(h, &v)?;
                    parts.format = v;
                }
                "digest" => {
                    parts.digest = map.next_value()?;
                    put(h, b"\"\"")?;
                }
                "takenAt" => put_json(h, &map.next_value::<String>()?)?,
                "source" => put_json(h, &map.next_value::<Source>()?)?,
                "app" => {
                    let app: AppSnapshot = map.next_value()?;
                    put_json(h, &app)?;
                    parts.group_assignments = app
                        .assignments
                        .iter()
                        .filter(|a| a.principal_type == "Group")
                        .map(|a| a.principal_id.clone())
                        .collect();
                }
                "groups" => {
                    let groups: Vec<GroupSnapshot> = map.next_value()?;
                    put_json(h, &groups)?;
                    parts.groups = groups.into_iter().map(|g| (g.id, g.display_name)).collect();
                }
                "users" => map.next_value_seed(Users { h })?,
                _ => {
                    parts.has_target = true;
                    map.next_value_seed(Target {
                        h,
                        refs,
                        parts: &mut *parts,
                    })?
                }
            }
        }
        put(h, b"}")
    }
}

/// `users`: each one parsed, hashed and dropped.
struct Users<'a> {
    h: &'a mut Hasher,
}

impl<'de> DeserializeSeed<'de> for Users<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Users<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of users")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        put(self.h, b"[")?;
        let mut first = true;
        while let Some(u) = seq.next_element::<UserSnapshot>()? {
            if !first {
                put(self.h, b",")?;
            }
            first = false;
            put_json(self.h, &u)?;
        }
        put(self.h, b"]")
    }
}

/// `target`: its users and groups hashed one by one; ids, orphans and group names kept.
struct Target<'a> {
    h: &'a mut Hasher,
    refs: &'a HashSet<&'a str>,
    parts: &'a mut Parts,
}

impl<'de> DeserializeSeed<'de> for Target<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Target<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the snapshot's target")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Target { h, refs, parts } = self;
        put(h, b"{")?;
        let mut next = 0;
        while let Some(key) = map.next_key::<String>()? {
            let Some(p) = position(&key, TARGET) else {
                parts.in_order = false;
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if p < next {
                parts.in_order = false;
            }
            if next > 0 {
                put(h, b",")?;
            }
            next = p + 1;
            put_json(h, &key)?;
            put(h, b":")?;
            match key.as_str() {
                "baseUrl" => {
                    let url: String = map.next_value()?;
                    put_json(h, &url)?;
                    parts.target_base_url = Some(url);
                }
                "serviceProviderConfig" => put_json(h, &map.next_value::<Value>()?)?,
                "users" => map.next_value_seed(Resources {
                    h,
                    on: &mut |u: Value| {
                        let id = str_of(&u, "id");
                        if !refs.contains(id.as_str()) {
                            parts.orphans.insert(id.clone(), u);
                        }
                        parts.target_user_ids.insert(id);
                    },
                })?,
                _ => {
                    let groups = &mut parts.target_groups;
                    map.next_value_seed(Resources {
                        h,
                        on: &mut |g: Value| {
                            groups.push((str_of(&g, "id"), str_of(&g, "displayName")))
                        },
                    })?
                }
            }
        }
        put(h, b"}")
    }
}

/// A list of SCIM resources: each hashed, then handed to `on`.
struct Resources<'a> {
    h: &'a mut Hasher,
    on: &'a mut dyn FnMut(Value),
}

impl<'de> DeserializeSeed<'de> for Resources<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Resources<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of SCIM resources")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        put(self.h, b"[")?;
        let mut first = true;
        while let Some(v) = seq.next_element::<Value>()? {
            if !first {
                put(self.h, b",")?;
            }
            first = false;
            put_json(self.h, &v)?;
            (self.on)(v);
        }
        put(self.h, b"]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit;

    fn plan_and_snapshot() -> (Plan, Snapshot) {
        let snap = testkit::demo_like();
        let (profile, _) = crate::plan::choose_profile(&snap, Some("coda")).unwrap();
        let plan =
            crate::plan::build(&snap, &profile, &crate::plan::PlanOptions::default()).unwrap();
        (plan, snap)
    }

    #[test]
    fn streaming_gives_what_loading_gives_and_checks_the_digest() {
        let (plan, snap) = plan_and_snapshot();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json");
        std::fs::write(&path, snap.to_bytes()).unwrap();
        let streamed = Before::read(&path, &plan).unwrap();
        assert_eq!(streamed, Before::from_snapshot(&snap, &plan));
        assert!(
            !streamed.orphans.is_empty(),
            "the demo-like target has orphans"
        );
        assert!(streamed.has_target);
        assert!(!streamed.pushed_groups.is_empty());

        // Reordered keys (a tool that sorts them): the full loader takes over, same answer.
        let v: Value = serde_json::from_slice(&snap.to_bytes()).unwrap();
        let mut sorted = serde_json::Map::new();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        for k in keys {
            sorted.insert(k.clone(), v[&k].clone());
        }
        std::fs::write(&path, serde_json::to_vec(&Value::Object(sorted)).unwrap()).unwrap();
        assert_eq!(Before::read(&path, &plan).unwrap(), streamed);

        // Edited: refused with the loader's sentence.
        let text = String::from_utf8(snap.to_bytes()).unwrap();
        let first_orphan = streamed.orphans.keys().next().unwrap();
        let edited = text.replacen(first_orphan, "someone-else", 1);
        std::fs::write(&path, edited).unwrap();
        let e = Before::read(&path, &plan).unwrap_err();
        assert!(e.message.contains("has been edited"), "{}", e.message);

        // Another snapshot: refused, naming both digests.
        let mut other = snap.clone();
        other.taken_at = "2030-01-01T00:00:00Z".into();
        other.seal();
        std::fs::write(&path, other.to_bytes()).unwrap();
        let e = Before::read(&path, &plan).unwrap_err();
        assert!(
            e.message
                .contains("is not the snapshot this plan was made from"),
            "{}",
            e.message
        );

        // Not JSON.
        std::fs::write(&path, b"nope").unwrap();
        assert!(
            Before::read(&path, &plan)
                .unwrap_err()
                .message
                .contains("is not JSON")
        );
    }
}
