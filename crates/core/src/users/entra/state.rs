//! What the tenant holds that an import plans against, read before anything
//! is planned: its domains, its users (with every property the import maps),
//! the groups the file names (and their members), and the app of
//! `--assign-app`. Reads only.

use crate::error::{Error, Result};
use crate::graph::client::{odata_string, query, seg};
use crate::graph::{BatchRequest, GraphClient};
use crate::users::model::UserRow;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The tenant as the plan sees it.
pub struct EntraState {
    pub domains: Vec<super::upn::Domain>,
    /// Existing users, as Graph answers them (the [`super::body::select`] properties).
    pub users: Vec<Value>,
    /// Groups named in the file that exist: display name → object id.
    pub group_ids: HashMap<String, String>,
    /// Current members of those groups: group id → member ids.
    pub members: HashMap<String, HashSet<String>>,
    pub app: Option<AppTarget>,
    /// Current managers (user id → manager id) of the existing users that rows
    /// with a manager describe; filled by [`read_managers`].
    pub managers: HashMap<String, String>,
}

/// Read everything the plan needs for `rows` (those not `invalid`).
pub async fn read(
    g: &GraphClient,
    rows: &[UserRow],
    invalid: &[bool],
    assign_app: Option<&str>,
) -> Result<EntraState> {
    let domains = read_domains(g).await?;
    let users = g
        .list(&format!("/users?$select={}", super::body::select()))
        .await?;
    let names: BTreeSet<&str> = rows
        .iter()
        .zip(invalid)
        .filter(|(_, bad)| !**bad)
        .flat_map(|(r, _)| r.groups.iter().map(String::as_str))
        .collect();
    let group_ids = find_groups(g, &names).await?;
    let members = read_members(g, &group_ids).await?;
    let app = match assign_app {
        Some(a) => Some(resolve_app(g, a).await?),
        None => None,
    };
    Ok(EntraState {
        domains,
        users,
        group_ids,
        members,
        app,
        managers: HashMap::new(),
    })
}

/// The managers of these users (`GET /users/{id}/manager` in `$batch`; 404: none).
pub async fn read_managers(g: &GraphClient, ids: &[String]) -> Result<HashMap<String, String>> {
    let reqs: Vec<BatchRequest> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            BatchRequest::get(
                k.to_string(),
                format!("/users/{}/manager?$select=id", seg(id)),
            )
        })
        .collect();
    let mut out = HashMap::new();
    if reqs.is_empty() {
        return Ok(out);
    }
    for ((id, req), ans) in ids.iter().zip(&reqs).zip(g.batch(reqs.clone()).await?) {
        if ans.status == 404 {
            continue;
        }
        let v = ans.into_result(req)?;
        if let Some(m) = v.get("id").and_then(Value::as_str) {
            out.insert(id.clone(), m.to_string());
        }
    }
    Ok(out)
}

/// The tenant's domains.
async fn read_domains(g: &GraphClient) -> Result<Vec<super::upn::Domain>> {
    Ok(g.list("/domains")
        .await?
        .iter()
        .filter_map(|d| {
            Some(super::upn::Domain {
                name: d.get("id")?.as_str()?.to_string(),
                verified: d.get("isVerified").and_then(Value::as_bool) == Some(true),
                federated: d.get("authenticationType").and_then(Value::as_str) == Some("Federated"),
            })
        })
        .collect())
}

/// The groups called `names` that exist (one `$batch` of lookups); two
/// groups with one name is an error.
async fn find_groups(g: &GraphClient, names: &BTreeSet<&str>) -> Result<HashMap<String, String>> {
    let mut group_ids: HashMap<String, String> = HashMap::new();
    let lookups: Vec<BatchRequest> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            BatchRequest::get(
                i.to_string(),
                format!(
                    "/groups?$filter={}&$select=id,displayName",
                    query(&format!("displayName eq {}", odata_string(n)))
                ),
            )
        })
        .collect();
    let answers = if lookups.is_empty() {
        Vec::new()
    } else {
        g.batch(lookups.clone()).await?
    };
    for ((n, req), ans) in names.iter().zip(&lookups).zip(answers) {
        let v = ans.into_result(req)?;
        let found: Vec<&Value> = v
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        match found.len() {
            1 => {
                group_ids.insert(
                    n.to_string(),
                    found[0]
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
            }
            0 => {}
            k => {
                return Err(Error::input(format!(
                    "{k} Entra groups are named `{n}`: rename one, or the users cannot be added unambiguously"
                )));
            }
        }
    }
    Ok(group_ids)
}

/// Current members of the groups, so existing memberships are not planned again.
async fn read_members(
    g: &GraphClient,
    group_ids: &HashMap<String, String>,
) -> Result<HashMap<String, HashSet<String>>> {
    let mut members = HashMap::new();
    for gid in group_ids.values() {
        let ids = g
            .list(&format!("/groups/{}/members?$select=id", seg(gid)))
            .await?
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        members.insert(gid.clone(), ids);
    }
    Ok(members)
}

/// The app of `--assign-app`: its service principal, the role to assign, who holds it.
pub struct AppTarget {
    pub sp_id: String,
    pub role_id: String,
    pub assigned: HashSet<String>,
}

async fn resolve_app(g: &GraphClient, app: &str) -> Result<AppTarget> {
    let filter = |attr: &str| {
        format!(
            "/servicePrincipals?$filter={}",
            query(&format!("{attr} eq {}", odata_string(app)))
        )
    };
    let mut sps = g.list(&filter("appId")).await?;
    if sps.is_empty() {
        sps = g.list(&filter("displayName")).await?;
    }
    if sps.is_empty()
        && let Some(sp) = g
            .get_opt(&format!("/servicePrincipals/{}", seg(app)))
            .await?
    {
        sps.push(sp);
    }
    let sp = match sps.len() {
        1 => sps.remove(0),
        0 => {
            return Err(Error::input(format!(
                "--assign-app `{app}`: no service principal has that appId, display name or object id"
            )));
        }
        n => {
            return Err(Error::input(format!(
                "--assign-app `{app}`: {n} service principals have that name; pass the appId"
            )));
        }
    };
    let sp_id = sp
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let role_id = sp
        .get("appRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| {
            r.get("isEnabled").and_then(Value::as_bool) != Some(false)
                && r.get("allowedMemberTypes")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|x| x == "User"))
        })
        .and_then(|r| r.get("id").and_then(Value::as_str))
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_string();
    let assigned = g
        .list(&format!(
            "/servicePrincipals/{}/appRoleAssignedTo",
            seg(&sp_id)
        ))
        .await?
        .iter()
        .filter_map(|a| {
            a.get("principalId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    Ok(AppTarget {
        sp_id,
        role_id,
        assigned,
    })
}
