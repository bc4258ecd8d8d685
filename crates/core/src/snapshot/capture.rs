//! `scimshift snapshot`: read the gallery app from Graph (service principal,
//! jobs with status and schema, templates, non-credential settings,
//! assignments, assigned groups and their members, the users in scope) and,
//! with `--scim-url`, the target over SCIM; build a sealed [`Snapshot`] and
//! write it (mode 0600, atomic).
//!
//! [`capture`] is the entry point (the demo and tests call it;
//! [`capture_with`] reports each phase to a `crate::progress::Observer`, which
//! the command in `crate::cmd::snapshot` draws); it draws nothing itself. What
//! `snapshot` prints is `super::summary`. Groups are read while the
//! assignment pages still arrive: group details in bulk (`$filter=id in
//! (…)`, 15 ids a read), members with one paged read per group, transitive
//! members only of groups found nested in another; these and per-user reads
//! go through `$batch`, paced under Graph's resource-unit quota.
//! No credential value ever reaches the snapshot: credential keys are
//! recorded as present only.

use super::model::{
    AppSnapshot, Assignment, Attributes, CREDENTIAL_KEYS, FORMAT, GroupKind, GroupSnapshot,
    JobSnapshot, KeyValue, MemberRef, Snapshot, Source, TargetSnapshot, UserSnapshot, Via,
};
use crate::error::{Error, Result};
use crate::graph::client::{odata_string, query, seg};
use crate::graph::{BatchRequest, GraphClient};
use crate::mapping::graph_user::{Location, locate, user_reads};
use crate::progress::{Observer, Silent, Task};
use crate::scim::{Resource, ScimClient};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Service principal properties a snapshot keeps.
pub const SP_SELECT: &str = "id,appId,displayName,applicationTemplateId,appRoles,appRoleAssignmentRequired,tags,preferredSingleSignOnMode,accountEnabled,notificationEmailAddresses";

/// User properties read for every user in scope: what attribute mappings use.
pub const USER_ATTRIBUTES: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "displayName",
    "givenName",
    "surname",
    "department",
    "jobTitle",
    "employeeId",
    "employeeType",
    "companyName",
    "officeLocation",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "usageLocation",
    "preferredLanguage",
    "mobilePhone",
    "businessPhones",
    "accountEnabled",
    "userType",
    "onPremisesImmutableId",
    "onPremisesSamAccountName",
];

const GROUP_SELECT: &str = "id,displayName,groupTypes,securityEnabled,mailEnabled";

/// Capture the app `app` (display name, appId or object id) and, optionally,
/// the SCIM target, reporting no progress.
pub async fn capture(
    graph: &GraphClient,
    app: &str,
    scim: Option<&ScimClient>,
) -> Result<Snapshot> {
    capture_with(graph, app, scim, &Silent).await
}

/// [`capture`], reporting each phase (jobs, assignments, groups, nested
/// groups, users, the target) to `progress`.
pub async fn capture_with(
    graph: &GraphClient,
    app: &str,
    scim: Option<&ScimClient>,
    progress: &dyn Observer,
) -> Result<Snapshot> {
    capture_selecting(graph, app, scim, &[], progress).await
}

/// [`capture_with`], also reading the Graph user properties `extra` (checked
/// with [`check_user_properties`]) on every user, for a custom mapping that
/// will read what the gallery's does not.
pub async fn capture_selecting(
    graph: &GraphClient,
    app: &str,
    scim: Option<&ScimClient>,
    extra: &[String],
    progress: &dyn Observer,
) -> Result<Snapshot> {
    let mut snap = capture_unsealed(graph, app, scim, extra, progress).await?;
    snap.seal();
    Ok(snap)
}

