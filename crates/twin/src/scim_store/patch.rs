//! RFC 7644 §3.5.2 PATCH for the embedded store, lenient the way Entra needs:
//! `add`/`replace`/`remove` in any case (`Add`, `Replace`), with or without a
//! path, value-filter paths (`emails[type eq "work"].value`,
//! `members[value eq "id"]`), path-less objects whose keys are dotted or URN
//! paths (`aadOptscim062020`), Entra's `Remove members` with a value array,
//! and `"True"`/`"False"` strings for booleans.

use super::filter::{self, Filter};
use serde_json::{Map, Value, json};

/// Apply one PatchOp body to `res` (a resource object). Errors are
/// `(scimType, detail)` for a 400 answer.
pub fn apply(res: &mut Value, body: &Value) -> Result<(), (&'static str, String)> {
    let ops = filter::get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or((
            "invalidSyntax",
            "the PATCH body has no Operations array".to_string(),
        ))?;
    for op in ops {
        let name = filter::get_ci(op, "op")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let path = filter::get_ci(op, "path")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let value = filter::get_ci(op, "value").cloned();
        match name.as_str() {
            "add" | "replace" | "remove" => {}
            other => {
                return Err((
                    "invalidSyntax",
                    format!("'{other}' is not a PATCH operation"),
                ));
            }
        }
        match path {
            Some(p) => apply_path(res, &name, p, value)?,
            None => {
                if name == "remove" {
                    return Err(("noTarget", "remove needs a path".into()));
                }
                let Some(Value::Object(m)) = value else {
                    return Err((
                        "invalidValue",
                        "an operation without a path needs an object value".into(),
                    ));
                };
                for (k, v) in m {
                    // `{"urn:…:enterprise:2.0:User": {…}}` is a container; `urn:…:User:attr` a path.
                    let container =
                        v.is_object() && (k.ends_with(":User") || k.ends_with(":Group"));
                    if container {
                        for (sk, sv) in v.as_object().into_iter().flatten() {
                            apply_path(res, &name, &format!("{k}:{sk}"), Some(sv.clone()))?;
                        }
                    } else {
                        apply_path(res, &name, &k, Some(v))?;
                    }
                }
            }
        }
    }
    Ok(())
}

const BOOLEAN_ATTRS: &[&str] = &["active", "primary"];

