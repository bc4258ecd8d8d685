//! Reading a synchronizationSchema the way the provisioning service does: the
//! enabled User and Group object mappings of the outbound rule, their
//! attribute mappings, matching attributes and scoping filters, and turning a
//! source user into the SCIM resource those mappings produce.

use super::expr::{Expr, ExprError, Source};
use super::graph_user::{Location, locate};
use serde_json::{Map, Value, json};

pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const CORE_USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// One attribute mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrMapping {
    /// SCIM target attribute, e.g. `userName`, `name.givenName`,
    /// `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:department`.
    pub target: String,
    /// The source expression (an attribute reference is `[name]`).
    pub expr: Expr,
    /// `> 0` for matching attributes; lower is tried first.
    pub matching_priority: i64,
    /// `Always`, `ObjectAddOnly`, …
    pub flow_type: String,
    /// Used on create when the expression yields null.
    pub default_value: Option<String>,
}

/// One object mapping (User → User, Group → Group).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMapping {
    pub name: String,
    pub enabled: bool,
    pub source_object: String,
    pub target_object: String,
    pub attributes: Vec<AttrMapping>,
    /// Scoping filter: any group true ⇒ in scope; a group is true iff all its clauses are.
    pub scope: Vec<Vec<Clause>>,
    /// The rule this mapping belongs to (provisionOnDemand needs its id).
    pub rule_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub attribute: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// A scoping-filter operator (`operatorName` of a filterClause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeOperator {
    Equals,
    NotEquals,
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    RegexMatch,
    NotRegexMatch,
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    /// `Includes`: the attribute contains the value (String.Contains).
    Includes,
    /// `NOT INCLUDES` / `EXCLUDES`.
    NotIncludes,
    /// `&`: the attribute occurs in the clause's value.
    In,
    /// `!&`: the attribute does not occur in the clause's value.
    NotIn,
    EndsWith,
    /// `IsMemberOf`: "not supported currently".
    IsMemberOf,
    Unknown,
}

impl ScopeOperator {
    /// Read an `operatorName`: case, spaces and underscores do not matter
    /// (`NOT EQUALS`, `Greater_Than_OR_EQUALS`, `Includes`, `&`).
    pub fn parse(name: &str) -> ScopeOperator {
        match name.trim() {
            "&" => return ScopeOperator::In,
            "!&" => return ScopeOperator::NotIn,
            _ => {}
        }
        let op: String = name
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .collect::<String>()
            .to_ascii_uppercase();
        match op.as_str() {
            "EQUALS" => ScopeOperator::Equals,
            "NOTEQUALS" => ScopeOperator::NotEquals,
            "ISTRUE" => ScopeOperator::IsTrue,
            "ISFALSE" => ScopeOperator::IsFalse,
            "ISNULL" => ScopeOperator::IsNull,
            "ISNOTNULL" => ScopeOperator::IsNotNull,
            "REGEXMATCH" => ScopeOperator::RegexMatch,
            "NOTREGEXMATCH" => ScopeOperator::NotRegexMatch,
            "GREATERTHAN" => ScopeOperator::GreaterThan,
            "GREATERTHANOREQUALS" => ScopeOperator::GreaterThanOrEquals,
            "LESSTHAN" => ScopeOperator::LessThan,
            "LESSTHANOREQUALS" => ScopeOperator::LessThanOrEquals,
            "INCLUDES" => ScopeOperator::Includes,
            "NOTINCLUDES" | "EXCLUDES" => ScopeOperator::NotIncludes,
            "ENDSWITH" => ScopeOperator::EndsWith,
            "ISMEMBEROF" => ScopeOperator::IsMemberOf,
            _ => ScopeOperator::Unknown,
        }
    }

