//! `scimshift apply` end to end on the twin with realism on (replication and
//! assignment lag, the twin's time scale): the demo plan applied into the
//! twin's own SCIM store and into the independent scim2-server, then the
//! end state an admin checks (one custom app, every assignment, every pushed
//! group with its members, 155 matched, no duplicate, nobody deactivated, the
//! gallery job paused, the custom job steady); a dry run that sends no write;
//! a stale plan refused; a second apply refused; no secret in anything apply
//! writes or prints.

mod common;

use common::migration::{Migration, assert_migrated, logged_twin, yes_fast};
use scimshift::twin::server::TwinOptions;
use serde_json::Value;

fn logged(opts_log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(opts_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn writes(log: &[Value]) -> Vec<String> {
    log.iter()
        .filter(|r| r["write"] == Value::Bool(true))
        .map(|r| format!("{} {}", r["method"], r["path"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_migrates_the_demo_tenant_into_the_embedded_store() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let before = m.target().await.0.len();
    let mut args = yes_fast();
    args.extend(["-vv"]);
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("Apply done: 11 of 11 steps done"), "{out}");
    assert!(out.contains("Provisioning gap:"), "{out}");
    assert!(
        out.contains("verify passed"),
        "apply ends with the verify gate: {out}"
    );
    assert_migrated(&m, before).await;

    // Secrets: not in the journal, the change record, stdout or -vv stderr.
    let journal = std::fs::read_to_string(m.plan.with_extension("journal.jsonl")).unwrap();
    let applied = std::fs::read_to_string(m.plan.with_extension("applied.md")).unwrap();
    for (what, text) in [
        ("journal", &journal),
        ("applied.md", &applied),
        ("stdout", &out),
        ("stderr", &err),
    ] {
        assert!(!text.contains(&m.scim_token), "SCIM token in {what}");
        assert!(
            !text.contains(m.twin.client_secret.expose()),
            "client secret in {what}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(m.plan.with_extension("journal.jsonl"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(applied.contains("customSpId"), "{applied}");

    // A second run finds everything done from live state and the journal: no write.
    let log = m.dir.path().join("unused");
    let _ = log;
    let o = m.apply(&args).await;
    let (out2, err2) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out2}\n{err2}");
    assert!(out2.contains("done earlier (journal)"), "{out2}");
    assert_eq!(m.custom_apps().await.len(), 1);

    // status reads the journal and both jobs.
    let mut c = m.bin();
    c.args(["status", "--output", "json"]).arg(&m.plan);
    let o = common::cli::run(c).await;
    let (out3, err3) = common::cli::text(&o);
    assert!(o.status.success(), "{out3}\n{err3}");
    let v: Value = serde_json::from_str(out3.trim()).unwrap();
    assert_eq!(v["jobs"]["gallery"]["status"], "Paused", "{v}");
    assert_eq!(v["jobs"]["custom"]["schedule"], "Active", "{v}");
    assert!(v["applied"]["gap"]["gapSeconds"].is_number(), "{v}");
    assert_eq!(v["applied"]["lastVerify"]["passed"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_migrates_the_demo_tenant_into_scim2_server() {
    let server = common::start_scim2_server();
    let opts = TwinOptions {
        scim_target: Some((
            server.base_url.clone(),
            scimshift::secret::Secret::new(server.token.clone()),
        )),
        ..TwinOptions::default()
    };
    let m = Migration::new(opts, Some((server.base_url.clone(), server.token.clone()))).await;
    let before = m.target().await.0.len();
    let args = yes_fast();
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_migrated(&m, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_sends_no_write_and_exits_2() {
    let (_dir, log, opts) = logged_twin();
    let m = Migration::new(opts, None).await;
    let before = logged(&log).len();
    let o = m.apply(&["--dry-run"]).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    let during: Vec<Value> = logged(&log).into_iter().skip(before).collect();
    assert!(!during.is_empty(), "the dry run read live state");
    assert_eq!(
        writes(&during),
        Vec::<String>::new(),
        "no write reached the twin"
    );
    // Every write is shown, with the token as a name, never its value.
    assert!(out.contains("POST $GRAPH/applicationTemplates/"), "{out}");
    assert!(out.contains("{secret:scimToken}"), "{out}");
    assert!(!out.contains(&m.scim_token));
    assert!(out.contains("Nothing was sent"), "{out}");
    assert!(
        !m.plan.with_extension("journal.jsonl").exists(),
        "a dry run journals nothing"
    );
    assert!(m.custom_apps().await.is_empty());
}

/// A plan that predicts harm (here Entra's default mapping: the 12 Wingtip
/// users would be created a second time) is refused before anything is read
/// or written, unless `--accept-errors` says so; a dry run shows it and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_error_findings_is_refused_without_accept_errors() {
    let (dir, log, opts) = logged_twin();
    let profile = common::data::naive_coda_profile(dir.path());
    let profile = profile.to_str().unwrap().to_string();
    let m = Migration::new(opts, None).await;
    // The same snapshot planned with the naive profile, in place of the plan.
    let mut c = common::cli::bin();
    c.args([
        "plan",
        "--no-extra-matching",
        "--profile",
        &profile,
        "--snapshot",
    ])
    .arg(&m.snapshot)
    .arg("--out")
    .arg(&m.plan);
    let o = common::cli::run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", common::cli::text(&o).1);
    let before = logged(&log).len();
    let mut args = yes_fast();
    args.extend(["--profile", profile.as_str()]);
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("1 error finding (duplicate-on-create)")
            && err.contains("--accept-errors")
            && err.trim().lines().count() == 1,
        "{err}"
    );
    assert_eq!(logged(&log).len(), before, "nothing was read or written");
    assert!(!m.plan.with_extension("journal.jsonl").exists());
    // A dry run looks anyway, and says what a real run would do.
    let o = m.apply(&["--dry-run", "--profile", &profile]).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("apply without --dry-run refuses it unless --accept-errors"),
        "{err}"
    );
    assert_eq!(writes(&logged(&log)), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_is_refused_with_what_changed_and_nothing_sent() {
    let (_dir, log, opts) = logged_twin();
    let m = Migration::new(opts, None).await;
    // Someone removes a gallery assignment after the snapshot.
    let plan = m.plan_json();
    let gallery_sp = plan["app"]["galleryServicePrincipalId"]
        .as_str()
        .unwrap()
        .to_string();
    let (assignment, who) = {
        let t = m.twin.twin.tenant();
        let a = t
            .assignments
            .values()
            .find(|a| a.resource_id == gallery_sp && a.principal_type == "User")
            .unwrap();
        (
            a.id.clone(),
            a.principal_display_name.clone().unwrap_or_default(),
        )
    };
    m.graph()
        .delete(&format!(
            "/servicePrincipals/{gallery_sp}/appRoleAssignedTo/{assignment}"
        ))
        .await
        .unwrap();
    let before = logged(&log).len();
    let args = yes_fast();
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(err.contains("the plan is stale"), "{err}");
    assert!(err.contains(&who), "the change names the user: {err}");
    let during: Vec<Value> = logged(&log).into_iter().skip(before).collect();
    assert_eq!(writes(&during), Vec::<String>::new());
    assert!(m.custom_apps().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_after_the_snapshot_makes_the_plan_stale() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let plan = m.plan_json();
    let sp = plan["app"]["galleryServicePrincipalId"].as_str().unwrap();
    let job = plan["app"]["galleryJobId"].as_str().unwrap();
    let url = format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/schema");
    let g = m.graph();
    let mut schema = g.get(&url).await.unwrap();
    // The admin switches the gallery's userName mapping to userPrincipalName.
    let text = serde_json::to_string(&schema).unwrap();
    assert!(text.contains("\"mail\""));
    for rule in schema["synchronizationRules"].as_array_mut().unwrap() {
        for om in rule["objectMappings"].as_array_mut().unwrap() {
            for am in om["attributeMappings"].as_array_mut().unwrap() {
                if am["targetAttributeName"] == "userName" {
                    am["source"]["parameters"] = serde_json::json!([]);
                    am["source"]["type"] = "Attribute".into();
                    am["source"]["name"] = "userPrincipalName".into();
                    am["source"]["expression"] = "[userPrincipalName]".into();
                }
            }
        }
    }
    g.put(&url, &schema).await.unwrap();
    let args = yes_fast();
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(err.contains("the plan is stale"), "{err}");
    assert!(m.custom_apps().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_group_made_after_the_snapshot_makes_the_plan_stale() {
    // The plan says the custom job creates "Coda Engineering"; someone makes
    // a group of that name in the app by hand. The steps and the users'
    // predictions are unchanged, but the job would now take that group over.
    let m = Migration::new(TwinOptions::default(), None).await;
    let plan = m.plan_json();
    let eng = plan["groupImpact"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["displayName"] == "Coda Engineering")
        .unwrap();
    assert_eq!(eng["action"], "create", "{eng}");
    let scim = scimshift::scim::ScimClient::new(
        &m.scim_url,
        scimshift::secret::Secret::new(m.scim_token.clone()),
    )
    .unwrap();
    scim.create(
        scimshift::scim::client::Resource::Groups,
        &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "displayName": "Coda Engineering", "members": []}),
    )
    .await
    .unwrap();
    let args = yes_fast();
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(
        err.contains("the predictions for 1 groups would now differ"),
        "{err}"
    );
    assert!(m.custom_apps().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_of_the_same_plan_is_refused_while_the_first_runs() {
    let m = Migration::new(TwinOptions::default(), None).await;
    // A live holder: this test process.
    std::fs::write(
        m.plan.with_extension("lock"),
        format!("{} apply\n", std::process::id()),
    )
    .unwrap();
    let args = yes_fast();
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("another scimshift apply of this plan is running"),
        "{err}"
    );
    assert!(m.custom_apps().await.is_empty());
    assert!(
        m.plan.with_extension("lock").exists(),
        "the holder's lock is left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_and_without_yes_apply_refuses_at_once() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let o = m.apply(&[]).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(64), "{out}\n{err}");
    assert!(err.contains("pass --yes"), "{err}");
    assert!(!m.plan.with_extension("journal.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_json_is_one_event_per_line_then_a_summary() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let mut args = yes_fast();
    args.extend(["--output", "json"]);
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let started: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "stepStarted")
        .map(|e| e["step"]["id"].as_str().unwrap())
        .collect();
    let plan = m.plan_json();
    let ids: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(started, ids, "every step, in order");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "summary");
    assert_eq!(last["outcome"], "done");
    assert!(last["graphWrites"].as_u64().unwrap() >= 30, "{last}");
    assert!(events.iter().any(|e| e["event"] == "gap"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_ctrl_c_stops_after_the_request_in_flight_and_a_rerun_resumes() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let before = m.target().await.0.len();
    let args = yes_fast();
    let mut c = m.apply_process(&args);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let journal = m.plan.with_extension("journal.jsonl");
    // Interrupt once the journal shows the apply under way (bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let n = std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count());
        if n >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // SAFETY: signals the child this test spawned, by its pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(130), "{out}\n{err}");
    assert!(out.contains("Resume with: scimshift apply"), "{out}");
    assert!(err.contains("interrupted"), "{err}");
    let records = scimshift::journal::read(&m.plan).unwrap();
    assert!(
        records
            .iter()
            .any(|r| matches!(r, scimshift::journal::Record::Interrupted { .. })),
        "the stop is journaled"
    );
    let done_before = records
        .iter()
        .filter(|r| matches!(r, scimshift::journal::Record::StepDone { .. }))
        .count();
    assert!(done_before < 11, "it stopped before the end");
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_migrated(&m, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_after_apply_leaves_only_the_documented_residue() {
    let (_dir, log, opts) = logged_twin();
    let m = Migration::new(opts, None).await;
    let gallery_sp = m.plan_json()["app"]["galleryServicePrincipalId"]
        .as_str()
        .unwrap()
        .to_string();
    let gallery_assignments = m.assignments_of(&gallery_sp);
    let args = yes_fast();
    let o = m.apply(&args).await;
    assert_eq!(o.status.code(), Some(0), "{}", common::cli::text(&o).1);
    assert_eq!(m.custom_apps().await.len(), 1);

    // A dry run of the rollback sends no write.
    let rollback = |extra: &[&str]| {
        let mut c = m.bin();
        c.arg("rollback")
            .arg(&m.plan)
            .args(["--poll", "100ms", "--in-doubt-wait", "8s"]);
        c.args(extra);
        c
    };
    let before = logged(&log).len();
    let o = common::cli::run(rollback(&["--dry-run"])).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert_eq!(writes(&logged(&log)[before..]), Vec::<String>::new());
    assert!(out.contains("rollback does not restore"), "{out}");

    let o = common::cli::run(rollback(&["--yes"])).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        m.custom_apps().await.is_empty(),
        "the custom app is deleted"
    );
    assert_eq!(
        m.assignments_of(&gallery_sp),
        gallery_assignments,
        "gallery assignments kept"
    );
    {
        let t = m.twin.twin.tenant();
        let job = t.synchronization[&gallery_sp].jobs.values().next().unwrap();
        assert_eq!(job.schedule_state, "Active", "the gallery job runs again");
    }
    // What changed, seen as an admin would: a new snapshot against the first.
    let after = m.dir.path().join("after.json");
    let mut c = m.bin();
    c.args([
        "snapshot",
        "--app",
        "Coda",
        "--scim-url",
        &m.scim_url,
        "--out",
    ])
    .arg(&after);
    let o = common::cli::run(c).await;
    assert!(o.status.success(), "{}", common::cli::text(&o).1);
    let mut c = m.bin();
    c.args(["snapshot", "diff", "--output", "json"])
        .arg(&m.snapshot)
        .arg(&after);
    let o = common::cli::run(c).await;
    let (diff, err) = common::cli::text(&o);
    let v: Value = serde_json::from_str(diff.trim()).unwrap_or_else(|_| panic!("{diff}\n{err}"));
    // Only the residue rollback documents: the groups the custom job pushed
    // (and the adopted group's members). Everything else is as it was.
    for section in [
        "app",
        "jobs",
        "schema",
        "settings",
        "assignments",
        "groups",
        "users",
    ] {
        assert_eq!(
            v[section],
            serde_json::json!([]),
            "{section} changed after rollback: {v}"
        );
    }
    let added: Vec<&str> = v["targetGroups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "added")
        .map(|c| c["subject"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(added.len(), 3, "the pushed groups stay as residue: {v}");
    assert_eq!(
        v["targetUsers"],
        serde_json::json!([]),
        "no target user changed: {v}"
    );
    assert!(out.contains("Left in the target"), "{out}");
}

/// A plan made with `--group-map` is checked for drift with its renames: a
/// target group made after the snapshot under a renamed group's new name
/// would be taken over by the custom job, so the group predictions differ,
/// the plan is stale (exit 3) and nothing is sent. (The check used to re-plan
/// without the renames, could not rebuild the plan, and so refused such a
/// plan on any change at all, naming no prediction.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_groups_new_name_taken_in_the_target_makes_the_plan_stale() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("groups.csv");
    std::fs::write(&map, "from,to\nCoda Engineering,Engineering (Coda)\n").unwrap();
    let m = Migration::with_plan_args(
        TwinOptions::default(),
        None,
        &["--group-map", map.to_str().unwrap()],
    )
    .await;
    let body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "engineering (coda)", "members": []
    });
    m.twin
        .twin
        .scim_store
        .create(
            scimshift::twin::scim_store::Kind::Group,
            body,
            "http://127.0.0.1/scim/v2",
        )
        .unwrap();
    let o = m.apply(&yes_fast()).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(err.contains("groups would now differ"), "{err}");
    assert!(m.custom_apps().await.is_empty(), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pilot_group_is_provisioned_on_demand_with_per_user_results() {
    let m = Migration::with_plan_args(
        TwinOptions::default(),
        None,
        &["--pilot-group", "Coda Finance"],
    )
    .await;
    let before = m.target().await.0.len();
    let args = yes_fast();
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("pilot-on-demand: done"), "{out}");
    let results = out.lines().filter(|l| l.contains("on demand:")).count();
    assert!(results >= 2, "per-object results of each call: {out}");
    assert_migrated(&m, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_and_from_check_earlier_steps_live_and_refuse_unknown_ids() {
    let m = Migration::new(TwinOptions::default(), None).await;
    let mut args = yes_fast();
    args.extend(["--only", "no-such-step"]);
    let o = m.apply(&args).await;
    let (_, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(64), "{err}");
    assert!(
        err.contains("its steps: create-app, wait-replication"),
        "{err}"
    );
    // Nothing done yet: starting at the assignments is refused, naming the first missing step.
    let mut args = yes_fast();
    args.extend(["--from", "assignments"]);
    let o = m.apply(&args).await;
    let (_, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(64), "{err}");
    assert!(
        err.contains("step create-app comes before assignments"),
        "{err}"
    );
    assert!(m.custom_apps().await.is_empty());
    // The app only, then the rest from where it stands.
    let mut args = yes_fast();
    args.extend(["--only", "create-app"]);
    let o = m.apply(&args).await;
    assert_eq!(o.status.code(), Some(0), "{}", common::cli::text(&o).1);
    assert_eq!(m.custom_apps().await.len(), 1);
    let mut args = yes_fast();
    args.extend(["--from", "wait-replication"]);
    let o = m.apply(&args).await;
    let (out, err) = common::cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(m.custom_apps().await.len(), 1, "still one custom app");
}