/// Coerce `"True"`/`"False"` strings on boolean attributes, recursively.
pub fn coerce_booleans(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if BOOLEAN_ATTRS.iter().any(|b| b.eq_ignore_ascii_case(k)) {
                    if let Value::String(s) = val {
                        if s.eq_ignore_ascii_case("true") {
                            *val = Value::Bool(true);
                        } else if s.eq_ignore_ascii_case("false") {
                            *val = Value::Bool(false);
                        }
                    }
                } else {
                    coerce_booleans(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(coerce_booleans),
        _ => {}
    }
}

fn coerce_leaf(attr: &str, v: Value) -> Value {
    // Entra sends the manager reference as a bare id string.
    if attr.eq_ignore_ascii_case("manager")
        && let Value::String(s) = &v
    {
        return json!({ "value": s });
    }
    if BOOLEAN_ATTRS.iter().any(|b| b.eq_ignore_ascii_case(attr))
        && let Value::String(s) = &v
    {
        if s.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if s.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
    }
    let mut v = v;
    coerce_booleans(&mut v);
    v
}

/// Find the real key for `name` in `m` (case-insensitive), or `name` itself.
fn key_in(m: &Map<String, Value>, name: &str) -> String {
    m.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

fn is_multi(attr: &str) -> bool {
    [
        "emails",
        "phonenumbers",
        "addresses",
        "members",
        "roles",
        "groups",
        "ims",
        "photos",
        "entitlements",
        "x509certificates",
    ]
    .contains(&attr.to_ascii_lowercase().as_str())
}

fn apply_path(
    res: &mut Value,
    op: &str,
    path: &str,
    value: Option<Value>,
) -> Result<(), (&'static str, String)> {
    let path = filter::strip_core_urn(path);
    let lower = path.to_ascii_lowercase();
    if matches!(lower.as_str(), "id" | "meta" | "schemas") || lower.starts_with("meta.") {
        return Ok(()); // read-only; ignored
    }
    if let Some((urn, rest)) = filter::split_urn(res, path) {
        let (urn, rest) = (urn.to_string(), rest.to_string());
        let obj = res
            .as_object_mut()
            .ok_or(("invalidSyntax", "resource is not an object".to_string()))?;
        let key = key_in(obj, &urn);
        if op == "remove" && (rest.is_empty() || !obj.contains_key(&key)) {
            // RFC 7644 §3.5.2.2: removing the whole extension drops it and its schema.
            obj.remove(&key);
            sync_schemas(res);
            return Ok(());
        }
        let ext = obj.entry(key.clone()).or_insert_with(|| json!({}));
        if !ext.is_object() {
            *ext = json!({});
        }
        if rest.is_empty() {
            // add/replace on the whole extension: its sub-attributes are set
            // one by one, the others left as they are (§3.5.2.1, §3.5.2.3).
            let Some(Value::Object(subs)) = value else {
                return Err((
                    "invalidValue",
                    format!("`{op}` on `{urn}` needs an object value"),
                ));
            };
            for (k, v) in subs {
                apply_path(ext, op, &k, Some(v))?;
            }
        } else {
            apply_path(ext, op, &rest, value)?;
        }
        if ext.as_object().is_some_and(Map::is_empty) {
            obj.remove(&key);
        }
        sync_schemas(res);
        return Ok(());
    }
    let obj = res
        .as_object_mut()
        .ok_or(("invalidSyntax", "resource is not an object".to_string()))?;
    if let Some(open) = path.find('[') {
        let attr = &path[..open];
        let close = path
            .rfind(']')
            .filter(|c| *c > open)
            .ok_or(("invalidPath", format!("unbalanced `[` in path `{path}`")))?;
        let inner = filter::parse(&path[open + 1..close]).map_err(|e| ("invalidPath", e))?;
        let sub = path[close + 1..]
            .strip_prefix('.')
            .filter(|s| !s.is_empty());
        return apply_filtered(obj, op, attr, &inner, sub, value);
    }
    let (head, tail) = match path.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (path, None),
    };
    let key = key_in(obj, head);
    match (op, tail) {
        ("remove", None) => {
            match (value, obj.get_mut(&key)) {
                // Entra default: {"op":"Remove","path":"members","value":[{"value":"id"}]}
                (Some(Value::Array(vals)), Some(Value::Array(list))) => {
                    let drop: Vec<Value> = vals
                        .iter()
                        .filter_map(|v| v.get("value").cloned())
                        .collect();
                    list.retain(|e| !drop.iter().any(|d| e.get("value") == Some(d)));
                }
                _ => {
                    obj.remove(&key);
                }
            }
        }
        ("remove", Some(t)) => {
            if let Some(inner) = obj.get_mut(&key) {
                remove_sub(inner, t);
            }
        }
        (_, None) => {
            let v = coerce_leaf(
                head,
                value.ok_or(("invalidValue", format!("`{op}` on `{path}` needs a value")))?,
            );
            if v.is_null() {
                obj.remove(&key);
                return Ok(());
            }
            let existing = obj.get_mut(&key);
            match (op, existing, v) {
                ("add", Some(Value::Array(list)), Value::Array(new)) => {
                    for n in new {
                        let dup = n.get("value").is_some()
                            && list.iter().any(|e| e.get("value") == n.get("value"));
                        if !dup && !list.contains(&n) {
                            list.push(n);
                        }
                    }
                }
                ("add", Some(Value::Object(cur)), Value::Object(new)) => {
                    for (k, v) in new {
                        cur.insert(k, v);
                    }
                }
                (_, _, v) => {
                    let v = if is_multi(head) && !v.is_array() {
                        Value::Array(vec![v])
                    } else {
                        v
                    };
                    obj.insert(key, v);
                }
            }
        }
        (_, Some(t)) => {
            let v = value.ok_or(("invalidValue", format!("`{op}` on `{path}` needs a value")))?;
            let inner = obj.entry(key).or_insert_with(|| json!({}));
            match inner {
                Value::Array(items) => {
                    for it in items.iter_mut() {
                        set_sub(it, t, v.clone());
                    }
                }
                _ => {
                    if !inner.is_object() {
                        *inner = json!({});
                    }
                    set_sub(inner, t, v);
                }
            }
        }
    }
    Ok(())
}

/// Keep `schemas` listing exactly the core URN plus the extension URNs present.
fn sync_schemas(res: &mut Value) {
    let Some(obj) = res.as_object_mut() else {
        return;
    };
    let present: Vec<String> = obj
        .keys()
        .filter(|k| k.to_ascii_lowercase().starts_with("urn:"))
        .cloned()
        .collect();
    if let Some(schemas) = obj.get_mut("schemas").and_then(Value::as_array_mut) {
        // An extension whose attributes are all gone leaves `schemas` too.
        schemas.retain(|s| {
            s.as_str().is_none_or(|s| {
                filter::is_core_urn(s) || present.iter().any(|p| p.eq_ignore_ascii_case(s))
            })
        });
        for p in present {
            if !schemas
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&p)))
            {
                schemas.push(Value::String(p));
            }
        }
    }
}

