//! The snapshot of a given tenant does not change when the way it is read
//! changes: the file bytes and digest of the demo tenant and of a synthetic
//! tenant with nested groups and directly assigned users, captured from the
//! twin, are compared with digests recorded from the code that read every
//! group with its own `GET /groups/{id}` (before bulk group reads). The
//! run-dependent fields (`takenAt`, the twin's URL) are set to fixed values
//! first; the tenant itself is seeded deterministically, which the first test
//! checks by capturing two separately started twins.

mod common;

use scimshift::snapshot::capture;
use scimshift::snapshot::model::Snapshot;
use scimshift::twin::seed::{self, Seed, SeedSpec};
use scimshift::twin::server::TwinOptions;
use scimshift::twin::state::AppRoleAssignment;
use sha2::{Digest, Sha256};

/// Recorded at 13:00 UTC 2026-12-02 from main at df63290 (per-group `GET /groups/{id}`),
/// as `scimshift.snapshot/v1`: today's file seen as v1 ([`as_v1`]) must still give them.
const DEMO_DIGEST: &str = "sha256:85432a9c1f3f663bdbfc3570e19adeaaa7e3f15379c3b36ecc48ee28ae471afb";
const DEMO_FILE_SHA256: &str = "1650b4ce21ca90bb5cf4164160158c9d6d7bf9d4d291f748a2853885eeff7344";
const SYNTHETIC_DIGEST: &str =
    "sha256:c00a04e5cb66efa151ef5b9e3b993461d686a0bad3e1d57000bbd25886b298d1";
const SYNTHETIC_FILE_SHA256: &str =
    "e5db6c74610420b2ed18cca1302c18c77e75347a7e117525b75c102e0dab797a";

/// The same tenants in `scimshift.snapshot/v2` (which adds `source.userProperties`),
/// recorded when v2 was introduced, from a capture whose v1 view gave the digests above.
const DEMO_V2_DIGEST: &str =
    "sha256:f1b5c2d3891989d95c02a5b7e740861cec116776c4c66bd4e737d86b3232030f";
const DEMO_V2_FILE_SHA256: &str =
    "20067a11c4babc7c743452cc002de17a52eb949a6981812a0f9aa9ba81032873";
const SYNTHETIC_V2_DIGEST: &str =
    "sha256:1f9805071395965c323eeb1db768aa9642888419c585ca29e8617618884b8059";
const SYNTHETIC_V2_FILE_SHA256: &str =
    "73908f8aa48f2624b0b33713fd140ff3357d8cfcaddeb2233e4cb4bacf924bb9";

/// The snapshot as the v1 format wrote it: its digest and file SHA-256.
fn as_v1(snap: &Snapshot) -> (String, String) {
    let bytes = common::data::as_v1(snap);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    (
        v["digest"].as_str().unwrap().to_string(),
        hex::encode(Sha256::digest(&bytes)),
    )
}

/// `synthetic:users=3000,groups=120`, plus nesting (group 3 holds 5, 5 holds
/// 7: two levels; 9 holds 3, a group reached twice) and 40 users assigned
/// directly (half of them also group members); groups 0–2 are a Microsoft
/// 365 group, a mail-enabled security group and a distribution list.
fn synthetic_seed() -> Seed {
    let mut s = seed::synthetic(3000, 120);
    let gid = |j: usize| format!("00000000-0000-4000-9000-{j:012x}");
    let uid = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
    // One group of each other kind (the synthetic ones are security groups).
    for (j, types, security, mail) in [
        (0, vec!["Unified".to_string()], false, true),
        (1, vec![], true, true),
        (2, vec![], false, true),
    ] {
        let g = s.tenant.groups.get_mut(&gid(j)).unwrap();
        (g.group_types, g.security_enabled, g.mail_enabled) = (types, security, mail);
    }
    for (outer, inner) in [(3, 5), (5, 7), (9, 3)] {
        let g = s.tenant.groups.get_mut(&gid(outer)).unwrap();
        g.members.push(gid(inner));
    }
    let sp = s
        .tenant
        .service_principals
        .values()
        .find(|sp| sp.display_name == "Coda")
        .unwrap()
        .clone();
    for k in 0..40 {
        let u = uid(k * 37);
        let name = s.tenant.users[&u].display_name.clone();
        let a = AppRoleAssignment {
            id: format!("direct-assignment-{k:03}"),
            app_role_id: sp.app_roles[0].id.clone(),
            principal_id: u,
            principal_type: "User".into(),
            principal_display_name: name,
            resource_id: sp.id.clone(),
            resource_display_name: Some(sp.display_name.clone()),
            created_date_time: Some("2024-05-02T08:00:00Z".into()),
        };
        s.tenant.assignments.insert(a.id.clone(), a);
    }
    s
}

