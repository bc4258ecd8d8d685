//! The plan as executable data (`scimshift.plan/v2`): every placeholder is
//! bound before it is needed, for the demo plan and for plans from every
//! built-in profile; the binding check fails on an unbound one; done-checks
//! evaluate to what an executor must conclude (a fresh job's steady-state
//! time does not count); the digest refuses edited plans; v1 plans get one
//! sentence.

use super::model::*;
use super::placeholder::{self, Bound};
use super::probe::{self, Probe};
use super::testkit;
use super::*;
use serde_json::{Value, json};
use std::path::Path;

fn demo_fixture() -> crate::snapshot::model::Snapshot {
    crate::snapshot::model::Snapshot::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/demo-snapshot.json"),
    )
    .unwrap()
}

/// The plan `scimshift demo` makes (Coda on the twin's demo tenant), with a pilot group.
fn demo_plan() -> Plan {
    let snap = demo_fixture();
    let (profile, _) = choose_profile(&snap, Some("coda")).unwrap();
    let pilot = snap.groups[0].display_name.clone();
    let opts = PlanOptions {
        pilot_group: Some(pilot),
        ..Default::default()
    };
    build(&snap, &profile, &opts).unwrap()
}

/// Plans from every built-in profile, on the demo-like snapshot, with and
/// without a pilot, with `--scope all`, and without a BaseAddress (so the
/// `{scimBaseUrl}` input is used).
fn profile_plans() -> Vec<(String, Plan)> {
    let mut out = Vec::new();
    let names: Vec<&str> = profile::BUILTIN.iter().map(|(n, _)| *n).collect();
    for want in ["coda", "code42", "cinode", "generic-scim"] {
        assert!(names.contains(&want), "built-in profiles: {names:?}");
    }
    let mut no_base = testkit::demo_like();
    no_base
        .app
        .settings
        .retain(|kv| !kv.key.eq_ignore_ascii_case("BaseAddress"));
    no_base.seal();
    for name in names {
        let profile = Profile::builtin(name).unwrap();
        let variants = [
            ("default", PlanOptions::default()),
            (
                "pilot",
                PlanOptions {
                    pilot_group: Some("Engineering".into()),
                    ..Default::default()
                },
            ),
            (
                "all",
                PlanOptions {
                    scope: Scope::All,
                    ..Default::default()
                },
            ),
        ];
        for (v, opts) in variants {
            let p = build(&testkit::demo_like(), &profile, &opts).unwrap();
            out.push((format!("{name}/{v}"), p));
        }
        let p = build(&no_base, &profile, &PlanOptions::default()).unwrap();
        out.push((format!("{name}/no-base-address"), p));
    }
    out
}

/// Every placeholder used anywhere in a plan's requests, done-checks and undos.
fn uses(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    let mut req = |r: &Request| {
        out.extend(placeholder::names_in(&r.url).into_iter().map(String::from));
        if let Some(b) = &r.body {
            let mut v = Vec::new();
            placeholder::names_in_value(b, &mut v);
            out.extend(v.into_iter().map(String::from));
        }
    };
    for s in &plan.steps {
        s.requests.iter().for_each(&mut req);
        req(&s.done_when.request);
        s.undo.requests.iter().for_each(&mut req);
    }
    out
}

#[test]
fn every_placeholder_is_bound_in_the_demo_plan_and_every_profile() {
    let mut plans = vec![("demo".to_string(), demo_plan())];
    plans.extend(profile_plans());
    for (name, plan) in &plans {
        let problems = placeholder::check(plan);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        // Not vacuous: the plan does use the ids apply learns from responses.
        let used = uses(plan);
        for must in [
            "customSpId",
            "customAppId",
            "customJobId",
            "customSchemaId",
            "schemaBeforeApply",
            "customAppRole:User",
            "secret:scimToken",
        ] {
            assert!(used.iter().any(|u| u == must), "{name} uses {must}");
        }
        assert!(
            used.iter().any(|u| u.starts_with("customDirectoryId:")),
            "{name}"
        );
        assert!(
            used.iter().any(|u| u.starts_with("assignmentId:")),
            "{name}"
        );
        let wait = step(plan, "wait-steady-state");
        assert_eq!(
            wait.done_when.expect[0].value,
            Some(json!("{customJobStartedAt}")),
            "{name}"
        );
    }
    let no_base = &plans
        .iter()
        .find(|(n, _)| n == "coda/no-base-address")
        .unwrap()
        .1;
    assert!(uses(no_base).iter().any(|u| u == "scimBaseUrl"));
    let pilot = &plans.iter().find(|(n, _)| n == "coda/pilot").unwrap().1;
    assert!(
        uses(pilot)
            .iter()
            .any(|u| u == "customRuleId:USER_OUTBOUND_USER")
    );
}

