//! The fuzz targets in the suite: every seed and every regression input
//! passes every oracle, each target survives a short mutational run
//! (SCIMSHIFT_FUZZ_SECONDS, default 4 s each) and reaches past its first
//! error, and the runner itself catches a panic and a hang.

use scimshift_fuzz::run::{self, Options};
use scimshift_fuzz::targets::{Harness, Target};
use std::path::Path;
use std::time::Duration;

fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn options(seconds: u64) -> Options {
    Options {
        duration: Duration::from_secs(seconds),
        seed: std::env::var("SCIMSHIFT_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261203),
        max_len: 256 * 1024,
        timeout: Duration::from_secs(30),
        findings: std::env::temp_dir().join("scimshift-fuzz-smoke"),
        max_findings: 1,
    }
}

#[test]
fn every_seed_and_regression_input_passes_every_oracle() {
    let mut failures = Vec::new();
    for t in Target::ALL {
        for dir in ["corpus", "regressions"] {
            let inputs = run::read_dir_inputs(&here().join(dir).join(t.name()));
            if dir == "corpus" {
                assert!(!inputs.is_empty(), "no seeds for {}", t.name());
            }
            for (path, input) in inputs {
                if let Err(e) = run::replay(move || t.harness(), &input, Duration::from_secs(30)) {
                    failures.push(format!("{}: {e}", path.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn each_target_survives_a_short_run_and_reaches_past_its_first_error() {
    let seconds = std::env::var("SCIMSHIFT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    for t in Target::ALL {
        let seeds = run::read_dir_inputs(&here().join("corpus").join(t.name()))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let r = run::fuzz(
            t.name(),
            move || t.harness(),
            t.mutator(),
            seeds,
            &options(seconds),
        );
        let found: Vec<String> = r
            .findings
            .iter()
            .map(|f| format!("{} {}: {:?}", f.kind, f.message, f.saved))
            .collect();
        assert!(found.is_empty(), "{}: {found:#?}", t.name());
        assert!(
            r.executions > r.seeds as u64,
            "{}: only the seeds ran",
            t.name()
        );
        // Mutations that all died at the first parse error would give one or two classes.
        assert!(
            r.outcomes.len() >= 3,
            "{}: {} outcome classes: {:?}",
            t.name(),
            r.outcomes.len(),
            r.outcomes
        );
    }
}

struct Panics;
impl Harness for Panics {
    fn exec(&mut self, input: &[u8]) -> Result<String, String> {
        if input.first() == Some(&b'!') {
            let v: Vec<u8> = Vec::new();
            return Ok(v[input.len()].to_string());
        }
        Ok("fine".into())
    }
}

struct Hangs;
impl Harness for Hangs {
    fn exec(&mut self, input: &[u8]) -> Result<String, String> {
        if input.first() == Some(&b'z') {
            std::thread::sleep(Duration::from_secs(5));
        }
        Ok("fine".into())
    }
}

#[test]
fn the_runner_records_a_panic_and_a_hang_with_their_inputs() {
    let mut opts = options(10);
    opts.timeout = Duration::from_secs(1);
    opts.findings = tempfile_dir("panics");
    let r = run::fuzz(
        "selftest",
        || Box::new(Panics),
        |_, _, _, _| b"!x".to_vec(),
        vec![b"ok".to_vec()],
        &opts,
    );
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].kind, "panic");
    assert!(
        r.findings[0].message.contains("index out of bounds"),
        "{}",
        r.findings[0].message
    );
    let saved = r.findings[0].saved.clone().expect("the input is saved");
    assert_eq!(std::fs::read(saved).unwrap(), b"!x");

    opts.findings = tempfile_dir("hangs");
    let r = run::fuzz(
        "selftest",
        || Box::new(Hangs),
        |_, _, _, _| b"z".to_vec(),
        vec![b"a".to_vec()],
        &opts,
    );
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].kind, "hang");
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "scimshift-fuzz-selftest-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}
