//! The schema the custom app's `scim` job will get: the gallery job's user
//! mappings carried over (same matching attribute, same scoping filter), the
//! profile's extras and overrides, the group mapping switched on (with
//! `--group-map` renames), and directory and rule ids remapped by name.
//!
//! The planner has no live custom job, so it records the transformation as
//! data (one entry per decision) and a concrete body built from the gallery
//! schema, with `{…}` placeholders for the ids apply reads from the custom
//! job's default schema. The body is what the prediction runs on, through
//! `mapping::schema::Mappings::from_schema`: the same code the engine runs.

use super::model::{DiffLine, DiffOp};
use super::placeholder::braced;
use super::profile::{Profile, ProfileMapping};
use serde_json::{Value, json};

/// The custom app's target directory name in a `scim` job's schema.
pub const CUSTOM_DIRECTORY: &str = "customappsso";
pub const ENTRA_DIRECTORY: &str = "Azure Active Directory";

/// Object names in the `customappsso` directory of a `scim` job's schema.
pub const SCIM_USER_OBJECT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCIM_GROUP_OBJECT: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Point an object mapping at the `scim` template's object name.
fn retarget_object(om: &mut Value, to: &str, transform: &mut Vec<Value>) {
    let from = om
        .get("targetObjectName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if from != to {
        let source = om
            .get("sourceObjectName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        transform.push(json!({"object": source.to_lowercase(), "op": "retarget-object", "from": from, "to": to}));
        om["targetObjectName"] = json!(to);
    }
}

/// What the schema step will write, and why.
#[derive(Debug, Clone)]
pub struct CustomSchema {
    /// The full synchronizationSchema body of the PUT.
    pub body: Value,
    /// One entry per decision: `{"object","target","op":"carry|copy|override|add|enable|rename-directory…","source",…}`.
    pub transform: Vec<Value>,
    /// Gallery → custom, attribute by attribute.
    pub diff: Vec<DiffLine>,
    /// The gallery's user scoping filter was carried over.
    pub scope_carried: bool,
}

/// The human form of an attributeMappingSource (`[mail]`, `Switch(…)`, `"x"`).
pub fn source_text(src: &Value) -> String {
    if let Some(e) = src
        .get("expression")
        .and_then(Value::as_str)
        .filter(|e| !e.trim().is_empty())
    {
        return e.to_string();
    }
    let name = src.get("name").and_then(Value::as_str).unwrap_or_default();
    match src
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Attribute")
    {
        "Constant" => format!("\"{name}\""),
        "Function" => name.to_string(),
        _ => format!("[{name}]"),
    }
}

/// A profile source (`mail`, `Switch(…)`) as an attributeMappingSource.
pub fn source_json(source: &str) -> Value {
    let s = source.trim();
    if s.contains('(') || s.contains('[') || s.starts_with('"') {
        let name = s.split('(').next().unwrap_or(s).trim();
        json!({"type": "Function", "name": name, "expression": s, "parameters": []})
    } else {
        json!({"type": "Attribute", "name": s, "expression": format!("[{s}]"), "parameters": []})
    }
}

fn mapping_json(m: &ProfileMapping, source: Value) -> Value {
    json!({
        "targetAttributeName": m.target,
        "matchingPriority": m.matching.unwrap_or(0),
        "flowType": m.flow_type.clone().unwrap_or_else(|| "Always".into()),
        "flowBehavior": "FlowWhenChanged",
        "defaultValue": null,
        "exportMissingReferences": false,
        "source": source,
    })
}

fn target_of(m: &Value) -> &str {
    m.get("targetAttributeName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn describe(m: &Value) -> String {
    let src = source_text(m.get("source").unwrap_or(&Value::Null));
    match m
        .get("matchingPriority")
        .and_then(Value::as_i64)
        .unwrap_or(0)
    {
        0 => src,
        p => format!("{src} (matching {p})"),
    }
}

fn is_user(om: &Value) -> bool {
    om.get("sourceObjectName").and_then(Value::as_str) == Some("User")
}
fn is_group(om: &Value) -> bool {
    om.get("sourceObjectName").and_then(Value::as_str) == Some("Group")
}

/// Index of the outbound rule (source = Entra, or the first rule with a User mapping).
fn outbound_rule(schema: &Value) -> Option<usize> {
    let rules = schema.get("synchronizationRules")?.as_array()?;
    rules
        .iter()
        .position(|r| {
            r.get("sourceDirectoryName").and_then(Value::as_str) == Some(ENTRA_DIRECTORY)
                && r.get("objectMappings")
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.iter().any(is_user))
        })
        .or_else(|| {
            rules.iter().position(|r| {
                r.get("objectMappings")
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.iter().any(is_user))
            })
        })
}

