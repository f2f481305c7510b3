//! End to end: the tokens a job's model calls cost, through the real binary and the scripted
//! model on each wire: `tandem/jobFinished`'s `usage` (as reported, summed over the job's calls,
//! or estimated where the endpoint reports nothing), `tandem.status`'s counters, and the line
//! `tandem exec` ends with.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::{Value, json};
use tandem::model::tokens::TokenEstimator;
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions, tandem_bin};
use tandem_tests::model_server::{ModelServer, Reply, Reported, Wire};

const URI: &str = "file:///w/src/main.rs";
const UNFINISHED: &str = "fn double(x: u32) -> u32 {\n    todo!()\n}\n";
/// A first answer with a syntax error: the job asks once more, so it makes two calls.
const BROKEN: &str = "```rust\nfn double(x: u32) -> u32 {\n    x * 2 +\n}\n```";
const FIXED: &str = "```rust\nfn double(x: u32) -> u32 {\n    x * 2\n}\n```";
const EXPLAINED: &str = "`double` is not written yet: it panics with `todo!()`.";

/// An editor on the scripted model speaking `wire`.
async fn start(server: &ModelServer, wire: Wire) -> anyhow::Result<Editor> {
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.edits = EditBehavior::VsCode;
    let options = json!({"model": {"provider": wire.provider().as_str(),
        "baseUrl": server.base_url(wire), "name": "test-model"}});
    editor
        .initialize_with(&[], json!({"initializationOptions": options}))
        .await?;
    editor.open(URI, "rust", 1, UNFINISHED).await?;
    Ok(editor)
}

async fn command(editor: &mut Editor, name: &str, argument: Value) -> anyhow::Result<Value> {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": name, "arguments": [argument]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// Runs a job by its command and returns its `tandem/jobFinished`.
async fn run_job(editor: &mut Editor, name: &str, argument: Value) -> anyhow::Result<Value> {
    let job = command(editor, name, argument).await?["jobId"].clone();
    editor
        .notification("tandem/jobFinished", move |p| p["jobId"] == job)
        .await
}

async fn implement(editor: &mut Editor) -> anyhow::Result<Value> {
    let position = json!({"line": 1, "character": 4});
    run_job(
        editor,
        "tandem.implement",
        json!({"uri": URI, "position": position}),
    )
    .await
}

async fn explain(editor: &mut Editor) -> anyhow::Result<Value> {
    let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}});
    run_job(
        editor,
        "tandem.explain",
        json!({"uri": URI, "range": range}),
    )
    .await
}

/// `usage` as `tandem/jobFinished` should carry it.
fn usage_json(prompt: u64, cached: Option<u64>, output: u64) -> Value {
    let mut usage = json!({"promptTokens": prompt, "outputTokens": output});
    if let Some(cached) = cached {
        usage["cachedPromptTokens"] = json!(cached);
    }
    usage
}

/// A rewrite corrected once reports the sum of its two calls, cached prompt tokens included
/// where the wire has them (Anthropic's cache reads added into its prompt tokens); the status
/// counters add up every job's.
#[tokio::test]
async fn job_finished_and_the_status_counters_carry_the_tokens_as_reported() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let first = Reported {
        prompt: 2006,
        cached: Some(1920),
        output: 30,
    };
    let second = Reported {
        prompt: 2100,
        cached: None,
        output: 25,
    };
    let third = Reported {
        prompt: 900,
        cached: Some(512),
        output: 14,
    };
    for wire in Wire::ALL {
        // Ollama says nothing of a cache.
        let cache = |n: u64| (wire != Wire::Ollama).then_some(n);
        server.push(Reply::reporting(wire, &[BROKEN], first));
        server.push(Reply::reporting(wire, &[FIXED], second));
        let mut editor = start(&server, wire).await?;
        let done = implement(&mut editor).await?;
        assert_eq!(done["status"], "done", "{wire:?}: {done}");
        assert!(done.get("message").is_none(), "{wire:?}: {done}");
        assert_eq!(
            done["usage"],
            usage_json(4106, cache(1920), 55),
            "{wire:?}: {done}"
        );

        server.push(Reply::reporting(wire, &[EXPLAINED], third));
        let explained = explain(&mut editor).await?;
        assert_eq!(explained["status"], "done", "{wire:?}: {explained}");
        assert_eq!(
            explained["usage"],
            usage_json(900, cache(512), 14),
            "{wire:?}: {explained}"
        );

        let status = command(&mut editor, "tandem.status", json!({})).await?;
        let counters = &status["counters"];
        let totals = (
            &counters["promptTokens"],
            &counters["cachedPromptTokens"],
            &counters["outputTokens"],
        );
        let cached = json!(cache(1920 + 512).unwrap_or(0));
        assert_eq!(
            totals,
            (&json!(5006), &cached, &json!(69)),
            "{wire:?}: {counters}"
        );
        assert_eq!(editor.shutdown_and_exit().await?, 0);
    }
    Ok(())
}

