//! The planner's per-user prediction against an independent oracle and the
//! twin's engine, on seeded random tiny tenants.
//!
//! The oracle below derives each user's first-cycle outcome from first
//! principles written here, from Microsoft's documentation, not from
//! `scimshift::mapping`: it reads the custom job's schema JSON itself, scopes
//! with the documented operator semantics (case sensitive, null / empty is
//! false), matches on the matching attributes in precedence order against the
//! target as it stands (RFC 7643: userName and emails compare without case,
//! externalId with case), and creates only what the target can accept
//! (userName present and unique). Each tenant is then planned (the planner's
//! prediction) and run (the twin's engine, in-process, against its embedded
//! SCIM store seeded with what the gallery job had provisioned, old values
//! included). Any disagreement fails with the seed and the user.
//!
//! Tenants: 3–6 users with random UPN case, changed / empty / shared mails,
//! renamed people (UPN and mail changed since the gallery provisioned them),
//! departments (null, case variants), disabled accounts; a gallery job
//! matching on userName ← mail / userPrincipalName, on externalId ←
//! objectId / mailNickname, or on both in either precedence; externalId ←
//! objectId / mailNickname / nothing; one of four scoping filters; the target
//! seeded from the users' *old* values, with case variants and orphans. Each
//! is planned (against the seeded target, whose contents decide whether the
//! plan adds an extra matching attribute) and run with the gallery's mappings
//! carried over (generic-scim) and with Entra's default mapping (userName ←
//! userPrincipalName), both with extra matching (the default) and, where that
//! changed the schema, with `--no-extra-matching`. Where the plan added one,
//! the engine must not have tied two people to one account.

mod common;

use scimshift::plan::{self, ExtraMatching, PlanOptions, Profile, UserAction};
use scimshift::snapshot::model::{Snapshot, TargetSnapshot, UserSnapshot};
use scimshift::twin::Twin;
use scimshift::twin::engine;
use scimshift::twin::scim_store::Kind;
use scimshift::twin::state::{AppRoleAssignment, DirUser, ServicePrincipal, SyncJob, Tenant};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

const TENANTS: u64 = 200;
const SP: &str = "sp-custom";

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// True with probability `p` percent.
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------- tenants

struct Person {
    id: String,
    graph: Value,
}

/// A target record the gallery job had written, and whose it was.
struct Record {
    owner: Option<String>,
    body: Value,
}

struct World {
    seed: u64,
    gallery_schema: Value,
    people: Vec<Person>,
    records: Vec<Record>,
}

const NAMES: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank"];

fn gallery_schema(
    user_name_src: &str,
    external_id: Option<&str>,
    ext_matches: bool,
    scope: Value,
) -> Value {
    let p = if ext_matches { (0, 1) } else { (1, 0) };
    gallery_schema_with(user_name_src, external_id, p, scope)
}