    /// Whether a clause with this operator and `values` holds for an
    /// attribute whose value is `v` (None = null; "" counts as empty too).
    pub fn holds(self, v: Option<&str>, multi_valued: bool, values: &[String]) -> bool {
        let v = v.filter(|s| !s.is_empty());
        match self {
            ScopeOperator::IsNull => return v.is_none(),
            ScopeOperator::IsNotNull => return v.is_some(),
            _ => {}
        }
        // "Scoping filters will return "false" if the value is null / empty."
        // "Filtering is not supported for multi-valued attributes."
        let Some(v) = v else { return false };
        if multi_valued {
            return false;
        }
        let first = values.first().map(String::as_str).unwrap_or("");
        // "The value specified on the scoping filter must be an integer and the
        // attribute on the user must be an integer."
        let int = |s: &str| s.trim().parse::<i64>().ok();
        let cmp = |f: fn(i64, i64) -> bool| int(v).zip(int(first)).is_some_and(|(a, b)| f(a, b));
        let regex = || regex::Regex::new(first).ok();
        match self {
            ScopeOperator::Equals => v == first,
            ScopeOperator::NotEquals => v != first,
            ScopeOperator::IsTrue => v.eq_ignore_ascii_case("true"),
            ScopeOperator::IsFalse => v.eq_ignore_ascii_case("false"),
            ScopeOperator::RegexMatch => regex().is_some_and(|r| r.is_match(v)),
            ScopeOperator::NotRegexMatch => regex().is_some_and(|r| !r.is_match(v)),
            ScopeOperator::GreaterThan => cmp(|a, b| a > b),
            ScopeOperator::GreaterThanOrEquals => cmp(|a, b| a >= b),
            ScopeOperator::LessThan => cmp(|a, b| a < b),
            ScopeOperator::LessThanOrEquals => cmp(|a, b| a <= b),
            ScopeOperator::Includes => values.iter().any(|x| v.contains(x.as_str())),
            ScopeOperator::NotIncludes => !values.iter().any(|x| v.contains(x.as_str())),
            ScopeOperator::In => values.iter().any(|x| x.contains(v)),
            ScopeOperator::NotIn => !values.iter().any(|x| x.contains(v)),
            ScopeOperator::EndsWith => v.ends_with(first),
            ScopeOperator::IsMemberOf | ScopeOperator::Unknown => false,
            // Answered before the null check; here the value is present.
            ScopeOperator::IsNull => false,
            ScopeOperator::IsNotNull => true,
        }
    }
}

/// The outbound mappings of one job's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Mappings {
    pub user: Option<ObjectMapping>,
    pub group: Option<ObjectMapping>,
}

impl Mappings {
    /// Read the first rule whose source is Entra ("Azure Active Directory").
    pub fn from_schema(schema: &Value) -> Result<Mappings, ExprError> {
        let mut user = None;
        let mut group = None;
        let rules = schema
            .get("synchronizationRules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for rule in &rules {
            let rule_id = rule
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            for om in rule
                .get("objectMappings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let m = object_mapping(om, &rule_id)?;
                match m.source_object.as_str() {
                    "User" if user.is_none() => user = Some(m),
                    "Group" if group.is_none() => group = Some(m),
                    _ => {}
                }
            }
        }
        Ok(Mappings { user, group })
    }

    /// Whether the job pushes groups (a Group mapping exists and is enabled).
    pub fn pushes_groups(&self) -> bool {
        self.group.as_ref().is_some_and(|g| g.enabled)
    }
}

impl ObjectMapping {
    /// Matching attributes in precedence order.
    pub fn matching(&self) -> Vec<&AttrMapping> {
        let mut v: Vec<&AttrMapping> = self
            .attributes
            .iter()
            .filter(|a| a.matching_priority > 0)
            .collect();
        v.sort_by_key(|a| a.matching_priority);
        v
    }

    pub fn attribute(&self, target: &str) -> Option<&AttrMapping> {
        self.attributes
            .iter()
            .find(|a| a.target.eq_ignore_ascii_case(target))
    }

    /// Whether `src` passes the scoping filter.
    pub fn in_scope(&self, src: &dyn Source) -> bool {
        self.scope.is_empty() || self.scope.iter().any(|g| g.iter().all(|c| c.eval(src)))
    }

    /// The SCIM resource body (without `id`) the mappings produce for `src`.
    /// Null values are left out, as Entra never sends nulls. `for_create`
    /// applies default values and `ObjectAddOnly` mappings.
    pub fn build_resource(&self, src: &dyn Source, for_create: bool) -> Map<String, Value> {
        let mut out = Map::new();
        for a in &self.attributes {
            if !for_create && a.flow_type.eq_ignore_ascii_case("ObjectAddOnly") {
                continue;
            }
            if a.target == "members" {
                continue;
            }
            let mut value = a.expr.eval(src).ok().flatten();
            if value.is_none() && for_create {
                value = a.default_value.clone();
            }
            let Some(value) = value else { continue };
            set_path(&mut out, &a.target, typed(&a.target, value));
        }
        out
    }
}

impl ObjectMapping {
    /// The typed value each attribute mapping yields for `src`, in mapping
    /// order (what [`ObjectMapping::build_resource`] writes, one entry per
    /// target path). Same rules: nulls left out, `members` left out,
    /// `ObjectAddOnly` and default values only `for_create`.
    pub fn values<'m>(
        &'m self,
        src: &dyn Source,
        for_create: bool,
    ) -> Vec<(&'m AttrMapping, Value)> {
        let mut out = Vec::new();
        for a in &self.attributes {
            if !for_create && a.flow_type.eq_ignore_ascii_case("ObjectAddOnly") {
                continue;
            }
            if a.target == "members" {
                continue;
            }
            let mut value = a.expr.eval(src).ok().flatten();
            if value.is_none() && for_create {
                value = a.default_value.clone();
            }
            if let Some(value) = value {
                out.push((a, typed(&a.target, value)));
            }
        }
        out
    }
}

