//! The JSON Schemas in docs/schemas/ against what scimshift writes: the demo
//! migration through the binary (snapshot, plan, the journal after apply and
//! after rollback), a synthetic tenant planned with and without extra
//! matching, and the committed demo snapshot with the plan built from it.
//! The schemas are strict (closed objects, required fields, enums), so a
//! field added to a type without its schema fails here.

mod common;

use common::migration::{Migration, yes_fast};
use common::schemas::checker;
use scimshift::twin::seed::SeedSpec;
use scimshift::twin::server::TwinOptions;
use serde_json::Value;
use std::path::Path;

fn journal(path: &Path) -> Vec<String> {
    checker().journal(path).unwrap_or_else(|e| panic!("{e}"))
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn ok(r: Result<(), String>) {
    if let Err(e) = r {
        panic!("{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_migration_writes_what_the_schemas_describe() {
    let c = checker();
    let m = Migration::new(TwinOptions::default(), None).await;
    ok(c.snapshot("demo snapshot", &read(&m.snapshot)));
    ok(c.plan("demo plan", &read(&m.plan)));

    let o = m.apply(&yes_fast()).await;
    assert_eq!(o.status.code(), Some(0), "{}", common::cli::text(&o).1);
    let journal_path = scimshift::journal::path_for(&m.plan);
    let events = journal(&journal_path);
    for e in [
        "started", "intent", "result", "stepDone", "cutover", "finished",
    ] {
        assert!(events.iter().any(|x| x == e), "no {e} record in {events:?}");
    }

    let mut rb = m.bin();
    rb.arg("rollback")
        .arg(&m.plan)
        .args(["--yes", "--poll", "100ms", "--in-doubt-wait", "8s"]);
    let o = common::cli::run(rb).await;
    assert_eq!(o.status.code(), Some(0), "{}", common::cli::text(&o).1);
    let after = journal(&journal_path);
    assert!(after.len() > events.len(), "rollback appended nothing");
    assert!(
        after[events.len()..].iter().any(|x| x == "stepUndone"),
        "no stepUndone record after rollback: {:?}",
        &after[events.len()..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_tenant_planned_with_and_without_extra_matching() {
    let c = checker();
    let opts = TwinOptions {
        seed: SeedSpec::Synthetic {
            users: 40,
            groups: 3,
        },
        ..TwinOptions::default()
    };
    let m = Migration::new(opts, None).await;
    ok(c.snapshot("synthetic snapshot", &read(&m.snapshot)));
    let with = read(&m.plan);
    ok(c.plan("synthetic plan", &with));
    assert!(
        with["app"].get("extraMatching").is_none(),
        "{}",
        with["app"]
    );

    let without = m.dir.path().join("plain.json");
    let mut p = m.bin();
    p.args([
        "plan",
        "--profile",
        "coda",
        "--no-extra-matching",
        "--snapshot",
    ])
    .arg(&m.snapshot)
    .arg("--out")
    .arg(&without);
    let o = common::cli::run(p).await;
    assert_eq!(o.status.code(), Some(2), "{}", common::cli::text(&o).1);
    let without = read(&without);
    assert_eq!(without["app"]["extraMatching"], Value::Bool(false));
    ok(c.plan("plan with --no-extra-matching", &without));
}

/// The committed demo snapshot, and the plans the library builds from it
/// (the carried-over mapping, and userName forced to the UPN, which predicts
/// duplicates and so fills every optional part of the impact).
#[test]
fn the_demo_fixture_and_its_plans() {
    let c = checker();
    let path = common::data::fixture("demo-snapshot.json");
    ok(c.snapshot("tests/fixtures/demo-snapshot.json", &read(&path)));
    let snap = scimshift::snapshot::Snapshot::load(&path).unwrap();
    let (mut profile, _) = scimshift::plan::choose_profile(&snap, Some("coda")).unwrap();
    let plan = scimshift::plan::build(&snap, &profile, &Default::default()).unwrap();
    ok(c.plan("demo fixture plan", &serde_json::to_value(&plan).unwrap()));
    for m in profile
        .user_mappings
        .iter_mut()
        .filter(|m| m.target == "userName")
    {
        m.source = "userPrincipalName".into();
        m.copy_from_gallery = false;
    }
    let plan = scimshift::plan::build(&snap, &profile, &Default::default()).unwrap();
    let v = serde_json::to_value(&plan).unwrap();
    assert!(
        v["impact"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["duplicate"] == true),
        "forcing the UPN predicts duplicates"
    );
    ok(c.plan("demo fixture plan, userName <- UPN", &v));
}

/// The schemas are closed: an unknown field, a missing required one or a
/// value outside an enum is refused (so the tests above can fail).
#[test]
fn the_schemas_refuse_what_scimshift_does_not_write() {
    let c = checker();
    let snap = read(&common::data::fixture("demo-snapshot.json"));
    let mut extra = snap.clone();
    extra["app"]["newField"] = Value::from(1);
    assert!(c.snapshot("extra", &extra).is_err());
    let mut missing = snap.clone();
    missing.as_object_mut().unwrap().remove("users");
    assert!(c.snapshot("missing", &missing).is_err());
    let mut kind = snap.clone();
    kind["groups"][0]["kind"] = Value::from("dynamic");
    assert!(c.snapshot("kind", &kind).is_err());

    let s =
        scimshift::snapshot::Snapshot::load(&common::data::fixture("demo-snapshot.json")).unwrap();
    let (profile, _) = scimshift::plan::choose_profile(&s, Some("coda")).unwrap();
    let plan =
        serde_json::to_value(scimshift::plan::build(&s, &profile, &Default::default()).unwrap())
            .unwrap();
    let mut step = plan.clone();
    step["steps"][0]["done_when"]["expect"][0]["op"] = Value::from("matches");
    assert!(c.plan("op", &step).is_err());
    let mut step = plan.clone();
    step["steps"][0]["requests"][0]["method"] = Value::from("HEAD");
    assert!(c.plan("method", &step).is_err());

    let record = serde_json::json!({"event": "stepDone", "at": "2026-01-01T00:00:00Z", "step": "x", "found": true});
    assert!(c.check(c.journal, "good", &record).is_ok());
    let mut r = record.clone();
    r["extra"] = Value::from(1);
    assert!(c.check(c.journal, "extra", &r).is_err());
    let mut r = record.clone();
    r["event"] = Value::from("stepRedone");
    assert!(c.check(c.journal, "event", &r).is_err());
}

/// The hook the other test binaries use (common::schemas::check_written)
/// fails on a written file with an unknown field, a journal line with a
/// wrong type, and a folder with nothing to check.
#[test]
fn the_written_files_hook_fails_on_a_file_the_schemas_refuse() {
    let fails = |dir: &Path| {
        let dir = dir.to_path_buf();
        std::panic::catch_unwind(move || common::schemas::check_written(&dir))
            .err()
            .map(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| e.downcast_ref::<&str>().unwrap().to_string())
            })
    };
    let dir = tempfile::tempdir().unwrap();
    assert!(
        fails(dir.path()).unwrap().contains("nothing was written"),
        "an empty folder is no check"
    );
    let snap = dir.path().join("snapshot.json");
    let good = read(&common::data::fixture("demo-snapshot.json"));
    std::fs::write(&snap, serde_json::to_vec(&good).unwrap()).unwrap();
    let record = serde_json::json!({"event": "stepDone", "at": "2026-01-01T00:00:00Z", "step": "x", "found": true});
    let journal = dir.path().join("sub").join("plan.journal.jsonl");
    std::fs::create_dir(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, format!("{record}\n{record}\n")).unwrap();
    let w = common::schemas::check_written(dir.path());
    assert_eq!((w.snapshots.len(), w.journals.len(), w.records), (1, 1, 2));

    let mut extra = good.clone();
    extra["users"][0]["newField"] = Value::from(1);
    std::fs::write(&snap, serde_json::to_vec(&extra).unwrap()).unwrap();
    let e = fails(dir.path()).expect("an unknown field fails the hook");
    assert!(e.contains("snapshot.json"), "{e}");
    std::fs::write(&snap, serde_json::to_vec(&good).unwrap()).unwrap();

    let mut typed = record.clone();
    typed["found"] = Value::from("yes");
    std::fs::write(&journal, format!("{record}\n{typed}\n")).unwrap();
    let e = fails(dir.path()).expect("a wrong type fails the hook");
    assert!(e.contains("plan.journal.jsonl line 2"), "{e}");
}