fn step<'a>(p: &'a Plan, id: &str) -> &'a Step {
    p.steps.iter().find(|s| s.id == id).unwrap()
}

fn step_mut<'a>(p: &'a mut Plan, id: &str) -> &'a mut Step {
    p.steps.iter_mut().find(|s| s.id == id).unwrap()
}

#[test]
fn an_unbound_placeholder_fails_the_check() {
    // Nothing binds the start time: the steady-state wait has no value to compare with.
    let mut p = demo_plan();
    let start = step_mut(&mut p, "start-custom-job");
    start.requests[0].binds.clear();
    start.done_when.request.binds.clear();
    let problems = placeholder::check(&p);
    assert!(
        problems.iter().any(|m| m.contains("`wait-steady-state`")
            && m.contains("{customJobStartedAt}")
            && m.contains("no earlier step binds")),
        "{problems:#?}"
    );

    // A name bound only by a step's requests: a resumed apply that finds the step done has none.
    let mut p = demo_plan();
    step_mut(&mut p, "create-app")
        .done_when
        .request
        .binds
        .clear();
    let problems = placeholder::check(&p);
    assert!(
        problems
            .iter()
            .any(|m| m.contains("{customSpId}") && m.contains("binds only from its requests")),
        "{problems:#?}"
    );

    // Used before the step that binds it.
    let mut p = demo_plan();
    step_mut(&mut p, "create-app").requests.push(Request::get(
        "/servicePrincipals/{customSpId}/synchronization/jobs/{customJobId}",
    ));
    let problems = placeholder::check(&p);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("`create-app` request 2 uses {customJobId}"));

    // A done-check may not use what its own step's requests bind (it runs before them too).
    let mut p = demo_plan();
    step_mut(&mut p, "put-schema").done_when.request.url = "/x/{schemaBeforeApply}".into();
    assert!(!placeholder::check(&p).is_empty());

    // Binding an input is refused.
    let mut p = demo_plan();
    step_mut(&mut p, "create-app").requests[0]
        .binds
        .push(Bind::pointer("secret:scimToken", "/x"));
    assert!(
        placeholder::check(&p)
            .iter()
            .any(|m| m.contains("binds `secret:scimToken`"))
    );
}

/// A job as Graph returns it right after `POST …/jobs`: never run, but with
/// Entra's placeholder steady-state time (`0001-01-01T00:00:00Z`).
fn fresh_job() -> Value {
    json!({"id": "scim.1", "templateId": "scim",
        "schedule": {"state": "Disabled", "interval": "PT40M"},
        "status": {"code": "NotRun", "lastExecution": null, "quarantine": null,
            "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z"}})
}

#[test]
fn wait_steady_state_needs_a_steady_state_after_the_start() {
    let p = demo_plan();
    let wait = &step(&p, "wait-steady-state").done_when;
    let mut bound = Bound::new();
    // As start-custom-job binds it: the server's Date header.
    bound.insert(
        "customJobStartedAt".into(),
        json!("Tue, 01 Dec 2026 22:57:35 GMT"),
    );
    let check = |job: &Value, bound: &Bound| probe::all_hold(&wait.expect, 200, job, bound);

    // Started and active, but still the fresh job's steady-state time: not done.
    let mut job = fresh_job();
    job["status"]["code"] = json!("Active");
    job["schedule"]["state"] = json!("Active");
    assert!(
        !check(&job, &bound),
        "a fresh job's 0001-01-01 must not count"
    );
    // A steady state from before the start (an earlier run) does not count either.
    job["status"]["steadyStateLastAchievedTime"] = json!("2026-12-01T22:40:00Z");
    assert!(!check(&job, &bound));
    // Reached after the start, but by a cycle that saw none of the
    // assignments yet (Entra's assignment lag): not done.
    job["status"]["steadyStateLastAchievedTime"] = json!("2026-12-01T23:05:12.3456789Z");
    let expected = p
        .impact
        .iter()
        .filter(|u| matches!(u.action, UserAction::Match | UserAction::Create))
        .count();
    job["status"]["synchronizedEntryCountByType"] = json!([{"key": "User to User", "value": 0}]);
    assert!(
        !check(&job, &bound),
        "a steady state with nobody synchronized"
    );
    job["status"]["synchronizedEntryCountByType"] =
        json!([{"key": "User to User", "value": expected - 1}]);
    assert!(!check(&job, &bound));
    // Every user the plan provisions in sync: done.
    job["status"]["synchronizedEntryCountByType"] = json!([
        {"key": "User to User", "value": expected},
        {"key": "Group to Group", "value": 4}
    ]);
    assert!(check(&job, &bound));
    // ... unless quarantined.
    job["status"]["quarantine"] = json!({"reason": "EncounteredQuarantineException"});
    assert!(!check(&job, &bound));
    job["status"]["quarantine"] = Value::Null;
    // Without the start time bound the check cannot hold.
    assert!(!check(&job, &Bound::new()));
    // The bare "exists" check of v1 would have passed on the fresh job.
    let v1 = Expect::at(
        "/status/steadyStateLastAchievedTime",
        ExpectOp::Exists,
        None,
    );
    assert!(probe::holds(&v1, 200, &fresh_job(), &bound));
}

