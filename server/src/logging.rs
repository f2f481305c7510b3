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

/// A last word before the process gives up, on stderr.
pub fn fatal(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
