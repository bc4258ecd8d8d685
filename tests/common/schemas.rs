//! The JSON Schemas of docs/schemas/ as a check on what a test made
//! scimshift write. [`check_written`] walks a folder and validates every
//! snapshot and plan (`*.json` whose `format` is `scimshift.snapshot/…` or
//! `scimshift.plan/…`) and every line of every `*.journal.jsonl`; it panics
//! with each violation, or when the folder holds none of them (a call where
//! nothing was written checks nothing). [`Dir`] is a temp folder that runs it
//! when the test is done with it. The schemas are compiled once per test
//! binary.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The three schemas, compiled (boon checks each against the 2020-12 meta-schema).
pub struct Checker {
    schemas: boon::Schemas,
    pub snapshot: boon::SchemaIndex,
    pub plan: boon::SchemaIndex,
    pub journal: boon::SchemaIndex,
}

/// The compiled schemas of this test binary.
pub fn checker() -> &'static Checker {
    static C: OnceLock<Checker> = OnceLock::new();
    C.get_or_init(Checker::compile)
}

impl Checker {
    fn compile() -> Checker {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        // Built into the test binary (cargo rebuilds it when a schema changes),
        // so a binary checks against the schemas of its own commit.
        let mut compile = |name: &str, text: &str| {
            let value: Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            let url = format!("file:///scimshift/{name}");
            compiler.add_resource(&url, value).unwrap();
            compiler
                .compile(&url, &mut schemas)
                .unwrap_or_else(|e| panic!("{name} does not compile: {e:#}"))
        };
        macro_rules! schema {
            ($name:literal) => {
                compile(
                    $name,
                    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schemas/", $name)),
                )
            };
        }
        let snapshot = schema!("snapshot.schema.json");
        let plan = schema!("plan.schema.json");
        let journal = schema!("journal-record.schema.json");
        Checker {
            schemas,
            snapshot,
            plan,
            journal,
        }
    }

    /// `v` against one schema; the error names `what`.
    pub fn check(&self, schema: boon::SchemaIndex, what: &str, v: &Value) -> Result<(), String> {
        self.schemas
            .validate(v, schema)
            .map_err(|e| format!("{what}: {e:#}"))
    }

    pub fn snapshot(&self, what: &str, v: &Value) -> Result<(), String> {
        self.check(self.snapshot, what, v)
    }

    pub fn plan(&self, what: &str, v: &Value) -> Result<(), String> {
        self.check(self.plan, what, v)
    }

    /// Every line of a journal against the record schema; the events seen.
    pub fn journal(&self, path: &Path) -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut events = vec![];
        for (i, line) in text.lines().enumerate() {
            let what = format!("{} line {}", path.display(), i + 1);
            let v: Value =
                serde_json::from_str(line).map_err(|e| format!("{what} is not JSON: {e}"))?;
            self.check(self.journal, &what, &v)?;
            events.push(v["event"].as_str().unwrap_or_default().to_string());
        }
        Ok(events)
    }
}

/// What [`check_written`] validated.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub snapshots: Vec<PathBuf>,
    pub plans: Vec<PathBuf>,
    pub journals: Vec<PathBuf>,
    /// Journal lines, over every journal.
    pub records: usize,
}

impl Written {
    pub fn files(&self) -> usize {
        self.snapshots.len() + self.plans.len() + self.journals.len()
    }
}

/// Every snapshot, plan and journal under `dir` (recursively, links not
/// followed) validated against its schema. Panics listing every violation,
/// or when there is nothing to validate.
pub fn check_written(dir: &Path) -> Written {
    let c = checker();
    let mut w = Written::default();
    let mut errors = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        paths.sort_by_key(|e| e.file_name());
        for e in paths {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                todo.push(path);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".journal.jsonl") {
                match c.journal(&path) {
                    Ok(events) => w.records += events.len(),
                    Err(err) => errors.push(err),
                }
                w.journals.push(path);
            } else if name.ends_with(".json") {
                let Some(v) = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                else {
                    continue;
                };
                let format = v["format"].as_str().unwrap_or_default();
                let what = path.display().to_string();
                if format.starts_with("scimshift.snapshot/") {
                    errors.extend(c.snapshot(&what, &v).err());
                    w.snapshots.push(path);
                } else if format.starts_with("scimshift.plan/") {
                    errors.extend(c.plan(&what, &v).err());
                    w.plans.push(path);
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} written file(s) do not match docs/schemas:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(
        w.files() > 0,
        "no snapshot, plan or journal under {}: the schema check was called where nothing was written",
        dir.display()
    );
    w
}

/// A temp folder for what a test makes scimshift write; when the test is
/// done with it (dropped without a panic in flight), [`check_written`] runs
/// over it.
pub struct Dir(Option<tempfile::TempDir>);

/// A new [`Dir`].
pub fn tempdir() -> Dir {
    Dir(Some(tempfile::tempdir().unwrap()))
}

impl Dir {
    pub fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }

    /// Check now and keep the folder as a plain temp dir (no second check).
    pub fn check(mut self) -> (tempfile::TempDir, Written) {
        let d = self.0.take().unwrap();
        let w = check_written(d.path());
        (d, w)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if let Some(d) = &self.0
            && !std::thread::panicking()
        {
            check_written(d.path());
        }
    }
}

/// A plan scimshift printed (`--output json`) or built in the test, against
/// the plan schema; panics with the violation.
pub fn check_plan(what: &str, v: &Value) {
    if let Err(e) = checker().plan(what, v) {
        panic!("{e}");
    }
}

/// A snapshot built in the test, against the snapshot schema.
pub fn check_snapshot(what: &str, v: &Value) {
    if let Err(e) = checker().snapshot(what, v) {
        panic!("{e}");
    }
}