impl Clause {
    /// Whether `src` satisfies this clause, with the semantics Microsoft
    /// documents on *Scoping users or groups to be provisioned with scoping
    /// filters* (see [`ScopeOperator`]): string comparisons are case
    /// sensitive, and every operator except IS NULL / IS NOT NULL is false
    /// when the value is null or empty ("Scoping filters will return "false"
    /// if the value is null / empty"). A multi-valued attribute makes every
    /// operator but IS NULL / IS NOT NULL false ("Filtering is not supported
    /// for multi-valued attributes"; what the service does then is not
    /// documented, and leaving the object out is the cautious reading).
    pub fn eval(&self, src: &dyn Source) -> bool {
        let v = src.get(&self.attribute);
        let multi = src.count(&self.attribute) > 1;
        ScopeOperator::parse(&self.operator).holds(v.as_deref(), multi, &self.values)
    }
    /// `department NOT EQUALS "Contractors"`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.attribute,
            self.operator,
            self.values
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn object_mapping(om: &Value, rule_id: &str) -> Result<ObjectMapping, ExprError> {
    let s = |k: &str| {
        om.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut attributes = Vec::new();
    for am in om
        .get("attributeMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let target = am
            .get("targetAttributeName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let src = am.get("source").cloned().unwrap_or(Value::Null);
        let expr = source_expr(&src)?;
        attributes.push(AttrMapping {
            target,
            expr,
            matching_priority: am
                .get("matchingPriority")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            flow_type: am
                .get("flowType")
                .and_then(Value::as_str)
                .unwrap_or("Always")
                .to_string(),
            default_value: am
                .get("defaultValue")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        });
    }
    let scope = om.get("scope").map(scope_from_json).unwrap_or_default();
    Ok(ObjectMapping {
        name: s("name"),
        enabled: om.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        source_object: s("sourceObjectName"),
        target_object: s("targetObjectName"),
        attributes,
        scope,
        rule_id: rule_id.to_string(),
    })
}

/// Read a scoping filter (`objectMapping.scope`): groups of clauses.
pub fn scope_from_json(json: &Value) -> Vec<Vec<Clause>> {
    let mut scope = Vec::new();
    for g in json
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut clauses = Vec::new();
        for c in g
            .get("clauses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            clauses.push(Clause {
                attribute: c
                    .get("sourceOperandName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                operator: c
                    .get("operatorName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                values: c
                    .pointer("/targetOperand/values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            });
        }
        scope.push(clauses);
    }
    scope
}

/// `department EQUALS "Sales" AND …`, groups joined by OR (parenthesised when
/// there are several); `none` when there is no filter.
pub fn describe_scope(scope: &[Vec<Clause>]) -> String {
    if scope.is_empty() {
        return "none".into();
    }
    scope
        .iter()
        .map(|g| {
            let all = g
                .iter()
                .map(Clause::describe)
                .collect::<Vec<_>>()
                .join(" AND ");
            if scope.len() > 1 {
                format!("({all})")
            } else {
                all
            }
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The expression of an attributeMappingSource: `expression` when present,
/// else built from `type` and `name`.
pub fn source_expr(src: &Value) -> Result<Expr, ExprError> {
    if let Some(e) = src
        .get("expression")
        .and_then(Value::as_str)
        .filter(|e| !e.trim().is_empty())
    {
        return Expr::parse(e);
    }
    let name = src.get("name").and_then(Value::as_str).unwrap_or_default();
    match src
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Attribute")
    {
        "Constant" => Ok(Expr::Lit(name.to_string())),
        "Function" => Expr::parse(name),
        _ => Ok(Expr::Attr(name.to_string())),
    }
}

/// SCIM types for known boolean targets; everything else is a string.
fn typed(target: &str, value: String) -> Value {
    if target.eq_ignore_ascii_case("active") {
        return Value::Bool(value.eq_ignore_ascii_case("true"));
    }
    Value::String(value)
}

/// Put `value` at an Entra target attribute path inside a SCIM resource:
/// `userName`, `name.givenName`, `emails[type eq "work"].value`,
/// `urn:…:enterprise:2.0:User:manager` (a `{value}` object), `…:department`.
pub fn set_path(out: &mut Map<String, Value>, target: &str, value: Value) {
    if let Some(rest) = target.strip_prefix("urn:") {
        // Extension attribute: split at the last ':'.
        if let Some(pos) = rest.rfind(':') {
            let urn = format!("urn:{}", &rest[..pos]);
            let attr = &rest[pos + 1..];
            let ext = out.entry(urn).or_insert_with(|| json!({}));
            if let Some(ext) = ext.as_object_mut() {
                let v = if attr == "manager" {
                    json!({ "value": value })
                } else {
                    value
                };
                set_path(ext, attr, v);
            }
            return;
        }
    }
    if let Some(open) = target.find('[') {
        // emails[type eq "work"].value
        let attr = &target[..open];
        let close = target[open..]
            .find(']')
            .map(|c| c + open)
            .unwrap_or(target.len());
        let filter = target.get(open + 1..close).unwrap_or_default();
        let sub = target.get(close + 2..).unwrap_or("value");
        let kind = filter.split('"').nth(1).unwrap_or("work").to_string();
        let list = out.entry(attr.to_string()).or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            let idx = match list
                .iter()
                .position(|e| e.get("type").and_then(Value::as_str) == Some(kind.as_str()))
            {
                Some(i) => i,
                None => {
                    let mut entry = json!({ "type": kind });
                    if attr == "emails" || attr == "phoneNumbers" || attr == "addresses" {
                        entry["primary"] = json!(true);
                    }
                    list.push(entry);
                    list.len() - 1
                }
            };
            list[idx][sub] = value;
        }
        return;
    }
    if let Some((head, tail)) = target.split_once('.') {
        let inner = out.entry(head.to_string()).or_insert_with(|| json!({}));
        if let Some(inner) = inner.as_object_mut() {
            set_path(inner, tail, value);
        }
        return;
    }
    out.insert(target.to_string(), value);
}

/// Read a value at an Entra target path from a SCIM resource (the inverse of [`set_path`]).
pub fn get_path<'a>(resource: &'a Value, target: &str) -> Option<&'a Value> {
    if let Some(rest) = target.strip_prefix("urn:")
        && let Some(pos) = rest.rfind(':')
    {
        let urn = format!("urn:{}", &rest[..pos]);
        let v = get_path(resource.get(&urn)?, &rest[pos + 1..])?;
        return if rest[pos + 1..] == *"manager" {
            v.get("value").or(Some(v))
        } else {
            Some(v)
        };
    }
    if let Some(open) = target.find('[') {
        let attr = &target[..open];
        let close = target[open..].find(']')? + open;
        let kind = target[open + 1..close].split('"').nth(1)?;
        let sub = target.get(close + 2..).unwrap_or("value");
        return resource
            .get(attr)?
            .as_array()?
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some(kind))?
            .get(sub);
    }
    match target.split_once('.') {
        Some((head, tail)) => get_path(resource.get(head)?, tail),
        None => resource.get(target).or_else(|| {
            resource
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(target))
                .map(|(_, v)| v)
        }),
    }
}

/// A Graph user JSON object as an expression source. Entra's source names map
/// to Graph properties (`objectId` → `id`, `surname`, …); `IsSoftDeleted` is
/// supplied by the caller (out of scope or disabled).
pub struct GraphUserSource<'a> {
    pub user: &'a Value,
    pub soft_deleted: bool,
}

impl GraphUserSource<'_> {
    /// The Graph value behind Entra's source attribute `name`, where
    /// [`locate`] says it lives (a key inside `onPremisesExtensionAttributes`
    /// for `extensionAttributeN`); names matched case-insensitively.
    fn raw(&self, name: &str) -> Option<&Value> {
        let obj = self.user.as_object()?;
        match locate(name) {
            Location::Nested { property, key } => {
                let inner = lookup(obj, property)?.as_object()?;
                lookup(inner, &key)
            }
            Location::Property(p) => lookup(obj, &p),
            _ => lookup(obj, name),
        }
    }
}

/// `key` in a JSON object, exactly or else case-insensitively.
fn lookup<'v>(m: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl Source for GraphUserSource<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if locate(name) == Location::Computed {
            return Some(bool_text(self.soft_deleted));
        }
        source_text(self.raw(name)?)
    }

    fn count(&self, name: &str) -> usize {
        match self.raw(name) {
            Some(Value::Array(a)) => a.len(),
            Some(v) => usize::from(source_text(v).is_some()),
            None => 0,
        }
    }
}