#[test]
fn done_checks_hold_on_what_their_step_writes() {
    let p = demo_plan();
    let step = |id: &str| step(&p, id);
    let mut bound = Bound::new();
    for (k, v) in [
        ("customSpId", "sp-1"),
        ("customJobId", "scim.1"),
        ("customSchemaId", "schema-1"),
        ("secret:scimToken", "tok"),
    ] {
        bound.insert(k.into(), json!(v));
    }
    // put-schema: the schema it PUTs (ids filled from the default schema) satisfies its done-check.
    let s = step("put-schema");
    let mut names = Vec::new();
    placeholder::names_in_value(s.requests[1].body.as_ref().unwrap(), &mut names);
    for n in names {
        bound
            .entry(n.to_string())
            .or_insert(json!(format!("id-of-{n}")));
    }
    let put = placeholder::fill(s.requests[1].body.as_ref().unwrap(), &bound).unwrap();
    assert!(probe::all_hold(&s.done_when.expect, 200, &put, &bound));
    // ... and the gallery's own schema (other matching, no group push) does not.
    let gallery = &demo_fixture().app.jobs[0].schema;
    assert!(!probe::all_hold(&s.done_when.expect, 200, gallery, &bound));

    // write-secrets: Graph lists the keys written, without the token's value.
    let s = step("write-secrets");
    let written = placeholder::fill(s.requests[1].body.as_ref().unwrap(), &bound).unwrap();
    let mut listed = written.clone();
    for kv in listed["value"].as_array_mut().unwrap() {
        if kv["key"] == "SecretToken" {
            kv.as_object_mut().unwrap().remove("value");
        }
    }
    assert!(probe::all_hold(&s.done_when.expect, 200, &listed, &bound));
    listed["value"][0]["value"] = json!("https://elsewhere.example/scim");
    assert!(!probe::all_hold(&s.done_when.expect, 200, &listed, &bound));

    // assignments: done when every principal is listed.
    let s = step("assignments");
    let principals = s.done_when.expect[0].value.clone().unwrap();
    let all: Vec<Value> = principals
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"id": "a", "principalId": p}))
        .collect();
    assert!(probe::all_hold(
        &s.done_when.expect,
        200,
        &json!({"value": all}),
        &bound
    ));
    let missing = json!({"value": all[1..]});
    assert!(!probe::all_hold(&s.done_when.expect, 200, &missing, &bound));

    // verify: a userName twice (case-insensitive) fails it.
    let s = step("verify");
    let want = s.done_when.expect[0]
        .value
        .clone()
        .unwrap()
        .as_u64()
        .unwrap();
    let users: Vec<Value> = (0..want)
        .map(|i| json!({"id": i.to_string(), "userName": format!("u{i}@x.example")}))
        .collect();
    let mut body = json!({"totalResults": want, "Resources": users});
    assert!(probe::all_hold(&s.done_when.expect, 200, &body, &bound));
    body["Resources"][1]["userName"] = json!("U0@x.example");
    assert!(!probe::all_hold(&s.done_when.expect, 200, &body, &bound));
    assert!(Probe::DuplicateUserNames.paged() && !Probe::UserMatching.paged());
}

