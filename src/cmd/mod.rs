//! The command layer: one file per command turns its parsed flags
//! (`crate::cli`) into validated options, resolves credentials
//! ([`credentials`], the one place that reads tokens from the environment,
//! files or a prompt), calls the library, and decides how results and
//! progress look (text, JSON, spinners on stderr, exit codes).
//!
//! It stops there: what a command does lives in the library modules
//! (`snapshot`, `plan`, `users`, `twin`, `demo`), which never name `crate::cli`
//! (`tests/architecture.rs` enforces it).

pub mod apply;
pub mod credentials;
pub mod docs;
pub mod doctor;
pub mod interrupt;
pub mod plan;
pub mod progress;
pub mod rehearse;
pub mod snapshot;
pub mod twin;
pub mod users;
pub mod verify;

use crate::cli::{Cli, Command, SnapshotSub, TwinCommand, UsersCommand};
use crate::context::Context;
use crate::error::{Error, Result, exit};
use clap::Parser;

/// Parse the process arguments, run the command, and return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
            let _ = e.print();
            return code;
        }
    };
    crate::output::init_colors(cli.global.no_color);
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::text::clean_lines(&e.message));
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMSHIFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("scimshift={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // `--no-color`, NO_COLOR and a piped stderr (decided by init_colors).
        .with_ansi(console::colors_enabled_stderr())
        .with_target(false)
        .try_init();
}

/// Dispatch one parsed command.
pub async fn run(cli: Cli) -> Result<i32> {
    let ctx = Context::new(cli.global.output, cli.global.yes);
    match cli.command {
        Command::Demo(args) => {
            crate::demo::run(
                &ctx,
                crate::demo::DemoOptions {
                    interactive: args.interactive,
                },
            )
            .await
        }
        Command::Twin(TwinCommand::Serve(args)) => twin::serve(&ctx, &args).await,
        Command::Snapshot(args) => match &args.diff {
            Some(SnapshotSub::Diff { a, b }) => crate::snapshot::diff::run(&ctx, a, b),
            None => snapshot::capture(&ctx, &args).await,
        },
        Command::Plan(args) => plan::plan(&ctx, &args),
        Command::Show(args) => plan::show(&ctx, &args),
        Command::Apply(args) => apply::apply(&ctx, &args).await,
        Command::Rehearse(args) => rehearse::rehearse(&ctx, &args).await,
        Command::Status(args) => apply::status(&ctx, &args).await,
        Command::Rollback(args) => apply::rollback(&ctx, &args).await,
        Command::Users(UsersCommand::Import(args)) => users::import(&ctx, &args).await,
        Command::Users(UsersCommand::Export(args)) => users::export(&ctx, &args).await,
        Command::Verify(args) => verify::verify(&ctx, &args).await,
        Command::Doctor(args) => doctor::doctor(&ctx, &args).await,
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
    }
}

/// Refuse a missing required flag with one sentence.
pub fn required<'a, T>(value: &'a Option<T>, flag: &str) -> Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| Error::usage(format!("{flag} is required")))
}

/// Show the notes credential resolution returned (a flag overridden by the
/// environment…) on stderr.
pub fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("note: {}", crate::text::clean_lines(n));
    }
}
