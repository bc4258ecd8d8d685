//! `put-schema`: read the custom job's default schema (binding its schema,
//! directory and rule ids by name, and the whole schema for the undo), then
//! PUT the custom schema `custom_schema` built. The ids to bind are the
//! placeholders the body holds, so body and binds cannot drift apart.

use super::{StepInputs, custom_job};
use crate::plan::findings::expr_text;
use crate::plan::model::*;
use crate::plan::placeholder::{self, names_in_value};
use crate::plan::probe::Probe;
use serde_json::json;

/// How each schema placeholder is read from a schema document.
fn schema_bind(name: &str) -> Option<Bind> {
    let (kind, arg) = name.split_once(':').unwrap_or((name, ""));
    let arg = &*placeholder::arg_text(arg);
    Some(match kind {
        "customSchemaId" => Bind::pointer(name, "/id"),
        "customDirectoryId" => Bind::select(name, "/directories", "name", arg, "/id"),
        "customRuleId" => Bind::select(name, "/synchronizationRules", "name", arg, "/id"),
        _ => return None,
    })
}

/// The binds for every schema id the custom body names, in body order.
pub fn schema_binds(body: &serde_json::Value) -> Vec<Bind> {
    let mut names = Vec::new();
    names_in_value(body, &mut names);
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(*n))
        .filter_map(schema_bind)
        .collect()
}

pub fn put_schema(i: &StepInputs) -> Step {
    let cs = i.schema;
    let matching = i.custom_maps.user.as_ref().and_then(|u| {
        u.matching()
            .first()
            .map(|m| format!("{} ← {}", m.target, expr_text(&m.expr)))
    });
    let binds = schema_binds(&cs.body);
    // Ids later steps use (the pilot's rule) must also come from the done-check.
    let rule_binds: Vec<Bind> = binds
        .iter()
        .filter(|b| b.name.starts_with("customRuleId:"))
        .cloned()
        .collect();
    let url = custom_job("/schema");
    Step {
        id: "put-schema".into(),
        action: Action::Change,
        title: format!(
            "Put the schema: gallery user mappings carried over (matching on {}), group mapping on",
            matching.as_deref().unwrap_or("nothing")
        ),
        count: 1,
        object: "schema".into(),
        requests: vec![
            Request::get(&url)
                .binding(binds)
                .binding([Bind::pointer("schemaBeforeApply", "")]),
            Request::graph(Method::Put, &url, Some(cs.body.clone())),
        ],
        diff: cs.diff.clone(),
        done_when: DoneWhen::when(
            Request::get(&url).binding(rule_binds),
            vec![
                Expect::probe(Probe::UserMatching, ExpectOp::Equals, Some(json!(matching))),
                Expect::probe(
                    Probe::GroupMappingEnabled,
                    ExpectOp::Equals,
                    Some(json!(i.custom_maps.pushes_groups())),
                ),
            ],
        ),
        undo: Undo::new(
            vec![Request::graph(
                Method::Put,
                &url,
                Some(json!("{schemaBeforeApply}")),
            )],
            "Puts back the job's default schema, read and journaled just before the PUT.",
        ),
        details: json!({
            "transform": cs.transform,
            "base": "the custom job's default `scim` schema: its directory, rule and schema ids replace the {…} placeholders by name",
        }),
    }
}

/// The rule placeholder the body uses (`{customRuleId:USER_OUTBOUND_USER}`), for provisionOnDemand.
pub fn rule_placeholder(body: &serde_json::Value) -> String {
    schema_binds(body)
        .into_iter()
        .find(|b| b.name.starts_with("customRuleId:"))
        .map(|b| format!("{{{}}}", b.name))
        .unwrap_or_else(|| "{customRuleId:USER_OUTBOUND_USER}".into())
}
