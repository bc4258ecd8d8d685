//! The validated context every command receives instead of raw flags: output
//! mode, whether prompts may be shown, and the blanket `--yes`. Built by the
//! command layer (`crate::cmd`) from the global flags.

use crate::error::{Error, Result};
use crate::output::OutputMode;

#[derive(Debug, Clone)]
pub struct Context {
    pub output: OutputMode,
    /// `--yes`: every confirmation answered yes.
    pub assume_yes: bool,
    /// Whether a person can answer a prompt on stdin.
    pub interactive: bool,
}

impl Context {
    /// The context of this process: `--output`, `--yes`, and whether stdin is a terminal.
    pub fn new(output: OutputMode, assume_yes: bool) -> Self {
        Context {
            output,
            assume_yes,
            interactive: crate::output::stdin_is_interactive(),
        }
    }

    /// A context for tests and the demo: text output, no prompts.
    pub fn non_interactive(output: OutputMode) -> Self {
        Context {
            output,
            assume_yes: false,
            interactive: false,
        }
    }

    pub fn json(&self) -> bool {
        self.output == OutputMode::Json
    }

    /// Ask for confirmation. `--yes` answers yes; with no one to ask, refuse
    /// rather than hang.
    pub fn confirm(&self, question: &str) -> Result<bool> {
        if self.assume_yes {
            return Ok(true);
        }
        if !self.interactive {
            return Err(Error::usage(format!(
                "{question} — no one can answer a prompt here (stdin is not a terminal); pass --yes to proceed, or --dry-run to only look"
            )));
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|e| Error::io(format!("could not read the answer: {e}")))
    }

    /// Read a secret with a hidden prompt, or refuse when no one can type it.
    pub fn prompt_secret(&self, what: &str, env_hint: &str) -> Result<crate::secret::Secret> {
        if !self.interactive {
            return Err(Error::auth(format!(
                "no {what} was given: set {env_hint} (stdin is not a terminal, so it cannot be asked for)"
            )));
        }
        dialoguer::Password::new()
            .with_prompt(what)
            .interact()
            .map(crate::secret::Secret::new)
            .map_err(|e| Error::io(format!("could not read the {what}: {e}")))
    }
}
