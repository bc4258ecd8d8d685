//! Finding an unlinked object in the target, as the provisioning service does
//! (ENTRA-OUTBOUND-SCIM.md §3.1 step 2, §3.2): one `GET
//! /Users?filter=<attribute> eq "<value>"` per matching attribute, in matching
//! precedence, skipping attributes without a value; the first query that finds
//! anyone decides. One hit is the match; more than one is
//! `DuplicateTargetEntries`; no value for any matching attribute is an error
//! for users ("All users must have a value for at least one matching
//! attribute"). Groups match on their matching attributes, else
//! `displayName`. What follows a match (link, update) or no match (create) is
//! `cycle`'s business; this module only looks.

use super::cycle::id_of;
use super::target::{Target, TargetError};
use crate::mapping::expr::Source;
use crate::mapping::schema::{AttrMapping, ObjectMapping};
use serde_json::Value;

/// What the matching queries found.
#[derive(Debug)]
pub(crate) enum Found {
    /// Exactly one target object, by the query `on` (`externalId = "…"`).
    One {
        resource: Value,
        id: String,
        on: String,
    },
    /// No query found anyone (every attribute with a value was tried).
    Nothing,
}

/// The matching attributes of an object mapping in precedence order; for a
/// group mapping without any, `displayName`.
pub(crate) fn attributes(map: &ObjectMapping, group: bool) -> Vec<&AttrMapping> {
    let m = map.matching();
    if m.is_empty() && group {
        return map
            .attributes
            .iter()
            .filter(|a| a.target == "displayName")
            .collect();
    }
    m
}

/// Query the target on each matching attribute in precedence order; the
/// first that finds anyone decides. `endpoint` is `Users` or `Groups`.
/// Several hits and (for users) no value at all are `TargetError::Status(0,
/// …)`, which the cycle records as a matching failure.
pub(crate) async fn find(
    target: &Target,
    endpoint: &str,
    attrs: &[&AttrMapping],
    src: &(impl Source + Sync),
) -> Result<Found, TargetError> {
    let mut any_value = false;
    for m in attrs {
        let Some(value) = m.expr.eval(src).ok().flatten() else {
            continue;
        };
        any_value = true;
        let mut found = target.query(endpoint, &m.target, &value).await?;
        match found.len() {
            0 => continue,
            1 => {
                let resource = found.remove(0);
                let id = id_of(&resource);
                if id.is_empty() {
                    return Err(TargetError::Incompatible(format!(
                        "a matched {} has no id",
                        endpoint.trim_end_matches('s').to_lowercase()
                    )));
                }
                return Ok(Found::One {
                    resource,
                    id,
                    on: format!("{} = {value}", m.target),
                });
            }
            n => {
                return Err(TargetError::Status(
                    0,
                    format!(
                        "{n} target {} match {} eq \"{value}\" (DuplicateTargetEntries)",
                        endpoint.to_lowercase(),
                        m.target
                    ),
                ));
            }
        }
    }
    if !any_value && endpoint == "Users" {
        // ATTR: "All users must have a value for at least one matching attribute".
        return Err(TargetError::Status(
            0,
            "the user has no value for any matching attribute, so it cannot be matched or created"
                .into(),
        ));
    }
    Ok(Found::Nothing)
}
