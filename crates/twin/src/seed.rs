//! Seeds: the data a twin starts from. A seed is a JSON file
//! (`"format": "scimshift.seed/v1"`) holding a [`Tenant`], optional client
//! apps, jobs to run once at start, and objects to create by hand in the SCIM
//! target afterwards. Tests build seeds in code; `--seed PATH` loads one;
//! `--seed demo` and `--seed synthetic:users=N,groups=M` are built in.
//!
//! Secret values `{{scim_url}}` and `{{scim_token}}` are replaced at start by
//! the target the twin provisions into (embedded store or `--scim-target`).
//!
//! # The demo tenant (Northwind Traders, `northwind.example`)
//!
//! 200 users, 15 groups, and the **Coda** gallery app (SP + application,
//! gallery `applicationTemplateId`, roles `User` and `msiam_access`) whose
//! job `coda.<tenanthex>.<guid>` (template `coda`) is Active with a users-only
//! schema (target directory `Coda`, no Group mapping), `SyncAll=false`, and
//! about 155 users provisioned by an initial cycle at start. Also `Slack` and
//! `Salesforce` (no provisioning). Ids come from a fixed-seed RNG, so two
//! runs build the same tenant (client id and secret stay random per start).
//!
//! Traps a migration planner must find:
//! 1. The gallery schema maps `userName` from `mail`, not `userPrincipalName`;
//!    exactly 12 in-scope users (former Wingtip staff) have `mail`
//!    `first.last@wingtip.example` while their UPN is `…@northwind.example`.
//!    A custom app with default mappings would create them again.
//! 2. Three target users no Entra user is assigned to, created by hand in
//!    Coda: `coda.admin@northwind.example`, `auditor@kpmg-partner.example`,
//!    `former.intern@northwind.example`.
//! 3. Assigned group `Coda Engineering` contains the nested group
//!    `Platform Guild`, whose 8 members (Operations) are not provisioned.
//! 4. Assigned Microsoft 365 group `Product Launch 2026` (groupTypes Unified).
//! 5. The target already holds a group named `Coda Finance`, like the
//!    assigned Entra group `Coda Finance`.
//! 6. User `siobhan.o'brien@northwind.example` (apostrophe: filter quoting).
//! 7. Scoping filter on the gallery job: `department NOT EQUALS "Contractors"`;
//!    the 12 Contractors are assigned directly but out of scope.
//!
//! Assigned: groups `Coda Engineering` (60 users + Platform Guild),
//! `Coda Sales & Marketing` (60), `Coda Finance` (15), `Product Launch 2026`
//! (10 Marketing already in scope + 10 Support), and users directly: 10 HR and
//! 12 Contractors. In scope: 155 users.

use super::auth::ClientApp;
use super::schemas;
use super::state::{
    AppRole, AppRoleAssignment, Application, DirGroup, DirUser, Domain, ServicePrincipal, SyncJob,
    Synchronization, Tenant,
};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod from_snapshot;
pub use from_snapshot::from_snapshot;

pub const SEED_FORMAT: &str = "scimshift.seed/v1";
pub const SCIM_URL_PLACEHOLDER: &str = "{{scim_url}}";
pub const SCIM_TOKEN_PLACEHOLDER: &str = "{{scim_token}}";

/// A job to run one full cycle of when the twin starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    pub service_principal_id: String,
    pub job_id: String,
    /// Only link what the job's matching finds, write nothing (a job rebuilt
    /// from a snapshot: [`crate::engine::link::link_only`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link_only: bool,
}

/// SCIM resources created in the target (over SCIM HTTP) after the initial cycles.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SeedTarget {
    #[serde(default)]
    pub users: Vec<Value>,
    #[serde(default)]
    pub groups: Vec<Value>,
    /// Put these resources into the embedded store as they are, ids kept,
    /// before the start-up cycles (a target rebuilt from a snapshot), rather
    /// than POSTing them afterwards.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_ids: bool,
}

/// A seed file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seed {
    pub format: String,
    /// `tenantId` empty means a random one per start.
    pub tenant: Tenant,
    /// Empty: an admin client and a read-only client, random per start.
    #[serde(default)]
    pub clients: Vec<ClientApp>,
    #[serde(default)]
    pub run_jobs: Vec<JobRef>,
    #[serde(default)]
    pub target: SeedTarget,
}