/// [`capture_selecting`] without the seal: for a caller that seals as it
/// writes ([`Snapshot::seal_and_write`]).
pub async fn capture_unsealed(
    graph: &GraphClient,
    app: &str,
    scim: Option<&ScimClient>,
    extra: &[String],
    progress: &dyn Observer,
) -> Result<Snapshot> {
    // Fail fast on a target that is unreachable or not SCIM, before minutes of Graph reads.
    if let Some(s) = scim {
        s.service_provider_config().await?;
    }
    let sp = find_service_principal(graph, app).await?;
    let sp_id = str_of(&sp, "id")
        .ok_or_else(|| Error::remote("Graph answered a service principal without an id"))?;
    let base = format!("/servicePrincipals/{}", seg(&sp_id));

    // Jobs, each with its status and full schema (syncfabric calls: never batched).
    let spin = Task::start(progress, "reading provisioning jobs", None);
    let mut jobs = Vec::new();
    for j in graph.list(&format!("{base}/synchronization/jobs")).await? {
        let id = str_of(&j, "id")
            .ok_or_else(|| Error::remote("Graph answered a synchronization job without an id"))?;
        let job = graph
            .get(&format!("{base}/synchronization/jobs/{}", seg(&id)))
            .await?;
        let schema = graph
            .get(&format!("{base}/synchronization/jobs/{}/schema", seg(&id)))
            .await?;
        let template_id = str_of(&job, "templateId")
            .or_else(|| str_of(&j, "templateId"))
            .unwrap_or_default();
        // Verbatim but for OData annotations (`@odata.context` names the host).
        jobs.push(JobSnapshot {
            id,
            template_id,
            job: strip_odata(job),
            schema: strip_odata(schema),
        });
        spin.inc(1);
    }
    jobs.sort_by(|a, b| a.id.cmp(&b.id));

    // Templates (without their embedded schema: large, and the planner uses the new app's).
    let mut templates: Vec<Value> = match graph
        .get_opt(&format!("{base}/synchronization/templates"))
        .await?
    {
        Some(v) => v
            .get("value")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        None => Vec::new(),
    };
    for t in &mut templates {
        if let Some(o) = t.as_object_mut() {
            o.remove("schema");
            o.retain(|k, _| !k.starts_with("@odata"));
        }
    }
    templates.sort_by_key(|t| str_of(t, "id").unwrap_or_default());

    // Secrets: settings kept, credentials noted as present only.
    let secrets = match graph
        .get_opt(&format!("{base}/synchronization/secrets"))
        .await?
    {
        Some(v) => v
            .get("value")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let (settings, credential_keys_present) = split_secrets(&secrets);
    let sync_all = settings.iter().any(|kv| {
        kv.key.eq_ignore_ascii_case("SyncAll") && kv.value.trim().eq_ignore_ascii_case("true")
    });
    spin.finish();

    let user_properties = user_properties(&jobs, extra);
    let user_select = user_properties.join(",");
    let member_select = format!("{user_select},groupTypes,securityEnabled,mailEnabled");
    let mut users = UserIndex::default();

    // Assignments, and the groups in scope read while the assignment pages
    // still arrive: each group id goes to the group reads as soon as its page
    // does, so the reads the quota paces start at once instead of after
    // every page (51 pages, about 8 s, for 50,000 assigned groups).
    // "Sync all users and groups": every group of the directory is in scope
    // for a job that pushes groups (the custom one always does), so all of
    // them are listed and read the same way.
    let bar = Task::start(
        progress,
        if sync_all {
            "reading groups"
        } else {
            "reading assigned groups"
        },
        Some(0),
    );
    let (to_read, ids) = futures::channel::mpsc::unbounded::<String>();
    let list = async {
        let to_read = to_read;
        let spin = Task::start(progress, "reading assignments", None);
        let mut sent = std::collections::HashSet::new();
        let mut send = |id: String| {
            if sent.insert(id.clone()) {
                bar.add_total(1);
                // The reader stops early only on an error, which try_join reports.
                let _ = to_read.unbounded_send(id);
            }
        };
        let mut assignments = Vec::new();
        graph
            .for_each_page(&format!("{base}/appRoleAssignedTo?$top=999"), |page| {
                spin.inc(page.len() as u64);
                for a in page {
                    let a = Assignment {
                        id: str_of(&a, "id").unwrap_or_default(),
                        app_role_id: str_of(&a, "appRoleId").unwrap_or_default(),
                        principal_id: str_of(&a, "principalId").unwrap_or_default(),
                        principal_type: str_of(&a, "principalType").unwrap_or_default(),
                        principal_display_name: str_of(&a, "principalDisplayName"),
                    };
                    if a.principal_type == "Group" {
                        send(a.principal_id.clone());
                    }
                    assignments.push(a);
                }
                Ok(())
            })
            .await?;
        spin.finish();
        if sync_all {
            graph
                .for_each_page("/groups?$select=id&$top=999", |page| {
                    page.iter()
                        .filter_map(|g| str_of(g, "id"))
                        .for_each(&mut send);
                    Ok(())
                })
                .await?;
        }
        Ok::<_, Error>(assignments)
    };
    let read = read_groups(graph, ids, &member_select, &mut users, &bar);
    let (mut assignments, (groups, nested_of)) = futures::try_join!(list, read)?;
    bar.finish();
    assignments.sort_by(|a, b| a.id.cmp(&b.id));

    // Nested groups: their transitive users, flagged `nested:<nested group id>`.
    let nested_ids: Vec<String> = nested_of
        .values()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut nested_users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if !nested_ids.is_empty() {
        let requests: Vec<BatchRequest> = nested_ids
            .iter()
            .enumerate()
            .map(|(i, n)| {
                BatchRequest::get(
                    format!("n{i}"),
                    format!(
                        "/groups/{}/transitiveMembers?$select={}&$top=999",
                        seg(n),
                        query(&user_select)
                    ),
                )
            })
            .collect();
        let bar = Task::start(
            progress,
            "reading nested groups",
            Some(nested_ids.len() as u64),
        );
        let mut stream = std::pin::pin!(graph.batch_stream(requests)?);
        while let Some(chunk) = stream.next().await {
            for (req, resp) in chunk? {
                let n = &nested_ids[req.id[1..].parse::<usize>().unwrap_or(0)];
                let first = resp.into_result(&req)?;
                let members = graph.rest_of_pages(first, &req.url).await?;
                let set = nested_users.entry(n.clone()).or_default();
                let via = Via::from(format!("nested:{n}"));
                for m in members.into_iter().filter(|m| member_kind(m) == "user") {
                    let mid = str_of(&m, "id").unwrap_or_default();
                    set.insert(mid.clone());
                    users.add(&mid, Some(m), &via);
                }
                bar.inc(1);
                quota_eta(graph, &bar, (nested_ids.len() - nested_users.len()) as u64);
            }
        }
        bar.finish();
    }
    let mut groups: Vec<GroupSnapshot> = groups
        .into_iter()
        .map(|(mut g, direct)| {
            if let Some(mut all) = direct {
                for n in nested_of.get(&g.id).into_iter().flatten() {
                    all.extend(nested_users.get(n).into_iter().flatten().cloned());
                }
                g.transitive_user_count = all.len();
            }
            g
        })
        .collect();
    groups.sort_by(|a, b| a.id.cmp(&b.id));

    // Directly assigned users (their attributes, unless a group read already brought them).
    let direct: Vec<String> = assignments
        .iter()
        .filter(|a| a.principal_type == "User")
        .map(|a| a.principal_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let direct_via = Via::from("direct");
    for id in &direct {
        users.add(id, None, &direct_via);
    }
    let unread: Vec<&String> = direct
        .iter()
        .filter(|id| !users.has_attributes(id))
        .collect();
    if !unread.is_empty() {
        let requests: Vec<BatchRequest> = unread
            .iter()
            .enumerate()
            .map(|(i, id)| {
                BatchRequest::get(
                    format!("u{i}"),
                    format!("/users/{}?$select={}", seg(id), query(&user_select)),
                )
            })
            .collect();
        let bar = Task::start(
            progress,
            "reading assigned users",
            Some(unread.len() as u64),
        );
        let mut read = 0usize;
        let mut stream = std::pin::pin!(graph.batch_stream(requests)?);
        while let Some(chunk) = stream.next().await {
            for (req, resp) in chunk? {
                let id = unread[req.id[1..].parse::<usize>().unwrap_or(0)];
                bar.inc(1);
                read += 1;
                quota_eta(graph, &bar, (unread.len() - read) as u64);
                if resp.status == 404 {
                    tracing::warn!(
                        "user {id} is assigned to the app but no longer exists; left out"
                    );
                    users.remove(id);
                    continue;
                }
                let u = resp.into_result(&req)?;
                users.add(id, Some(u), &direct_via);
            }
        }
        bar.finish();
    }

    // Sync all: every user.
    if sync_all {
        let spin = Task::start(progress, "reading all users (SyncAll)", None);
        let all = Via::from("all");
        graph
            .for_each_page(
                &format!("/users?$select={}&$top=999", query(&user_select)),
                |page| {
                    spin.inc(page.len() as u64);
                    for u in page {
                        let id = str_of(&u, "id").unwrap_or_default();
                        users.add(&id, Some(u), &all);
                    }
                    Ok(())
                },
            )
            .await?;
        spin.finish();
    }

    let target = match scim {
        Some(s) => Some(capture_target_with(s, progress).await?),
        None => None,
    };

    let mut app_roles = sp
        .get("appRoles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    app_roles.sort_by_key(|r| str_of(r, "id").unwrap_or_default());
    let snap = Snapshot {
        format: FORMAT.to_string(),
        digest: String::new(),
        taken_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source: Source {
            graph_url: graph.base_url().to_string(),
            cloud: graph.endpoints().cloud_name.clone(),
            tenant_id: tenant_of(graph).await,
            user_properties,
        },
        app: AppSnapshot {
            service_principal_id: sp_id,
            app_id: str_of(&sp, "appId").unwrap_or_default(),
            display_name: str_of(&sp, "displayName").unwrap_or_default(),
            application_template_id: str_of(&sp, "applicationTemplateId"),
            service_principal: strip_odata(sp),
            app_roles,
            jobs,
            settings,
            credential_keys_present,
            templates,
            assignments,
        },
        groups,
        users: users.into_sorted(),
        target,
    };
    tracing::debug!("snapshot built: {} users sorted by id", snap.users.len());
    Ok(snap)
}

/// The target side: provider config, every user and group (with members), sorted by id.
pub async fn capture_target(scim: &ScimClient) -> Result<TargetSnapshot> {
    capture_target_with(scim, &Silent).await
}

/// [`capture_target`], reporting progress.
pub async fn capture_target_with(
    scim: &ScimClient,
    progress: &dyn Observer,
) -> Result<TargetSnapshot> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let spc = read_target_pages(scim, progress, |resource, items| {
        match resource {
            Resource::Users => users.extend(items),
            Resource::Groups => groups.extend(items),
        }
        Ok(())
    })
    .await?;
    users.sort_by_key(|r| str_of(r, "id").unwrap_or_default());
    groups.sort_by_key(|r| str_of(r, "id").unwrap_or_default());
    Ok(TargetSnapshot {
        base_url: scim.base_url().to_string(),
        service_provider_config: spc.raw,
        users,
        groups,
    })
}

/// Read the target once, paged: `/ServiceProviderConfig`, then every
/// `/Users` page, then every `/Groups` page, each handed to `on_page` as it
/// arrives (a caller that keeps less than the whole resource — `verify` at
/// 100,000 users — never holds the target in memory). Page size: the
/// server's `filter.maxResults`, within 100..=1000. Returns the provider config.
pub async fn read_target_pages(
    scim: &ScimClient,
    progress: &dyn Observer,
    mut on_page: impl FnMut(Resource, Vec<Value>) -> Result<()>,
) -> Result<crate::scim::ProviderConfig> {
    let spc = scim.service_provider_config().await?;
    let page = spc.filter_max_results.clamp(100, 1000);
    for resource in [Resource::Users, Resource::Groups] {
        let spin = Task::start(
            progress,
            format!("reading target {}", resource.path()),
            None,
        );
        scim.for_each_page(resource, None, &[], page, |items, _| {
            spin.inc(items.len() as u64);
            on_page(resource, items)
        })
        .await?;
        spin.finish();
    }
    Ok(spc)
}

/// Find exactly one service principal by object id, appId or display name.
pub async fn find_service_principal(graph: &GraphClient, app: &str) -> Result<Value> {
    let app = app.trim();
    if app.is_empty() {
        return Err(Error::usage(
            "--app is empty: give the gallery app's display name, appId or object id",
        ));
    }
    if uuid::Uuid::parse_str(app).is_ok() {
        if let Some(sp) = graph
            .get_opt(&format!(
                "/servicePrincipals/{}?$select={SP_SELECT}",
                seg(app)
            ))
            .await?
        {
            return Ok(sp);
        }
        let by_app_id = graph
            .list(&format!(
                "/servicePrincipals?$filter={}&$select={SP_SELECT}",
                query(&format!("appId eq {}", odata_string(app)))
            ))
            .await?;
        return match by_app_id.len() {
            1 => Ok(by_app_id.into_iter().next().expect("one")),
            0 => Err(Error::input(format!(
                "no enterprise app (service principal) has the object id or appId {app} in this tenant"
            ))),
            _ => Err(ambiguous(app, &by_app_id)),
        };
    }
    let found = graph
        .list(&format!(
            "/servicePrincipals?$filter={}&$select={SP_SELECT}",
            query(&format!("displayName eq {}", odata_string(app)))
        ))
        .await?;
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => {
            let near = graph
                .get(&format!(
                    "/servicePrincipals?$filter={}&$select=id,appId,displayName&$top=10",
                    query(&format!("startswith(displayName,{})", odata_string(app)))
                ))
                .await
                .ok()
                .and_then(|v| v.get("value").and_then(Value::as_array).cloned())
                .unwrap_or_default();
            if near.is_empty() {
                Err(Error::input(format!(
                    "no enterprise app (service principal) is named \"{app}\": check the name under Enterprise applications, or pass its appId or object id"
                )))
            } else {
                Err(Error::input(format!(
                    "no enterprise app is named exactly \"{app}\"; did you mean {}?",
                    candidates(&near)
                )))
            }
        }
        _ => Err(ambiguous(app, &found)),
    }
}

fn ambiguous(app: &str, found: &[Value]) -> Error {
    Error::input(format!(
        "{} enterprise apps are named \"{app}\": {} — pass the object id with --app to pick one",
        found.len(),
        candidates(found)
    ))
}

fn candidates(found: &[Value]) -> String {
    let mut v: Vec<String> = found
        .iter()
        .map(|s| {
            format!(
                "\"{}\" (id {}, appId {})",
                str_of(s, "displayName").unwrap_or_default(),
                str_of(s, "id").unwrap_or_default(),
                str_of(s, "appId").unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v.join(", ")
}

/// Graph's limit on the values of one `$filter=… in (…)` (without advanced queries).
const MAX_IN_FILTER: usize = 15;

/// Groups in scope with their direct user ids (kept only for a group with
/// nested groups) and each group's nested group ids.
type ReadGroups = (
    Vec<(GroupSnapshot, Option<BTreeSet<String>>)>,
    BTreeMap<String, Vec<String>>,
);

/// The groups whose ids arrive on `ids`, read as they arrive: every 15 ids
/// one details read (`$filter=id in (…)`, Graph's limit without advanced
/// queries: 5,000 groups in 334 reads), then one paged member read per group,
/// all inside `$batch`. Member users go into `users`. A group's details come
/// before its members: `$batch` answers are handed back in request order.
async fn read_groups(
    graph: &GraphClient,
    ids: impl futures::Stream<Item = String>,
    member_select: &str,
    users: &mut UserIndex,
    bar: &Task<'_>,
) -> Result<ReadGroups> {
    let requests = ids
        .chunks(MAX_IN_FILTER)
        .enumerate()
        .flat_map(|(i, chunk)| {
            let list: Vec<String> = chunk.iter().map(|id| odata_string(id)).collect();
            let details = BatchRequest::get(
                format!("d{i}"),
                format!(
                    "/groups?$filter={}&$select={GROUP_SELECT}",
                    query(&format!("id in ({})", list.join(",")))
                ),
            );
            let members = chunk.into_iter().map(|g| {
                BatchRequest::get(
                    format!("m{g}"),
                    format!(
                        "/groups/{}/members?$select={}&$top=999",
                        seg(&g),
                        query(member_select)
                    ),
                )
            });
            futures::stream::iter(std::iter::once(details).chain(members))
        });
    let mut bodies: HashMap<String, Value> = HashMap::new();
    let mut groups = Vec::new();
    let mut nested_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stream = std::pin::pin!(graph.batch_stream_of(requests));
    while let Some(chunk) = stream.next().await {
        for (req, resp) in chunk? {
            let first = resp.into_result(&req)?;
            let Some(gid) = req.id.strip_prefix('m') else {
                for g in graph.rest_of_pages(first, &req.url).await? {
                    if let Some(id) = str_of(&g, "id") {
                        bodies.insert(id, g);
                    }
                }
                continue;
            };
            let group = bodies.remove(gid).ok_or_else(|| {
                Error::remote(format!(
                    "Graph listed the members of group {} but did not return the group itself",
                    crate::text::excerpt(gid, 80)
                ))
            })?;
            let members = graph.rest_of_pages(first, &req.url).await?;
            let (g, direct_users, nested) = read_group(group, members, users);
            nested_of.insert(g.id.clone(), nested);
            groups.push((g, direct_users));
            bar.inc(1);
            let left = bar.total().unwrap_or(0).saturating_sub(groups.len() as u64);
            quota_eta(graph, bar, left);
        }
    }
    Ok((groups, nested_of))
}

/// Tell `bar` how long its `reads` still to send take at least at the pace
/// of Graph's resource-unit quota (one unit a read; extra pages not counted).
fn quota_eta(graph: &GraphClient, bar: &Task<'_>, reads: u64) {
    bar.set_eta(graph.read_pacer().time_for(reads));
}

/// One assigned group and its direct members: the snapshot entry, its direct
/// user ids, and its nested group ids. Member users go into `users`.
fn read_group(
    group: Value,
    members: Vec<Value>,
    users: &mut UserIndex,
) -> (GroupSnapshot, Option<BTreeSet<String>>, Vec<String>) {
    let id = str_of(&group, "id").unwrap_or_default();
    let mut refs = Vec::with_capacity(members.len());
    let mut direct_users = Vec::new();
    let mut nested = Vec::new();
    let via = Via::from(format!("group:{id}"));
    for m in members {
        let kind = member_kind(&m);
        let mid = str_of(&m, "id").unwrap_or_default();
        let display_name = str_of(&m, "displayName");
        match kind.as_str() {
            "user" => {
                users.add(&mid, Some(m), &via);
                direct_users.push(mid.clone());
            }
            "group" => nested.push(mid.clone()),
            _ => {}
        }
        refs.push(MemberRef::new(&mid, &kind, display_name.as_deref()));
    }
    refs.sort_by(|a, b| a.id().cmp(b.id()));
    direct_users.sort_unstable();
    direct_users.dedup();
    let mut g = GroupSnapshot {
        display_name: str_of(&group, "displayName").unwrap_or_default(),
        kind: group_kind(&group),
        id,
        members: refs,
        transitive_user_count: direct_users.len(),
    };
    g.members.shrink_to_fit();
    // The user ids are only needed to count the union with nested groups' users.
    let direct = (!nested.is_empty()).then(|| direct_users.into_iter().collect());
    (g, direct, nested)
}

/// Settings and the names of the credential keys that are set.
pub fn split_secrets(secrets: &[Value]) -> (Vec<KeyValue>, Vec<String>) {
    let mut settings = Vec::new();
    let mut creds = BTreeSet::new();
    for s in secrets {
        let Some(key) = str_of(s, "key") else {
            continue;
        };
        let value = match s.get("value") {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let masked = !value.is_empty() && value.chars().all(|c| c == '*');
        if is_credential_key(&key) || masked {
            if !value.is_empty() {
                creds.insert(key);
            }
        } else {
            settings.push(KeyValue { key, value });
        }
    }
    settings.sort_by(|a, b| a.key.cmp(&b.key));
    (settings, creds.into_iter().collect())
}

/// Whether a secret key holds a credential (its value never stored).
pub fn is_credential_key(key: &str) -> bool {
    CREDENTIAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
        || ["password", "secret", "token", "key"]
            .iter()
            .any(|w| key.to_ascii_lowercase().ends_with(w))
            && !key.eq_ignore_ascii_case("SyncNotificationSettings")
}

/// The Graph properties read for every user: the fixed list, then (sorted)
/// every other property a job's user mappings or scoping filters read (where
/// [`locate`] puts Entra's source name: `onPremisesExtensionAttributes` for
/// `extensionAttribute3`, directory extensions as they are), then `extra`.
/// Names Graph does not have are left out (Graph refuses a `$select` naming
/// one); the planner names them when a mapping depends on them.
pub fn user_properties(jobs: &[JobSnapshot], extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = USER_ATTRIBUTES.iter().map(|s| s.to_string()).collect();
    let mut more = BTreeSet::new();
    for j in jobs {
        for name in user_reads(&j.schema).keys() {
            if let Some(p) = locate(name).property() {
                more.insert(p.to_string());
            }
        }
    }
    more.extend(extra.iter().cloned());
    for p in more {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&p)) {
            names.push(p);
        }
    }
    names
}

/// The `--user-property` names: Graph user properties or directory
/// extensions, else one sentence naming the first that is neither.
pub fn check_user_properties(names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|n| match locate(n.trim()) {
            Location::Property(p) => Ok(p.into_owned()),
            Location::Nested { property, .. } => Ok(property.to_string()),
            _ => Err(Error::usage(format!(
                "--user-property {}: not a Microsoft Graph user property (see the user resource type in the Graph v1.0 reference) nor a directory extension `extension_<appId>_<name>`",
                crate::text::clean(n)
            ))),
        })
        .collect()
}

/// `user`, `group`, … for a directory object (its `@odata.type`, else its shape).
pub(crate) fn member_kind(m: &Value) -> String {
    match m.get("@odata.type").and_then(Value::as_str) {
        Some(t) => t.trim_start_matches("#microsoft.graph.").to_string(),
        None if m.get("userPrincipalName").is_some() => "user".into(),
        None if m.get("groupTypes").is_some() || m.get("securityEnabled").is_some() => {
            "group".into()
        }
        None => "unknown".into(),
    }
}

fn group_kind(g: &Value) -> GroupKind {
    let unified = g
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("Unified")));
    let sec = g
        .get("securityEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mail = g
        .get("mailEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match (unified, sec, mail) {
        (true, _, _) => GroupKind::Microsoft365,
        (false, true, true) => GroupKind::MailEnabledSecurity,
        (false, true, false) => GroupKind::Security,
        (false, false, _) => GroupKind::Distribution,
    }
}

/// Users keyed by id, with how each reaches the app. A hash index into one
/// vector (sorted by id at the end): for 100,000 users this is tens of MB
/// less than a tree of entries.
#[derive(Default)]
struct UserIndex {
    /// Object ids are GUIDs: indexed by their 128-bit value (no second copy
    /// of the string); anything else by the string.
    by_guid: HashMap<u128, usize>,
    by_name: HashMap<String, usize>,
    /// (id, attributes, via); a removed user keeps its slot with an empty id.
    /// `via` is a short Vec (usually one entry), sorted at the end.
    /// The same `via` is one shared string for every user it names.
    users: Vec<(String, Option<Attributes>, Vec<Via>)>,
}

impl UserIndex {
    fn find(&self, id: &str) -> Option<usize> {
        match uuid::Uuid::try_parse(id) {
            Ok(u) => self.by_guid.get(&u.as_u128()).copied(),
            Err(_) => self.by_name.get(id).copied(),
        }
    }
    fn add(&mut self, id: &str, attrs: Option<Value>, via: &Via) {
        if id.is_empty() {
            return;
        }
        let i = match self.find(id) {
            Some(i) => i,
            None => {
                let i = self.users.len();
                self.users
                    .push((id.to_string(), None, Vec::with_capacity(1)));
                match uuid::Uuid::try_parse(id) {
                    Ok(u) => self.by_guid.insert(u.as_u128(), i),
                    Err(_) => self.by_name.insert(id.to_string(), i),
                };
                i
            }
        };
        let e = &mut self.users[i];
        if e.1.is_none()
            && let Some(a) = attrs
        {
            e.1 = Some(user_attributes(a));
        }
        if !e.2.contains(via) {
            e.2.push(via.clone());
        }
    }
    fn has_attributes(&self, id: &str) -> bool {
        self.find(id).is_some_and(|i| self.users[i].1.is_some())
    }
    fn remove(&mut self, id: &str) {
        let i = match uuid::Uuid::try_parse(id) {
            Ok(u) => self.by_guid.remove(&u.as_u128()),
            Err(_) => self.by_name.remove(id),
        };
        if let Some(i) = i {
            self.users[i] = (String::new(), None, Vec::new());
        }
    }
    fn into_sorted(self) -> Vec<UserSnapshot> {
        drop(self.by_guid);
        drop(self.by_name);
        let mut out: Vec<UserSnapshot> = self
            .users
            .into_iter()
            .filter(|(id, _, _)| !id.is_empty())
            .map(|(id, attrs, mut via)| {
                via.sort();
                UserSnapshot {
                    attributes: attrs
                        .unwrap_or_else(|| Attributes::from(serde_json::json!({ "id": id }))),
                    id,
                    via,
                }
            })
            .collect();
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

/// A user's attributes without OData annotations, group-only properties,
/// nulls or empty lists (Graph answers every `$select`ed property; unset ones
/// are null or `[]`, and a mapping reads a missing attribute as null anyway).
fn user_attributes(u: Value) -> Attributes {
    let Value::Object(m) = u else {
        return Attributes::default();
    };
    // The compact form (model::Attributes): for 100,000 users a map per user
    // would be well over 100 MB of hash-map entries.
    Attributes::from_pairs(m.into_iter().filter(|(k, v)| {
        !v.is_null()
            && !v.as_array().is_some_and(Vec::is_empty)
            && !k.starts_with("@odata")
            && !matches!(k.as_str(), "groupTypes" | "securityEnabled" | "mailEnabled")
    }))
}

fn strip_odata(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.retain(|k, _| !k.starts_with("@odata"));
            Value::Object(m)
        }
        other => other,
    }
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The tenant: from the credential, else the token's `tid` claim (read, not verified).
async fn tenant_of(graph: &GraphClient) -> Option<String> {
    use crate::graph::Credential;
    match graph.auth().credential() {
        Credential::ClientSecret { tenant, .. } => return Some(tenant.clone()),
        Credential::DeviceCode { tenant, .. }
            if tenant != "organizations" && tenant != "common" =>
        {
            return Some(tenant.clone());
        }
        _ => {}
    }
    let token = graph.auth().token().await.ok()?;
    use base64::Engine;
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("tid")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_are_only_noted() {
        let secrets = vec![
            json!({"key":"BaseAddress","value":"https://x/scim"}),
            json!({"key":"SecretToken","value":"s3cr3t-real-value"}),
            json!({"key":"Password","value":""}),
            json!({"key":"SomeFutureKey","value":"****"}),
            json!({"key":"SyncAll","value":"false"}),
            json!({"key":"SyncNotificationSettings","value":"{\"Enabled\":false}"}),
        ];
        let (settings, creds) = split_secrets(&secrets);
        assert_eq!(
            creds,
            vec!["SecretToken".to_string(), "SomeFutureKey".to_string()]
        );
        let keys: Vec<&str> = settings.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["BaseAddress", "SyncAll", "SyncNotificationSettings"]
        );
        assert!(!format!("{settings:?}").contains("s3cr3t"));
        // Every credential-like key of Graph's synchronizationSecret enum.
        for k in [
            "ConsumerKey",
            "ConsumerSecret",
            "TokenKey",
            "Oauth2AccessToken",
            "Oauth2ClientSecret",
            "Oauth2RefreshToken",
            "ConnectionString",
        ] {
            assert!(is_credential_key(k), "{k}");
        }
        for k in [
            "BaseAddress",
            "SyncAll",
            "SyncNotificationSettings",
            "SkipOutOfScopeDeletions",
            "Oauth2AccessTokenCreationTime",
            "UpdateKeyOnSoftDelete",
            "Domain",
            "UserName",
        ] {
            assert!(!is_credential_key(k), "{k}");
        }
    }

    #[test]
    fn group_kinds() {
        assert_eq!(
            group_kind(
                &json!({"groupTypes":["Unified"],"securityEnabled":false,"mailEnabled":true})
            ),
            GroupKind::Microsoft365
        );
        assert_eq!(
            group_kind(&json!({"groupTypes":[],"securityEnabled":true,"mailEnabled":false})),
            GroupKind::Security
        );
        assert_eq!(
            group_kind(&json!({"groupTypes":[],"securityEnabled":true,"mailEnabled":true})),
            GroupKind::MailEnabledSecurity
        );
        assert_eq!(
            group_kind(&json!({"groupTypes":[],"securityEnabled":false,"mailEnabled":true})),
            GroupKind::Distribution
        );
    }

    #[test]
    fn user_properties_cover_what_the_schemas_read_and_extra() {
        let schema = json!({"synchronizationRules":[{"objectMappings":[{"sourceObjectName":"User",
            "attributeMappings":[
                {"targetAttributeName":"userName","matchingPriority":1,"source":{"type":"Attribute","name":"mail"}},
                {"targetAttributeName":"externalId","source":{"type":"Function","expression":"Coalesce([extensionAttribute7], [objectId])"}},
                {"targetAttributeName":"x","source":{"type":"Attribute","name":"extension_0a1b_costCenter"}},
                {"targetAttributeName":"y","source":{"type":"Attribute","name":"nonsense"}},
                {"targetAttributeName":"m","source":{"type":"Attribute","name":"manager"}}],
            "scope":{"groups":[{"clauses":[{"sourceOperandName":"facsimileTelephoneNumber"}]}]}}]}]});
        let job = JobSnapshot {
            id: "j".into(),
            template_id: "t".into(),
            job: json!({}),
            schema,
        };
        let props = user_properties(&[job], &["employeeHireDate".into(), "MAIL".into()]);
        assert_eq!(&props[..USER_ATTRIBUTES.len()], USER_ATTRIBUTES);
        assert_eq!(
            &props[USER_ATTRIBUTES.len()..],
            [
                "employeeHireDate",
                "extension_0a1b_costCenter",
                "faxNumber",
                "onPremisesExtensionAttributes"
            ]
        );
        assert_eq!(
            check_user_properties(&["proxyAddresses".into(), "extensionAttribute2".into()])
                .unwrap(),
            ["proxyAddresses", "onPremisesExtensionAttributes"]
        );
        let e = check_user_properties(&["favouriteColour".into()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("--user-property favouriteColour: not a Microsoft Graph user property"),
            "{e}"
        );
    }

    /// Every user attribute a built-in profile's mappings read is in the
    /// fixed list, so a plan with any built-in profile finds it in any v2
    /// snapshot (a profile edit that reads more fails here, not at a customer).
    #[test]
    fn the_fixed_list_covers_every_built_in_profile() {
        use crate::mapping::expr::Expr;
        for (name, _) in crate::plan::profile::BUILTIN {
            let p = crate::plan::Profile::builtin(name).unwrap();
            for m in &p.user_mappings {
                let e = if m.source.contains('(') || m.source.contains('[') {
                    Expr::parse(&m.source).unwrap()
                } else {
                    Expr::Attr(m.source.clone())
                };
                for a in e.attributes() {
                    match locate(a) {
                        Location::Computed | Location::Reference => {}
                        loc => {
                            let prop = loc.property().unwrap_or_else(|| panic!("{name}: {a}"));
                            assert!(
                                USER_ATTRIBUTES.contains(&prop),
                                "profile {name} reads {a} (Graph {prop}), not in USER_ATTRIBUTES"
                            );
                        }
                    }
                }
            }
        }
    }
}
