//! Contract test: every Graph route the twin serves exists, with its method,
//! in Graph's OpenAPI description (the reduced provisioning file plus the path
//! index extracted from Applications.yml and Reports.yml), and every route
//! marked as an exception is really absent from it.
//!
//! Outside this table and not checked: the token endpoints
//! (`/{tenant}/oauth2/v2.0/token|devicecode`, identity platform, not Graph)
//! and the SCIM store under `/scim/v2`.

use scimshift::twin::graph_api::{ALIASES, ROUTES};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `/a/{x}/microsoft.graph.start` → `/a/{}/start`.
fn normalize(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "{}".to_string()
            } else {
                seg.strip_prefix("microsoft.graph.")
                    .unwrap_or(seg)
                    .to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn spec() -> BTreeMap<String, BTreeSet<String>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/graph/");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let reduced: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}provisioning-paths.json")).unwrap(),
    )
    .unwrap();
    for (path, item) in reduced["paths"].as_object().unwrap() {
        for m in item["methods"].as_object().unwrap().keys() {
            out.entry(normalize(path))
                .or_default()
                .insert(m.to_uppercase());
        }
    }
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}openapi-path-index.json")).unwrap(),
    )
    .unwrap();
    for (path, methods) in index["paths"].as_object().unwrap() {
        for m in methods.as_array().unwrap() {
            out.entry(normalize(path))
                .or_default()
                .insert(m.as_str().unwrap().to_string());
        }
    }
    out
}

#[test]
fn every_twin_route_is_in_graphs_openapi_or_a_documented_exception() {
    let spec = spec();
    assert!(spec.len() > 300, "the OpenAPI index looks truncated");
    let mut problems = Vec::new();
    for r in ROUTES {
        let found = spec
            .get(&normalize(r.path))
            .is_some_and(|ms| ms.contains(r.method));
        match (r.not_in_openapi, found) {
            (None, false) => problems.push(format!(
                "{} {} is not in Graph's OpenAPI description",
                r.method, r.path
            )),
            (Some(_), true) => problems.push(format!(
                "{} {} is marked as an exception but the OpenAPI has it",
                r.method, r.path
            )),
            (Some(why), false) => assert!(!why.trim().is_empty()),
            (None, true) => {}
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn alternate_key_aliases_are_in_the_openapi_too() {
    let spec = spec();
    for (method, path) in ALIASES {
        assert!(
            spec.get(&normalize(path))
                .is_some_and(|ms| ms.contains(*method)),
            "{method} {path}"
        );
    }
}

#[test]
fn exceptions_are_the_known_ones() {
    let exceptions: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.not_in_openapi.is_some())
        // Users, groups and domains live in OpenAPI files not stored here.
        .filter(|r| {
            !r.path.starts_with("/users")
                && !r.path.starts_with("/groups")
                && !r.path.starts_with("/domains")
        })
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/servicePrincipals/{sp}/synchronization/secrets"),
        (
            "PUT",
            "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema",
        ),
        ("POST", "/$batch"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(exceptions, expected);
}

#[test]
fn the_route_table_has_no_duplicates() {
    let mut seen = BTreeSet::new();
    for r in ROUTES {
        assert!(
            seen.insert((r.method, r.path)),
            "duplicate route {} {}",
            r.method,
            r.path
        );
    }
}