/// The gallery schema with matching priorities `(userName, externalId)` (0 = not matching).
fn gallery_schema_with(
    user_name_src: &str,
    external_id: Option<&str>,
    (un_priority, ext_priority): (i64, i64),
    scope: Value,
) -> Value {
    let mut maps = vec![
        json!({"targetAttributeName": "userName", "matchingPriority": un_priority, "flowType": "Always",
               "source": {"type": "Attribute", "name": user_name_src, "expression": format!("[{user_name_src}]")}}),
        json!({"targetAttributeName": "active", "matchingPriority": 0, "flowType": "Always",
               "source": {"type": "Function", "name": "Switch", "expression": "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")"}}),
        json!({"targetAttributeName": "emails[type eq \"work\"].value", "matchingPriority": 0, "flowType": "Always",
               "source": {"type": "Attribute", "name": "mail", "expression": "[mail]"}}),
    ];
    if let Some(x) = external_id {
        maps.push(json!({"targetAttributeName": "externalId", "matchingPriority": ext_priority, "flowType": "Always",
                         "source": {"type": "Attribute", "name": x, "expression": format!("[{x}]")}}));
    }
    json!({
        "id": "gallery-schema",
        "directories": [{"id": "dir-aad", "name": "Azure Active Directory", "objects": []},
                        {"id": "dir-app", "name": "Gallery App", "objects": []}],
        "synchronizationRules": [{"id": "gallery-rule-1", "name": "USER_OUTBOUND_USER", "editable": true, "priority": 1,
            "sourceDirectoryName": "Azure Active Directory", "targetDirectoryName": "Gallery App",
            "objectMappings": [
                {"name": "Provision Azure Active Directory Users", "enabled": true, "flowTypes": "Add, Update, Delete",
                 "sourceObjectName": "User", "targetObjectName": "User", "scope": scope, "attributeMappings": maps},
                {"name": "Provision Azure Active Directory Groups", "enabled": false,
                 "sourceObjectName": "Group", "targetObjectName": "Group", "attributeMappings": []}
            ]}]
    })
}

fn world(seed: u64) -> World {
    let mut r = Rng::new(seed);
    let ext_matches = r.pct(30);
    let user_name_src = *r.pick(&["mail", "userPrincipalName"]);
    let external_id = if ext_matches {
        *r.pick(&[Some("objectId"), Some("objectId"), Some("mailNickname")])
    } else {
        *r.pick(&[Some("objectId"), Some("mailNickname"), None])
    };
    let clause = |op: &str, v: &[&str]| {
        json!({"groups": [{"clauses": [{"sourceOperandName": "department", "operatorName": op,
               "targetOperand": {"values": v}}]}]})
    };
    let scope = match r.next() % 4 {
        0 => Value::Null,
        1 => clause("NOT EQUALS", &["Contractors"]),
        2 => clause("EQUALS", &["Sales"]),
        _ => clause("IS NOT NULL", &[]),
    };
    // Several matching attributes, in either precedence (when there is an externalId).
    let both = external_id.is_some() && r.pct(35);
    let priorities = match (both, ext_matches) {
        (true, _) if r.pct(50) => (1, 2),
        (true, _) => (2, 1),
        (false, true) => (0, 1),
        (false, false) => (1, 0),
    };
    let gallery_schema = gallery_schema_with(user_name_src, external_id, priorities, scope);

    let n = 3 + (r.next() % 4) as usize;
    let mut people = Vec::new();
    let mut records: Vec<Record> = Vec::new();
    let mut first_mail: Option<String> = None;
    for (i, base) in NAMES.iter().enumerate().take(n) {
        let id = format!("u{i}-{seed:04x}");
        let upn = if r.pct(20) {
            format!("{}{}@contoso.com", base[..1].to_uppercase(), &base[1..])
        } else {
            format!("{base}@contoso.com")
        };
        let mail: Option<String> = match r.next() % 20 {
            0..=9 => Some(upn.to_lowercase()),
            10..=14 => Some(format!("{base}.smith@contoso.com")),
            15..=17 => None,
            _ => first_mail.clone().or(Some(format!("{base}@contoso.com"))),
        };
        if i == 0 {
            first_mail = mail.clone();
        }
        let dept = match r.next() % 20 {
            0..=9 => json!("Sales"),
            10..=12 => json!("Contractors"),
            13..=16 => Value::Null,
            _ => json!("sales"),
        };
        let enabled = !r.pct(10);
        let nickname = if r.pct(10) { None } else { Some(*base) };
        let graph = json!({"id": id, "userPrincipalName": upn, "mail": mail, "mailNickname": nickname,
            "givenName": base, "surname": "Test", "displayName": format!("{base} Test"),
            "department": dept, "accountEnabled": enabled});
        // What the gallery job had provisioned for them, from their values back then.
        if r.pct(60) {
            let old_mail = match r.next() % 20 {
                0..=11 => mail.clone(),
                12..=16 => Some(format!("{base}.old@contoso.com")),
                _ => None,
            };
            let mut old_upn = if r.pct(25) {
                format!("{base}.maiden@contoso.com")
            } else {
                upn.clone()
            };
            let mut old_mail = old_mail;
            // Renamed since: UPN and mail both changed after provisioning.
            if r.pct(15) {
                old_upn = format!("{base}.before@contoso.com");
                old_mail = Some(old_upn.clone());
            }
            let user_name = match user_name_src {
                "mail" => old_mail.clone(),
                _ => Some(old_upn),
            };
            if let Some(mut un) = user_name {
                if r.pct(20) {
                    un = un.to_uppercase();
                }
                let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": un, "active": true});
                match external_id {
                    Some("objectId") => body["externalId"] = json!(id),
                    Some(_) => body["externalId"] = json!(base),
                    None => {}
                }
                if let Some(m) = &old_mail {
                    body["emails"] = json!([{"type": "work", "primary": true, "value": m}]);
                }
                let taken = records.iter().any(|x| {
                    x.body["userName"]
                        .as_str()
                        .is_some_and(|o| o.eq_ignore_ascii_case(&un))
                });
                if !taken {
                    records.push(Record {
                        owner: Some(id.clone()),
                        body,
                    });
                }
            }
        }
        people.push(Person { id, graph });
    }
    if r.pct(20) {
        records.push(Record {
            owner: None,
            body: json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": format!("ghost{seed}@contoso.com"), "active": true}),
        });
    }
    World {
        seed,
        gallery_schema,
        people,
        records,
    }
}

// ---------------------------------------------------------------- the oracle

/// One attribute mapping as the oracle reads it from schema JSON.
struct OMap {
    target: String,
    /// The source attribute for a plain `[attr]` mapping; None for functions.
    source: Option<String>,
    priority: i64,
    default: Option<String>,
}

struct OClause {
    attr: String,
    op: String,
    values: Vec<String>,
}

/// The custom job's user mapping, read from the schema JSON by hand.
fn read_user_mapping(schema: &Value) -> (Vec<OMap>, Vec<Vec<OClause>>) {
    let om = schema["synchronizationRules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["objectMappings"].as_array().cloned().unwrap_or_default())
        .find(|m| m["sourceObjectName"] == "User")
        .expect("a User mapping");
    let maps = om["attributeMappings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let src = &a["source"];
            let expr = src["expression"].as_str().unwrap_or("").trim();
            let source = if expr.starts_with('[') && expr.ends_with(']') && !expr[1..].contains('[')
            {
                Some(expr[1..expr.len() - 1].to_string())
            } else if expr.is_empty() && src["type"] == "Attribute" {
                src["name"].as_str().map(str::to_string)
            } else {
                None
            };
            OMap {
                target: a["targetAttributeName"].as_str().unwrap_or("").to_string(),
                source,
                priority: a["matchingPriority"].as_i64().unwrap_or(0),
                default: a["defaultValue"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            }
        })
        .collect();
    let scope = om["scope"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            g["clauses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| OClause {
                    attr: c["sourceOperandName"].as_str().unwrap_or("").to_string(),
                    op: c["operatorName"].as_str().unwrap_or("").to_string(),
                    values: c["targetOperand"]["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                })
                .collect()
        })
        .collect();
    (maps, scope)
}

/// A Graph user's attribute as a string; null and "" are no value.
fn attr(u: &Value, name: &str) -> Option<String> {
    let key = if name.eq_ignore_ascii_case("objectId") {
        "id"
    } else {
        name
    };
    match &u[key] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        _ => None,
    }
}

/// *Scoping users or groups to be provisioned with scoping filters*: EQUALS /
/// NOT EQUALS are case sensitive, "Scoping filters will return "false" if the
/// value is null / empty", IS NOT NULL is true when the attribute isn't empty.
fn clause_true(c: &OClause, u: &Value) -> bool {
    let v = attr(u, &c.attr);
    let first = c.values.first().cloned().unwrap_or_default();
    match c.op.as_str() {
        "IS NOT NULL" => v.is_some(),
        "EQUALS" => v.is_some_and(|v| v == first),
        "NOT EQUALS" => v.is_some_and(|v| v != first),
        other => panic!("the generator does not use {other}"),
    }
}

/// SCIM attribute values a record holds at a target path the tests use.
fn record_values(rec: &Value, target: &str) -> Vec<String> {
    if target.starts_with("emails") {
        return rec["emails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["value"].as_str().map(str::to_string))
            .collect();
    }
    rec[target]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect()
}

/// RFC 7643: userName and emails are caseExact=false, externalId caseExact=true.
fn same(target: &str, a: &str, b: &str) -> bool {
    if target == "externalId" {
        a == b
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Match,
    Create,
    Skip,
    Fail,
}

struct Expected {
    act: Act,
    /// A create for someone the original target already holds a record for,
    /// tied by a value of theirs.
    duplicate: bool,
    /// The person has a record of their own in the original target.
    owns_record: bool,
}

fn oracle(w: &World, schema: &Value) -> BTreeMap<String, Expected> {
    let (maps, scope) = read_user_mapping(schema);
    let mut matching: Vec<&OMap> = maps.iter().filter(|m| m.priority > 0).collect();
    matching.sort_by_key(|m| m.priority); // stable: mapping order breaks ties
    let user_name_map = maps.iter().find(|m| m.target == "userName");
    let original: Vec<&Value> = w.records.iter().map(|r| &r.body).collect();
    let mut target: Vec<Value> = original.iter().map(|v| (*v).clone()).collect();
    let mut out = BTreeMap::new();
    let mut people: Vec<&Person> = w.people.iter().collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));
    for p in people {
        let u = &p.graph;
        let owns_record = w.records.iter().any(|r| r.owner.as_deref() == Some(&p.id));
        let enabled = u["accountEnabled"].as_bool().unwrap_or(true);
        let in_scope =
            scope.is_empty() || scope.iter().any(|g| g.iter().all(|c| clause_true(c, u)));
        let mut e = Expected {
            act: Act::Skip,
            duplicate: false,
            owns_record,
        };
        if enabled && in_scope {
            let mut any_value = false;
            let mut decided = None;
            for m in &matching {
                let Some(v) = m.source.as_deref().and_then(|s| attr(u, s)) else {
                    continue;
                };
                any_value = true;
                let hits: Vec<usize> = (0..target.len())
                    .filter(|&i| {
                        record_values(&target[i], &m.target)
                            .iter()
                            .any(|x| same(&m.target, x, &v))
                    })
                    .collect();
                match hits.len() {
                    0 => continue,
                    // "DuplicateTargetEntries".
                    2.. => decided = Some(Act::Fail),
                    _ => {
                        // HOW step 5: "If a matching user is found, it's updated using the
                        // attributes provided by the source system" - which the target
                        // refuses when the new userName belongs to another account.
                        let h = hits[0];
                        let new_name = user_name_map
                            .and_then(|m| m.source.as_deref().and_then(|s| attr(u, s)));
                        let clash = new_name.as_deref().is_some_and(|n| {
                            (0..target.len()).any(|i| {
                                i != h
                                    && target[i]["userName"]
                                        .as_str()
                                        .is_some_and(|x| same("userName", x, n))
                            })
                        });
                        if clash {
                            decided = Some(Act::Fail);
                        } else {
                            if let Some(n) = new_name {
                                target[h]["userName"] = json!(n);
                            }
                            for m in &maps {
                                if let Some(v) = m.source.as_deref().and_then(|s| attr(u, s)) {
                                    if m.target == "externalId" {
                                        target[h]["externalId"] = json!(v);
                                    } else if m.target.starts_with("emails") {
                                        target[h]["emails"] = json!([{"type": "work", "value": v}]);
                                    }
                                }
                            }
                            decided = Some(Act::Match);
                        }
                    }
                }
                break;
            }
            e.act = match decided {
                Some(a) => a,
                // "All users must have a value for at least one matching attribute."
                None if !any_value => Act::Fail,
                None => {
                    let user_name = user_name_map.and_then(|m| {
                        m.source
                            .as_deref()
                            .and_then(|s| attr(u, s))
                            .or_else(|| m.default.clone())
                    });
                    match user_name {
                        // RFC 7643 §4.1.1: userName is required.
                        None => Act::Fail,
                        // uniqueness "server": a second account with that userName is rejected.
                        Some(n)
                            if target.iter().any(|r| {
                                r["userName"]
                                    .as_str()
                                    .is_some_and(|x| same("userName", x, &n))
                            }) =>
                        {
                            Act::Fail
                        }
                        Some(n) => {
                            let mut body = json!({"userName": n});
                            for m in &maps {
                                if let Some(v) = m.source.as_deref().and_then(|s| attr(u, s)) {
                                    if m.target == "externalId" {
                                        body["externalId"] = json!(v);
                                    } else if m.target.starts_with("emails") {
                                        body["emails"] = json!([{"type": "work", "value": v}]);
                                    }
                                }
                            }
                            target.push(body);
                            Act::Create
                        }
                    }
                }
            };
            if e.act == Act::Create {
                // Tied: an original record holds one of this person's values.
                let mine: Vec<String> = ["objectId", "userPrincipalName", "mail", "mailNickname"]
                    .iter()
                    .filter_map(|a| attr(u, a))
                    .chain(user_name_map.and_then(|m| m.source.as_deref().and_then(|s| attr(u, s))))
                    .collect();
                e.duplicate = original.iter().any(|r| {
                    ["userName", "externalId", "emails"].iter().any(|t| {
                        record_values(r, t)
                            .iter()
                            .any(|x| mine.iter().any(|v| x.to_lowercase() == v.to_lowercase()))
                    })
                });
            }
        }
        out.insert(p.id.clone(), e);
    }
    out
}

// ---------------------------------------------------------------- planner and engine

fn snapshot(w: &World, target: &[Value]) -> Snapshot {
    let mut b = plan::testkit::SnapBuilder::new("Gallery App", w.gallery_schema.clone());
    let mut snap = b.build();
    snap.users = w
        .people
        .iter()
        .map(|p| UserSnapshot {
            id: p.id.clone(),
            attributes: serde_json::from_value(p.graph.clone()).unwrap(),
            via: vec!["direct".into()],
        })
        .collect();
    snap.users.sort_by(|a, b| a.id.cmp(&b.id));
    snap.target = Some(TargetSnapshot {
        base_url: "https://target.example/scim".into(),
        service_provider_config: json!({"patch": {"supported": true}}),
        users: target.to_vec(),
        groups: vec![],
    });
    snap.seal();
    snap
}

fn default_mapping_profile() -> Profile {
    Profile::parse(
        r#"
name = "entra-default"
display_name = "SCIM app"
user_mappings = [
  { target = "userName", source = "userPrincipalName", match = 1 },
  { target = "externalId", source = "mailNickname" },
  { target = "active", source = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")' },
]
group_mappings = [
  { target = "displayName", source = "displayName", match = 1 },
  { target = "members", source = "members" },
]
"#,
        "entra-default",
    )
    .unwrap()
}

fn act_of(a: UserAction) -> Act {
    match a {
        UserAction::Match => Act::Match,
        UserAction::Create => Act::Create,
        UserAction::Skip => Act::Skip,
        UserAction::Fail => Act::Fail,
    }
}

/// The custom app's service principal `SP` with a `scim` job running
/// `schema` against `base` (SyncAll as given), in `t`.
fn install_custom_job(
    t: &mut Tenant,
    base: &str,
    token: &str,
    job_id: &str,
    schema: &Value,
    sync_all: bool,
) {
    t.service_principals.insert(
        SP.into(),
        serde_json::from_value::<ServicePrincipal>(
            json!({"id": SP, "appId": "app-custom", "displayName": "Custom"}),
        )
        .unwrap(),
    );
    let sync = t.synchronization.entry(SP.into()).or_default();
    sync.secrets.insert("BaseAddress".into(), base.into());
    sync.secrets.insert("SecretToken".into(), token.into());
    sync.secrets.insert(
        "SyncAll".into(),
        if sync_all { "true" } else { "false" }.into(),
    );
    sync.jobs.insert(
        job_id.into(),
        SyncJob {
            id: job_id.into(),
            template_id: "scim".into(),
            schedule_state: "Disabled".into(),
            status: json!({"code": "NotRun"}),
            schema: schema.clone(),
            user_links: Default::default(),
            group_links: Default::default(),
        },
    );
}

/// A clean store holding what the gallery had provisioned (`w.records`):
/// the target as a snapshot reads it before the cycle, and the ids seeded.
fn seed_store(twin: &Arc<Twin>, base: &str, w: &World) -> (Vec<Value>, HashSet<String>) {
    for u in twin.scim_store.users() {
        twin.scim_store
            .delete(Kind::User, u["id"].as_str().unwrap())
            .unwrap();
    }
    let mut seeded = HashSet::new();
    for r in &w.records {
        let made = twin
            .scim_store
            .create(Kind::User, r.body.clone(), base)
            .expect("seed record");
        seeded.insert(made["id"].as_str().unwrap().to_string());
    }
    (twin.scim_store.users(), seeded)
}

/// What the engine did: each user's act, and the target id each is linked to.
struct Ran {
    acts: BTreeMap<String, Act>,
    links: BTreeMap<String, String>,
}

/// Run the custom job's first cycle in the twin: users in the directory,
/// assigned directly, the store as `seed_store` left it (`seeded`: its ids).
async fn run_engine(
    twin: &Arc<Twin>,
    base: &str,
    token: &str,
    w: &World,
    job_id: &str,
    schema: &Value,
    seeded: &HashSet<String>,
) -> Ran {
    let mut t = Tenant {
        tenant_id: "contoso".into(),
        ..Default::default()
    };
    for p in &w.people {
        let u: DirUser = serde_json::from_value(p.graph.clone()).unwrap();
        t.users.insert(u.id.clone(), u);
        let aid = format!("a-{}", p.id);
        t.assignments.insert(
            aid.clone(),
            serde_json::from_value::<AppRoleAssignment>(json!({"id": aid,
                "appRoleId": "00000000-0000-0000-0000-000000000000", "principalId": p.id,
                "principalType": "User", "resourceId": SP}))
            .unwrap(),
        );
    }
    install_custom_job(&mut t, base, token, job_id, schema, false);
    *twin.tenant() = t;
    let r = engine::run_cycle_report(twin, SP, job_id).await.unwrap();
    assert_eq!(r.quarantined, None, "seed {:#x}: {r:#?}", w.seed);
    let tenant = twin.tenant();
    let links = &tenant.synchronization[SP].jobs[job_id].user_links;
    let failed: HashSet<&str> = tenant
        .provisioning_log
        .iter()
        .filter(|e| e["jobId"] == job_id && e["provisioningStatusInfo"]["status"] == "failure")
        .filter_map(|e| e["sourceIdentity"]["id"].as_str())
        .collect();
    let mut creators: HashMap<&str, &str> = HashMap::new();
    let mut out = BTreeMap::new();
    let mut ids: Vec<&str> = w.people.iter().map(|p| p.id.as_str()).collect();
    ids.sort();
    for id in ids {
        let act = match links.get(id) {
            _ if failed.contains(id) => Act::Fail,
            Some(tid) if seeded.contains(tid) => Act::Match,
            Some(tid) => {
                if creators.contains_key(tid.as_str()) {
                    Act::Match
                } else {
                    creators.insert(tid, id);
                    Act::Create
                }
            }
            None => Act::Skip,
        };
        out.insert(id.to_string(), act);
    }
    Ran {
        acts: out,
        links: links
            .iter()
            .filter(|(s, _)| !failed.contains(s.as_str()))
            .map(|(s, t)| (s.clone(), t.clone()))
            .collect(),
    }
}

/// The matching attributes of a schema's User mapping, `target` in precedence order.
fn matching_of(schema: &Value) -> Vec<String> {
    let (maps, _) = read_user_mapping(schema);
    let mut m: Vec<&OMap> = maps.iter().filter(|m| m.priority > 0).collect();
    m.sort_by_key(|m| m.priority);
    m.iter().map(|m| m.target.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_planner_and_engine_agree_on_random_tenants() {
    let twin = Arc::new(engine::new_twin(Tenant::default()));
    twin.engine.set_interval(None);
    // One object at a time, in id order, as the planner predicts.
    twin.engine.set_concurrency(1);
    let base = engine::serve_embedded_store(&twin).await.unwrap();
    let token = twin.embedded_scim_token.expose().to_string();
    let carried = Profile::builtin("generic-scim").unwrap();
    let default = default_mapping_profile();
    let mut problems = Vec::new();
    let (mut users, mut dups, mut fails, mut creates, mut undetectable) = (0, 0, 0, 0, 0);
    let (mut extra_tenants, mut dups_without, mut dups_with, mut precedence) = (0, 0, 0, 0);
    let variants = [
        ("carried-over", &carried, true),
        ("default", &default, true),
        ("carried-over, --no-extra-matching", &carried, false),
        ("default, --no-extra-matching", &default, false),
    ];
    for seed in 1..=TENANTS {
        let w = world(seed);
        let mut schemas: HashMap<&str, Value> = HashMap::new();
        for (variant, profile, extra) in variants {
            let job_id = format!("scim.{seed:04x}.{variant}");
            let (target, seeded) = seed_store(&twin, &base, &w);
            let opts = PlanOptions {
                profile_detected: true,
                ..Default::default()
            };
            let flag = if extra {
                ExtraMatching::Propose
            } else {
                ExtraMatching::Off
            };
            let p = plan::build_with(&snapshot(&w, &target), profile, &opts, flag).unwrap();
            // The generated worlds reach plan fields few fixtures do (proposals, findings).
            common::schemas::check_plan(
                &format!("seed {seed} {variant} plan"),
                &serde_json::to_value(&p).unwrap(),
            );
            let schema = schema_of(&p);
            let mapping = if profile.name == "generic-scim" {
                "carried"
            } else {
                "default"
            };
            if !extra {
                // Without extra matching the schema does not depend on the target.
                let provisional =
                    schema_of(&plan::build_with(&snapshot(&w, &[]), profile, &opts, flag).unwrap());
                assert_eq!(
                    schema, provisional,
                    "seed {seed}: --no-extra-matching keeps the gallery's matching"
                );
                dups_without += p.summary.duplicates;
                if schemas.get(mapping) == Some(&schema) {
                    // No proposal was made: the same run as with extras on.
                    continue;
                }
            } else {
                dups_with += p.summary.duplicates;
                precedence += usize::from(matching_of(&schema).len() > 1);
                schemas.insert(mapping, schema.clone());
            }
            let ran = run_engine(&twin, &base, &token, &w, &job_id, &schema, &seeded).await;
            let acted = &ran.acts;
            let expected = oracle(&w, &schema);
            if extra && p.findings.iter().any(|f| f.code == "extra-matching") {
                extra_tenants += 1;
                // The claim behind adding it: no account is matched to two people.
                let mut owners: HashMap<&str, Vec<&str>> = HashMap::new();
                for (sid, tid) in &ran.links {
                    owners.entry(tid.as_str()).or_default().push(sid.as_str());
                }
                for (tid, who) in owners.iter().filter(|(_, v)| v.len() > 1) {
                    problems.push(format!(
                        "seed {seed} ({variant}): the extra matching attribute ties {who:?} to one account {tid}"
                    ));
                }
            }
            for row in &p.impact {
                users += 1;
                let e = &expected[row.id()];
                let planned = act_of(row.action);
                let ran = acted[row.id()];
                dups += usize::from(e.duplicate);
                fails += usize::from(e.act == Act::Fail);
                creates += usize::from(e.act == Act::Create);
                if planned != e.act || ran != e.act {
                    problems.push(format!(
                        "seed {seed} ({variant}) user {}: oracle {:?}, planner {:?} ({:?}), engine {ran:?}\n  user {}\n  target {}\n  matching {:?}",
                        row.id(), e.act, planned, row.reason(), w.people.iter().find(|x| x.id == row.id()).unwrap().graph,
                        serde_json::to_string(&w.records.iter().map(|r| &r.body).collect::<Vec<_>>()).unwrap(),
                        matching_of(&schema)
                    ));
                } else if e.act == Act::Create && row.duplicate != e.duplicate {
                    problems.push(format!(
                        "seed {seed} ({variant}) user {}: oracle duplicate={}, planner duplicate={} (tie {:?})",
                        row.id(), e.duplicate, row.duplicate, row.tie()
                    ));
                } else if e.act == Act::Create && e.owns_record && !row.duplicate {
                    // Their account holds none of their current values: no plan can
                    // tie them, but it must not stay silent about that account.
                    undetectable += 1;
                    let theirs = w
                        .records
                        .iter()
                        .position(|r| r.owner.as_deref() == Some(row.id()))
                        .unwrap();
                    let un = w.records[theirs].body["userName"].as_str().unwrap();
                    let listed = p.findings.iter().any(|f| {
                        f.code == "orphan-target-user" && f.objects.iter().any(|o| o.name == un)
                    });
                    if !listed {
                        problems.push(format!(
                            "seed {seed} ({variant}) user {}: is created again, and their old account {un} is neither tied nor reported as an orphan",
                            row.id()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} disagreements over {users} user predictions:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!(
        "{users} user predictions over {TENANTS} tenants × 2 mappings (× --no-extra-matching where it differs): {creates} creates ({dups} duplicates, {undetectable} whose old account holds none of their values), {fails} failures; extra matching added on {extra_tenants} tenant runs, {precedence} runs with several matching attributes; predicted duplicates {dups_without} without extra matching, {dups_with} with it"
    );
    // The generator reaches every outcome the oracle knows.
    assert!(
        dups > 20 && fails > 20 && creates > 50,
        "dups {dups}, fails {fails}, creates {creates}"
    );
    // Extra matching is exercised, and so are several matching attributes.
    assert!(
        extra_tenants > 20 && precedence > 40 && dups_with < dups_without,
        "extra matching on {extra_tenants} runs, {precedence} with several matching attributes, duplicates {dups_with} vs {dups_without}"
    );
}

fn schema_of(p: &scimshift::plan::Plan) -> Value {
    p.steps
        .iter()
        .find(|s| s.id == "put-schema")
        .and_then(|s| s.requests.iter().find(|r| r.method.as_str() == "PUT"))
        .and_then(|r| r.body.clone())
        .expect("a put-schema step")
}

// ---------------------------------------------------------------- regressions
//
// The four defects of the prediction-truth issue, each on a small tenant of
// its own, planned and run in the twin. Each fails on the code before the fix.

fn person(id: &str, upn: &str, mail: Option<&str>, dept: Option<&str>) -> Person {
    Person {
        id: id.into(),
        graph: json!({"id": id, "userPrincipalName": upn, "mail": mail, "mailNickname": upn.split('@').next(),
            "givenName": "x", "surname": "y", "department": dept, "accountEnabled": true}),
    }
}

fn record(owner: &str, user_name: &str, external_id: Option<&str>, email: Option<&str>) -> Record {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "active": true});
    if let Some(x) = external_id {
        body["externalId"] = json!(x);
    }
    if let Some(e) = email {
        body["emails"] = json!([{"type": "work", "primary": true, "value": e}]);
    }
    Record {
        owner: Some(owner.into()),
        body,
    }
}

struct Run {
    plan: scimshift::plan::Plan,
    engine: BTreeMap<String, Act>,
}

async fn plan_and_run(w: &World, profile: &Profile, job: &str) -> Run {
    plan_and_run_with(w, profile, job, ExtraMatching::Propose).await
}

async fn plan_and_run_with(w: &World, profile: &Profile, job: &str, extra: ExtraMatching) -> Run {
    let twin = Arc::new(engine::new_twin(Tenant::default()));
    twin.engine.set_interval(None);
    twin.engine.set_concurrency(1);
    let base = engine::serve_embedded_store(&twin).await.unwrap();
    let token = twin.embedded_scim_token.expose().to_string();
    let (target, seeded) = seed_store(&twin, &base, w);
    let plan = plan::build_with(
        &snapshot(w, &target),
        profile,
        &PlanOptions::default(),
        extra,
    )
    .unwrap();
    common::schemas::check_plan(
        &format!("{job} plan"),
        &serde_json::to_value(&plan).unwrap(),
    );
    let ran = run_engine(&twin, &base, &token, w, job, &schema_of(&plan), &seeded).await;
    Run {
        plan,
        engine: ran.acts,
    }
}

fn finding<'a>(p: &'a scimshift::plan::Plan, code: &str) -> &'a scimshift::plan::Finding {
    p.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no finding {code}"))
}

/// The user is predicted `fail` with a reason starting with `code`.
fn assert_fails(p: &scimshift::plan::Plan, id: &str, code: &str) {
    let u = row(p, id);
    assert_eq!(u.action, UserAction::Fail, "{u:?}");
    assert!(u.reason().is_some_and(|r| r.starts_with(code)), "{u:?}");
}

fn row<'a>(p: &'a scimshift::plan::Plan, id: &str) -> &'a scimshift::plan::UserImpact {
    p.impact.iter().find(|u| u.id() == id).unwrap()
}

/// Defect 1: the gallery matched on externalId ← objectId, mails changed or
/// emptied since; planned with Entra's default mapping. Every user the engine
/// creates again is predicted a duplicate, tied by their object id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_duplicates_tied_by_object_id_and_old_values() {
    let w = World {
        seed: 1,
        gallery_schema: gallery_schema("mail", Some("objectId"), true, Value::Null),
        people: vec![
            person(
                "u1",
                "amy@contoso.onmicrosoft.com",
                Some("amy@contoso.com"),
                None,
            ),
            person(
                "u2",
                "ben@contoso.onmicrosoft.com",
                Some("ben.new@contoso.com"),
                None,
            ),
            person("u3", "cat@contoso.onmicrosoft.com", None, None),
            person(
                "u4",
                "dan@contoso.onmicrosoft.com",
                Some("dan.new@contoso.com"),
                None,
            ),
        ],
        records: vec![
            record("u1", "amy@contoso.com", Some("u1"), Some("amy@contoso.com")),
            record("u2", "ben@contoso.com", Some("u2"), Some("ben@contoso.com")),
            record("u3", "cat@contoso.com", Some("u3"), Some("cat@contoso.com")),
            record("u4", "dan@contoso.com", Some("u4"), Some("dan@contoso.com")),
        ],
    };
    // The prediction itself, with the gallery's matching kept as it is.
    let r = plan_and_run_with(
        &w,
        &default_mapping_profile(),
        "scim.reg1",
        ExtraMatching::Off,
    )
    .await;
    let created: Vec<&String> = r
        .engine
        .iter()
        .filter(|(_, a)| **a == Act::Create)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        created.len(),
        4,
        "the engine creates everyone again: {:?}",
        r.engine
    );
    for id in created {
        let u = row(&r.plan, id);
        assert!(
            u.duplicate,
            "{id} is created again but the plan calls them safe: {u:?}"
        );
        assert_eq!(u.tie(), Some("objectId = target externalId"), "{u:?}");
    }
    assert_eq!(r.plan.summary.duplicates, 4);
    let f = finding(&r.plan, "duplicate-on-create");
    assert!(f.message.contains("objectId (4)"), "{}", f.message);

    // By default the plan prevents them: it matches also on the gallery's own
    // externalId ← objectId (replacing the profile's externalId ← mailNickname),
    // and the engine then matches all four.
    let r = plan_and_run(&w, &default_mapping_profile(), "scim.reg1b").await;
    assert_eq!(r.plan.summary.duplicates, 0, "{:#?}", r.plan.findings);
    let f = finding(&r.plan, "extra-matching");
    assert!(
        f.message.contains("externalId ← [objectId]")
            && f.message.contains("4 → 0")
            && f.message.contains("[mailNickname]"),
        "{}",
        f.message
    );
    assert!(
        r.engine.values().all(|a| *a == Act::Match),
        "{:?}",
        r.engine
    );
}

/// Defect 2: users without a department passed `department NOT EQUALS
/// "Contractors"`; Microsoft: "Scoping filters will return "false" if the
/// value is null / empty". Neither planned nor created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_null_department_is_out_of_scope() {
    let scope = json!({"groups": [{"clauses": [{"sourceOperandName": "department", "operatorName": "NOT EQUALS",
                       "targetOperand": {"values": ["Contractors"]}}]}]});
    let w = World {
        seed: 2,
        gallery_schema: gallery_schema("userPrincipalName", None, false, scope),
        people: vec![
            person(
                "u1",
                "amy@contoso.com",
                Some("amy@contoso.com"),
                Some("Sales"),
            ),
            person("u2", "ben@contoso.com", Some("ben@contoso.com"), None),
            person("u3", "cat@contoso.com", Some("cat@contoso.com"), Some("")),
            person(
                "u4",
                "dan@contoso.com",
                Some("dan@contoso.com"),
                Some("Contractors"),
            ),
        ],
        records: vec![],
    };
    let r = plan_and_run(&w, &Profile::builtin("generic-scim").unwrap(), "scim.reg2").await;
    assert_eq!(row(&r.plan, "u1").action, UserAction::Create);
    for id in ["u2", "u3", "u4"] {
        let u = row(&r.plan, id);
        assert_eq!(u.action, UserAction::Skip, "{u:?}");
        assert_eq!(u.reason(), Some("scoping-filter"));
        assert_eq!(r.engine[id], Act::Skip, "the engine provisioned {id}");
    }
}

/// Defect 3: users with no value for any matching attribute and no userName
/// were predicted `create`; the target answers 400 and they are escrowed.
/// Now `fail`, counted and raised; the engine agrees. Also a userName another
/// account already holds (409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_creates_that_cannot_succeed_are_failures() {
    // userName ← mail is the only matching attribute: no mail, no match, no userName.
    let w = World {
        seed: 3,
        gallery_schema: gallery_schema("mail", None, false, Value::Null),
        people: vec![
            person("u1", "amy@contoso.com", Some("amy@contoso.com"), None),
            person("u2", "ben@contoso.com", None, None),
        ],
        records: vec![],
    };
    let r = plan_and_run(&w, &Profile::builtin("generic-scim").unwrap(), "scim.reg3a").await;
    assert_fails(&r.plan, "u2", "no-matching-value");
    assert_eq!(r.engine["u2"], Act::Fail);
    assert_eq!(r.plan.summary.users_fail, 1);
    let f = finding(&r.plan, "user-create-fails");
    assert_eq!(f.objects[0].id, "u2");

    // Matching on externalId ← objectId, userName ← mail: no mail is no userName (400);
    // a mail another account holds as userName is a 409.
    let w = World {
        seed: 4,
        gallery_schema: gallery_schema("mail", Some("objectId"), true, Value::Null),
        people: vec![
            person("u1", "amy@contoso.com", None, None),
            person("u2", "ben@contoso.com", Some("old.owner@contoso.com"), None),
            person("u3", "cat@contoso.com", Some("cat@contoso.com"), None),
        ],
        records: vec![Record {
            owner: None,
            body: json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Old.Owner@contoso.com", "externalId": "someone-else"}),
        }],
    };
    let r = plan_and_run(&w, &Profile::builtin("generic-scim").unwrap(), "scim.reg3b").await;
    assert_fails(&r.plan, "u1", "no-user-name");
    assert_fails(&r.plan, "u2", "user-name-taken");
    assert_eq!(row(&r.plan, "u3").action, UserAction::Create);
    assert_eq!(
        (r.engine["u1"], r.engine["u2"], r.engine["u3"]),
        (Act::Fail, Act::Fail, Act::Create)
    );
    assert_eq!(r.plan.summary.users_fail, 2);
}

/// Defect 4: with "Sync all users and groups" (SyncAll=true) the documented
/// scope is every user and group ("Choose to sync all users and groups or only
/// users that are assigned", *Managing user account provisioning for
/// enterprise apps*; the initial cycle "Query all users and groups from the
/// source system", *How Application Provisioning works*). The snapshot reads
/// the unassigned group, the plan pushes it, and the engine creates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_sync_all_pushes_unassigned_groups() {
    let t = common::twin::demo().await;
    {
        let mut tenant = t.twin.tenant();
        let sp = tenant
            .service_principals
            .values()
            .find(|s| s.display_name == "Coda")
            .unwrap()
            .id
            .clone();
        tenant
            .synchronization
            .get_mut(&sp)
            .unwrap()
            .secrets
            .insert("SyncAll".into(), "true".into());
        let member = tenant.users.keys().next().unwrap().clone();
        let g: scimshift::twin::state::DirGroup = serde_json::from_value(
            json!({"id": "g-unassigned", "displayName": "Unassigned Team", "members": [member]}),
        )
        .unwrap();
        tenant.groups.insert(g.id.clone(), g);
    }
    let graph = common::twin::admin_graph(&t);
    let scim = common::twin::scim(&t);
    let snap = scimshift::snapshot::capture::capture(&graph, "Coda", Some(&scim))
        .await
        .unwrap();
    assert!(
        snap.groups
            .iter()
            .any(|g| g.display_name == "Unassigned Team"),
        "SyncAll: the snapshot reads every group"
    );
    let all_groups = t.twin.tenant().groups.len();
    assert_eq!(snap.groups.len(), all_groups);

    let pushed = |scope| {
        let p = plan::build(
            &snap,
            &Profile::builtin("coda").unwrap(),
            &PlanOptions {
                scope,
                ..Default::default()
            },
        )
        .unwrap();
        let expected = p
            .steps
            .iter()
            .flat_map(|s| &s.diff)
            .find(|d| d.path == "target.groupsExpected")
            .and_then(|d| d.after.clone())
            .unwrap_or_default();
        (p, expected)
    };
    let (p_all, groups_all) = pushed(plan::Scope::All);
    assert!(
        groups_all
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "Unassigned Team"),
        "{groups_all}"
    );
    assert_eq!(p_all.estimate.groups, all_groups);
    let (_, groups_assigned) = pushed(plan::Scope::Assigned);
    assert!(
        !groups_assigned
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "Unassigned Team"),
        "assigned-only scope pushes assigned groups only: {groups_assigned}"
    );

    // The engine, with the plan's custom schema and SyncAll, creates it.
    {
        let mut tenant = t.twin.tenant();
        let token = t.scim_token.expose().to_string();
        install_custom_job(
            &mut tenant,
            &t.scim_url,
            &token,
            "scim.syncall",
            &schema_of(&p_all),
            true,
        );
        assert!(tenant.assignments.values().all(|a| a.resource_id != SP));
    }
    let r = engine::run_cycle_report(&t.twin, SP, "scim.syncall")
        .await
        .unwrap();
    assert_eq!(r.quarantined, None);
    assert!(
        t.twin
            .scim_store
            .groups()
            .iter()
            .any(|g| g["displayName"] == "Unassigned Team"),
        "the engine pushes every group with SyncAll: {r:#?}"
    );
}
