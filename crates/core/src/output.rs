//! How results reach the admin: text or JSON on stdout, colour only when
//! wanted, private files written atomically. Progress bars are the command
//! layer's (`crate::cmd::progress`).

use std::io::IsTerminal;

/// `--output text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputMode {
    #[default]
    Text,
    Json,
}

/// Decide colour once per process: off for `NO_COLOR`, a pipe, or `--no-color`.
pub fn init_colors(force_off: bool) {
    let no_color = std::env::var_os("NO_COLOR");
    let no_color = no_color.as_deref();
    console::set_colors_enabled(colour_wanted(
        no_color,
        force_off,
        std::io::stdout().is_terminal(),
    ));
    console::set_colors_enabled_stderr(colour_wanted(
        no_color,
        force_off,
        std::io::stderr().is_terminal(),
    ));
}

/// The whole colour rule for one stream: never with `--no-color` (`force_off`)
/// or a non-empty `NO_COLOR` (no-color.org: an empty value does not count),
/// otherwise only when the stream is a terminal.
pub fn colour_wanted(
    no_color_env: Option<&std::ffi::OsStr>,
    force_off: bool,
    is_terminal: bool,
) -> bool {
    let no_color = no_color_env.is_some_and(|v| !v.is_empty());
    !force_off && !no_color && is_terminal
}

/// Whether stdin can answer a prompt.
pub fn stdin_is_interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false")
}

/// Print a value as pretty JSON on stdout, streamed (a 100,000-row verify
/// report is never built as one string).
pub fn print_json(value: &impl serde::Serialize) {
    use std::io::Write;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // Our own types always serialise; a closed stdout is not worth a panic.
    let _ = serde_json::to_writer_pretty(&mut w, value);
    let _ = writeln!(w);
    let _ = w.flush();
}

/// Write a file with mode 0600 (it holds people's data), atomically: a temp file
/// beside it, then a rename, so a crash never leaves half a file.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> crate::error::Result<()> {
    write_private_file_with(path, |f| std::io::Write::write_all(f, bytes))
}

/// [`write_private_file`] for content written by `fill` (a large snapshot is
/// streamed to disk instead of being built in memory first).
pub fn write_private_file_with(
    path: &std::path::Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> crate::error::Result<()> {
    use crate::error::Error;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} is not a file path", path.display())))?;
    refuse_special(path)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let _tracked = crate::interrupt::track_temp(&tmp);
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        fill(&mut f)?;
        tracing::debug!("{} written, syncing it to disk", path.display());
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io_at(path, e)
    })
}

/// Refuse to replace anything but a regular file: a symlink (its target would
/// be left alone and the link replaced), a FIFO, a socket or a device.
fn refuse_special(path: &std::path::Path) -> crate::error::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let ft = meta.file_type();
    let what = if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        return Ok(());
    } else {
        "a device, FIFO or socket, not a regular file"
    };
    Err(crate::error::Error::usage(format!(
        "{} is {what}: scimshift writes only regular files; give a new path",
        path.display()
    )))
}

/// Whether two paths name the same file: the same device and inode when both
/// exist, else the same canonical path.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Refuse an output path that is one of the command's inputs or another output.
pub fn refuse_overlap(
    outputs: &[(&str, &std::path::Path)],
    inputs: &[(&str, &std::path::Path)],
) -> crate::error::Result<()> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        for (other, p) in inputs.iter().chain(&outputs[..i]) {
            if same_file(out, p) {
                return Err(crate::error::Error::usage(format!(
                    "{flag} {} is the same file as {other}: it would be overwritten; give another path",
                    out.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::colour_wanted;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_the_flag() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        // (NO_COLOR, --no-color, terminal) -> colour
        let table = [
            (None, false, true, true),
            (None, false, false, false),
            (None, true, true, false),
            (None, true, false, false),
            (set, false, true, false),
            (set, false, false, false),
            (set, true, true, false),
            (empty, false, true, true),
            (empty, true, true, false),
            (empty, false, false, false),
        ];
        for (env, flag, tty, want) in table {
            assert_eq!(
                colour_wanted(env, flag, tty),
                want,
                "NO_COLOR={env:?} --no-color={flag} terminal={tty}"
            );
        }
    }
}