/// A Graph property value as an expression sees it: strings as they are
/// (empty = null), booleans as "True"/"False", the first entry of a list.
pub fn source_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(bool_text(*b)),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) => a.first().and_then(|x| x.as_str()).map(str::to_string),
        Value::Object(_) => None,
    }
}

/// Whether a value the mappings produce is the one the target already holds,
/// as the provisioning service's diff sees it: strings compare exactly (a
/// userName that differs only in case is still sent), booleans also match
/// their `"True"` / `"False"` spelling, an absent value is always a change.
pub fn same_value(new: &Value, old: Option<&Value>) -> bool {
    match (new, old) {
        (_, None) => false,
        (Value::String(a), Some(Value::String(b))) => a == b,
        (Value::Bool(a), Some(Value::Bool(b))) => a == b,
        (Value::Bool(a), Some(Value::String(b))) | (Value::String(b), Some(Value::Bool(a))) => {
            b.eq_ignore_ascii_case(if *a { "true" } else { "false" })
        }
        (a, Some(b)) => a == b,
    }
}

impl ObjectMapping {
    /// What an update of `current` sends for `src`: `(target path, value held,
    /// new value)` for every mapped attribute whose value differs (no nulls,
    /// no `ObjectAddOnly` mappings, no default values). The twin's engine
    /// PATCHes exactly these; the planner shows them as a matched user's diff.
    pub fn update_changes(
        &self,
        src: &dyn Source,
        current: &Value,
    ) -> Vec<(String, Option<Value>, Value)> {
        self.values(src, false)
            .into_iter()
            .filter(|(a, v)| !same_value(v, get_path(current, &a.target)))
            .map(|(a, v)| (a.target.clone(), get_path(current, &a.target).cloned(), v))
            .collect()
    }
}