fn set_sub(target: &mut Value, path: &str, v: Value) {
    let Some(obj) = target.as_object_mut() else {
        return;
    };
    match path.split_once('.') {
        Some((h, t)) => {
            let key = key_in(obj, h);
            let inner = obj.entry(key).or_insert_with(|| json!({}));
            set_sub(inner, t, v);
        }
        None => {
            let key = key_in(obj, path);
            let v = coerce_leaf(path, v);
            if v.is_null() {
                obj.remove(&key);
            } else {
                obj.insert(key, v);
            }
        }
    }
}

fn remove_sub(target: &mut Value, path: &str) {
    match target {
        Value::Array(items) => items.iter_mut().for_each(|i| remove_sub(i, path)),
        Value::Object(obj) => match path.split_once('.') {
            Some((h, t)) => {
                let key = key_in(obj, h);
                if let Some(inner) = obj.get_mut(&key) {
                    remove_sub(inner, t);
                }
            }
            None => {
                let key = key_in(obj, path);
                obj.remove(&key);
            }
        },
        _ => {}
    }
}

/// `attr[filter]` and `attr[filter].sub`.
fn apply_filtered(
    obj: &mut Map<String, Value>,
    op: &str,
    attr: &str,
    inner: &Filter,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), (&'static str, String)> {
    let key = key_in(obj, attr);
    if op == "remove" {
        if let Some(Value::Array(list)) = obj.get_mut(&key) {
            match sub {
                None => list.retain(|e| !inner.matches(e)),
                Some(s) => list
                    .iter_mut()
                    .filter(|e| inner.matches(e))
                    .for_each(|e| remove_sub(e, s)),
            }
            if list.is_empty() && !attr.eq_ignore_ascii_case("members") {
                obj.remove(&key);
            }
        }
        return Ok(());
    }
    let v = value.ok_or((
        "invalidValue",
        format!("`{op}` on `{attr}[…]` needs a value"),
    ))?;
    let list = obj.entry(key).or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(list) = list.as_array_mut() else {
        return Ok(());
    };
    let mut hit = false;
    for e in list.iter_mut().filter(|e| inner.matches(e)) {
        hit = true;
        match (sub, &v) {
            (Some(s), v) => set_sub(e, s, v.clone()),
            (None, Value::Object(m)) => {
                for (k, x) in m {
                    set_sub(e, k, x.clone());
                }
            }
            (None, _) => {}
        }
    }
    if !hit {
        // Create the element the filter describes: emails[type eq "work"].value → {type:"work", value:…}.
        let mut e = json!({});
        if let Filter::Cmp {
            path,
            op: filter::Op::Eq,
            value: fv,
        } = inner
        {
            e[path.as_str()] = fv.clone();
        }
        match (sub, v) {
            (Some(s), v) => set_sub(&mut e, s, v),
            (None, Value::Object(m)) => {
                for (k, x) in m {
                    set_sub(&mut e, &k, x);
                }
            }
            (None, _) => {
                return Err((
                    "invalidValue",
                    format!("`{op}` on `{attr}[…]` needs an object value"),
                ));
            }
        }
        list.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Value {
        json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"a@x","active":true,
               "name":{"givenName":"A"},"emails":[{"type":"work","value":"a@x","primary":true}]})
    }

    #[test]
    fn entra_default_dialect() {
        let mut u = user();
        apply(&mut u, &json!({"Operations":[
            {"op":"Replace","path":"active","value":"False"},
            {"op":"Replace","path":"emails[type eq \"work\"].value","value":"b@x"},
            {"op":"Add","path":"nickName","value":"Babs"},
            {"op":"Replace","path":"name.familyName","value":"F"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"42"}]}))
        .unwrap();
        assert_eq!(u["active"], false);
        assert_eq!(u["emails"][0]["value"], "b@x");
        assert_eq!(u["emails"][0]["primary"], true);
        assert_eq!(u["nickName"], "Babs");
        assert_eq!(u["name"], json!({"givenName":"A","familyName":"F"}));
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "42"
        );
        assert_eq!(u["schemas"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn flag_dialect_pathless_dotted_keys() {
        let mut u = user();
        apply(
            &mut u,
            &json!({"Operations":[{"op":"replace","value":{"active":false,"name.givenName":"Z",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Ops"}}]}),
        )
        .unwrap();
        assert_eq!(u["active"], false);
        assert_eq!(u["name"]["givenName"], "Z");
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Ops"
        );
        apply(
            &mut u,
            &json!({"Operations":[{"op":"replace","value":{
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng"}}}]}),
        )
        .unwrap();
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Eng"
        );
    }

    const EXT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// RFC 7644 §3.5.2 with `path` naming the whole extension (RFC 7643 §3.3):
    /// add and replace set its sub-attributes, remove drops it and its schema.
    #[test]
    fn whole_extension_urn_as_path() {
        let mut u = user();
        apply(
            &mut u,
            &json!({"Operations":[{"op":"add","path":EXT,
            "value":{"department":"Ops","manager":{"value":"m1"}}}]}),
        )
        .unwrap();
        assert_eq!(u[EXT], json!({"department":"Ops","manager":{"value":"m1"}}));
        assert_eq!(u["schemas"], json!([super::super::USER_URN, EXT]));
        apply(
            &mut u,
            &json!({"Operations":[{"op":"replace","path":EXT,
            "value":{"department":"Eng"}}]}),
        )
        .unwrap();
        assert_eq!(u[EXT], json!({"department":"Eng","manager":{"value":"m1"}}));
        apply(&mut u, &json!({"Operations":[{"op":"remove","path":EXT}]})).unwrap();
        assert!(u.get(EXT).is_none(), "{u}");
        assert_eq!(u["schemas"], json!([super::super::USER_URN]));
        // Nothing may land under a made-up `urn:…:2.0` key on the way.
        assert!(u.as_object().unwrap().keys().all(|k| !k.ends_with(":2.0")));
    }

    /// A core attribute named with its schema URN is the top-level attribute.
    #[test]
    fn core_urn_prefix_names_top_level_attribute() {
        let mut u = user();
        apply(
            &mut u,
            &json!({"Operations":[{"op":"replace",
            "path":"urn:ietf:params:scim:schemas:core:2.0:User:nickName","value":"N"}]}),
        )
        .unwrap();
        assert_eq!(u["nickName"], "N");
        assert_eq!(u["schemas"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn members_both_dialects_and_errors() {
        let mut g = json!({"id":"g","displayName":"G","members":[]});
        apply(&mut g, &json!({"Operations":[{"op":"Add","path":"members","value":[{"value":"u1"},{"value":"u2"},{"value":"u3"}]}]})).unwrap();
        apply(
            &mut g,
            &json!({"Operations":[{"op":"Add","path":"members","value":[{"value":"u1"}]}]}),
        )
        .unwrap();
        assert_eq!(g["members"].as_array().unwrap().len(), 3);
        apply(
            &mut g,
            &json!({"Operations":[{"op":"Remove","path":"members","value":[{"value":"u1"}]}]}),
        )
        .unwrap();
        apply(
            &mut g,
            &json!({"Operations":[{"op":"remove","path":"members[value eq \"u2\"]"}]}),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value":"u3"}]));
        assert!(
            apply(
                &mut g,
                &json!({"Operations":[{"op":"frobnicate","path":"x","value":1}]})
            )
            .is_err()
        );
        assert!(apply(&mut g, &json!({"Operations":[{"op":"remove"}]})).is_err());
        assert!(apply(&mut g, &json!({})).is_err());
        assert!(
            apply(
                &mut g,
                &json!({"Operations":[{"op":"add","path":"emails[type eq","value":1}]})
            )
            .is_err()
        );
    }
}