/// An endpoint that reports no usage: the prompt and the answer are counted with the
/// estimator, the same on every wire that can leave usage out; no cached tokens are claimed.
#[tokio::test]
async fn an_endpoint_without_usage_gets_an_estimate() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let estimator = TokenEstimator::for_model("test-model");
    let answer = ["`double` is not written yet: ", "it panics with `todo!()`."];
    let mut expected = None;
    for wire in [Wire::OpenAi, Wire::Responses, Wire::Ollama] {
        server.push(Reply::stream(wire, wire.render(&answer, None)));
        let mut editor = start(&server, wire).await?;
        let done = explain(&mut editor).await?;
        assert_eq!(done["status"], "done", "{wire:?}: {done}");
        let usage = &done["usage"];
        assert_eq!(
            usage["outputTokens"],
            json!(estimator.count_raw(&answer.concat())),
            "{wire:?}: {done}"
        );
        assert!(
            usage.get("cachedPromptTokens").is_none(),
            "{wire:?}: {done}"
        );
        if wire == Wire::OpenAi {
            // The prompt as sent: the system message, then the user's.
            let sent = server.requests().last().unwrap().body.clone();
            let text: Vec<&str> = sent["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["content"].as_str().unwrap())
                .collect();
            assert_eq!(
                usage["promptTokens"],
                json!(estimator.count_raw(&text.join("\n"))),
                "{done}"
            );
            expected = Some(usage.clone());
        }
        assert_eq!(Some(usage), expected.as_ref(), "{wire:?}");
        let status = command(&mut editor, "tandem.status", json!({})).await?;
        assert_eq!(
            status["counters"]["promptTokens"], usage["promptTokens"],
            "{wire:?}"
        );
        assert_eq!(status["counters"]["cachedPromptTokens"], 0, "{wire:?}");
        assert_eq!(editor.shutdown_and_exit().await?, 0);
    }
    Ok(())
}

/// A job whose model never answered has no usage, and counts none.
#[tokio::test]
async fn a_job_whose_model_never_answered_has_no_usage() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::error(
        400,
        "{\"error\":{\"message\":\"bad request\"}}",
    ));
    let mut editor = start(&server, Wire::OpenAi).await?;
    let done = explain(&mut editor).await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done.get("usage").is_none(), "{done}");
    let status = command(&mut editor, "tandem.status", json!({})).await?;
    assert_eq!(status["counters"]["promptTokens"], 0);
    assert_eq!(status["counters"]["outputTokens"], 0);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Runs `tandem exec ARGS` in a project whose settings point at `model_url`.
async fn exec(model_url: &str, files: &[(&str, &str)], args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = home.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "tandem/config.toml",
        &format!(
            "[model]\nprovider = \"openai\"\nbaseUrl = \"{model_url}\"\nname = \"test-model\"\n"
        ),
    );
    std::fs::create_dir_all(home.path().join("project/.git")).unwrap();
    for (name, text) in files {
        write(&Path::new("project").join(name).display().to_string(), text);
    }
    tokio::process::Command::new(tandem_bin())
        .arg("exec")
        .args(args)
        .current_dir(home.path().join("project"))
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("TANDEM_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

/// `tandem exec` ends with one line of what the job's calls cost (after what it wrote; before
/// the failure when it failed); `--quiet` leaves it out.
#[tokio::test]
async fn exec_ends_with_the_tokens_it_spent() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let url = server.base_url(Wire::OpenAi);
    let lib = [("lib.rs", UNFINISHED)];
    let implement = ["implement", "lib.rs", "--range", "2:5"];
    let cost = |prompt, cached, output| Reported {
        prompt,
        cached,
        output,
    };
    let cases: &[(&[&str], Reply, i32, &[&str])] = &[
        (
            &implement,
            Reply::reporting(Wire::OpenAi, &[FIXED], cost(1234, Some(1000), 56)),
            0,
            &[
                "tandem: wrote lib.rs",
                "tandem: 1,234 prompt tokens (1,000 cached), 56 output tokens",
            ],
        ),
        (
            &["explain", "lib.rs"],
            Reply::reporting(Wire::OpenAi, &[EXPLAINED], cost(12, None, 1)),
            0,
            &["tandem: 12 prompt tokens, 1 output token"],
        ),
        (
            &["implement", "lib.rs", "--range", "2:5", "-q"],
            Reply::reporting(Wire::OpenAi, &[FIXED], cost(1234, Some(1000), 56)),
            0,
            &[],
        ),
        // A review whose answer is no list of findings fails: what it cost, then why.
        (
            &["review", "lib.rs"],
            Reply::reporting(Wire::OpenAi, &["Looks fine."], cost(300, None, 3)),
            2,
            &[
                "tandem: 300 prompt tokens, 3 output tokens",
                "tandem exec: the model's review is not a JSON array of findings*",
            ],
        ),
    ];
    for (args, reply, exit, ends) in cases {
        server.push(reply.clone());
        let output = exec(&url, &lib, args).await;
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(*exit), "{args:?}: {said}");
        let lines: Vec<&str> = said.lines().collect();
        // Quiet: nothing at all on stderr.
        let last = &lines[lines.len().saturating_sub(ends.len())..];
        assert_eq!(last.len(), ends.len(), "{args:?}: {said}");
        for (line, want) in last.iter().zip(ends.iter()) {
            let matches = match want.strip_suffix('*') {
                Some(start) => line.starts_with(start),
                None => line == want,
            };
            assert!(matches, "{args:?}: `{want}` not in:\n{said}");
        }
        if ends.is_empty() {
            assert_eq!(said, "", "{args:?}");
        }
        assert_eq!(
            said.matches(" prompt token").count(),
            usize::from(!ends.is_empty()),
            "{args:?}: {said}"
        );
    }
    Ok(())
}