/// Build the custom schema from the gallery schema and the profile.
/// `group_renames` are `(from, to)` display names from `--group-map`.
pub fn build(
    gallery: &Value,
    profile: &Profile,
    group_renames: &[(String, String)],
) -> Result<CustomSchema, String> {
    let ri = outbound_rule(gallery)
        .ok_or("the gallery job's schema has no outbound rule with a User mapping")?;
    let mut body = gallery.clone();
    let mut transform = Vec::new();
    let mut diff = Vec::new();

    // Ids the custom job owns: placeholders resolved from its default schema at apply.
    let gallery_dir = gallery["synchronizationRules"][ri]
        .get("targetDirectoryName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    body["id"] = json!("{customSchemaId}");
    if let Some(dirs) = body.get_mut("directories").and_then(Value::as_array_mut) {
        // A directory that is not an object (a hostile or damaged file) is
        // left as it is; only objects get the custom ids.
        for d in dirs.iter_mut().filter(|d| d.is_object()) {
            let name = d
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let new_name = if name == gallery_dir && name != ENTRA_DIRECTORY {
                CUSTOM_DIRECTORY.to_string()
            } else {
                name.clone()
            };
            if new_name != name {
                transform.push(json!({"object": "directory", "op": "rename-directory", "from": name, "to": new_name}));
            }
            if new_name == CUSTOM_DIRECTORY {
                transform.push(json!({"object": "directory", "op": "objects-from-custom-job", "name": new_name,
                    "note": "the directory's object and attribute definitions are taken from the custom job's default schema at apply; the gallery's are kept here only as a fallback"}));
            }
            d["name"] = json!(new_name);
            d["id"] = json!(braced("customDirectoryId", &new_name));
        }
    }
    let rule = &mut body["synchronizationRules"][ri];
    let rule_name = rule
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("USER_OUTBOUND_USER")
        .to_string();
    rule["id"] = json!(braced("customRuleId", &rule_name));
    if gallery_dir != CUSTOM_DIRECTORY {
        transform.push(json!({"object": "rule", "op": "retarget", "from": gallery_dir, "to": CUSTOM_DIRECTORY}));
    }
    rule["targetDirectoryName"] = json!(CUSTOM_DIRECTORY);
    let oms = rule["objectMappings"]
        .as_array_mut()
        .ok_or("the outbound rule has no objectMappings")?;

    // ---- users
    let ui = oms
        .iter()
        .position(is_user)
        .ok_or("no User object mapping")?;
    let gallery_attrs: Vec<Value> = oms[ui]
        .get("attributeMappings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut attrs = gallery_attrs.clone();
    // Which attributes the profile wrote (overrode or added): their matching
    // priority wins over a gallery attribute holding the same one.
    let mut from_profile = vec![false; attrs.len()];
    for a in &gallery_attrs {
        let t = target_of(a);
        if !profile
            .user_mappings
            .iter()
            .any(|p| p.target.eq_ignore_ascii_case(t))
        {
            transform
                .push(json!({"object": "user", "target": t, "op": "carry", "source": describe(a)}));
        }
    }
    for pm in &profile.user_mappings {
        let pos = attrs
            .iter()
            .position(|a| target_of(a).eq_ignore_ascii_case(&pm.target));
        match pos {
            Some(i) if pm.copy_from_gallery => {
                transform.push(json!({"object": "user", "target": pm.target, "op": "copy", "source": describe(&attrs[i])}));
            }
            Some(i)
                if describe(&attrs[i]) == describe(&mapping_json(pm, source_json(&pm.source))) =>
            {
                transform.push(json!({"object": "user", "target": pm.target, "op": "same", "source": describe(&attrs[i])}));
            }
            Some(i) => {
                let new = mapping_json(pm, source_json(&pm.source));
                transform.push(
                    json!({"object": "user", "target": pm.target, "op": "override",
                    "from": describe(&attrs[i]), "source": describe(&new)}),
                );
                attrs[i] = new;
                from_profile[i] = true;
            }
            None => {
                let new = mapping_json(pm, source_json(&pm.source));
                transform.push(json!({"object": "user", "target": pm.target, "op": "add", "source": describe(&new)}));
                attrs.push(new);
                from_profile.push(true);
            }
        }
    }
    // Exactly one attribute per matching priority: the profile's wins over the
    // gallery's wherever either sits in the list; among equals, the last one.
    let priority = |a: &Value| {
        a.get("matchingPriority")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let profile_priorities: std::collections::BTreeSet<i64> = attrs
        .iter()
        .zip(&from_profile)
        .filter(|(_, p)| **p)
        .map(|(a, _)| priority(a))
        .filter(|p| *p > 0)
        .collect();
    for (a, p) in attrs.iter_mut().zip(&from_profile) {
        if !p && profile_priorities.contains(&priority(a)) {
            a["matchingPriority"] = json!(0);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for a in attrs.iter_mut().rev() {
        let p = priority(a);
        if p > 0 && !seen.insert(p) {
            a["matchingPriority"] = json!(0);
        }
    }
    diff_mappings("user", &gallery_attrs, &attrs, &mut diff);
    oms[ui]["attributeMappings"] = Value::Array(attrs);
    retarget_object(&mut oms[ui], SCIM_USER_OBJECT, &mut transform);
    oms[ui]["enabled"] = json!(true);
    let scope_carried = oms[ui]
        .pointer("/scope/groups")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    if scope_carried {
        let text = oms[ui]["scope"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| {
                g.get("clauses")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|c| {
                format!(
                    "{} {} {}",
                    c.get("sourceOperandName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    c.get("operatorName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    c.pointer("/targetOperand/values")
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        transform.push(json!({"object": "user", "op": "carry-scope", "scope": text}));
        diff.push(DiffLine {
            op: DiffOp::Same,
            path: "user.scope".into(),
            before: Some(text.clone().into()),
            after: Some(text.into()),
        });
    }

    // ---- groups
    if profile.custom_pushes_groups {
        let gi = oms.iter().position(is_group);
        let was_enabled = gi.is_some_and(|i| {
            oms[i]
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        });
        let mut gattrs: Vec<Value> = if was_enabled {
            gi.and_then(|i| {
                oms[i]
                    .get("attributeMappings")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default()
        } else {
            Vec::new()
        };
        let before_attrs = gattrs.clone();
        for pm in &profile.group_mappings {
            if !gattrs
                .iter()
                .any(|a| target_of(a).eq_ignore_ascii_case(&pm.target))
            {
                gattrs.push(mapping_json(pm, source_json(&pm.source)));
                transform.push(json!({"object": "group", "target": pm.target, "op": "add", "source": pm.source}));
            }
        }
        if !group_renames.is_empty()
            && let Some(a) = gattrs
                .iter_mut()
                .find(|a| target_of(a).eq_ignore_ascii_case("displayName"))
        {
            let base = source_text(a.get("source").unwrap_or(&Value::Null));
            let mut expr = format!("Switch({base}, {base}");
            for (from, to) in group_renames {
                expr.push_str(&format!(
                    ", \"{}\", \"{}\"",
                    from.replace('"', "\\\""),
                    to.replace('"', "\\\"")
                ));
            }
            expr.push(')');
            transform.push(json!({"object": "group", "target": "displayName", "op": "rename", "source": expr,
                "renames": group_renames.iter().map(|(f, t)| json!({"from": f, "to": t})).collect::<Vec<_>>()}));
            a["source"] = source_json(&expr);
        }
        if !was_enabled {
            transform.push(json!({"object": "group", "op": "enable"}));
            diff.push(DiffLine {
                op: DiffOp::Change,
                path: "group.enabled".into(),
                before: Some(false.into()),
                after: Some(true.into()),
            });
        }
        diff_mappings("group", &before_attrs, &gattrs, &mut diff);
        let group_om = json!({
            "name": "Provision Azure Active Directory Groups",
            "enabled": true,
            "flowTypes": "Add, Update, Delete",
            "sourceObjectName": "Group",
            "targetObjectName": SCIM_GROUP_OBJECT,
            "metadata": [],
            "scope": null,
            "attributeMappings": gattrs,
        });
        match gi {
            Some(i) => {
                oms[i]["enabled"] = json!(true);
                oms[i]["attributeMappings"] = group_om["attributeMappings"].clone();
                retarget_object(&mut oms[i], SCIM_GROUP_OBJECT, &mut transform);
            }
            None => oms.push(group_om),
        }
    }
    Ok(CustomSchema {
        body,
        transform,
        diff,
        scope_carried,
    })
}

/// The user object mapping's attribute mappings in a schema (the outbound rule's).
fn user_attrs(schema: &Value) -> Option<&Vec<Value>> {
    let ri = outbound_rule(schema)?;
    schema["synchronizationRules"][ri]["objectMappings"]
        .as_array()?
        .iter()
        .find(|o| is_user(o))?
        .get("attributeMappings")?
        .as_array()
}

/// The gallery's mapping of `target` (its source), as JSON, when it has one.
pub fn gallery_mapping(gallery: &Value, target: &str) -> Option<Value> {
    user_attrs(gallery)?
        .iter()
        .find(|a| target_of(a).eq_ignore_ascii_case(target))
        .cloned()
}

/// The custom schema with `target` as an extra matching attribute of
/// `priority`, mapped from the gallery's own source for it (`gallery` is the
/// gallery job's schema): the custom mapping of `target` gets that priority,
/// or is replaced by the gallery's when its source differs, or the gallery's
/// is added. The diff line of `user.<target>` follows; the caller records the
/// decision in `transform`. `None` when the gallery does not map `target`.
pub fn with_extra_matching(
    cs: &CustomSchema,
    gallery: &Value,
    target: &str,
    priority: i64,
) -> Option<(CustomSchema, Option<String>)> {
    let mut from_gallery = gallery_mapping(gallery, target)?;
    from_gallery["matchingPriority"] = json!(priority);
    let mut out = cs.clone();
    let ri = outbound_rule(&out.body)?;
    let attrs = out.body["synchronizationRules"][ri]["objectMappings"]
        .as_array_mut()?
        .iter_mut()
        .find(|o| is_user(o))?
        .get_mut("attributeMappings")?
        .as_array_mut()?;
    let replaced = match attrs
        .iter_mut()
        .find(|a| target_of(a).eq_ignore_ascii_case(target))
    {
        Some(a) => {
            let before = source_text(a.get("source").unwrap_or(&Value::Null));
            let wanted = source_text(from_gallery.get("source").unwrap_or(&Value::Null));
            if before == wanted {
                a["matchingPriority"] = json!(priority);
                None
            } else {
                *a = from_gallery.clone();
                Some(before)
            }
        }
        None => {
            attrs.push(from_gallery.clone());
            None
        }
    };
    let now = describe(&from_gallery);
    let path = format!("user.{}", target_of(&from_gallery));
    match out
        .diff
        .iter_mut()
        .find(|d| d.path.eq_ignore_ascii_case(&path))
    {
        Some(d) => {
            d.op = if d.before.as_ref().and_then(Value::as_str) == Some(now.as_str()) {
                DiffOp::Same
            } else if d.before.is_some() {
                DiffOp::Change
            } else {
                DiffOp::Add
            };
            d.after = Some(now.into());
        }
        None => out.diff.push(DiffLine {
            op: DiffOp::Add,
            path,
            before: None,
            after: Some(now.into()),
        }),
    }
    Some((out, replaced))
}

/// One diff line per attribute mapping of `after`: `+` new, `~` changed, ` ` the
/// same as the mapping of that target in `before`.
fn diff_mappings(object: &str, before: &[Value], after: &[Value], diff: &mut Vec<DiffLine>) {
    for a in after {
        let t = target_of(a);
        let now = describe(a);
        let was = before
            .iter()
            .find(|g| target_of(g).eq_ignore_ascii_case(t))
            .map(describe);
        let op = match &was {
            None => DiffOp::Add,
            Some(b) if *b == now => DiffOp::Same,
            Some(_) => DiffOp::Change,
        };
        diff.push(DiffLine {
            op,
            path: format!("{object}.{t}"),
            before: was.map(Value::from),
            after: Some(now.into()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::profile::ProfileMapping;

    /// A profile that matches on `userName ← userPrincipalName` (priority 1)
    /// must win over a gallery that matched on `externalId` (priority 1) even
    /// when the gallery's attribute comes later in the list: Entra allows one
    /// attribute per priority, and the plan promised the profile's.
    #[test]
    fn a_profile_matching_attribute_wins_wherever_the_gallery_one_sits() {
        let mut gallery = crate::plan::testkit::gallery_schema("customappsso", "mail", None);
        let attrs = gallery["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"]
            .as_array_mut()
            .unwrap();
        attrs[0]["matchingPriority"] = json!(0);
        attrs.push(json!({"targetAttributeName": "externalId", "matchingPriority": 1, "flowType": "Always",
                          "source": {"type": "Attribute", "name": "objectId", "expression": "[objectId]"}}));
        let mut profile = Profile::builtin("generic-scim").unwrap();
        let mapping: ProfileMapping = toml::from_str(
            r#"target = "userName"
source = "userPrincipalName"
match = 1"#,
        )
        .unwrap();
        profile.user_mappings = vec![mapping];
        let cs = build(&gallery, &profile, &[]).unwrap();
        let body = cs.body;
        let text = body.to_string();
        let users = find_user_mappings(&body).expect("user mappings in the custom schema");
        let priority_of = |t: &str| {
            users
                .iter()
                .find(|a| a["targetAttributeName"] == t)
                .map(|a| a["matchingPriority"].as_i64().unwrap_or(0))
        };
        assert_eq!(priority_of("userName"), Some(1), "{text}");
        assert_eq!(priority_of("externalId"), Some(0), "{text}");
    }

    fn find_user_mappings(v: &Value) -> Option<Vec<Value>> {
        match v {
            Value::Object(m) => {
                if m.get("sourceObjectName") == Some(&json!("User")) {
                    return m.get("attributeMappings")?.as_array().cloned();
                }
                m.values().find_map(find_user_mappings)
            }
            Value::Array(a) => a.iter().find_map(find_user_mappings),
            _ => None,
        }
    }
}