impl Default for Seed {
    fn default() -> Self {
        Seed {
            format: SEED_FORMAT.into(),
            tenant: Tenant::default(),
            clients: vec![],
            run_jobs: vec![],
            target: SeedTarget::default(),
        }
    }
}

/// Where a twin's seed comes from.
#[derive(Debug, Clone)]
pub enum SeedSpec {
    Demo,
    Synthetic {
        users: usize,
        groups: usize,
    },
    File(PathBuf),
    /// `snapshot:PATH`: the tenant and target a snapshot recorded ([`from_snapshot`]).
    Snapshot(PathBuf),
    Data(Box<Seed>),
}

impl SeedSpec {
    /// Parse `--seed`: `demo`, `synthetic:users=N,groups=M`, or a path.
    pub fn parse(text: &str) -> Result<SeedSpec> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("demo") {
            return Ok(SeedSpec::Demo);
        }
        if let Some(rest) = t
            .strip_prefix("synthetic:")
            .or_else(|| t.strip_prefix("synthetic"))
        {
            let (mut users, mut groups) = (1000usize, 50usize);
            for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let bad = || {
                    Error::usage(format!(
                        "--seed: `{part}` is not understood; use synthetic:users=N,groups=M"
                    ))
                };
                let (k, v) = part.split_once('=').ok_or_else(bad)?;
                let n: usize = v.trim().replace('_', "").parse().map_err(|_| bad())?;
                match k.trim() {
                    "users" => users = n,
                    "groups" => groups = n,
                    _ => return Err(bad()),
                }
            }
            if users > 2_000_000 || groups > users.max(1) * 10 {
                return Err(Error::usage(
                    "--seed: synthetic sizes are limited to 2,000,000 users and 10 groups per user",
                ));
            }
            return Ok(SeedSpec::Synthetic { users, groups });
        }
        if let Some(p) = t.strip_prefix("snapshot:") {
            if p.trim().is_empty() {
                return Err(Error::usage(
                    "--seed snapshot: needs a path, e.g. --seed snapshot:snapshot.json",
                ));
            }
            return Ok(SeedSpec::Snapshot(PathBuf::from(p.trim())));
        }
        Ok(SeedSpec::File(PathBuf::from(t)))
    }

    /// Build or load the seed.
    pub fn load(&self) -> Result<Seed> {
        let mut seed = match self {
            SeedSpec::Demo => demo(),
            SeedSpec::Synthetic { users, groups } => synthetic(*users, *groups),
            SeedSpec::File(p) => Seed::load(p)?,
            SeedSpec::Snapshot(p) => from_snapshot(&crate::snapshot::model::Snapshot::load(p)?)?,
            SeedSpec::Data(s) => {
                s.validate()?;
                (**s).clone()
            }
        };
        seed.tenant.ensure_domains();
        Ok(seed)
    }
}

impl Seed {
    pub fn load(path: &Path) -> Result<Seed> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io_at(path, e))?;
        let raw: Value = serde_json::from_str(&text).map_err(|e| {
            Error::input(format!(
                "the seed file {} is not valid JSON: {e}",
                path.display()
            ))
        })?;
        if raw.get("format").and_then(Value::as_str) != Some(SEED_FORMAT) {
            return Err(Error::input(format!(
                "{} is not a scimshift seed: its \"format\" must be \"{SEED_FORMAT}\"",
                path.display()
            )));
        }
        let seed: Seed = serde_json::from_value(raw).map_err(|e| {
            Error::input(format!(
                "the seed file {} does not match {SEED_FORMAT}: {e}",
                path.display()
            ))
        })?;
        seed.validate().map_err(|e| {
            Error::input(format!("the seed file {}: {}", path.display(), e.message))
        })?;
        Ok(seed)
    }

    /// Check references between objects.
    pub fn validate(&self) -> Result<()> {
        let t = &self.tenant;
        for a in t.assignments.values() {
            if !t.service_principals.contains_key(&a.resource_id) {
                return Err(Error::input(format!(
                    "assignment {} points to service principal {}, which the seed does not define",
                    a.id, a.resource_id
                )));
            }
        }
        for sp in t.synchronization.keys() {
            if !t.service_principals.contains_key(sp) {
                return Err(Error::input(format!(
                    "synchronization is defined for service principal {sp}, which the seed does not define"
                )));
            }
        }
        for j in &self.run_jobs {
            if !t
                .synchronization
                .get(&j.service_principal_id)
                .is_some_and(|s| s.jobs.contains_key(&j.job_id))
            {
                return Err(Error::input(format!(
                    "runJobs names job {} on {}, which the seed does not define",
                    j.job_id, j.service_principal_id
                )));
            }
        }
        Ok(())
    }

    /// Write the seed as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

