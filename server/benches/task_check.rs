//! What a task's `run_check` costs before the user's command does anything: the scratch copy of
//! this repository (files copied, bytes, shared folders) and the whole run of a command that does
//! nothing (`true`), the median and the range over several runs.
//!
//! Run: `cargo bench -p tandem --bench task_check`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use tandem::agent::task::check::{CheckOutcome, CheckSpec, Overlay, run_check};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 10;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow::anyhow!("the server crate has no parent folder"))?
        .to_path_buf();
    let runtime = tokio::runtime::Runtime::new()?;
    let spec = CheckSpec {
        command: vec!["true".to_owned()],
        ..CheckSpec::default()
    };
    // One unsaved buffer over a real file, as a task's edit would be.
    let overlays = [Overlay {
        path: root.join("server/src/lib.rs"),
        text: "// an unsaved edit\n".to_owned(),
    }];
    let cancel = CancellationToken::new();
    let mut outcomes: Vec<CheckOutcome> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let outcome = runtime
            .block_on(run_check(&root, &overlays, &spec, &cancel))
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(outcome.exit_code == Some(0), "`true` failed: {outcome:?}");
        outcomes.push(outcome);
    }
    let first = &outcomes[0].scratch;
    let copies: Vec<Duration> = outcomes.iter().map(|o| o.scratch.took).collect();
    let runs: Vec<Duration> = outcomes.iter().map(|o| o.took).collect();
    let shared: Vec<String> = first
        .shared
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "run_check on {} ({RUNS} runs, command `true`)",
        root.display()
    )?;
    writeln!(
        out,
        "  copied: {} files, {:.1} MiB; {} links; shared: {}",
        first.files,
        first.bytes as f64 / (1024.0 * 1024.0),
        first.links,
        if shared.is_empty() {
            "none".to_owned()
        } else {
            shared.join(", ")
        }
    )?;
    writeln!(
        out,
        "  {:<10} {:>10} {:>10} {:>10}",
        "", "median", "min", "max"
    )?;
    for (name, times) in [("copy", copies), ("whole run", runs)] {
        let (median, min, max) = spread(times);
        writeln!(
            out,
            "  {name:<10} {median:>10.1?} {min:>10.1?} {max:>10.1?}"
        )?;
    }
    Ok(())
}

fn spread(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let median = times[times.len() / 2];
    (median, times[0], times[times.len() - 1])
}
