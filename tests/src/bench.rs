//! What the end-to-end bench binaries share: finding the release `tandem` binary they drive
//! (or saying how to build it), and running their async body on one thread.

use std::future::Future;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};

/// Runs a bench: finds the binary (warning, on stderr, when it is not given or looks like a
/// debug build) and runs `body` with it on a single-threaded runtime, so that the editor's and
/// the model's side never compete with each other for a core.
pub fn run<F, Fut>(bench: &str, body: F) -> Result<()>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let bin = tandem_binary(bench)?;
    // Without `TANDEM_BIN` the simulated editor's `tandem_bin()` searches the same way and
    // finds the same binary.
    if std::env::var_os("TANDEM_BIN").is_none() {
        warn(&format!("TANDEM_BIN not set; using {}", bin.display()));
    }
    if bin.components().any(|c| c.as_os_str() == "debug") {
        warn(&format!(
            "warning: {} looks like a debug build; the numbers will not mean much",
            bin.display()
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(body(bin))
}

#[allow(clippy::print_stderr, reason = "a bench binary warns on stderr")]
fn warn(message: &str) {
    eprintln!("{message}");
}

/// The binary the simulated editor will spawn, or a clear error saying how to build it.
fn tandem_binary(bench: &str) -> Result<PathBuf> {
    let hint = format!(
        "build it with `cargo build --release -p tandem` and run the bench with \
         `TANDEM_BIN=$PWD/target/release/tandem cargo bench -p tandem-tests --bench {bench}` \
         (an absolute path: cargo runs a bench from tests/)"
    );
    if let Some(path) = std::env::var_os("TANDEM_BIN") {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "TANDEM_BIN={} is not a file; {hint}",
            path.display()
        );
        return Ok(path);
    }
    let exe = std::env::current_exe().context("the bench's own path")?;
    exe.ancestors()
        .map(|dir| dir.join("tandem"))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "no tandem binary found next to {} and TANDEM_BIN is not set; {hint}",
                exe.display()
            )
        })
}
