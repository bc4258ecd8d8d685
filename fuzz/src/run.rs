//! The fuzzing loop. Each input runs on a worker thread that owns the
//! harness; the loop waits for it at most the time bound, so a hang is a
//! finding and not a stuck run. A panic is caught, recorded with the input,
//! and the harness is rebuilt. Findings are written to the findings folder as
//! `TARGET-KIND-HASH.bin` (the input) and `.txt` (what went wrong).

use crate::mutate::Rng;
use crate::targets::{Harness, Mutator};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long and how hard to fuzz.
#[derive(Debug, Clone)]
pub struct Options {
    pub duration: Duration,
    pub seed: u64,
    /// The largest input tried.
    pub max_len: usize,
    /// The longest one input may take before it counts as a hang.
    pub timeout: Duration,
    /// Where findings are written (created when there is one).
    pub findings: PathBuf,
    /// Stop after this many findings.
    pub max_findings: usize,
}

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Report {
    pub executions: u64,
    pub seeds: usize,
    /// Inputs kept because they reached a new outcome class.
    pub kept: usize,
    pub outcomes: std::collections::BTreeSet<String>,
    pub findings: Vec<Finding>,
    pub elapsed: Duration,
    /// The slowest input's time.
    pub slowest: Duration,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: &'static str,
    pub message: String,
    pub input: Vec<u8>,
    pub saved: Option<PathBuf>,
}

enum Done {
    Passed(String),
    Refused(String),
    Panicked(String),
}

/// The worker threads' name, by which the panic hook knows them.
const WORKER: &str = "fuzz-worker";

type Factory = Box<dyn Fn() -> Box<dyn Harness> + Send + Sync>;

/// A worker thread owning a harness; inputs in, outcomes out.
struct Worker {
    inputs: mpsc::Sender<Vec<u8>>,
    done: mpsc::Receiver<Done>,
}

impl Worker {
    fn start(factory: std::sync::Arc<Factory>) -> Worker {
        let (tx_in, rx_in) = mpsc::channel::<Vec<u8>>();
        let (tx_done, rx_done) = mpsc::channel::<Done>();
        let spawned = std::thread::Builder::new()
            .name(WORKER.into())
            .spawn(move || {
                let mut harness = factory();
                for input in rx_in {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        harness.exec(&input)
                    }));
                    let done = match r {
                        Ok(Ok(sig)) => Done::Passed(sig),
                        Ok(Err(v)) => Done::Refused(v),
                        Err(p) => {
                            harness = factory();
                            Done::Panicked(panic_text(&p))
                        }
                    };
                    if tx_done.send(done).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("scimshift-fuzz: could not start a worker thread: {e}");
            std::process::exit(1);
        }
        Worker {
            inputs: tx_in,
            done: rx_done,
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    let msg = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into());
    let at = LAST_PANIC_AT
        .with(|l| l.borrow().clone())
        .unwrap_or_default();
    format!("{msg}{at}")
}

thread_local! {
    static LAST_PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Panics inside a harness are findings, not noise on stderr: keep where they
/// happened and print nothing.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_worker = std::thread::current().name() == Some(WORKER);
            if on_worker {
                let at = info
                    .location()
                    .map(|l| format!(" (at {}:{})", l.file(), l.line()));
                LAST_PANIC_AT.with(|l| *l.borrow_mut() = at);
            } else {
                default(info);
            }
        }));
    });
}

/// Every file in `dir` (none when it does not exist), sorted by name.
pub fn read_dir_inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "txt" && e != "md"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// Run one input once, on a fresh harness, within `timeout`: for replaying
/// seeds and regression inputs.
pub fn replay(
    factory: impl Fn() -> Box<dyn Harness> + Send + Sync + 'static,
    input: &[u8],
    timeout: Duration,
) -> Result<String, String> {
    quiet_panics();
    let worker = Worker::start(std::sync::Arc::new(Box::new(factory)));
    worker
        .inputs
        .send(input.to_vec())
        .map_err(|e| e.to_string())?;
    match worker.done.recv_timeout(timeout) {
        Ok(Done::Passed(sig)) => Ok(sig),
        Ok(Done::Refused(v)) => Err(format!("oracle: {v}")),
        Ok(Done::Panicked(p)) => Err(format!("panic: {p}")),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
    }
}

/// Fuzz one target from `seeds` for `opts.duration`.
pub fn fuzz(
    name: &str,
    factory: impl Fn() -> Box<dyn Harness> + Send + Sync + 'static,
    mutator: Mutator,
    seeds: Vec<Vec<u8>>,
    opts: &Options,
) -> Report {
    quiet_panics();
    let factory: std::sync::Arc<Factory> = std::sync::Arc::new(Box::new(factory));
    let mut worker = Worker::start(factory.clone());
    let mut rng = Rng::new(opts.seed);
    let mut report = Report {
        seeds: seeds.len(),
        ..Report::default()
    };
    let mut corpus: Vec<Vec<u8>> = if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds
    };
    let start = Instant::now();
    let mut next_seed = 0usize;
    while start.elapsed() < opts.duration && report.findings.len() < opts.max_findings {
        // Every seed once as it is, then mutations of the corpus.
        let input = if next_seed < report.seeds {
            next_seed += 1;
            corpus[next_seed - 1].clone()
        } else {
            let parent = rng.below(corpus.len());
            mutator(&mut rng, &corpus[parent], &corpus, opts.max_len)
        };
        let t = Instant::now();
        if worker.inputs.send(input.clone()).is_err() {
            worker = Worker::start(factory.clone());
            continue;
        }
        let done = worker.done.recv_timeout(opts.timeout);
        report.slowest = report.slowest.max(t.elapsed());
        report.executions += 1;
        let finding = |kind, message: String| Finding {
            kind,
            message,
            input: input.clone(),
            saved: None,
        };
        match done {
            Ok(Done::Passed(sig)) => {
                if report.outcomes.insert(sig) && corpus.len() < 4096 {
                    corpus.push(input);
                    report.kept += 1;
                }
            }
            Ok(Done::Refused(v)) => report.findings.push(finding("oracle", v)),
            Ok(Done::Panicked(p)) => report.findings.push(finding("panic", p)),
            Err(_) => {
                report.findings.push(finding(
                    "hang",
                    format!("no answer within {} s", opts.timeout.as_secs_f64()),
                ));
                // The stuck thread is abandoned; a new one takes over.
                worker = Worker::start(factory.clone());
            }
        }
    }
    report.elapsed = start.elapsed();
    for f in &mut report.findings {
        f.saved = save(&opts.findings, name, f);
    }
    report
}

/// FNV-1a, for stable finding names.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn save(dir: &Path, name: &str, f: &Finding) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let stem = format!("{name}-{}-{:016x}", f.kind, hash(&f.input));
    let bin = dir.join(format!("{stem}.bin"));
    std::fs::write(&bin, &f.input).ok()?;
    std::fs::write(dir.join(format!("{stem}.txt")), format!("{}\n", f.message)).ok()?;
    Some(bin)
}
