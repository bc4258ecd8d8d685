//! A seed rebuilt from a snapshot: the tenant and target a `scimshift
//! snapshot` recorded, so a plan made from that snapshot can be applied to a
//! twin (`scimshift rehearse`, `twin serve --seed snapshot:PATH`).
//!
//! Graph side: the gallery service principal (same id, appId, appRoles), an
//! application object for it, its jobs (same ids, templates, schemas,
//! schedule and status), its non-credential settings (BaseAddress pointing at
//! the twin's own SCIM store, a fresh token for credentials), its
//! assignments, the assigned groups with their direct members, nested groups
//! (with the users reached through them), and the users with the attributes
//! the snapshot read. Target side: the captured SCIM users and groups, ids
//! kept. The gallery's Active jobs link at start without writing
//! ([`crate::engine::link::link_only`]): each user and group the
//! gallery's matching finds in the target is linked, so the gallery job
//! starts in steady state and the target stays exactly as captured, even
//! where Entra's values have moved on since the gallery's last export.
//!
//! This is the twin's one dependency on product code (`crate::snapshot`).

use super::{JobRef, SCIM_TOKEN_PLACEHOLDER, SCIM_URL_PLACEHOLDER, SEED_FORMAT, Seed, SeedTarget};
use crate::error::{Error, Result};
use crate::snapshot::model::{GroupKind, Snapshot};
use crate::state::{
    AppRoleAssignment, Application, DirGroup, DirUser, ServicePrincipal, SyncJob, Synchronization,
    Tenant,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Rebuild the snapshot's tenant and target as a seed.
pub fn from_snapshot(snap: &Snapshot) -> Result<Seed> {
    let bad = |what: &str, e: serde_json::Error| {
        Error::input(format!(
            "the snapshot's {what} cannot be rebuilt as a twin: {e}"
        ))
    };
    let a = &snap.app;
    let mut t = Tenant {
        tenant_id: snap.source.tenant_id.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut sp: ServicePrincipal = serde_json::from_value(a.service_principal.clone())
        .map_err(|e| bad("service principal", e))?;
    sp.id = a.service_principal_id.clone();
    sp.app_id = a.app_id.clone();
    sp.display_name = a.display_name.clone();
    sp.application_template_id = a.application_template_id.clone();
    sp.app_roles = a
        .app_roles
        .iter()
        .map(|r| serde_json::from_value(r.clone()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("appRoles", e))?;
    let app = Application {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: sp.app_id.clone(),
        display_name: sp.display_name.clone(),
        application_template_id: sp.application_template_id.clone(),
        created_date_time: None,
    };
    t.applications.insert(app.id.clone(), app);

    let mut secrets: BTreeMap<String, String> = a
        .settings
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    secrets.insert("BaseAddress".into(), SCIM_URL_PLACEHOLDER.into());
    secrets.insert("SecretToken".into(), SCIM_TOKEN_PLACEHOLDER.into());
    let mut run_jobs = Vec::new();
    let mut jobs = BTreeMap::new();
    for j in &a.jobs {
        let schedule_state = j
            .job
            .pointer("/schedule/state")
            .and_then(Value::as_str)
            .unwrap_or("Active")
            .to_string();
        let status = j.job.get("status").cloned().unwrap_or(Value::Null);
        if schedule_state == "Active" {
            run_jobs.push(JobRef {
                service_principal_id: sp.id.clone(),
                job_id: j.id.clone(),
                link_only: true,
            });
        }
        jobs.insert(
            j.id.clone(),
            SyncJob {
                id: j.id.clone(),
                template_id: j.template_id.clone(),
                schedule_state,
                status,
                schema: j.schema.clone(),
                user_links: Default::default(),
                group_links: Default::default(),
            },
        );
    }
    t.synchronization.insert(
        sp.id.clone(),
        Synchronization {
            secrets,
            jobs,
            templates: a.templates.clone(),
        },
    );
    for x in &a.assignments {
        t.assignments.insert(
            x.id.clone(),
            AppRoleAssignment {
                id: x.id.clone(),
                app_role_id: x.app_role_id.clone(),
                principal_id: x.principal_id.clone(),
                principal_type: x.principal_type.clone(),
                principal_display_name: x.principal_display_name.clone(),
                resource_id: sp.id.clone(),
                resource_display_name: Some(sp.display_name.clone()),
                created_date_time: None,
            },
        );
    }
    t.service_principals.insert(sp.id.clone(), sp);

    for u in &snap.users {
        let mut v = u.attributes.to_value();
        v["id"] = Value::String(u.id.clone());
        let user: DirUser =
            serde_json::from_value(v).map_err(|e| bad(&format!("user {}", u.id), e))?;
        t.users.insert(user.id.clone(), user);
    }
    // Nested groups: the snapshot keeps the users reached through each.
    let mut nested: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for u in &snap.users {
        for v in &u.via {
            if let Some(g) = v.strip_prefix("nested:") {
                nested
                    .entry(g.to_string())
                    .or_default()
                    .insert(u.id.clone());
            }
        }
    }
    for g in &snap.groups {
        let (group_types, security_enabled, mail_enabled) = match g.kind {
            GroupKind::Security => (vec![], true, false),
            GroupKind::Microsoft365 => (vec!["Unified".to_string()], false, true),
            GroupKind::MailEnabledSecurity => (vec![], true, true),
            GroupKind::Distribution => (vec![], false, true),
        };
        for m in g.members.iter().filter(|m| m.kind() == "group") {
            if !snap.groups.iter().any(|x| x.id == m.id()) {
                t.groups
                    .entry(m.id().to_string())
                    .or_insert_with(|| DirGroup {
                        id: m.id().to_string(),
                        display_name: m
                            .display_name()
                            .map(str::to_string)
                            .unwrap_or_else(|| m.id().to_string()),
                        description: None,
                        group_types: vec![],
                        security_enabled: true,
                        mail_enabled: false,
                        members: nested
                            .get(m.id())
                            .map(|s| s.iter().cloned().collect())
                            .unwrap_or_default(),
                    });
            }
        }
        t.groups.insert(
            g.id.clone(),
            DirGroup {
                id: g.id.clone(),
                display_name: g.display_name.clone(),
                description: None,
                group_types,
                security_enabled,
                mail_enabled,
                members: g
                    .members
                    .iter()
                    .filter(|m| m.kind() == "user" || m.kind() == "group")
                    .map(|m| m.id().to_string())
                    .collect(),
            },
        );
    }
    t.ensure_domains();
    let target = snap
        .target
        .as_ref()
        .map(|x| SeedTarget {
            users: x.users.clone(),
            groups: x.groups.clone(),
            keep_ids: true,
        })
        .unwrap_or_default();
    let seed = Seed {
        format: SEED_FORMAT.into(),
        tenant: t,
        clients: vec![],
        run_jobs,
        target,
    };
    seed.validate()?;
    Ok(seed)
}