/// Capture `Coda` (Graph only) from a twin seeded with `seed`, with the
/// run-dependent fields fixed: (digest, SHA-256 of the file bytes, the snapshot).
async fn capture_fixed(seed: SeedSpec) -> (String, String, Snapshot) {
    let t = common::twin::with(TwinOptions {
        seed,
        ..Default::default()
    })
    .await;
    let g = common::twin::admin_graph(&t);
    let mut snap = capture::capture(&g, "Coda", None).await.unwrap();
    snap.taken_at = "2000-01-01T00:00:00Z".into();
    snap.source.graph_url = "http://twin.invalid/v1.0".into();
    // The job's status carries the times and id of the twin's first cycle,
    // and the BaseAddress setting the twin's port: neither is read from groups.
    for j in &mut snap.app.jobs {
        j.job["status"] = serde_json::Value::Null;
    }
    for kv in &mut snap.app.settings {
        if kv.value.starts_with("http://127.0.0.1:") {
            kv.value = "http://scim.invalid/scim/v2".into();
        }
    }
    snap.seal();
    let mut bytes = Vec::new();
    snap.write_to(&mut bytes).unwrap();
    let file = hex::encode(Sha256::digest(&bytes));
    // The bytes `scimshift snapshot` would write, against the schema.
    common::schemas::check_snapshot(
        "snapshot file bytes",
        &serde_json::from_slice(&bytes).unwrap(),
    );
    // GOLDEN_DUMP=DIR keeps the file, to diff two runs when a digest moves.
    if let Ok(d) = std::env::var("GOLDEN_DUMP") {
        std::fs::write(format!("{d}/{}.json", &file[..12]), &bytes).unwrap();
    }
    (snap.digest.clone(), file, snap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_snapshot_is_unchanged_and_the_twin_deterministic() {
    let (d1, f1, snap) = capture_fixed(SeedSpec::Demo).await;
    let (d2, f2, _) = capture_fixed(SeedSpec::Demo).await;
    assert_eq!((&d1, &f1), (&d2, &f2), "two demo twins answer the same");
    // The demo has a nested group and a directly assigned user: both paths are covered.
    assert!(
        snap.users
            .iter()
            .any(|u| u.via.iter().any(|v| v.starts_with("nested:")))
    );
    assert!(
        snap.users
            .iter()
            .any(|u| u.via.iter().any(|v| v == "direct"))
    );
    eprintln!("demo digest {d1} file {f1}");
    assert_eq!(as_v1(&snap), (DEMO_DIGEST.into(), DEMO_FILE_SHA256.into()));
    assert_eq!(d1, DEMO_V2_DIGEST);
    assert_eq!(f1, DEMO_V2_FILE_SHA256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_snapshot_is_unchanged() {
    let (d1, f1, snap) = capture_fixed(SeedSpec::Data(Box::new(synthetic_seed()))).await;
    let (d2, f2, _) = capture_fixed(SeedSpec::Data(Box::new(synthetic_seed()))).await;
    assert_eq!(
        (&d1, &f1),
        (&d2, &f2),
        "two synthetic twins answer the same"
    );
    assert_eq!(snap.groups.len(), 120);
    assert_eq!(snap.users.len(), 3000);
    let nested = snap
        .users
        .iter()
        .filter(|u| u.via.iter().any(|v| v.starts_with("nested:")))
        .count();
    assert!(nested > 0);
    let g3 = snap
        .groups
        .iter()
        .find(|g| g.id == "00000000-0000-4000-9000-000000000003")
        .unwrap();
    assert_eq!(
        g3.transitive_user_count, 75,
        "groups 3, 5 and 7: 25 users each"
    );
    eprintln!("synthetic digest {d1} file {f1}");
    assert_eq!(
        as_v1(&snap),
        (SYNTHETIC_DIGEST.into(), SYNTHETIC_FILE_SHA256.into())
    );
    assert_eq!(d1, SYNTHETIC_V2_DIGEST);
    assert_eq!(f1, SYNTHETIC_V2_FILE_SHA256);
}
