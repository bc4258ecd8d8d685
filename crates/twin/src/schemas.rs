//! Synchronization schemas, templates and job JSON as the provisioning service
//! returns them: the default `scim` schema of a non-gallery app, the Coda
//! gallery schema used by the demo seed, and a fresh job's status.
//!
//! Shapes follow Graph's synchronizationSchema (directories → objects →
//! attributes; synchronizationRules → objectMappings → attributeMappings).

use crate::state::SyncJob;
use serde_json::{Value, json};

/// The rule id of the default scim schema's outbound rule.
pub const SCIM_RULE_ID: &str = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8#V2";
/// The rule id of the Coda gallery schema's outbound rule.
pub const CODA_RULE_ID: &str = "6c1e2f0a-9d4b-4c1e-8f3a-2b7d5e9c0a14";
/// `TimeSpan.MaxValue`, the interval of a job that is not scheduled.
pub const NEVER: &str = "P10675199DT2H48M5.4775807S";
/// Entra's expression for `active`.
pub const ACTIVE_EXPR: &str = "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")";
pub const ENTRA_DIRECTORY: &str = "Azure Active Directory";

fn attr_def(name: &str, ty: &str, multivalued: bool) -> Value {
    json!({"anchor": false, "apiExpressions": [], "caseExact": false, "defaultValue": null, "flowNullValues": false,
           "metadata": [], "multivalued": multivalued, "mutability": "ReadWrite", "name": name, "referencedObjects": [],
           "required": false, "type": ty})
}

fn ref_def(name: &str, to: &str) -> Value {
    let mut a = attr_def(name, "Reference", true);
    a["referencedObjects"] = json!([{"referencedObjectName": to, "referencedProperty": null}]);
    a
}

fn object(name: &str, attrs: Vec<Value>) -> Value {
    json!({"name": name, "attributes": attrs, "metadata": [], "supportedApis": []})
}

fn directory(id: &str, name: &str, objects: Vec<Value>) -> Value {
    json!({"id": id, "name": name, "discoverabilities": "AttributeNames, AttributeDataTypes", "discoveryDateTime": null,
           "readOnly": false, "version": "1.0", "objects": objects})
}

fn entra_directory() -> Value {
    let s = |n: &str| attr_def(n, "String", false);
    let user = object(
        "User",
        vec![
            s("objectId"),
            s("userPrincipalName"),
            s("mail"),
            s("mailNickname"),
            s("displayName"),
            s("givenName"),
            s("surname"),
            s("jobTitle"),
            s("department"),
            s("employeeId"),
            s("city"),
            s("country"),
            attr_def("accountEnabled", "Boolean", false),
            attr_def("IsSoftDeleted", "Boolean", false),
            ref_def("manager", "User"),
        ],
    );
    let group = object(
        "Group",
        vec![
            s("objectId"),
            s("displayName"),
            s("mailNickname"),
            s("description"),
            ref_def("members", "User"),
            attr_def("IsSoftDeleted", "Boolean", false),
        ],
    );
    directory(
        "66e4a8cc-1b7b-435e-95f8-f06cea133828",
        ENTRA_DIRECTORY,
        vec![user, group],
    )
}

/// An attributeMapping from a source attribute (or an expression when `source` contains `(` or `[`).
pub fn mapping(target: &str, source: &str, matching: i64) -> Value {
    let src = if source.contains('(') || source.contains('[') {
        json!({"expression": source, "name": source.split('(').next().unwrap_or(source), "parameters": [], "type": "Function"})
    } else {
        json!({"expression": format!("[{source}]"), "name": source, "parameters": [], "type": "Attribute"})
    };
    json!({"defaultValue": "", "exportMissingReferences": false, "flowBehavior": "FlowWhenChanged", "flowType": "Always",
           "matchingPriority": matching, "source": src, "targetAttributeName": target})
}

fn object_mapping(
    name: &str,
    source: &str,
    target: &str,
    enabled: bool,
    attrs: Vec<Value>,
    scope: Value,
) -> Value {
    json!({"attributeMappings": attrs, "enabled": enabled, "flowTypes": "Add, Update, Delete",
           "metadata": [{"key": "Disposition", "value": "Normal"}, {"key": "IsCustomerDefined", "value": "False"}],
           "name": name, "scope": scope, "sourceObjectName": source, "targetObjectName": target})
}