/// Entra's spelling of a boolean in expressions.
pub fn bool_text(b: bool) -> String {
    if b { "True" } else { "False" }.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"synchronizationRules":[{"id":"r1","name":"USER_OUTBOUND_USER","objectMappings":[
            {"name":"Provision Azure Active Directory Users","enabled":true,"sourceObjectName":"User","targetObjectName":"User",
             "scope":{"groups":[{"clauses":[{"sourceOperandName":"department","operatorName":"NOT EQUALS","targetOperand":{"values":["Contractors"]}}]}]},
             "attributeMappings":[
                {"targetAttributeName":"userName","matchingPriority":1,"source":{"type":"Attribute","name":"mail","expression":"[mail]"}},
                {"targetAttributeName":"active","source":{"type":"Function","expression":"Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")"}},
                {"targetAttributeName":"name.givenName","source":{"type":"Attribute","name":"givenName"}},
                {"targetAttributeName":"emails[type eq \"work\"].value","source":{"type":"Attribute","name":"mail"}},
                {"targetAttributeName":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","source":{"type":"Attribute","name":"department"}}
             ]},
            {"name":"Provision Azure Active Directory Groups","enabled":false,"sourceObjectName":"Group","targetObjectName":"Group","attributeMappings":[]}
        ]}]})
    }

    #[test]
    fn reads_mappings_scope_and_builds_scim() {
        let m = Mappings::from_schema(&schema()).unwrap();
        assert!(!m.pushes_groups());
        let u = m.user.unwrap();
        assert_eq!(u.matching()[0].target, "userName");
        let alice = json!({"id":"1","mail":"alice@x.com","givenName":"Alice","department":"Sales","accountEnabled":true});
        let src = GraphUserSource {
            user: &alice,
            soft_deleted: false,
        };
        assert!(u.in_scope(&src));
        let body = Value::Object(u.build_resource(&src, true));
        assert_eq!(body["userName"], "alice@x.com");
        assert_eq!(body["active"], true);
        assert_eq!(body["name"]["givenName"], "Alice");
        assert_eq!(body["emails"][0]["value"], "alice@x.com");
        assert_eq!(body[ENTERPRISE_URN]["department"], "Sales");
        assert_eq!(
            get_path(&body, "emails[type eq \"work\"].value").unwrap(),
            "alice@x.com"
        );
        // A malformed target path never panics.
        let mut m = Map::new();
        for t in [
            "[",
            "emails[",
            "emails[type eq \"work\"",
            "urn:",
            "a.",
            "[x].",
        ] {
            set_path(&mut m, t, json!("v"));
            let _ = get_path(&Value::Object(m.clone()), t);
        }
        assert_eq!(
            get_path(&body, &format!("{ENTERPRISE_URN}:department")).unwrap(),
            "Sales"
        );
        let bob = json!({"id":"2","mail":"bob@x.com","department":"Contractors"});
        assert!(!u.in_scope(&GraphUserSource {
            user: &bob,
            soft_deleted: false
        }));
    }
}
