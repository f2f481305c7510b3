//! The LSP workload benchmark (`src/bin/lsp_workload/`) runs a tiny workload against the real
//! `tandem` binary and prints its table; nothing here looks at the figures themselves.

use std::process::Command;
use std::time::{Duration, Instant};

use tandem_tests::editor::tandem_bin;

#[test]
fn lsp_workload_prints_a_table_for_a_tiny_workload() {
    let server = format!("'{}' --stdio", tandem_bin().display());
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_lsp_workload"))
        .args([
            "--server", &server, "--runs", "1", "--lines", "100", "--edits", "10",
        ])
        .args([
            "--burst",
            "5",
            "--rate",
            "200",
            "--docs",
            "3",
            "--doc-lines",
            "20",
        ])
        .args(["--idle-ms", "200", "--timeout", "20"])
        .output()
        .expect("the lsp_workload binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lsp_workload failed:\n{stdout}\n{stderr}"
    );
    for row in [
        "start: initialize answer ms",
        "start: idle ms",
        "typing: cpu s",
        "typing: probe median ms",
        "docs: cpu s",
        "docs: probe on last ms",
    ] {
        assert!(stdout.contains(row), "no {row:?} row in:\n{stdout}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