/// The default schema of a `scim` job on a non-gallery app.
///
/// GRAPH-API §11.1 leaves open whether the Group mapping is enabled by
/// default on a live tenant. The twin enables it: for non-gallery apps the
/// portal shows "Provision Microsoft Entra ID Groups" switched on, and the
/// migration's point is that the custom app pushes groups (a plan must still
/// check `enabled` rather than assume it).
pub fn default_scim_schema() -> Value {
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let s = |n: &str| attr_def(n, "String", false);
    let target_user = object(
        enterprise,
        vec![
            s("userName"),
            attr_def("active", "Boolean", false),
            s("displayName"),
            s("title"),
            s("emails[type eq \"work\"].value"),
            s("preferredLanguage"),
            s("name.givenName"),
            s("name.familyName"),
            s("name.formatted"),
            s("externalId"),
            s(&format!("{enterprise}:employeeNumber")),
            s(&format!("{enterprise}:department")),
            ref_def(&format!("{enterprise}:manager"), enterprise),
        ],
    );
    let target_group = object(
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        vec![
            s("displayName"),
            s("externalId"),
            ref_def("members", enterprise),
        ],
    );
    let users = object_mapping(
        "Provision Microsoft Entra ID Users",
        "User",
        enterprise,
        true,
        vec![
            mapping("userName", "userPrincipalName", 1),
            mapping("active", ACTIVE_EXPR, 0),
            mapping("displayName", "displayName", 0),
            mapping("title", "jobTitle", 0),
            mapping("emails[type eq \"work\"].value", "mail", 0),
            mapping("name.givenName", "givenName", 0),
            mapping("name.familyName", "surname", 0),
            mapping("externalId", "mailNickname", 0),
            mapping(&format!("{enterprise}:department"), "department", 0),
            mapping(&format!("{enterprise}:employeeNumber"), "employeeId", 0),
        ],
        json!({"groups": [], "inputFilterGroups": [], "categoryFilterGroups": []}),
    );
    let groups = object_mapping(
        "Provision Microsoft Entra ID Groups",
        "Group",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        true,
        vec![
            mapping("displayName", "displayName", 1),
            mapping("externalId", "objectId", 0),
            mapping("members", "members", 0),
        ],
        json!({"groups": [], "inputFilterGroups": [], "categoryFilterGroups": []}),
    );
    json!({
        "id": "scim",
        "version": "Date:2026-01-15~ObjectMappings:2~SchemaVersion:1",
        "directories": [entra_directory(), directory("a5b2c3d4-0000-4000-8000-000000000001", "customappsso", vec![target_user, target_group])],
        "synchronizationRules": [{
            "containerFilter": {"includedContainers": []}, "editable": true, "groupFilter": {"includedGroups": []},
            "id": SCIM_RULE_ID, "metadata": [{"key": "defaultSourceObjectMappings", "value": "User, Group"}],
            "name": "USER_OUTBOUND_USER", "objectMappings": [users, groups], "priority": 1,
            "sourceDirectoryName": ENTRA_DIRECTORY, "targetDirectoryName": "customappsso"
        }]
    })
}

/// The `scim` synchronization template of a non-gallery app.
pub fn scim_template(app_id: &str) -> Value {
    json!({"id": "scim", "applicationId": app_id, "default": true, "description": null, "discoverable": true,
           "factoryTag": "scim", "metadata": [], "schema": default_scim_schema()})
}

/// Coda's gallery schema, as the demo's gallery job carries it: users only
/// (no Group mapping), `userName` matched from `mail`, and the scoping filter
/// `department NOT EQUALS "Contractors"`.
pub fn coda_gallery_schema() -> Value {
    let s = |n: &str| attr_def(n, "String", false);
    let target_user = object(
        "User",
        vec![
            s("userName"),
            attr_def("active", "Boolean", false),
            s("name.givenName"),
            s("name.familyName"),
        ],
    );
    let scope = json!({"groups": [{"name": "Exclude contractors", "clauses": [{
        "operatorName": "NOT EQUALS", "sourceOperandName": "department", "targetOperand": {"values": ["Contractors"]}}]}],
        "inputFilterGroups": [], "categoryFilterGroups": []});
    let users = object_mapping(
        "Synchronize Microsoft Entra ID Users to Coda",
        "User",
        "User",
        true,
        vec![
            mapping("userName", "mail", 1),
            mapping("active", ACTIVE_EXPR, 0),
            mapping("name.givenName", "givenName", 0),
            mapping("name.familyName", "surname", 0),
        ],
        scope,
    );
    json!({
        "id": "coda",
        "version": "Date:2024-01-11~ObjectMappings:1~SchemaVersion:1",
        "directories": [entra_directory(), directory("c0da0000-0000-4000-8000-0000000000c0", "Coda", vec![target_user])],
        "synchronizationRules": [{
            "containerFilter": {"includedContainers": []}, "editable": true, "groupFilter": {"includedGroups": []},
            "id": CODA_RULE_ID, "metadata": [], "name": "USER_OUTBOUND_USER", "objectMappings": [users], "priority": 1,
            "sourceDirectoryName": ENTRA_DIRECTORY, "targetDirectoryName": "Coda"
        }]
    })
}

