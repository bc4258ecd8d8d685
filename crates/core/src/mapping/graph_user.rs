//! Where Entra's source attributes for a user live in Microsoft Graph.
//!
//! A provisioning schema names its sources as Entra's directory does
//! (`objectId`, `mobile`, `extensionAttribute3`, `IsSoftDeleted`); a snapshot
//! reads users from Graph, whose properties are spelled otherwise (`id`,
//! `mobilePhone`, a key inside `onPremisesExtensionAttributes`) or are not
//! properties at all (`IsSoftDeleted` is computed, `manager` a reference the
//! engine resolves to the target's id). This module is the one translation:
//! the snapshot's `$select` is built from it, and both expression sources (the
//! twin's Graph JSON and the planner's snapshot attributes) read through it,
//! so a mapping that reads an attribute the snapshot did not capture is found
//! before it is predicted as empty.

use super::expr::Expr;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The structural properties of `microsoft.graph.user` in Graph v1.0 (the
/// OpenAPI description, `components.schemas.microsoft.graph.user`, plus
/// `directoryObject`'s `id` and `deletedDateTime`) that a *list* of users
/// can return. Navigation properties (`manager`, `memberOf`, …) are not
/// selectable; `aboutMe`, `birthday`, `hireDate`, `interests`, `mySite`,
/// `pastProjects`, `preferredName`, `responsibilities`, `schools` and
/// `skills` are returned only when one user is read (Graph v1.0 *List users*,
/// "Optional query parameters"; a list that selects them is refused, as
/// pnp/cli-microsoft365#5788 and microsoft-graph-explorer-v4#2748 show), so a
/// snapshot, which reads users in lists, cannot hold them: not listed either.
pub const GRAPH_USER_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "identities",
    "imAddresses",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailNickname",
    "mobilePhone",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "provisionedPlans",
    "proxyAddresses",
    "securityIdentifier",
    "showInAddressList",
    "signInSessionsValidFromDateTime",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
];

/// Where the value of an Entra source attribute comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A top-level Graph user property (its Graph spelling).
    Property(Cow<'static, str>),
    /// A key inside a Graph property: `extensionAttribute1` … `15` are in
    /// `onPremisesExtensionAttributes`.
    Nested { property: &'static str, key: String },
    /// Computed by the provisioning service, never read from Graph (`IsSoftDeleted`).
    Computed,
    /// A reference the engine resolves to the referenced user's target id
    /// (`manager`); no prediction of matching or scope can read it.
    Reference,
    /// A name that is no Graph user property scimshift knows.
    Unknown,
}

impl Location {
    /// The Graph property a `$select` needs for this attribute, if any.
    pub fn property(&self) -> Option<&str> {
        match self {
            Location::Property(p) => Some(p),
            Location::Nested { property, .. } => Some(property),
            _ => None,
        }
    }
}

/// Where Entra's source attribute `name` (case-insensitive) is read from.
pub fn locate(name: &str) -> Location {
    let lower = name.to_ascii_lowercase();
    let renamed = match lower.as_str() {
        "objectid" => Some("id"),
        "telephonenumber" => Some("businessPhones"),
        "physicaldeliveryofficename" => Some("officeLocation"),
        "facsimiletelephonenumber" => Some("faxNumber"),
        "mobile" => Some("mobilePhone"),
        "issoftdeleted" => return Location::Computed,
        "manager" => return Location::Reference,
        _ => None,
    };
    if let Some(p) = renamed {
        return Location::Property(Cow::Borrowed(p));
    }
    if let Some(n) = lower.strip_prefix("extensionattribute")
        && n.parse::<u8>().is_ok_and(|n| (1..=15).contains(&n))
        && !n.starts_with('0')
    {
        return Location::Nested {
            property: "onPremisesExtensionAttributes",
            key: format!("extensionAttribute{n}"),
        };
    }
    if let Some(p) = GRAPH_USER_PROPERTIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(name))
    {
        return Location::Property(Cow::Borrowed(p));
    }
    if is_directory_extension(name) {
        return Location::Property(Cow::Owned(name.to_string()));
    }
    Location::Unknown
}

/// `extension_<appId without dashes>_<name>`: a directory extension property.
pub fn is_directory_extension(name: &str) -> bool {
    name.starts_with("extension_")
        && name.len() > "extension_".len()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a schema uses a source attribute for; the strongest use is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    /// Computes a value the job writes.
    Value,
    /// Decides who is in scope (a scoping filter clause).
    Scoping,
    /// Computes a matching attribute: decides match, create or duplicate.
    Matching,
}

impl Use {
    pub fn as_str(self) -> &'static str {
        match self {
            Use::Value => "a mapped value",
            Use::Scoping => "the scoping filter",
            Use::Matching => "matching",
        }
    }
}