#[test]
fn binds_read_responses_by_pointer_and_by_id() {
    let p = demo_plan();
    let s = step(&p, "assignments");
    // $batch answers come in any order: ids pair them, not positions.
    let batch = &s.requests[1];
    let answer = json!({"responses": [
        {"id": "2", "status": 201, "body": {"id": "asg-2"}},
        {"id": "1", "status": 201, "body": {"id": "asg-1"}},
    ]});
    let first = &batch.binds[0];
    let BindFrom::Select(sel) = &first.from else {
        panic!("{first:?}")
    };
    assert_eq!(sel.resolve(&answer), Some(&json!("asg-1")));
    assert!(first.name.starts_with("assignmentId:"));
    // The role read binds the custom app's User role by display name (its value is null).
    let roles = &s.requests[0];
    let user = roles
        .binds
        .iter()
        .find(|b| b.name == "customAppRole:User")
        .unwrap();
    let BindFrom::Select(sel) = &user.from else {
        panic!("{user:?}")
    };
    let sp = json!({"appRoles": [
        {"id": "r-msiam", "displayName": "msiam_access", "value": null},
        {"id": "r-user", "displayName": "User", "value": null}]});
    assert_eq!(sel.resolve(&sp), Some(&json!("r-user")));
}

#[test]
fn ids_and_role_values_holding_braces_stay_one_placeholder() {
    // Graph allows `{`, `}` and `%` in an app role's value; a hostile
    // snapshot may put them in a principal id. Each stays one placeholder
    // (its argument encoded) whose value apply binds and fills back.
    let mut snap = demo_fixture();
    let odd_id = "0820f94a-6675-}4f9d-{x}-%7B";
    let odd_role = "Admin {beta} 100%";
    snap.app
        .app_roles
        .push(json!({"id": "r-odd", "allowedMemberTypes": ["User"],
        "displayName": "Odd", "isEnabled": true, "value": odd_role}));
    snap.app.assignments[0].principal_id = odd_id.into();
    snap.app.assignments[0].app_role_id = "r-odd".into();
    snap.seal();
    let (profile, _) = choose_profile(&snap, Some("coda")).unwrap();
    let plan = build(&snap, &profile, &PlanOptions::default()).unwrap();
    assert_eq!(placeholder::check(&plan), Vec::<String>::new());
    let s = step(&plan, "assignments");
    let role_bind = s.requests[0]
        .binds
        .iter()
        .find(|b| b.name == placeholder::named("customAppRole", odd_role))
        .unwrap();
    let BindFrom::Select(sel) = &role_bind.from else {
        panic!("{role_bind:?}")
    };
    let sp = json!({"appRoles": [{"id": "r-new", "displayName": "Odd", "value": odd_role}]});
    assert_eq!(sel.resolve(&sp), Some(&json!("r-new")));
    let mut bound = Bound::new();
    bound.insert("customSpId".into(), json!("sp-1"));
    bound.insert(placeholder::named("assignmentId", odd_id), json!("asg-1"));
    bound.insert(
        placeholder::named("customAppRole", odd_role),
        json!("r-new"),
    );
    let post = &s.requests[1].body.as_ref().unwrap()["requests"][0];
    assert_eq!(post["body"]["principalId"], json!(odd_id));
    let filled = placeholder::fill(post, &bound).unwrap();
    assert_eq!(filled["body"]["appRoleId"], json!("r-new"));
    let undo = &s.undo.requests[0].body.as_ref().unwrap()["requests"][0];
    assert_eq!(
        placeholder::fill(undo, &bound).unwrap()["url"],
        json!("/servicePrincipals/sp-1/appRoleAssignedTo/asg-1")
    );
    for raw in [odd_id, odd_role, "%", "%25", "plain"] {
        assert_eq!(placeholder::arg_text(&placeholder::arg(raw)), raw);
    }
}

