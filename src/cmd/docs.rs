//! `scimshift completions SHELL` and `scimshift man`: shell completion
//! scripts and roff man pages generated from the clap definitions, so they
//! never drift from the flags.

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result, exit};
use clap::CommandFactory;

pub fn completions(args: &CompletionsArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics when a write fails (a closed
    // pipe, `| head`); one write here fails with a sentence instead.
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "scimshift", &mut out);
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .and_then(|_| std::io::stdout().flush())
        .map_err(|e| Error::io(format!("could not write the completion script: {e}")))?;
    Ok(exit::OK)
}

pub fn man(args: &ManArgs) -> Result<i32> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            render(cmd, &mut out)?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .and_then(|_| std::io::stdout().flush())
                .map_err(|e| Error::io(format!("could not write the man page: {e}")))?;
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::input(format!(
                    "--dir {}: not a directory (create it first)",
                    dir.display()
                )));
            }
            write_pages(cmd, dir, "scimshift")?;
        }
    }
    Ok(exit::OK)
}

fn render(cmd: clap::Command, out: &mut Vec<u8>) -> Result<()> {
    clap_mangen::Man::new(cmd)
        .render(out)
        .map_err(|e| Error::io(format!("could not render the man page: {e}")))
}

/// `NAME.1` for `cmd`, then one page per subcommand (`scimshift-plan.1`, …).
fn write_pages(cmd: clap::Command, dir: &std::path::Path, name: &str) -> Result<()> {
    let cmd = cmd.name(name.to_string());
    let mut out = Vec::new();
    render(cmd.clone(), &mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out)
        .map_err(|e| Error::io(format!("could not write {}: {e}", path.display())))?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub.clone(), dir, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
