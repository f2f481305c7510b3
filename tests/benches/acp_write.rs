//! The time Tandem adds between an ACP agent's `fs/write_text_file` and the edit leaving for the
//! editor, end to end through the release `tandem` binary and the scripted agent: the agent
//! stamps the wall-clock time just before it sends each write, the simulated editor (applying
//! edits as VS Code does) the time each `workspace/applyEdit` arrives. Both pipes are included.
//!
//! ```sh
//! cargo build --release -p tandem
//! TANDEM_BIN=$PWD/target/release/tandem cargo bench -p tandem-tests --bench acp_write
//! ```
//!
//! With `BENCH_TANDEM_LOG=debug` the server logs when the SDK hands it each write and when its
//! `workspace/applyEdit` leaves: the time inside Tandem alone, without the pipes.
//!
//! Writes go one after another (each is answered once its edit has landed): a one-line change
//! to a 200-line document open in the editor (a converging, versioned edit), and to files that
//! are not open (a `workspace/applyEdit` with version `null`).

#![allow(clippy::print_stdout, reason = "a bench binary reports on stdout")]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, Incoming, SpawnOptions};

const WRITES: usize = 200;
const LINES: usize = 200;

fn main() -> Result<()> {
    tandem_tests::bench::run("acp_write", |_| async {
        println!(
            "{WRITES} writes each; from the agent sending fs/write_text_file to the applyEdit arriving\n\n| file | median | p90 | max |\n|---|---|---|---|"
        );
        for open in [true, false] {
            let mut took = writes(open).await?;
            took.sort();
            let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
            println!(
                "| {} | {:.3} ms | {:.3} ms | {:.3} ms |",
                if open { "open (200 lines)" } else { "not open" },
                ms(at(0.5)),
                ms(at(0.9)),
                ms(at(1.0)),
            );
        }
        Ok(())
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn text(n: usize) -> String {
    (0..LINES)
        .map(|k| {
            if k == 100 {
                format!("let changed = {n};\n")
            } else {
                format!("let v{k} = {k};\n")
            }
        })
        .collect()
}

/// Runs one job of `WRITES` writes; the delay of each.
async fn writes(open: bool) -> Result<Vec<Duration>> {
    let root = tempfile::tempdir()?;
    let root_path = root.path().canonicalize()?;
    let stamps = root_path.join(".stamps");
    std::fs::write(root_path.join(".gitignore"), ".stamps\n.script\n")?;
    let steps: Vec<Value> = (1..=WRITES)
        .map(|n| {
            let file = if open {
                "open.rs".to_owned()
            } else {
                format!("closed{n}.rs")
            };
            json!({"write": {"path": root_path.join(file), "content": text(n)}})
        })
        .collect();
    std::fs::write(root_path.join("open.rs"), text(0))?;
    for n in 1..=WRITES {
        std::fs::write(root_path.join(format!("closed{n}.rs")), text(0))?;
    }
    // Too long for an environment variable: the script is a file.
    let script = root_path.join(".script");
    std::fs::write(&script, json!({"turns": [{"steps": steps}]}).to_string())?;
    let command = vec![
        "env".to_owned(),
        format!("TANDEM_ACP_SCRIPT_FILE={}", script.display()),
        format!("TANDEM_ACP_STAMPS={}", stamps.display()),
        env!("CARGO_BIN_EXE_acp_agent").to_owned(),
    ];
    // The tests' debug log would be part of what is timed, unless asked for.
    let quiet = SpawnOptions {
        env: vec![(
            "TANDEM_LOG".to_owned(),
            std::env::var("BENCH_TANDEM_LOG").unwrap_or("warn".into()),
        )],
        ..SpawnOptions::default()
    };
    let mut editor = Editor::spawn(quiet).await?;
    editor.edits = EditBehavior::VsCode;
    let uri = |p: &Path| format!("file://{}", p.display());
    let options = json!({
        "model": {"provider": "acp", "command": command},
        "completion": {"enabled": false},
        "learn": {"enabled": false},
    });
    editor
        .initialize_with(
            &[],
            json!({"rootUri": uri(&root_path), "initializationOptions": options}),
        )
        .await?;
    let open_uri = uri(&root_path.join("open.rs"));
    editor.open(&open_uri, "rust", 1, &text(0)).await?;
    let started = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.task", "arguments": [{"instruction": "write", "uri": open_uri}]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("task: {e}"))?;
    let id = started["jobId"].clone();
    let mut arrived = Vec::new();
    loop {
        let message = editor
            .wait_for_long(Duration::from_secs(120), |m| match m {
                Incoming::Request { method, .. } if method == "workspace/applyEdit" => Some(None),
                Incoming::Notification { method, params } if method == "tandem/jobFinished" => {
                    Some(Some(params.clone()))
                }
                _ => None,
            })
            .await?;
        match message {
            None => arrived.push(SystemTime::now()),
            Some(end) => {
                ensure!(
                    end["status"] == "done" && end["jobId"] == id,
                    "the job ended {end}"
                );
                break;
            }
        }
    }
    let sent: Vec<SystemTime> = std::fs::read_to_string(&stamps)?
        .lines()
        .filter_map(|l| l.parse::<u64>().ok())
        .map(|us| UNIX_EPOCH + Duration::from_micros(us))
        .collect();
    ensure!(
        sent.len() == WRITES && arrived.len() == WRITES,
        "{} writes sent, {} edits arrived",
        sent.len(),
        arrived.len()
    );
    if open {
        let left = editor
            .doc(&open_uri)
            .map(|d| d.text.clone())
            .unwrap_or_default();
        ensure!(left == text(WRITES), "the open document ended wrong");
    }
    Ok(sent
        .iter()
        .zip(&arrived)
        .map(|(s, a)| a.duration_since(*s).unwrap_or_default())
        .collect())
}