struct Ids(StdRng);

impl Ids {
    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.0.random())
            .into_uuid()
            .to_string()
    }
    fn assignment_id(&mut self) -> String {
        use base64::Engine as _;
        let raw: [u8; 32] = self.0.random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }
}

const FIRST: &[&str] = &[
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Lucas", "Mia", "Amelia", "Ethan", "Harper", "Mateo",
    "Sofia", "Aiden", "Chloe", "Jonas", "Lena", "Ravi", "Priya", "Kenji", "Yuki", "Omar", "Layla",
    "Diego", "Lucia", "Felix", "Clara", "Tomas", "Ines", "Kwame", "Ama", "Sven", "Freya", "Marco",
    "Giulia", "Arjun", "Anika", "Mohammed", "Fatima", "Daniel", "Grace",
];
const LAST: &[&str] = &[
    "Smith",
    "Garcia",
    "Muller",
    "Rossi",
    "Tanaka",
    "Khan",
    "Nguyen",
    "Kowalski",
    "Silva",
    "Jensen",
    "Dubois",
    "Okafor",
    "Patel",
    "Cohen",
    "Larsen",
    "Novak",
    "Fischer",
    "Moreau",
    "Costa",
    "Ivanova",
    "Haddad",
    "Berg",
    "Schmidt",
    "Lopez",
    "Walsh",
    "Kim",
    "Chen",
    "Mensah",
    "Ortiz",
    "Weber",
    "Varga",
    "Lindqvist",
    "Adeyemi",
    "Murphy",
    "Sato",
    "Ali",
];

#[allow(clippy::too_many_arguments)]
fn dir_user(
    id: String,
    first: &str,
    last: &str,
    upn: String,
    mail: String,
    dept: &str,
    title: &str,
    city: &str,
) -> DirUser {
    DirUser {
        id,
        mail_nickname: upn.split('@').next().map(str::to_string),
        user_principal_name: upn,
        mail: Some(mail),
        display_name: Some(format!("{first} {last}")),
        given_name: Some(first.into()),
        surname: Some(last.into()),
        department: Some(dept.into()),
        job_title: Some(title.into()),
        employee_id: None,
        city: Some(city.into()),
        country: Some(
            if city == "Berlin" {
                "DE"
            } else if city == "London" {
                "GB"
            } else {
                "US"
            }
            .into(),
        ),
        manager_id: None,
        account_enabled: true,
        extra: Default::default(),
    }
}

fn group(
    id: String,
    name: &str,
    description: &str,
    unified: bool,
    members: Vec<String>,
) -> DirGroup {
    DirGroup {
        id,
        display_name: name.into(),
        description: Some(description.into()),
        group_types: if unified {
            vec!["Unified".into()]
        } else {
            vec![]
        },
        security_enabled: !unified,
        mail_enabled: unified,
        members,
    }
}

fn gallery_sp(ids: &mut Ids, name: &str, template: &str) -> (Application, ServicePrincipal) {
    let app_id = ids.uuid();
    let app = Application {
        id: ids.uuid(),
        app_id: app_id.clone(),
        display_name: name.into(),
        application_template_id: Some(template.into()),
        created_date_time: Some("2023-03-14T09:26:53Z".into()),
    };
    let role = |ids: &mut Ids, n: &str| AppRole {
        id: ids.uuid(),
        allowed_member_types: vec!["User".into()],
        description: Some(n.into()),
        display_name: n.into(),
        is_enabled: true,
        origin: Some("Application".into()),
        value: None,
    };
    let sp = ServicePrincipal {
        id: ids.uuid(),
        app_id,
        display_name: name.into(),
        application_template_id: Some(template.into()),
        app_roles: vec![role(ids, "User"), role(ids, "msiam_access")],
        app_role_assignment_required: true,
        tags: vec![
            "WindowsAzureActiveDirectoryGalleryApplicationPrimaryV1".into(),
            "WindowsAzureActiveDirectoryIntegratedApp".into(),
        ],
        preferred_single_sign_on_mode: Some("saml".into()),
        account_enabled: true,
        notification_email_addresses: vec!["it-alerts@northwind.example".into()],
    };
    (app, sp)
}

