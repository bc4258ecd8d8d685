//! `scimshift-fuzz TARGET|all [--seconds N] [--seed S]`: fuzz what scimshift
//! reads. Replays the regression inputs first, then mutates the seed corpus for
//! N seconds per target. Exit 0 when nothing was found, 1 when something was
//! (the inputs are in the findings folder), 64 for a bad command line.

use scimshift_fuzz::run::{self, Options};
use scimshift_fuzz::targets::Target;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USAGE: &str = "usage: scimshift-fuzz TARGET|all [--seconds N] [--seed S] [--timeout SECS] [--max-len BYTES] [--findings DIR]
targets: csv, scim, graph, snapshot, plan, journal (all: each in turn, N seconds each)
  --seconds N     how long to fuzz each target (default 60)
  --seed S        the generator's seed (default: from the clock, printed)
  --timeout SECS  the longest one input may take before it counts as a hang (default 10)
  --max-len BYTES the largest input tried (default 262144)
  --findings DIR  where inputs that found something are written (default fuzz/findings)";

fn main() {
    std::process::exit(match parse(std::env::args().skip(1).collect()) {
        Ok((targets, opts)) => fuzz_all(&targets, &opts),
        Err(m) => {
            eprintln!("scimshift-fuzz: {m}\n{USAGE}");
            64
        }
    });
}

fn parse(args: Vec<String>) -> Result<(Vec<Target>, Options), String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut opts = Options {
        duration: Duration::from_secs(60),
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        max_len: 256 * 1024,
        timeout: Duration::from_secs(10),
        findings: here.join("findings"),
        max_findings: 20,
    };
    let mut targets = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or(format!("{flag} needs a value"));
        let number = |flag: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} takes a whole number, not `{v}`"))
        };
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--seconds" => opts.duration = Duration::from_secs(number(&a, value(&a)?)?),
            "--seed" => opts.seed = number(&a, value(&a)?)?,
            "--timeout" => opts.timeout = Duration::from_secs(number(&a, value(&a)?)?.max(1)),
            "--max-len" => opts.max_len = number(&a, value(&a)?)? as usize,
            "--findings" => opts.findings = PathBuf::from(value(&a)?),
            "all" if targets.is_none() => targets = Some(Target::ALL.to_vec()),
            t if targets.is_none() && !t.starts_with('-') => {
                targets = Some(vec![Target::parse(t).ok_or(format!("no target `{t}`"))?]);
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok((targets.ok_or("name a target, or all")?, opts))
}

fn fuzz_all(targets: &[Target], opts: &Options) -> i32 {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("seed {}", opts.seed);
    let mut found = 0;
    for &t in targets {
        let name = t.name();
        for (path, input) in run::read_dir_inputs(&here.join("regressions").join(name)) {
            if let Err(e) = run::replay(move || t.harness(), &input, opts.timeout) {
                println!(
                    "{name}: regression input {} fails again: {e}",
                    path.display()
                );
                found += 1;
            }
        }
        let seeds: Vec<Vec<u8>> = run::read_dir_inputs(&here.join("corpus").join(name))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let r = run::fuzz(name, move || t.harness(), t.mutator(), seeds, opts);
        let secs = r.elapsed.as_secs_f64();
        println!(
            "{name}: {} runs in {secs:.0} s ({:.0}/s), {} seeds, {} outcome classes ({} inputs kept), slowest input {:.2} s, {} finding(s)",
            r.executions,
            r.executions as f64 / secs.max(0.001),
            r.seeds,
            r.outcomes.len(),
            r.kept,
            r.slowest.as_secs_f64(),
            r.findings.len()
        );
        for f in &r.findings {
            let at = f
                .saved
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            println!(
                "  {} {}: {}",
                f.kind,
                at,
                scimshift_core::text::clean(&f.message)
            );
        }
        found += r.findings.len();
    }
    i32::from(found > 0)
}
