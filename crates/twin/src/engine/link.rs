//! Linking without writing: what a job that has been running for a while
//! knows (which target object each in-scope Entra user and group is), rebuilt
//! by matching alone. A twin rebuilt from a snapshot (`seed::from_snapshot`)
//! starts its gallery jobs this way: the target must stay exactly as the
//! snapshot captured it, even where Entra's values have moved on since the
//! gallery's last export (a renamed mail, a changed case), because the plan's
//! predictions were made from that target.

use super::EngineError;
use super::cycle::{id_of, read_job};
use super::matching::{Found, attributes, find};
use super::target::Target;
use crate::Twin;
use crate::mapping::schema::{GraphUserSource, Mappings};
use serde_json::Value;
use std::sync::Arc;

/// Link each in-scope, enabled user (and, with an enabled Group mapping,
/// each group in scope) of the job to the one target object its matching
/// attributes find; send nothing but the matching queries.
pub async fn link_only(twin: &Arc<Twin>, sp_id: &str, job_id: &str) -> Result<(), EngineError> {
    let view = read_job(twin, sp_id, job_id)?;
    let mappings = Mappings::from_schema(&view.schema).map_err(|e| {
        EngineError::bad_request(
            "InvalidSchema",
            format!("the job's schema has an expression the engine cannot read: {e}"),
        )
    })?;
    let Some(users_map) = mappings.user.filter(|m| m.enabled) else {
        return Ok(());
    };
    let target = Target::new(twin.http.clone(), &view.base, view.token.clone())
        .map_err(|m| EngineError::bad_request("InvalidTenantUrl", m))?;
    let mut links = Vec::new();
    let attrs = attributes(&users_map, false);
    for u in &view.users {
        let src = GraphUserSource {
            user: u,
            soft_deleted: false,
        };
        let enabled = u.get("accountEnabled").and_then(Value::as_bool) != Some(false);
        if !enabled || !users_map.in_scope(&src) {
            continue;
        }
        if let Ok(Found::One { id, .. }) = find(&target, "Users", &attrs, &src).await {
            links.push((false, id_of(u), id));
        }
    }
    if let Some(gmap) = mappings.group.filter(|g| g.enabled) {
        let attrs = attributes(&gmap, true);
        for (g, _) in &view.groups {
            let src = GraphUserSource {
                user: g,
                soft_deleted: false,
            };
            if let Ok(Found::One { id, .. }) = find(&target, "Groups", &attrs, &src).await {
                links.push((true, id_of(g), id));
            }
        }
    }
    let mut t = twin.tenant();
    if let Some(j) = t
        .synchronization
        .get_mut(sp_id)
        .and_then(|s| s.jobs.get_mut(job_id))
    {
        for (group, source, target) in links {
            if group {
                j.group_links.insert(source, target);
            } else {
                j.user_links.insert(source, target);
            }
        }
    }
    Ok(())
}