fn assign(ids: &mut Ids, t: &mut Tenant, sp: &ServicePrincipal, principal: &str) {
    let (ptype, name) = match (t.users.get(principal), t.groups.get(principal)) {
        (Some(u), _) => ("User", u.display_name.clone()),
        (_, Some(g)) => ("Group", Some(g.display_name.clone())),
        _ => return,
    };
    let a = AppRoleAssignment {
        id: ids.assignment_id(),
        app_role_id: sp.app_roles[0].id.clone(),
        principal_id: principal.into(),
        principal_type: ptype.into(),
        principal_display_name: name,
        resource_id: sp.id.clone(),
        resource_display_name: Some(sp.display_name.clone()),
        created_date_time: Some("2024-05-02T08:00:00Z".into()),
    };
    t.assignments.insert(a.id.clone(), a);
}

/// Active gallery job status as the portal shows it after steady state.
fn active_status() -> Value {
    let mut s = schemas::fresh_status();
    s["code"] = json!("Active");
    s
}

/// Add the Coda gallery app with its Active users-only job; returns (sp, job id).
fn add_coda(ids: &mut Ids, t: &mut Tenant) -> (ServicePrincipal, String) {
    let coda_template = ids.uuid();
    let (app, sp) = gallery_sp(ids, "Coda", &coda_template);
    let hex = t.tenant_id.replace('-', "");
    let job_id = format!("coda.{hex}.{}", ids.uuid().replace('-', ""));
    let mut schema = schemas::coda_gallery_schema();
    schema["id"] = json!(job_id);
    let job = SyncJob {
        id: job_id.clone(),
        template_id: "coda".into(),
        schedule_state: "Active".into(),
        status: active_status(),
        schema,
        user_links: Default::default(),
        group_links: Default::default(),
    };
    let secrets: BTreeMap<String, String> = [
        ("BaseAddress", SCIM_URL_PLACEHOLDER.to_string()),
        ("SecretToken", SCIM_TOKEN_PLACEHOLDER.to_string()),
        ("SyncAll", "false".to_string()),
        (
            "SyncNotificationSettings",
            json!({"Enabled": true, "Recipients": "it-alerts@northwind.example", "DeleteThresholdEnabled": true, "DeleteThresholdValue": 500}).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    t.synchronization.insert(
        sp.id.clone(),
        Synchronization {
            secrets,
            jobs: [(job_id.clone(), job)].into_iter().collect(),
            templates: vec![schemas::coda_template(&app.app_id)],
        },
    );
    t.applications.insert(app.id.clone(), app);
    t.service_principals.insert(sp.id.clone(), sp.clone());
    (sp, job_id)
}

/// Indices (into the 200 demo users) whose mail is on the legacy domain.
const WINGTIP: [usize; 12] = [3, 9, 17, 24, 31, 40, 52, 66, 78, 90, 104, 125];
/// Index of Siobhan O'Brien.
const OBRIEN: usize = 70;

/// The built-in demo tenant (see the module documentation for its traps).
pub fn demo() -> Seed {
    let mut ids = Ids(StdRng::seed_from_u64(0x5c1a_5a1f));
    let mut t = Tenant {
        tenant_id: ids.uuid(),
        ..Default::default()
    };
    let depts: [(&str, usize, &str); 9] = [
        ("Engineering", 60, "Software Engineer"),
        ("Sales", 40, "Account Executive"),
        ("Marketing", 20, "Marketing Manager"),
        ("Finance", 15, "Financial Analyst"),
        ("HR", 10, "HR Business Partner"),
        ("Support", 20, "Support Engineer"),
        ("Legal", 7, "Counsel"),
        ("Operations", 16, "Operations Specialist"),
        ("Contractors", 12, "Contractor"),
    ];
    let cities = ["Seattle", "London", "Berlin", "Austin"];
    let mut user_ids = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    let mut i = 0usize;
    for (dept, n, title) in depts {
        for _ in 0..n {
            let (first, last) = if i == OBRIEN {
                ("Siobhan", "O'Brien")
            } else {
                (
                    FIRST[ids.0.random_range(0..FIRST.len())],
                    LAST[ids.0.random_range(0..LAST.len())],
                )
            };
            let mut local = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
            let mut k = 2;
            while !taken.insert(local.clone()) {
                local = format!("{}.{}{k}", first.to_lowercase(), last.to_lowercase());
                k += 1;
            }
            let upn = format!("{local}@northwind.example");
            let mail = if WINGTIP.contains(&i) {
                format!("{local}@wingtip.example")
            } else {
                upn.clone()
            };
            let city = cities[ids.0.random_range(0..cities.len())];
            let id = ids.uuid();
            let mut u = dir_user(id.clone(), first, last, upn, mail, dept, title, city);
            u.employee_id = Some(format!("NW{:05}", 1000 + i));
            t.users.insert(id.clone(), u);
            user_ids.push(id);
            i += 1;
        }
    }
    let range = |a: usize, b: usize| user_ids[a..b].to_vec();
    let add_group = |ids: &mut Ids,
                     t: &mut Tenant,
                     name: &str,
                     desc: &str,
                     unified: bool,
                     members: Vec<String>| {
        let id = ids.uuid();
        t.groups
            .insert(id.clone(), group(id.clone(), name, desc, unified, members));
        id
    };
    let guild = add_group(
        &mut ids,
        &mut t,
        "Platform Guild",
        "Cross-team platform engineering guild",
        false,
        range(172, 180),
    );
    let mut eng_members = range(0, 60);
    eng_members.push(guild.clone());
    let eng = add_group(
        &mut ids,
        &mut t,
        "Coda Engineering",
        "Engineering access to Coda",
        false,
        eng_members,
    );
    let sales = add_group(
        &mut ids,
        &mut t,
        "Coda Sales & Marketing",
        "Sales and Marketing access to Coda",
        false,
        range(60, 120),
    );
    let finance = add_group(
        &mut ids,
        &mut t,
        "Coda Finance",
        "Finance access to Coda",
        false,
        range(120, 135),
    );
    let mut launch_members = range(100, 110);
    launch_members.extend(range(145, 155));
    let launch = add_group(
        &mut ids,
        &mut t,
        "Product Launch 2026",
        "Microsoft 365 group for the 2026 launch",
        true,
        launch_members,
    );
    add_group(
        &mut ids,
        &mut t,
        "All Staff",
        "Everyone at Northwind",
        false,
        user_ids.clone(),
    );
    add_group(
        &mut ids,
        &mut t,
        "Leadership",
        "Leadership team",
        false,
        vec![
            user_ids[0].clone(),
            user_ids[60].clone(),
            user_ids[120].clone(),
            user_ids[135].clone(),
        ],
    );
    add_group(
        &mut ids,
        &mut t,
        "HR Team",
        "Human resources",
        false,
        range(135, 145),
    );
    add_group(
        &mut ids,
        &mut t,
        "Support Tier 1",
        "Front-line support",
        false,
        range(145, 165),
    );
    add_group(
        &mut ids,
        &mut t,
        "Legal",
        "Legal department",
        false,
        range(165, 172),
    );
    add_group(
        &mut ids,
        &mut t,
        "Operations",
        "Operations department",
        false,
        range(172, 188),
    );
    add_group(
        &mut ids,
        &mut t,
        "Contractors - External",
        "External contractors",
        false,
        range(188, 200),
    );
    for (name, city) in [("London Office", "London"), ("Berlin Office", "Berlin")] {
        let members: Vec<String> = t
            .users
            .values()
            .filter(|u| u.city.as_deref() == Some(city))
            .map(|u| u.id.clone())
            .collect();
        add_group(
            &mut ids,
            &mut t,
            name,
            &format!("Staff based in {city}"),
            false,
            members,
        );
    }
    let vpn: Vec<String> = user_ids.iter().step_by(5).cloned().collect();
    add_group(&mut ids, &mut t, "VPN Users", "Remote access", false, vpn);

    let (coda, job_id) = add_coda(&mut ids, &mut t);
    for g in [&eng, &sales, &finance, &launch] {
        assign(&mut ids, &mut t, &coda, g);
    }
    for u in range(135, 145).iter().chain(range(188, 200).iter()) {
        assign(&mut ids, &mut t, &coda, u);
    }
    for name in ["Slack", "Salesforce"] {
        let tmpl = ids.uuid();
        let (app, sp) = gallery_sp(&mut ids, name, &tmpl);
        t.applications.insert(app.id.clone(), app);
        t.service_principals.insert(sp.id.clone(), sp.clone());
        for g in [&eng, &sales] {
            assign(&mut ids, &mut t, &sp, g);
        }
    }
    let hand_user = |user: &str, given: &str, family: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user, "active": true,
               "name": {"givenName": given, "familyName": family},
               "emails": [{"type": "work", "primary": true, "value": user}]})
    };
    let target = SeedTarget {
        users: vec![
            hand_user("coda.admin@northwind.example", "Coda", "Admin"),
            hand_user("auditor@kpmg-partner.example", "External", "Auditor"),
            hand_user("former.intern@northwind.example", "Former", "Intern"),
        ],
        groups: vec![
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Coda Finance", "members": []}),
        ],
        keep_ids: false,
    };
    // Verified: the UPN domain, the legacy mail domain and the initial
    // domain; one added but never verified (UPNs on it are refused, as Graph does).
    t.domains = vec![
        Domain {
            is_default: true,
            ..Domain::verified("northwind.example")
        },
        Domain::verified("wingtip.example"),
        Domain::verified("northwind.onmicrosoft.example"),
        Domain {
            is_verified: false,
            ..Domain::verified("pending.northwind.example")
        },
    ];
    Seed {
        format: SEED_FORMAT.into(),
        run_jobs: vec![JobRef {
            service_principal_id: coda.id.clone(),
            job_id,
            link_only: false,
        }],
        tenant: t,
        clients: vec![],
        target,
    }
}

