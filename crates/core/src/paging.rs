//! Bounds on paging through a server's lists (SCIM `startIndex`, Graph
//! `@odata.nextLink`), so a hostile or broken server cannot keep a read going
//! for ever: a page that brings no id not seen before, a nextLink seen before,
//! or more objects than the ceiling stops the walk with one sentence; so does
//! a SCIM list whose `totalResults` is over the ceiling, on its first page.
//!
//! The ceiling is [`DEFAULT_MAX_OBJECTS`] per list unless
//! `SCIMSHIFT_MAX_OBJECTS` says otherwise (for very large tenants): holding
//! a list costs about 1.5 KB an object (measured: tests/hostile_bench.rs), so the default keeps a run against an
//! endless pager under 300 MB, and a larger tenant raises it knowingly. Ids are
//! kept as 64-bit hashes so a million-object list costs a few MB. This module
//! only decides; the pagers in `scim::client` and `graph::client` ask it.

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Objects one list may hold by default.
pub const DEFAULT_MAX_OBJECTS: usize = 150_000;

/// The ceiling: `SCIMSHIFT_MAX_OBJECTS` when it is a positive number, else
/// [`DEFAULT_MAX_OBJECTS`].
pub fn max_objects() -> usize {
    std::env::var("SCIMSHIFT_MAX_OBJECTS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_OBJECTS)
}

/// Watches one walk through a list.
#[derive(Debug)]
pub struct PageGuard {
    what: String,
    ceiling: usize,
    objects: usize,
    ids: HashSet<u64>,
    links: HashSet<u64>,
}

fn hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl PageGuard {
    /// A guard for the list named `what` ("GET https://…/Users") with the
    /// ceiling from [`max_objects`].
    pub fn new(what: impl Into<String>) -> PageGuard {
        PageGuard::with_ceiling(what, max_objects())
    }

    pub fn with_ceiling(what: impl Into<String>, ceiling: usize) -> PageGuard {
        PageGuard {
            what: what.into(),
            ceiling,
            objects: 0,
            ids: HashSet::new(),
            links: HashSet::new(),
        }
    }

    /// Check one page of `items` (objects with an `id`): refused when it has
    /// items but none with an id not seen before, or when the list passes
    /// the ceiling. Items without an `id` count toward the ceiling only.
    pub fn page(&mut self, items: &[Value]) -> Result<()> {
        self.objects += items.len();
        if self.objects > self.ceiling {
            return Err(Error::remote(format!(
                "{} kept sending pages past {} objects: scimshift stops there (set SCIMSHIFT_MAX_OBJECTS to allow more for a very large tenant)",
                self.what, self.ceiling
            )));
        }
        let mut with_id = 0;
        let mut new = 0;
        for id in items
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_str))
        {
            with_id += 1;
            if self.ids.insert(hash(id)) {
                new += 1;
            }
        }
        if with_id > 0 && new == 0 {
            return Err(Error::remote(format!(
                "{} sent a page of {} objects all seen on earlier pages: its paging does not move forward, so scimshift stops reading",
                self.what,
                items.len()
            )));
        }
        Ok(())
    }

    /// Check the size a server announces for the whole list (SCIM's
    /// `totalResults`): over the ceiling, refused at once rather than after
    /// reading that far.
    pub fn announced(&self, total: usize) -> Result<()> {
        if total > self.ceiling {
            return Err(Error::remote(format!(
                "{} says the list holds {total} objects, more than scimshift reads from one list ({}): set SCIMSHIFT_MAX_OBJECTS={total} (or more) to read it all",
                self.what, self.ceiling
            )));
        }
        Ok(())
    }

    /// Check the link to the next page: refused when it was followed before.
    pub fn next_link(&mut self, link: &str) -> Result<()> {
        if !self.links.insert(hash(link)) {
            return Err(Error::remote(format!(
                "{} sent a nextLink it had sent before: its paging goes round in a circle, so scimshift stops reading",
                self.what
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_pages_links_and_the_ceiling_stop_a_walk() {
        let mut g = PageGuard::with_ceiling("GET x", 5);
        g.page(&[json!({"id": "a"}), json!({"id": "b"})]).unwrap();
        // Partly new is progress.
        g.page(&[json!({"id": "b"}), json!({"id": "c"})]).unwrap();
        let e = g.page(&[json!({"id": "a"})]).unwrap_err();
        assert!(
            e.message.contains("all seen on earlier pages"),
            "{}",
            e.message
        );
        let mut g = PageGuard::with_ceiling("GET x", 3);
        g.page(&[json!({}), json!({})]).unwrap();
        let e = g.page(&[json!({}), json!({})]).unwrap_err();
        assert!(e.message.contains("past 3 objects"), "{}", e.message);
        g.announced(3).unwrap();
        let e = g.announced(4).unwrap_err();
        assert!(
            e.message.contains("holds 4 objects") && e.message.contains("SCIMSHIFT_MAX_OBJECTS=4"),
            "{}",
            e.message
        );
        g.next_link("https://g/next?1").unwrap();
        g.next_link("https://g/next?2").unwrap();
        assert!(g.next_link("https://g/next?1").is_err());
    }
}
