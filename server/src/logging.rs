//! Logging setup: stderr or `--log-file`, never stdout (stdout is the protocol).

use std::io::Write;
use std::path::Path;

/// Logs go to the file when given, else to stderr. Level from `TANDEM_LOG`, else `default_level`
/// (a server logs `info`; a command that says what happened itself, only `error`).
pub fn init(log_file: Option<&Path>, default_level: &str) -> std::io::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).with_ansi(false).init(),
    }
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("panic: {info}");
    }));
    Ok(())
}

/// How much a command (`exec`, `doctor`) says: `--quiet`, nothing, or `--verbose`. The server
/// has no such switch: its logs go to stderr or `--log-file`, never in anyone's way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Only what went wrong, and the command's output.
    Quiet,
    #[default]
    Normal,
    /// Also the logs of what was tried (model requests, retries): tandem's own at `debug`.
    Verbose,
}

impl Verbosity {
    /// From the two flags (clap keeps them exclusive).
    pub fn from_flags(quiet: bool, verbose: bool) -> Self {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }

    /// The log filter when `TANDEM_LOG` is not set, given the command's usual one.
    pub fn log_level(self, normal: &'static str) -> &'static str {
        match self {
            Verbosity::Quiet => "error",
            Verbosity::Normal => normal,
            Verbosity::Verbose => "info,tandem=debug",
        }
    }
}

/// A last word before the process gives up, on stderr.
pub fn fatal(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