/// A large generated org: `users` users, `groups` groups (user i in group
/// i mod groups), every group assigned to a Coda gallery app with the same
/// job as the demo. No cycle runs at start (the target stays empty).
pub fn synthetic(users: usize, groups: usize) -> Seed {
    let mut ids = Ids(StdRng::seed_from_u64(
        0x5e_ed00 ^ users as u64 ^ ((groups as u64) << 32),
    ));
    let mut t = Tenant {
        tenant_id: ids.uuid(),
        ..Default::default()
    };
    let depts = [
        "Engineering",
        "Sales",
        "Marketing",
        "Finance",
        "HR",
        "Support",
        "Legal",
        "Operations",
        "Contractors",
    ];
    let group_ids: Vec<String> = (0..groups)
        .map(|j| format!("00000000-0000-4000-9000-{j:012x}"))
        .collect();
    let mut members: Vec<Vec<String>> = vec![Vec::with_capacity(users / groups.max(1) + 1); groups];
    for i in 0..users {
        let id = format!("00000000-0000-4000-8000-{i:012x}");
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len()) % LAST.len()];
        let upn = format!("user{i:07}@synthetic.example");
        let dept = depts[i % depts.len()];
        let u = dir_user(
            id.clone(),
            first,
            last,
            upn.clone(),
            upn,
            dept,
            "Staff",
            "Seattle",
        );
        if groups > 0 {
            members[i % groups].push(id.clone());
        }
        t.users.insert(id, u);
    }
    for (j, (gid, m)) in group_ids.iter().zip(members).enumerate() {
        t.groups.insert(
            gid.clone(),
            group(
                gid.clone(),
                &format!("Synthetic Group {j:05}"),
                "generated",
                false,
                m,
            ),
        );
    }
    let (coda, _job) = add_coda(&mut ids, &mut t);
    for g in &group_ids {
        assign(&mut ids, &mut t, &coda, g);
    }
    // `groups=0`: every user assigned directly (the assignment-remap benchmark).
    if groups == 0 {
        let users: Vec<String> = t.users.keys().cloned().collect();
        for u in &users {
            assign(&mut ids, &mut t, &coda, u);
        }
    }
    Seed {
        format: SEED_FORMAT.into(),
        tenant: t,
        clients: vec![],
        run_jobs: vec![],
        target: SeedTarget::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::schema::{GraphUserSource, Mappings};

    #[test]
    fn demo_is_deterministic_and_has_its_traps() {
        let a = demo();
        let b = demo();
        assert_eq!(a.tenant, b.tenant);
        let t = &a.tenant;
        assert_eq!(t.users.len(), 200);
        assert_eq!(t.groups.len(), 15);
        let coda = t
            .service_principals
            .values()
            .find(|s| s.display_name == "Coda")
            .unwrap();
        let sync = &t.synchronization[&coda.id];
        let job = sync.jobs.values().next().unwrap();
        assert!(
            job.id
                .starts_with(&format!("coda.{}.", t.tenant_id.replace('-', "")))
        );
        let m = Mappings::from_schema(&job.schema).unwrap();
        assert!(m.group.is_none(), "trap: gallery job pushes no groups");
        let um = m.user.unwrap();
        // Users the gallery job provisions: assigned (direct or direct group member) and in scope.
        let in_scope: Vec<&DirUser> = t
            .users_in_assignment_scope(&coda.id)
            .into_iter()
            .filter(|u| {
                let v = serde_json::to_value(u).unwrap();
                um.in_scope(&GraphUserSource {
                    user: &v,
                    soft_deleted: false,
                })
            })
            .collect();
        assert_eq!(in_scope.len(), 155);
        // Trap 1: exactly 12 in-scope users with mail != UPN.
        assert_eq!(
            in_scope
                .iter()
                .filter(|u| u.mail.as_deref() != Some(u.user_principal_name.as_str()))
                .count(),
            12
        );
        // Trap 3: nested group inside an assigned group, members not in scope.
        let eng = t
            .groups
            .values()
            .find(|g| g.display_name == "Coda Engineering")
            .unwrap();
        let guild = t
            .groups
            .values()
            .find(|g| g.display_name == "Platform Guild")
            .unwrap();
        assert!(eng.members.contains(&guild.id));
        assert!(
            guild
                .members
                .iter()
                .all(|m| !in_scope.iter().any(|u| &u.id == m))
        );
        // Trap 4: an assigned M365 group.
        let launch = t
            .groups
            .values()
            .find(|g| g.group_types == vec!["Unified".to_string()])
            .unwrap();
        assert!(
            t.assigned_groups(&coda.id)
                .iter()
                .any(|g| g.id == launch.id)
        );
        // Trap 6 and 7.
        assert!(
            in_scope
                .iter()
                .any(|u| u.user_principal_name == "siobhan.o'brien@northwind.example")
        );
        let contractors = t
            .users_in_assignment_scope(&coda.id)
            .iter()
            .filter(|u| u.department.as_deref() == Some("Contractors"))
            .count();
        assert_eq!(contractors, 12);
        // Traps 2 and 5 live in the target.
        assert_eq!(a.target.users.len(), 3);
        assert_eq!(a.target.groups[0]["displayName"], "Coda Finance");
        assert_eq!(sync.secrets["SyncAll"], "false");
        a.validate().unwrap();
    }

    #[test]
    fn debug_never_shows_secret_values() {
        let mut s = demo();
        for sync in s.tenant.synchronization.values_mut() {
            sync.secrets
                .insert("SecretToken".into(), "hunter2-token".into());
        }
        s.clients.push(ClientApp {
            client_id: "c".into(),
            client_secret: "hunter2-secret".into(),
            display_name: String::new(),
            roles: vec![],
        });
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn seed_spec_parsing() {
        assert!(matches!(SeedSpec::parse("demo").unwrap(), SeedSpec::Demo));
        assert!(matches!(
            SeedSpec::parse("synthetic:users=10,groups=2").unwrap(),
            SeedSpec::Synthetic {
                users: 10,
                groups: 2
            }
        ));
        assert!(matches!(
            SeedSpec::parse("snapshot:/tmp/s.json").unwrap(),
            SeedSpec::Snapshot(p) if p == Path::new("/tmp/s.json")
        ));
        assert!(SeedSpec::parse("snapshot:").is_err());
        assert!(SeedSpec::parse("synthetic:users=ten").is_err());
        assert!(SeedSpec::parse("synthetic:people=1").is_err());
        assert!(matches!(
            SeedSpec::parse("/tmp/x.json").unwrap(),
            SeedSpec::File(_)
        ));
    }

    #[test]
    fn seed_round_trips_through_json_and_bad_files_are_one_sentence() {
        let s = synthetic(50, 5);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seed.json");
        std::fs::write(&p, s.to_json()).unwrap();
        let back = Seed::load(&p).unwrap();
        assert_eq!(back.tenant, s.tenant);
        std::fs::write(&p, "{not json").unwrap();
        let e = Seed::load(&p).unwrap_err();
        assert!(e.message.contains("is not valid JSON"), "{}", e.message);
        std::fs::write(&p, r#"{"format":"other"}"#).unwrap();
        assert!(
            Seed::load(&p)
                .unwrap_err()
                .message
                .contains("is not a scimshift seed")
        );
        assert!(Seed::load(&dir.path().join("missing.json")).is_err());
    }
}
