//! Findings: what the migration would break or what the admin must know,
//! each with a severity, a stable code, one sentence and the objects it is
//! about. Computed from the snapshot, the prediction (`impact`) and the
//! custom schema; the planner (`build`) only collects them.

use super::custom_schema::CustomSchema;
use super::impact::Provisioned;
use super::impact::{self, Prediction};
use super::model::*;
use super::options::PlanOptions;
use super::profile::Profile;
use crate::snapshot::model::{GroupKind, GroupSnapshot, Snapshot};
use serde_json::Value;
use std::collections::HashMap;

/// Objects listed in one finding before "…and N more".
pub(super) const MAX_OBJECTS: usize = 200;

pub(super) struct Findings(pub(super) Vec<Finding>);

impl Findings {
    pub(super) fn add(
        &mut self,
        severity: Severity,
        code: &str,
        message: String,
        objects: Vec<ObjectRef>,
    ) {
        self.0.push(Finding {
            severity,
            code: code.into(),
            message,
            objects,
        });
    }
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// At most [`MAX_OBJECTS`] objects of `total`, built lazily, and the sentence tail saying how many more.
pub(super) fn cap<I: IntoIterator<Item = ObjectRef>>(
    total: usize,
    objects: I,
) -> (Vec<ObjectRef>, String) {
    let listed: Vec<ObjectRef> = objects.into_iter().take(MAX_OBJECTS).collect();
    if total > MAX_OBJECTS {
        (
            listed,
            format!(
                " (the first {MAX_OBJECTS} are listed; {} more in the impact table)",
                total - MAX_OBJECTS
            ),
        )
    } else {
        (listed, String::new())
    }
}

pub(super) fn expr_text(e: &crate::mapping::expr::Expr) -> String {
    use crate::mapping::expr::Expr;
    match e {
        Expr::Attr(a) => format!("[{a}]"),
        Expr::Lit(s) => format!("\"{s}\""),
        Expr::Empty => String::new(),
        Expr::Call(n, args) => format!(
            "{n}({})",
            args.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
        Expr::Compare(l, op, r) => format!("{}{}{}", expr_text(l), op.as_str(), expr_text(r)),
    }
}

/// `a (3), b (1)`: how often each kind occurs, most common first.
fn tally<'a>(kinds: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for k in kinds {
        match counts.iter_mut().find(|(x, _)| *x == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((k, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
        .iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn pred_count(p: &Prediction, a: UserAction) -> String {
    let n = p.impact.iter().filter(|u| u.action == a).count();
    plural(n, "user", "users")
}

pub(super) fn user_ref(u: &UserImpact) -> ObjectRef {
    ObjectRef::new("user", u.id(), u.user_principal_name())
}

pub(super) fn user_findings(
    snap: &Snapshot,
    pred: &Prediction,
    f: &mut Findings,
    cs: &CustomSchema,
    cu: &crate::mapping::schema::ObjectMapping,
) {
    let matching = cu
        .matching()
        .first()
        .map(|m| format!("{} ← {}", m.target, expr_text(&m.expr)))
        .unwrap_or_default();
    // Duplicates.
    let dups: Vec<&UserImpact> = pred.impact.iter().filter(|u| u.duplicate).collect();
    if !dups.is_empty() {
        let mut objs = Vec::new();
        for u in &dups {
            objs.push(user_ref(u));
            objs.push(ObjectRef::new(
                "targetUser",
                u.target_id().unwrap_or_default(),
                u.target_user_name().unwrap_or_default(),
            ));
        }
        // How the duplicates are tied to their target accounts, most common first.
        let how = tally(dups.iter().map(|u| {
            u.tie()
                .unwrap_or("an identifier")
                .split(" = ")
                .next()
                .unwrap_or_default()
        }));
        f.add(
            Severity::Error,
            "duplicate-on-create",
            format!(
                "{} would be created a second time: the custom app matches on {matching}, which finds nothing, while the target already holds an account tied to them by {how} (each user's `tie` in the impact says which; map the matching attribute as the gallery did, e.g. with copy_from_gallery, or fix the target's values first).",
                plural(dups.len(), "user", "users")
            ),
            objs,
        );
    }
    let fails: Vec<&UserImpact> = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Fail)
        .collect();
    if !fails.is_empty() {
        let how = tally(fails.iter().map(|u| {
            u.reason()
                .unwrap_or_default()
                .split(':')
                .next()
                .unwrap_or_default()
        }));
        let (objs, more) = cap(fails.len(), fails.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Error,
            "user-create-fails",
            format!(
                "{} in scope cannot be provisioned by the first cycle and will be escrowed: {how} (each user's `reason` in the impact says why; fix their data or the mappings before cutover){more}.",
                plural(fails.len(), "user", "users")
            ),
            objs,
        );
    }
    let creates: Vec<&UserImpact> = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Create && !u.duplicate)
        .collect();
    if !creates.is_empty() {
        let (objs, more) = cap(creates.len(), creates.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Info,
            "user-created",
            format!(
                "{} not in the target yet will be created by the first cycle{more}.",
                plural(creates.len(), "user", "users")
            ),
            objs,
        );
    }
    let matched = pred
        .impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .count();
    f.add(
        Severity::Info,
        "user-matched",
        format!("{} will be matched to the target user the gallery app provisioned (on {matching}) and updated, never created again.", plural(matched, "user", "users")),
        vec![],
    );
    // The trap a custom app with default mappings falls into.
    let upn_matching = cu.matching().first().is_some_and(|m| {
        m.target.eq_ignore_ascii_case("userName")
            && m.expr
                .attributes()
                .iter()
                .any(|a| a.eq_ignore_ascii_case("userPrincipalName"))
    });
    if !upn_matching && !pred.default_mapping_misses.is_empty() {
        let tu = snap.target.as_ref().map(|t| &t.users[..]).unwrap_or(&[]);
        let mut objs = Vec::new();
        for &(ui, ti) in &pred.default_mapping_misses {
            objs.push(user_ref(&pred.impact[ui]));
            if let Some(ti) = ti {
                objs.push(ObjectRef::new(
                    "targetUser",
                    tu[ti].get("id").and_then(Value::as_str).unwrap_or_default(),
                    tu[ti]
                        .get("userName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ));
            }
        }
        let n = pred.default_mapping_misses.len();
        f.add(
            Severity::Warning,
            "default-mapping-would-duplicate",
            format!(
                "{} a userName {} that is not their UPN (the gallery maps userName ← {}): a custom app with Entra's default mapping (userName ← userPrincipalName) would create {} again; this plan keeps the gallery's mapping, so {} — do not change it by hand.",
                plural(n, "user has", "users have"),
                if pred.assumed_without_target { "from the gallery job" } else { "in the target" },
                matching.split(" ← ").nth(1).unwrap_or("?"),
                if n == 1 { "them" } else { "them all" },
                if pred.assumed_without_target {
                    "they will be matched as the gallery wrote them"
                } else {
                    "they are matched"
                },
            ),
            objs,
        );
    }
    for (ui, hits) in &pred.ambiguous {
        let u = &pred.impact[*ui];
        let mut objs = vec![user_ref(u)];
        let tu = &snap.target.as_ref().map(|t| &t.users[..]).unwrap_or(&[]);
        for &h in hits {
            objs.push(ObjectRef::new(
                "targetUser",
                tu[h].get("id").and_then(Value::as_str).unwrap_or_default(),
                tu[h]
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ));
        }
        f.add(
            Severity::Error,
            "ambiguous-match",
            format!(
                "{} matches {} target users on {}: Entra stops with DuplicateTargetEntries.",
                u.user_principal_name(),
                hits.len(),
                u.matched_on().unwrap_or_default()
            ),
            objs,
        );
    }
    // Orphans.
    if let Some(t) = &snap.target
        && !pred.orphans.is_empty()
    {
        let (objs, more) = cap(
            pred.orphans.len(),
            pred.orphans.iter().map(|&i| {
                ObjectRef::new(
                    "targetUser",
                    t.users[i]
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    t.users[i]
                        .get("userName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
            }),
        );
        f.add(
            Severity::Warning,
            "orphan-target-user",
            format!(
                "{} in the target {} not assigned to any Entra user: neither app will update or deactivate them; review them by hand{more}.",
                plural(pred.orphans.len(), "user", "users"),
                if pred.orphans.len() == 1 { "is" } else { "are" }
            ),
            objs,
        );
    }
    // Gallery deactivation on unassignment.
    if !pred.gallery_would_deactivate.is_empty() {
        let (objs, more) = cap(
            pred.gallery_would_deactivate.len(),
            pred.gallery_would_deactivate
                .iter()
                .map(|&i| user_ref(&pred.impact[i])),
        );
        f.add(
            Severity::Warning,
            "gallery-would-deactivate",
            format!(
                "If the gallery app's assignments were removed while its job runs, it would deactivate {} in the target{}; the plan pauses the gallery job first and removes no assignment{more}.",
                plural(pred.gallery_would_deactivate.len(), "user", "users"),
                if pred.assumed_without_target { " (every user in its scope: the snapshot holds no target contents)" } else { "" }
            ),
            objs,
        );
    }
    // userNames needing filter quoting: the userName the custom job sends, the
    // target userName it matches, and the UPN/mail it is looked up by.
    let quoted: Vec<(&UserImpact, String)> = pred
        .impact
        .iter()
        .filter_map(|u| {
            [
                u.user_name(),
                u.target_user_name(),
                Some(u.user_principal_name()),
                u.mail(),
            ]
            .into_iter()
            .flatten()
            .find(|v| impact::needs_quoting(v))
            .map(|v| (u, v.to_string()))
        })
        .collect();
    if !quoted.is_empty() {
        f.add(
            Severity::Warning,
            "username-needs-quoting",
            format!(
                "{} a userName or UPN with an apostrophe, quote or backslash ({}): every filter on it must escape it (SCIM `\\\"`, Graph `''`); include one of them in the pilot.",
                plural(quoted.len(), "user has", "users have"),
                quoted.iter().take(3).map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", ")
            ),
            quoted.iter().map(|(u, v)| ObjectRef::new("user", u.id(), v)).collect(),
        );
    }
    // Scoping filter carried over.
    if cs.scope_carried {
        let text = crate::mapping::schema::describe_scope(&cu.scope);
        let (objs, more) = cap(
            pred.out_of_scope.len(),
            pred.out_of_scope.iter().map(|&i| user_ref(&pred.impact[i])),
        );
        f.add(
            Severity::Info,
            "scoping-filter-carried",
            format!(
                "The gallery job's scoping filter ({text}) is carried over to the custom job; it keeps {} out of scope{more}.",
                plural(pred.out_of_scope.len(), "assigned user", "assigned users")
            ),
            objs,
        );
    }
    let disabled: Vec<&UserImpact> = pred
        .impact
        .iter()
        .filter(|u| u.reason() == Some("disabled"))
        .collect();
    if !disabled.is_empty() {
        let (objs, more) = cap(disabled.len(), disabled.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Info,
            "disabled-user",
            format!(
                "{} disabled in Entra and will not be created{more}.",
                plural(disabled.len(), "assigned user is", "assigned users are")
            ),
            objs,
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn group_findings(
    snap: &Snapshot,
    groups: &[&GroupSnapshot],
    by_id: &HashMap<&str, &GroupSnapshot>,
    pred: &Prediction,
    profile: &Profile,
    pushed_name: &dyn Fn(&GroupSnapshot) -> String,
    f: &mut Findings,
) {
    let _ = by_id;
    let users_by_id: HashMap<&str, &UserImpact> = pred.impact.iter().map(|u| (u.id(), u)).collect();
    for g in groups {
        let nested: Vec<_> = g.members.iter().filter(|m| m.kind() == "group").collect();
        if nested.is_empty() {
            continue;
        }
        let mut objs = vec![ObjectRef::new("group", &g.id, &g.display_name)];
        for n in &nested {
            objs.push(ObjectRef::new(
                "group",
                n.id(),
                n.display_name().unwrap_or_default(),
            ));
        }
        // `nested:<id>` may name the nested group or the assigned group it sits in.
        let mut nested_ids: Vec<String> = nested
            .iter()
            .map(|n| format!("nested:{}", n.id()))
            .collect();
        nested_ids.push(format!("nested:{}", g.id));
        let lost: Vec<&UserImpact> = snap
            .users
            .iter()
            .filter(|u| u.via.iter().any(|v| nested_ids.iter().any(|n| v == n)))
            .filter_map(|u| users_by_id.get(u.id.as_str()).copied())
            .filter(|u| u.reason() == Some("nested-only"))
            .collect();
        objs.extend(lost.iter().map(|u| user_ref(u)));
        f.add(
            Severity::Warning,
            "nested-group",
            format!(
                "Assigned group \"{}\" contains nested group{} {}: Entra does not provision members of nested groups, so {} only through {} will not be provisioned (assign the nested group itself, or flatten it).",
                g.display_name,
                if nested.len() == 1 { "" } else { "s" },
                nested.iter().map(|n| format!("\"{}\"", n.display_name().unwrap_or(n.id()))).collect::<Vec<_>>().join(", "),
                plural(lost.len(), "user who reaches the app", "users who reach the app"),
                if nested.len() == 1 { "it" } else { "them" }
            ),
            objs,
        );
    }
    let provisioned = Provisioned::new(snap, &pred.impact);
    for g in groups.iter().filter(|g| g.kind == GroupKind::Microsoft365) {
        let members = provisioned.members_of(g).count();
        let (sev, what) = if profile.m365_group_members_sync {
            (
                Severity::Info,
                format!(
                    "its {} are provisioned as users and its membership is pushed; check that {} supports it",
                    plural(members, "member", "members"),
                    profile.display_name
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "{} cannot sync members of Microsoft 365 groups, so its {} are provisioned as users but their membership of it will not reach {} (use a security group for sharing)",
                    profile.display_name,
                    plural(members, "member", "members"),
                    profile.display_name
                ),
            )
        };
        f.add(
            sev,
            "m365-group",
            format!(
                "Assigned group \"{}\" is a Microsoft 365 group: {what}.",
                g.display_name
            ),
            vec![ObjectRef::new("group", &g.id, &g.display_name)],
        );
    }
    if let Some(t) = &snap.target {
        let mut by_name: HashMap<String, Vec<&Value>> = HashMap::new();
        for tg in &t.groups {
            if let Some(n) = tg.get("displayName").and_then(Value::as_str) {
                by_name.entry(n.to_lowercase()).or_default().push(tg);
            }
        }
        for g in groups {
            let name = pushed_name(g);
            if let Some(hits) = by_name.get(&name.to_lowercase()) {
                let mut objs = vec![ObjectRef::new("group", &g.id, &g.display_name)];
                for tg in hits {
                    objs.push(ObjectRef::new(
                        "targetGroup",
                        tg.get("id").and_then(Value::as_str).unwrap_or_default(),
                        tg.get("displayName")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ));
                }
                let external = hits
                    .iter()
                    .any(|tg| tg.get("externalId").and_then(Value::as_str) == Some(g.id.as_str()));
                f.add(
                    if external { Severity::Info } else { Severity::Warning },
                    "target-group-name-collision",
                    format!(
                        "The target already has a group named \"{name}\"{}: the custom job matches groups on displayName, takes it over and replaces its members with those of Entra group \"{}\" (rename with --group-map to keep them apart).",
                        if external { " pushed earlier from this Entra group" } else { " that Entra did not create" },
                        g.display_name
                    ),
                    objs,
                );
            }
        }
    }
    let group_assignments: Vec<&crate::snapshot::model::Assignment> = snap
        .app
        .assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .collect();
    if !group_assignments.is_empty() {
        f.add(
            Severity::Info,
            "group-assignment-licence",
            format!(
                "{} assigned to the app: assigning groups to the custom app needs Entra ID P1 or P2.",
                plural(group_assignments.len(), "group is", "groups are")
            ),
            group_assignments
                .iter()
                .map(|a| ObjectRef::new("group", &a.principal_id, a.principal_display_name.clone().unwrap_or_default()))
                .collect(),
        );
    }
}

pub(super) fn setting_findings(
    snap: &Snapshot,
    profile: &Profile,
    opts: &PlanOptions,
    setting: &dyn Fn(&str) -> Option<String>,
    f: &mut Findings,
    scope_all: bool,
) {
    let app = &snap.app;
    let sp = ObjectRef::new("app", &app.service_principal_id, &app.display_name);
    if !opts.profile_detected {
        f.add(
            Severity::Warning,
            "generic-profile",
            format!("No app profile recognises \"{}\": the generic-scim profile is used (pass --profile to choose one).", app.display_name),
            vec![sp.clone()],
        );
    }
    if profile.one_token_at_a_time {
        f.add(
            Severity::Warning,
            "one-token-at-a-time",
            format!(
                "{} allows one SCIM token at a time: generating a new token breaks the gallery app at once, so give the custom app the gallery app's token, or generate a new one only at cutover.",
                profile.display_name
            ),
            vec![sp.clone()],
        );
    }
    match setting("BaseAddress") {
        None => f.add(
            Severity::Warning,
            "base-url-missing",
            format!("The snapshot has no BaseAddress for the gallery app; give the SCIM base URL at apply ({}).", profile.scim_base_url),
            vec![sp.clone()],
        ),
        Some(b) => {
            if let Some(re) = profile.scim_base_url_match.as_deref().and_then(|r| regex::Regex::new(r).ok()) && !re.is_match(&b) {
                f.add(
                    Severity::Warning,
                    "base-url-unexpected",
                    format!("The gallery app's BaseAddress {b} does not look like a {} SCIM URL ({}).", profile.display_name, profile.scim_base_url),
                    vec![sp.clone()],
                );
            }
            if !profile.scim_base_url_verified {
                f.add(
                    Severity::Info,
                    "base-url-unverified",
                    format!(
                        "The custom app reuses the gallery app's BaseAddress {b}; the profile's pattern {} is not confirmed by a public source, so check it against {}'s admin console.",
                        profile.scim_base_url, profile.display_name
                    ),
                    vec![sp.clone()],
                );
            }
        }
    }
    if opts.keep_gallery_sso {
        f.add(
            Severity::Info,
            "gallery-sso-kept",
            format!("SAML SSO stays on the gallery app \"{}\"; only its provisioning job is paused, never deleted.", app.display_name),
            vec![sp.clone()],
        );
    } else {
        f.add(
            Severity::Warning,
            "gallery-sso-not-kept",
            format!(
                "--keep-gallery-sso=false: move SAML SSO to the custom app by hand after verify; this plan does not delete the gallery app \"{}\".",
                app.display_name
            ),
            vec![sp.clone()],
        );
    }
    if scope_all {
        f.add(
            Severity::Warning,
            "sync-all",
            "--scope all: the custom job provisions every user in the directory, not only assigned ones.".into(),
            vec![],
        );
    }
    if setting("SyncAll").is_some_and(|v| v.eq_ignore_ascii_case("true")) && !scope_all {
        f.add(
            Severity::Warning,
            "gallery-sync-all",
            "The gallery job syncs all users (SyncAll=true) but the custom app will sync only assigned ones: users not assigned will not be provisioned by it.".into(),
            vec![sp.clone()],
        );
    }
    if snap.target.is_none() {
        f.add(
            Severity::Warning,
            "no-target-snapshot",
            "The snapshot holds no target contents (take it with --scim-url): matches, duplicates and orphans cannot be predicted, every user shows as a create.".into(),
            vec![],
        );
    }
    if app.jobs.len() > 1 {
        f.add(
            Severity::Info,
            "multiple-jobs",
            format!(
                "The gallery app has {} provisioning jobs; the plan migrates the first one.",
                app.jobs.len()
            ),
            app.jobs
                .iter()
                .map(|j| ObjectRef::new("job", &j.id, &j.template_id))
                .collect(),
        );
    }
    if !profile.notes.trim().is_empty() {
        f.add(
            Severity::Info,
            "profile-notes",
            profile.notes.trim().replace('\n', " "),
            vec![],
        );
    }
}

/// Attributes the jobs' user mappings read that the snapshot cannot give:
/// a Graph property the capture did not `$select`, a name that is no Graph
/// user property, or a reference (`manager`) used for matching or scope.
/// Such an attribute reads as empty for every user, so a prediction that
/// depends on it (matching, scope) is an error; one that only feeds a mapped
/// value is a warning (the first cycle's updates are predicted without it).
pub(super) fn capture_findings(snap: &Snapshot, schemas: &[(&str, &Value)], f: &mut Findings) {
    use crate::mapping::graph_user::{Location, Use, locate, user_reads};
    let mut seen = std::collections::HashSet::new();
    for (job, schema) in schemas {
        for (name, how) in user_reads(schema) {
            if !seen.insert(name.to_ascii_lowercase()) {
                continue;
            }
            let severity = if how == Use::Value {
                Severity::Warning
            } else {
                Severity::Error
            };
            let consequence = if how == Use::Value {
                "the value it feeds is predicted as if it were empty"
            } else {
                "every user would be predicted as if it were empty, so matches, creates and duplicates could be wrong"
            };
            let message = match locate(&name) {
                Location::Computed => continue,
                Location::Reference if how == Use::Value => continue,
                Location::Reference => format!(
                    "{job}'s {} reads `{name}`, a reference the provisioning service resolves itself, which no snapshot can predict; {consequence}: match and scope on a user property instead.",
                    how.as_str()
                ),
                Location::Unknown => format!(
                    "{job}'s {} reads `{name}`, which is no Microsoft Graph user property or directory extension scimshift can read; {consequence}: check the name in the mapping.",
                    how.as_str()
                ),
                loc => {
                    let property = loc.property().unwrap_or_default();
                    if snap.source.read_user_property(property) {
                        continue;
                    }
                    format!(
                        "{job}'s {} reads `{name}` (Graph `{property}`), which this snapshot did not read; {consequence}: capture the snapshot again with `scimshift snapshot --user-property {property}`.",
                        how.as_str()
                    )
                }
            };
            f.add(
                severity,
                if how == Use::Value {
                    "attribute-not-captured-value"
                } else {
                    "attribute-not-captured"
                },
                message,
                Vec::new(),
            );
        }
    }
}

/// The group predictions (create, adopt, fail by name) assume the custom job
/// pushes each group under the name [`Groups::pushed_name`] gives (its Entra
/// displayName after `--group-map`) and matches target groups on that name.
/// Checked by running the custom group mapping itself on each pushed group:
/// a `displayName` expression that computes another name, reads an attribute
/// the snapshot does not hold for groups (only `displayName` and `objectId`),
/// or a group matching attribute other than `displayName`, makes the group
/// predictions unreliable: an error naming the groups.
pub(super) fn group_name_findings(
    groups: &[&GroupSnapshot],
    mapping: Option<&crate::mapping::schema::ObjectMapping>,
    pushed_name: &dyn Fn(&GroupSnapshot) -> String,
    f: &mut Findings,
) {
    use crate::mapping::expr::Source;
    struct GroupSource<'a> {
        g: &'a GroupSnapshot,
        unread: std::cell::RefCell<Vec<String>>,
    }
    impl Source for GroupSource<'_> {
        fn get(&self, name: &str) -> Option<String> {
            if name.eq_ignore_ascii_case("displayName") {
                Some(self.g.display_name.clone())
            } else if name.eq_ignore_ascii_case("objectId") {
                Some(self.g.id.clone())
            } else {
                self.unread.borrow_mut().push(name.to_string());
                None
            }
        }
    }
    let Some(m) = mapping.filter(|m| m.enabled) else {
        return;
    };
    if let Some(first) = m.matching().first()
        && !first.target.eq_ignore_ascii_case("displayName")
    {
        f.add(
            Severity::Error,
            "group-matching-not-predicted",
            format!(
                "The custom job matches groups on {} ← {}, but scimshift predicts group matches by displayName only, so which target groups it adopts or creates is not predicted: match groups on displayName (as the profiles and Entra's default do).",
                first.target,
                expr_text(&first.expr)
            ),
            Vec::new(),
        );
    }
    let Some(dn) = m.attribute("displayName") else {
        return;
    };
    let mut wrong = Vec::new();
    let mut unread = std::collections::BTreeSet::new();
    for g in groups {
        let src = GroupSource {
            g,
            unread: Default::default(),
        };
        let got = dn.expr.eval(&src).ok().flatten();
        unread.extend(src.unread.into_inner());
        if got.as_deref() != Some(pushed_name(g).as_str()) {
            wrong.push(ObjectRef::new("group", &g.id, &g.display_name));
        }
    }
    if wrong.is_empty() {
        return;
    }
    let n = wrong.len();
    let (objs, more) = cap(n, wrong);
    let reads = if unread.is_empty() {
        String::new()
    } else {
        format!(
            " (it reads {}, which the snapshot does not hold for groups)",
            unread.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    f.add(
        Severity::Error,
        "group-name-not-predicted",
        format!(
            "The custom job's group displayName ← {}{reads} pushes {} under another name than the plan predicts (the Entra displayName, after --group-map), so their create/adopt predictions could be wrong{more}: map displayName from [displayName] and rename with --group-map.",
            expr_text(&dn.expr),
            plural(n, "group", "groups")
        ),
        objs,
    );
}
