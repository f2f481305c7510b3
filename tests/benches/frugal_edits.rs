//! Token-frugal edits, end to end through the release `tandem` binary: a one-line change in a
//! 20-, 150- and 600-line function, the scripted model answering at a fixed rate of tokens per
//! second, as a whole rewrite ("before": `edits.blocksAboveLines` out of reach) and as the
//! server asks for it now (SEARCH/REPLACE blocks above 40 lines).
//!
//! ```sh
//! cargo build --release -p tandem
//! TANDEM_BIN=$PWD/target/release/tandem cargo bench -p tandem-tests --bench frugal_edits
//! ```
//!
//! Output tokens are the model's answer counted with `o200k_base` (the server's own estimator);
//! time to done is from `tandem.edit` to `tandem/jobFinished`, in the simulated editor that
//! applies edits as VS Code does. The model streams one chunk of about one token per tick. The
//! bench checks each job ends `done` with exactly the expected text.

#![allow(clippy::print_stdout, reason = "a bench binary reports on stdout")]

use std::time::Duration;

use anyhow::{Result, ensure};
use serde_json::json;
use tandem::model::tokens::TokenEstimator;
use tandem_tests::editor::{EditBehavior, Editor, Incoming, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tokio::time::Instant;

/// The scripted model's speed.
const TOKENS_PER_SECOND: f64 = 400.0;
const SIZES: [usize; 3] = [20, 150, 600];
const URI: &str = "file:///w/src/lib.rs";

fn main() -> Result<()> {
    tandem_tests::bench::run("frugal_edits", |_| async {
        println!(
            "one-line change, model at {TOKENS_PER_SECOND} tokens/s\n\n| function | before: output tokens | before: time to done | after: output tokens | after: time to done |\n|---|---|---|---|---|"
        );
        for lines in SIZES {
            let before = job(lines, false).await?;
            let after = job(lines, true).await?;
            println!(
                "| {lines} lines | {} | {:.2} s | {} | {:.2} s |",
                before.0,
                before.1.as_secs_f64(),
                after.0,
                after.1.as_secs_f64()
            );
        }
        Ok(())
    })
}

/// A function of `n` lines.
fn function(n: usize) -> String {
    let mut text = String::from("fn long() -> u32 {\n");
    for k in 0..n.saturating_sub(3) {
        text.push_str(&format!("    let v{k} = {k};\n"));
    }
    text.push_str("    v0\n}\n");
    text
}

/// Runs one `tandem.edit` over the whole function; returns the answer's output tokens and the
/// time to done.
async fn job(lines: usize, blocks: bool) -> Result<(usize, Duration)> {
    let text = function(lines);
    let expected = text.replacen("    let v7 = 7;\n", "    let v7 = 70;\n", 1);
    let answer = if blocks && lines > 40 {
        "<<<<<<< SEARCH\n    let v7 = 7;\n=======\n    let v7 = 70;\n>>>>>>> REPLACE\n".to_owned()
    } else {
        format!("```rust\n{expected}```\n")
    };
    let tokens = TokenEstimator::for_model("gpt-4o").count_raw(&answer);
    let chunks = chunks(&answer, tokens);
    let tick = Duration::from_secs_f64(tokens as f64 / TOKENS_PER_SECOND / chunks.len() as f64);
    let pieces: Vec<&str> = chunks.iter().map(String::as_str).collect();

    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, &pieces).delay_each(tick));
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.edits = EditBehavior::VsCode;
    let above = if blocks { 40 } else { 1_000_000 };
    let options = json!({
        "model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"},
        "edits": {"blocksAboveLines": above},
        "completion": {"enabled": false},
    });
    editor
        .initialize_with(&[], json!({"initializationOptions": options}))
        .await?;
    editor.open(URI, "rust", 1, &text).await?;
    let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": text.lines().count(), "character": 0}});
    let began = Instant::now();
    let started = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.edit", "arguments": [{"uri": URI, "range": range, "instruction": "v7 is 70"}]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("edit: {e}"))?;
    let id = started["jobId"].clone();
    // A whole 600-line function at this speed takes longer than the usual wait.
    let end = editor
        .wait_for_long(Duration::from_secs(120), move |m| match m {
            Incoming::Notification { method, params }
                if method == "tandem/jobFinished" && params["jobId"] == id =>
            {
                Some(params.clone())
            }
            _ => None,
        })
        .await?;
    let took = began.elapsed();
    ensure!(end["status"] == "done", "the job ended {end}");
    let left = editor.doc(URI).map(|d| d.text.clone()).unwrap_or_default();
    ensure!(
        left == expected,
        "{lines} lines, blocks {blocks}: wrong text"
    );
    Ok((tokens, took))
}

/// `text` in about `tokens` chunks (whole characters), as a model streams it.
fn chunks(text: &str, tokens: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(tokens.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}