/// Every source attribute the schema's *user* object mappings read, with what
/// for: attribute sources and function arguments (expressions parsed, or
/// their `parameters` walked), and scoping filter clauses. Read from the JSON
/// so that an expression the evaluator cannot run still counts.
pub fn user_reads(schema: &serde_json::Value) -> BTreeMap<String, Use> {
    use serde_json::Value;
    let mut out: BTreeMap<String, Use> = BTreeMap::new();
    let mut note = |name: &str, how: Use| {
        if name.is_empty() {
            return;
        }
        // One entry per attribute however it is spelled; the first spelling stays.
        let key = out
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| name.to_string());
        let e = out.entry(key).or_insert(how);
        *e = (*e).max(how);
    };
    fn source_names(src: &Value, out: &mut Vec<String>) {
        if let Some(e) = src
            .get("expression")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
            && let Ok(x) = Expr::parse(e)
        {
            out.extend(x.attributes().into_iter().map(str::to_string));
            return;
        }
        match src.get("type").and_then(Value::as_str) {
            Some("Attribute") | None => {
                if let Some(n) = src.get("name").and_then(Value::as_str) {
                    out.push(n.to_string());
                }
            }
            _ => {}
        }
        for p in src
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(v) = p.get("value") {
                source_names(v, out);
            }
        }
    }
    let rules = schema
        .get("synchronizationRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for om in rules.flat_map(|r| {
        r.get("objectMappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }) {
        let source = om.get("sourceObjectName").and_then(Value::as_str);
        if !source.is_some_and(|s| s.eq_ignore_ascii_case("User")) {
            continue;
        }
        for am in om
            .get("attributeMappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let how = if am
                .get("matchingPriority")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                > 0
            {
                Use::Matching
            } else {
                Use::Value
            };
            let mut names = Vec::new();
            if let Some(src) = am.get("source") {
                source_names(src, &mut names);
            }
            names.iter().for_each(|n| note(n, how));
        }
        for clause in om
            .pointer("/scope/groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|g| {
                g.get("clauses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
        {
            if let Some(n) = clause.get("sourceOperandName").and_then(Value::as_str) {
                note(n, Use::Scoping);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entra_names_are_located_in_graph() {
        assert_eq!(locate("objectId").property(), Some("id"));
        assert_eq!(locate("MOBILE").property(), Some("mobilePhone"));
        assert_eq!(locate("mail").property(), Some("mail"));
        assert_eq!(locate("employeeid").property(), Some("employeeId"));
        assert_eq!(
            locate("extensionAttribute15"),
            Location::Nested {
                property: "onPremisesExtensionAttributes",
                key: "extensionAttribute15".into()
            }
        );
        assert_eq!(locate("extensionAttribute16"), Location::Unknown);
        assert_eq!(locate("extensionAttribute01"), Location::Unknown);
        assert_eq!(locate("IsSoftDeleted"), Location::Computed);
        assert_eq!(locate("manager"), Location::Reference);
        assert_eq!(
            locate("extension_abc123_costCenter").property(),
            Some("extension_abc123_costCenter")
        );
        assert_eq!(locate("favouriteColour"), Location::Unknown);
        // Only on a single-user read: a snapshot cannot hold it.
        assert_eq!(locate("skills"), Location::Unknown);
    }

    #[test]
    fn reads_are_found_in_sources_expressions_parameters_and_scope() {
        let schema = json!({"synchronizationRules":[{"objectMappings":[
            {"sourceObjectName":"User","attributeMappings":[
                {"targetAttributeName":"userName","matchingPriority":1,
                 "source":{"type":"Function","expression":"Coalesce([extensionAttribute2], [mail])"}},
                {"targetAttributeName":"externalId","matchingPriority":2,
                 "source":{"type":"Attribute","name":"employeeId"}},
                {"targetAttributeName":"title",
                 "source":{"type":"Function","name":"Join","parameters":[
                    {"key":"source","value":{"type":"Attribute","name":"jobTitle"}},
                    {"key":"sep","value":{"type":"Constant","name":"-"}}]}},
                {"targetAttributeName":"nickName","source":{"type":"Attribute","name":"MAIL"}}],
             "scope":{"groups":[{"clauses":[{"sourceOperandName":"department"},{"sourceOperandName":"jobTitle"}]}]}},
            {"sourceObjectName":"Group","attributeMappings":[
                {"targetAttributeName":"displayName","matchingPriority":1,"source":{"type":"Attribute","name":"description"}}]}
        ]}]});
        let reads = user_reads(&schema);
        let got: Vec<(&str, Use)> = reads.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            got,
            [
                ("department", Use::Scoping),
                ("employeeId", Use::Matching),
                ("extensionAttribute2", Use::Matching),
                ("jobTitle", Use::Scoping),
                ("mail", Use::Matching),
            ]
        );
    }
}
