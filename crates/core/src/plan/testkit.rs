//! Building snapshots in code, for the planner's tests, the integration tests
//! and the benchmark: a gallery service principal with a realistic gallery
//! job schema, assignments, groups, users, and target users and groups.
//! Also two ready-made snapshots: one that mimics the demo tenant's seven
//! traps, and a synthetic one of any size. Not part of the stable API.

use crate::snapshot::model::*;
use serde_json::{Value, json};

pub const USER_ROLE: &str = "a0000000-0000-0000-0000-000000000001";

/// A gallery job schema: users mapped to SCIM with `userName ← [user_name_source]`
/// (matching), the usual `active`/name mappings, an optional
/// `attr NOT EQUALS value` scoping filter, and the group mapping off.
pub fn gallery_schema(
    directory: &str,
    user_name_source: &str,
    scope: Option<(&str, &str)>,
) -> Value {
    let scope = match scope {
        Some((a, v)) => json!({"groups": [{"name": "Exclude", "clauses": [
            {"sourceOperandName": a, "operatorName": "NOT EQUALS", "targetOperand": {"values": [v]}}]}]}),
        None => Value::Null,
    };
    json!({
        "id": "gallery-schema",
        "version": "date:2024-01-01T00:00:00Z",
        "directories": [
            {"id": "dir-aad", "name": "Azure Active Directory", "objects": []},
            {"id": "dir-app", "name": directory, "objects": []}
        ],
        "synchronizationRules": [{
            "id": "gallery-rule-1",
            "name": "USER_OUTBOUND_USER",
            "editable": true,
            "priority": 1,
            "sourceDirectoryName": "Azure Active Directory",
            "targetDirectoryName": directory,
            "objectMappings": [
                {"name": "Provision Azure Active Directory Users", "enabled": true, "flowTypes": "Add, Update, Delete",
                 "sourceObjectName": "User", "targetObjectName": "User", "scope": scope,
                 "attributeMappings": [
                    {"targetAttributeName": "userName", "matchingPriority": 1, "flowType": "Always",
                     "source": {"type": "Attribute", "name": user_name_source, "expression": format!("[{user_name_source}]")}},
                    {"targetAttributeName": "active", "matchingPriority": 0, "flowType": "Always",
                     "source": {"type": "Function", "name": "Switch",
                                "expression": "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")"}},
                    {"targetAttributeName": "name.givenName", "matchingPriority": 0, "flowType": "Always",
                     "source": {"type": "Attribute", "name": "givenName", "expression": "[givenName]"}},
                    {"targetAttributeName": "name.familyName", "matchingPriority": 0, "flowType": "Always",
                     "source": {"type": "Attribute", "name": "surname", "expression": "[surname]"}}
                 ]},
                {"name": "Provision Azure Active Directory Groups", "enabled": false,
                 "sourceObjectName": "Group", "targetObjectName": "Group", "attributeMappings": []}
            ]
        }]
    })
}

/// Builds a [`Snapshot`] step by step; `build` sorts and seals it.
pub struct SnapBuilder {
    snap: Snapshot,
}

impl SnapBuilder {
    pub fn new(app_name: &str, schema: Value) -> Self {
        let sp_id = "sp-gallery-0001";
        let tmpl: String = app_name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        SnapBuilder {
            snap: Snapshot {
                format: FORMAT.into(),
                digest: String::new(),
                taken_at: "2026-01-01T00:00:00Z".into(),
                source: Source {
                    graph_url: "https://graph.microsoft.com/v1.0".into(),
                    cloud: "global".into(),
                    tenant_id: None,
                    user_properties: Vec::new(),
                },
                app: AppSnapshot {
                    service_principal: json!({"id": sp_id, "displayName": app_name}),
                    service_principal_id: sp_id.into(),
                    app_id: "app-gallery-0001".into(),
                    display_name: app_name.into(),
                    application_template_id: Some("gallery-template-0001".into()),
                    app_roles: vec![
                        json!({"id": USER_ROLE, "value": "User", "displayName": "User"}),
                    ],
                    jobs: vec![JobSnapshot {
                        id: format!("{tmpl}.aaaa.job-0001"),
                        template_id: tmpl.clone(),
                        job: json!({"id": format!("{tmpl}.aaaa.job-0001"), "status": {"code": "Active"}, "schedule": {"state": "Active"}}),
                        schema,
                    }],
                    settings: vec![
                        KeyValue {
                            key: "BaseAddress".into(),
                            value: "https://coda.io/scim/v2/organizations/org-12345".into(),
                        },
                        KeyValue {
                            key: "SyncAll".into(),
                            value: "false".into(),
                        },
                    ],
                    credential_keys_present: vec!["SecretToken".into()],
                    templates: vec![],
                    assignments: vec![],
                },
                groups: vec![],
                users: vec![],
                target: Some(TargetSnapshot {
                    base_url: "https://coda.io/scim/v2/organizations/org-12345".into(),
                    service_provider_config: json!({"patch": {"supported": true}}),
                    users: vec![],
                    groups: vec![],
                }),
            },
        }
    }

    /// An Entra user; `via` as in the snapshot (`direct`, `group:<id>`, `nested:<id>`).
    pub fn user(
        &mut self,
        id: &str,
        upn: &str,
        mail: Option<&str>,
        department: &str,
        enabled: bool,
        via: &[&str],
    ) -> &mut Self {
        let (given, sur) = upn
            .split('@')
            .next()
            .unwrap_or(upn)
            .split_once('.')
            .unwrap_or((upn, ""));
        self.snap.users.push(UserSnapshot {
            id: id.into(),
            attributes: json!({"id": id, "userPrincipalName": upn, "mail": mail, "givenName": given, "surname": sur,
                "displayName": format!("{given} {sur}"), "department": department, "accountEnabled": enabled}).into(),
            via: via.iter().map(|&s| s.into()).collect(),
        });
        self
    }

    pub fn assign_user(&mut self, id: &str, name: &str) -> &mut Self {
        self.assign(id, name, "User")
    }

    pub fn assign_group(&mut self, id: &str, name: &str) -> &mut Self {
        self.assign(id, name, "Group")
    }

    fn assign(&mut self, id: &str, name: &str, kind: &str) -> &mut Self {
        let n = self.snap.app.assignments.len() + 1;
        self.snap.app.assignments.push(Assignment {
            id: format!("asg-{n:06}-{id}"),
            app_role_id: USER_ROLE.into(),
            principal_id: id.into(),
            principal_type: kind.into(),
            principal_display_name: Some(name.into()),
        });
        self
    }

    /// An assigned group with direct members `(kind, id, name)`.
    pub fn group(
        &mut self,
        id: &str,
        name: &str,
        kind: GroupKind,
        members: &[(&str, &str, &str)],
        transitive: usize,
    ) -> &mut Self {
        self.snap.groups.push(GroupSnapshot {
            id: id.into(),
            display_name: name.into(),
            kind,
            members: members
                .iter()
                .map(|(k, i, n)| MemberRef::new(i, k, Some(n)))
                .collect(),
            transitive_user_count: transitive,
        });
        self.assign_group(id, name)
    }

    pub fn target_user(&mut self, id: &str, user_name: &str, email: Option<&str>) -> &mut Self {
        let mut u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": id, "userName": user_name, "active": true});
        if let Some(e) = email {
            u["emails"] = json!([{"type": "work", "value": e, "primary": true}]);
        }
        self.snap.target.as_mut().expect("target").users.push(u);
        self
    }

    pub fn target_group(&mut self, id: &str, name: &str) -> &mut Self {
        self.snap
            .target
            .as_mut()
            .expect("target")
            .groups
            .push(json!({"id": id, "displayName": name, "members": []}));
        self
    }

    pub fn without_target(&mut self) -> &mut Self {
        self.snap.target = None;
        self
    }

    pub fn build(&mut self) -> Snapshot {
        let mut s = std::mem::replace(&mut self.snap, SnapBuilder::new("", Value::Null).snap);
        s.users.sort_by(|a, b| a.id.cmp(&b.id));
        s.groups.sort_by(|a, b| a.id.cmp(&b.id));
        s.app.assignments.sort_by(|a, b| a.id.cmp(&b.id));
        // What a capture of these jobs would have read.
        s.source.user_properties = crate::snapshot::capture::user_properties(&s.app.jobs, &[]);
        if let Some(t) = s.target.as_mut() {
            let id = |v: &Value| {
                v.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            t.users.sort_by_key(id);
            t.groups.sort_by_key(id);
        }
        s.seal();
        s
    }
}

/// Ids of the demo-like snapshot's trap objects.
pub mod demo_ids {
    /// The 12 users whose mail differs from their UPN.
    pub fn mail_differs() -> Vec<String> {
        (31..=42).map(|i| format!("u{i:03}")).collect()
    }
    pub const ORPHANS: [&str; 3] = ["t-orphan-1", "t-orphan-2", "t-orphan-3"];
    pub const NESTED_PARENT: &str = "g-eng";
    pub const NESTED_CHILD: &str = "g-platform";
    pub const M365: &str = "g-allco";
    pub const COLLIDING_GROUP: &str = "g-sales";
    pub const COLLIDING_TARGET_GROUP: &str = "tg-sales";
    pub const APOSTROPHE_USER: &str = "u043";
    pub const CONTRACTORS: [&str; 2] = ["u044", "u045"];
}

/// A Coda snapshot with the demo tenant's seven traps: (1) `userName ← mail`
/// with 12 users whose mail ≠ UPN, (2) 3 target users nobody is assigned to,
/// (3) an assigned group with a nested group, (4) an assigned Microsoft 365
/// group, (5) a target group named like an assigned group, (6) a userName with
/// an apostrophe, (7) a `department NOT EQUALS Contractors` scoping filter.
pub fn demo_like() -> Snapshot {
    let mut b = SnapBuilder::new(
        "Coda",
        gallery_schema("Coda", "mail", Some(("department", "Contractors"))),
    );
    let names = [
        "ada.lovelace",
        "alan.turing",
        "grace.hopper",
        "edsger.dijkstra",
        "barbara.liskov",
        "donald.knuth",
    ];
    let name = |i: usize| format!("{}{}", names[i % names.len()], i);
    let mut eng = Vec::new();
    let mut sales = Vec::new();
    for i in 1..=30usize {
        let id = format!("u{i:03}");
        let mail = format!("{}@contoso.com", name(i));
        let via = if i <= 20 {
            "group:g-eng"
        } else {
            "group:g-sales"
        };
        b.user(&id, &mail, Some(&mail), "Engineering", true, &[via]);
        b.target_user(&format!("t-{id}"), &mail, Some(&mail));
        if i <= 20 {
            eng.push((id, mail))
        } else {
            sales.push((id, mail))
        }
    }
    // (1) mail ≠ UPN: the gallery wrote mail into userName.
    for i in 31..=42usize {
        let id = format!("u{i:03}");
        let mail = format!("{}@contoso.com", name(i));
        let upn = format!("{}{}@contoso.onmicrosoft.com", &name(i)[..1], i);
        b.user(&id, &upn, Some(&mail), "Sales", true, &["direct"]);
        b.assign_user(&id, &upn);
        b.target_user(&format!("t-{id}"), &mail, Some(&mail));
    }
    // (6) an apostrophe.
    b.user(
        "u043",
        "aoife.o'brien@contoso.com",
        Some("aoife.o'brien@contoso.com"),
        "Legal",
        true,
        &["direct"],
    );
    b.assign_user("u043", "aoife.o'brien@contoso.com");
    b.target_user("t-u043", "aoife.o'brien@contoso.com", None);
    // (7) contractors, out of scope; the gallery never provisioned them.
    for id in ["u044", "u045"] {
        b.user(
            id,
            &format!("contractor.{id}@contoso.com"),
            Some(&format!("contractor.{id}@contoso.com")),
            "Contractors",
            true,
            &["direct"],
        );
        b.assign_user(id, id);
    }
    // (3) nested-only users.
    for id in ["u046", "u047"] {
        b.user(
            id,
            &format!("platform.{id}@contoso.com"),
            Some(&format!("platform.{id}@contoso.com")),
            "Engineering",
            true,
            &["nested:g-platform"],
        );
    }
    // (4) a Microsoft 365 group member reachable only through it (provisioned as a user, as Entra does).
    b.user(
        "u048",
        "team.u048@contoso.com",
        Some("team.u048@contoso.com"),
        "Marketing",
        true,
        &["group:g-allco"],
    );
    b.target_user("t-u048", "team.u048@contoso.com", None);
    // a disabled assigned user.
    b.user(
        "u049",
        "left.u049@contoso.com",
        Some("left.u049@contoso.com"),
        "Sales",
        false,
        &["direct"],
    );
    b.assign_user("u049", "left.u049@contoso.com");
    let mut eng_members: Vec<(&str, &str, &str)> = eng
        .iter()
        .map(|(i, m)| ("user", i.as_str(), m.as_str()))
        .collect();
    eng_members.push(("group", "g-platform", "Platform"));
    b.group(
        "g-eng",
        "Engineering",
        GroupKind::Security,
        &eng_members,
        22,
    );
    let sales_members: Vec<(&str, &str, &str)> = sales
        .iter()
        .map(|(i, m)| ("user", i.as_str(), m.as_str()))
        .collect();
    b.group("g-sales", "Sales", GroupKind::Security, &sales_members, 10);
    b.group(
        "g-allco",
        "All Company",
        GroupKind::Microsoft365,
        &[("user", "u048", "team.u048@contoso.com")],
        1,
    );
    // (2) orphans.
    for (i, id) in demo_ids::ORPHANS.iter().enumerate() {
        b.target_user(id, &format!("former.{i}@contoso.com"), None);
    }
    // (5) a target group named like an assigned group.
    b.target_group("tg-sales", "Sales");
    b.build()
}

/// A synthetic Coda-like snapshot of `n` users in groups of 100, 1 % with
/// mail ≠ UPN, 95 % already in the target, 0.1 % orphans: for the benchmark.
pub fn synthetic(n: usize) -> Snapshot {
    let mut b = SnapBuilder::new(
        "Coda",
        gallery_schema("Coda", "mail", Some(("department", "Contractors"))),
    );
    let groups = n.div_ceil(100);
    let mut members: Vec<Vec<(String, String)>> = vec![Vec::new(); groups];
    for i in 0..n {
        let id = format!("u{i:07}");
        let mail = format!("user{i}@contoso.com");
        let upn = if i % 100 == 7 {
            format!("u{i}@contoso.onmicrosoft.com")
        } else {
            mail.clone()
        };
        let g = i / 100;
        let via = format!("group:g{g:05}");
        b.user(
            &id,
            &upn,
            Some(&mail),
            if i % 50 == 3 {
                "Contractors"
            } else {
                "Engineering"
            },
            true,
            &[via.as_str()],
        );
        if i % 20 != 0 {
            b.target_user(&format!("t{i:07}"), &mail, Some(&mail));
        }
        members[g].push((id, mail));
    }
    for (g, m) in members.iter().enumerate() {
        let refs: Vec<(&str, &str, &str)> = m
            .iter()
            .map(|(i, n)| ("user", i.as_str(), n.as_str()))
            .collect();
        b.group(
            &format!("g{g:05}"),
            &format!("Team {g}"),
            GroupKind::Security,
            &refs,
            refs.len(),
        );
    }
    for i in 0..n / 1000 {
        b.target_user(&format!("o{i:07}"), &format!("gone{i}@contoso.com"), None);
    }
    b.build()
}