/// The gallery template of Coda (as `…/synchronization/templates` lists it).
pub fn coda_template(app_id: &str) -> Value {
    json!({"id": "coda", "applicationId": app_id, "default": true, "description": null, "discoverable": true,
           "factoryTag": "coda", "metadata": [{"key": "GalleryApplicationKey", "value": "coda"}], "schema": coda_gallery_schema()})
}

/// Status of a job that was just created.
pub fn fresh_status() -> Value {
    json!({"code": "NotConfigured", "countSuccessiveCompleteFailures": 0, "escrowsPruned": false,
           "lastExecution": null, "lastSuccessfulExecution": null, "lastSuccessfulExecutionWithExports": null,
           "progress": [], "quarantine": null, "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
           "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z", "synchronizedEntryCountByType": [],
           "troubleshootingUrl": null})
}

/// A synchronizationJob as Graph returns it.
pub fn job_json(job: &SyncJob) -> Value {
    let interval = if job.schedule_state == "Disabled" {
        NEVER
    } else {
        "PT40M"
    };
    json!({
        "id": job.id,
        "templateId": job.template_id,
        "schedule": {"expiration": null, "interval": interval, "state": job.schedule_state},
        "status": job.status,
        "synchronizationJobSettings": [
            {"name": "AzureIngestionAttributeOptimization", "value": "False"},
            {"name": "LookaheadQueryEnabled", "value": "False"},
            {"name": "QuarantineTooManyDeletesThreshold", "value": "500"}
        ]
    })
}

/// Secret keys whose values GET masks as `*`.
pub const MASKED_SECRETS: &[&str] = &[
    "Password",
    "SecretToken",
    "AppKey",
    "ClientSecret",
    "ConsumerSecret",
    "TokenKey",
    "Oauth2AccessToken",
    "Oauth2RefreshToken",
    "Oauth2ClientSecret",
    "Oauth2AuthorizationCode",
    "ConnectionString",
];

/// Keys the `synchronizationSecret` enum allows.
pub const SECRET_KEYS: &[&str] = &[
    "None",
    "UserName",
    "Password",
    "SecretToken",
    "AppKey",
    "BaseAddress",
    "ClientIdentifier",
    "ClientSecret",
    "SingleSignOnType",
    "Sandbox",
    "Url",
    "Domain",
    "ConsumerKey",
    "ConsumerSecret",
    "TokenKey",
    "TokenExpiration",
    "Oauth2AccessToken",
    "Oauth2AccessTokenCreationTime",
    "Oauth2RefreshToken",
    "SyncAll",
    "InstanceName",
    "Oauth2ClientId",
    "Oauth2ClientSecret",
    "CompanyId",
    "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule",
    "SystemOfRecord",
    "SandboxName",
    "EnforceDomain",
    "SyncNotificationSettings",
    "SkipOutOfScopeDeletions",
    "Oauth2AuthorizationCode",
    "Oauth2RedirectUri",
    "ApplicationTemplateIdentifier",
    "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri",
    "AuthenticationType",
    "Server",
    "PerformInboundEntitlementGrants",
    "HardDeletesEnabled",
    "SyncAgentCompatibilityKey",
    "SyncAgentADContainer",
    "ValidateDomain",
    "TestReferences",
    "ConnectionString",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::schema::Mappings;

    #[test]
    fn default_scim_schema_reads_as_users_and_groups_matched_on_upn() {
        let m = Mappings::from_schema(&default_scim_schema()).unwrap();
        assert!(m.pushes_groups());
        let u = m.user.unwrap();
        assert_eq!(u.matching()[0].target, "userName");
        assert_eq!(u.rule_id, SCIM_RULE_ID);
        let g = m.group.unwrap();
        assert_eq!(g.matching()[0].target, "displayName");
        assert!(g.attribute("members").is_some());
    }

    #[test]
    fn coda_schema_is_users_only_matched_on_mail_with_a_scope() {
        let m = Mappings::from_schema(&coda_gallery_schema()).unwrap();
        assert!(m.group.is_none());
        let u = m.user.unwrap();
        assert_eq!(u.matching()[0].target, "userName");
        assert_eq!(
            u.matching()[0].expr,
            crate::mapping::expr::Expr::Attr("mail".into())
        );
        assert_eq!(
            u.scope[0][0].describe(),
            "department NOT EQUALS \"Contractors\""
        );
    }
}