#[test]
fn the_plan_digest_binds_its_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    for (name, plan) in profile_plans()
        .into_iter()
        .chain([("demo".into(), demo_plan())])
    {
        assert!(plan.plan_digest.starts_with("sha256:"), "{name}");
        assert_eq!(plan.plan_digest, plan.compute_digest(), "{name}");
        std::fs::write(&path, plan.to_bytes()).unwrap();
        let back = Plan::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, plan, "{name}: reads back to the same plan");
    }
    // An edited plan is refused with one sentence.
    let plan = demo_plan();
    let text = String::from_utf8(plan.to_bytes()).unwrap();
    std::fs::write(&path, text.replace("\"count\": 1,", "\"count\": 2,")).unwrap();
    let e = Plan::load(&path).unwrap_err().to_string();
    assert!(e.contains("was changed after it was made"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn an_unknown_field_in_a_plan_is_refused_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let v: Value = serde_json::from_slice(&demo_plan().to_bytes()).unwrap();
    // The first bind and the first expectation, wherever they are.
    fn first(v: &Value, key: &str, at: String) -> Option<String> {
        match v {
            Value::Object(m) => m.iter().find_map(|(k, x)| match x {
                Value::Array(a) if k == key && !a.is_empty() => Some(format!("{at}/{k}/0")),
                _ => first(x, key, format!("{at}/{k}")),
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| first(x, key, format!("{at}/{i}"))),
            _ => None,
        }
    }
    let bind = first(&v, "binds", String::new()).expect("the demo plan binds");
    let expect = first(&v, "expect", String::new()).expect("the demo plan expects");
    for pointer in [
        "",
        "/app",
        "/summary",
        "/steps/0",
        "/steps/0/requests/0",
        &bind,
        &expect,
    ] {
        let mut edited = v.clone();
        edited
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}"))
            .as_object_mut()
            .unwrap()
            .insert("extraKey".into(), json!(1));
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        let e = Plan::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("has a field scimshift does not write (`extraKey`)"),
            "{pointer}: {e}"
        );
    }
}

#[test]
fn a_v1_plan_gets_one_sentence_saying_to_re_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    let v1 = json!({"format": "scimshift.plan/v1", "snapshotDigest": "sha256:00", "steps": [
        {"id": "secrets", "doneWhen": {"request": {"method": "GET", "url": "/x"},
            "expect": [{"path": "/value[key=SecretToken]", "op": "exists"}]}}]});
    std::fs::write(&path, serde_json::to_vec(&v1).unwrap()).unwrap();
    let e = Plan::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("scimshift.plan/v1") && e.contains("make a new plan"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(!e.contains('{'), "no dump: {e}");
}

#[test]
fn selectors_and_unknown_probes_are_not_plan_data() {
    let bad = |v: Value| serde_json::from_value::<Expect>(v).unwrap_err().to_string();
    assert!(bad(json!({"path": "/value/*/templateId", "op": "equals"})).contains("selector"));
    assert!(
        bad(json!({"path": "/value[key=BaseAddress]/value", "op": "equals"})).contains("selector")
    );
    assert!(
        bad(json!({"path": "users provisioned", "op": "equals"})).contains("not a JSON pointer")
    );
    assert!(
        bad(json!({"probe": "usersProvisioned", "op": "equals"})).contains("not a known probe")
    );
    assert!(bad(json!({"path": "/a", "op": "contains"})).contains("unknown variant"));
    let e: Expect = serde_json::from_value(
        json!({"probe": "secret:BaseAddress", "op": "equals", "value": null}),
    )
    .unwrap();
    assert_eq!(
        e.subject,
        Subject::Probe(Probe::Secret("BaseAddress".into()))
    );
    assert_eq!(e.value, Some(Value::Null), "a present null stays a value");
    assert!(serde_json::from_value::<Request>(json!({"method": "FETCH", "url": "/x"})).is_err());
    assert!(
        serde_json::from_value::<Request>(json!({"method": "GET", "url": "/x", "target": "ldap"}))
            .is_err()
    );
}

#[test]
fn docs_describe_every_probe_and_placeholder() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plan-format.md"),
    )
    .unwrap();
    assert!(doc.contains("scimshift.plan/v2") && doc.contains("planDigest"));
    for (name, _) in probe::PROBES {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs name the probe {name}"
        );
    }
    for k in placeholder::KINDS {
        let shown = match k.arg {
            Some(a) if k.name == "secret" => format!("`{{secret:{a}}}`"),
            Some(a) => format!("`{{{}:<{a}>}}`", k.name),
            None => format!("`{{{}}}`", k.name),
        };
        assert!(doc.contains(&shown), "docs name the placeholder {shown}");
    }
    for op in [
        "status",
        "equals",
        "exists",
        "containsAll",
        "containsNone",
        "countAtLeast",
        "atLeast",
        "notBefore",
    ] {
        assert!(doc.contains(&format!("`{op}`")), "docs name the op {op}");
    }
}
