//! End to end: what lets a provider reuse its work between requests. A whole rewrite sends the
//! region as its prediction only where the settings allow it; two jobs on the same file send
//! prompts that begin with the same bytes; Anthropic gets its cache breakpoints.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const SOURCE: &str = "use crate::geo::{area_of, distance_between};\n\nfn alpha() -> f64 {\n    distance_between(1.0, 2.0)\n}\n\nfn beta() -> f64 {\n    area_of(3.0)\n}\n";

/// A server on the scripted model (`wire`), with `settings` merged into the model settings and
/// a workspace holding `files` when there are any.
async fn start(
    server: &ModelServer,
    wire: Wire,
    settings: Value,
    files: &[(&str, &str)],
) -> anyhow::Result<(tempfile::TempDir, Editor, String)> {
    let dir = tempfile::tempdir()?;
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(path, text)?;
    }
    let mut model = json!({"provider": wire.provider().as_str(), "baseUrl": server.base_url(wire), "name": "test-model"});
    if let (Some(model), Some(settings)) = (model.as_object_mut(), settings.as_object()) {
        model.extend(settings.clone());
    }
    let root_uri = format!("file://{}", dir.path().display());
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.edits = EditBehavior::VsCode;
    editor
        .initialize_with(
            &[],
            json!({"rootUri": root_uri, "initializationOptions": {"model": model}}),
        )
        .await?;
    let uri = format!("{root_uri}/src/main.rs");
    editor.open(&uri, "rust", 1, SOURCE).await?;
    Ok((dir, editor, uri))
}

/// Runs `command` on `lines` (0-based, end exclusive) of `uri` with the model answering
/// `answer`, and returns the body of the model request it made.
async fn run(
    server: &ModelServer,
    wire: Wire,
    editor: &mut Editor,
    command: &str,
    uri: &str,
    lines: (u32, u32),
    answer: &str,
) -> anyhow::Result<Value> {
    let before = server.requests().len();
    server.push(Reply::text(wire, &[answer]));
    let range = json!({"start": {"line": lines.0, "character": 0}, "end": {"line": lines.1, "character": 0}});
    let reply = editor
        .request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": [{"uri": uri, "range": range, "instruction": "double it"}]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{command}: {e}"))?;
    let job = reply["jobId"].clone();
    let done = editor
        .notification("tandem/jobFinished", move |p| p["jobId"] == job)
        .await?;
    assert_eq!(done["status"], "done", "{done}");
    let requests = server.requests();
    assert_eq!(requests.len(), before + 1, "one model request");
    Ok(requests[before].body.clone())
}

const ALPHA: (u32, u32) = (2, 5);
const BETA: (u32, u32) = (6, 9);
const ALPHA_REWRITTEN: &str =
    "```rust\nfn alpha() -> f64 {\n    distance_between(1.0, 2.0) * 2.0\n}\n```\n";
const BETA_REWRITTEN: &str = "```rust\nfn beta() -> f64 {\n    area_of(3.0) * 2.0\n}\n```\n";

#[tokio::test]
async fn a_rewrite_sends_the_region_as_its_prediction_only_where_the_setting_allows()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let region = "fn alpha() -> f64 {\n    distance_between(1.0, 2.0)\n}\n";

    // A local OpenAI-compatible server is sent no prediction unless the setting says so...
    for setting in [
        json!({}),
        json!({"predictedOutputs": "auto"}),
        json!({"predictedOutputs": false}),
    ] {
        let (_dir, mut editor, uri) = start(&server, Wire::OpenAi, setting.clone(), &[]).await?;
        let body = run(
            &server,
            Wire::OpenAi,
            &mut editor,
            "tandem.edit",
            &uri,
            ALPHA,
            ALPHA_REWRITTEN,
        )
        .await?;
        assert_eq!(body.get("prediction"), None, "{setting}: {body}");
        assert_eq!(editor.shutdown_and_exit().await?, 0);
    }

    // ...and with it, a whole rewrite sends the region fenced as the answer will be; an action
    // that answers in words sends none.
    let (_dir, mut editor, uri) = start(
        &server,
        Wire::OpenAi,
        json!({"predictedOutputs": true}),
        &[],
    )
    .await?;
    let body = run(
        &server,
        Wire::OpenAi,
        &mut editor,
        "tandem.edit",
        &uri,
        ALPHA,
        ALPHA_REWRITTEN,
    )
    .await?;
    assert_eq!(
        body["prediction"],
        json!({"type": "content", "content": format!("```rust\n{region}```\n")}),
        "{body}"
    );
    assert_eq!(
        body["max_tokens"], 4096,
        "a compatible server keeps its limit"
    );
    let body = run(
        &server,
        Wire::OpenAi,
        &mut editor,
        "tandem.explain",
        &uri,
        BETA,
        "It computes an area.",
    )
    .await?;
    assert_eq!(body.get("prediction"), None, "{body}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);

    // Anthropic has no such field, whatever the setting.
    let (_dir, mut editor, uri) = start(
        &server,
        Wire::Anthropic,
        json!({"predictedOutputs": true}),
        &[],
    )
    .await?;
    let body = run(
        &server,
        Wire::Anthropic,
        &mut editor,
        "tandem.edit",
        &uri,
        ALPHA,
        ALPHA_REWRITTEN,
    )
    .await?;
    assert!(!body.to_string().contains("prediction"), "{body}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// The workspace of the prefix tests: the team's rules, an AGENTS.md, and the two files the
/// functions' signatures come from.
const WORKSPACE: &[(&str, &str)] = &[
    (".tandem/rules.md", "- Prefer iterators to index loops.\n"),
    ("AGENTS.md", "Always use early returns."),
    (
        "src/geo.rs",
        "pub fn distance_between(a: f64, b: f64) -> f64 { (a - b).abs() }\n",
    ),
    (
        "src/shapes.rs",
        "pub fn area_of(r: f64) -> f64 { r * r * 3.14 }\n",
    ),
    ("src/main.rs", SOURCE),
];

/// Two edits on the same file, of `alpha` then of `beta`: both request bodies.
async fn two_edits(wire: Wire) -> anyhow::Result<(Value, Value)> {
    let server = ModelServer::start().await?;
    let (_dir, mut editor, uri) = start(&server, wire, json!({}), WORKSPACE).await?;
    let first = run(
        &server,
        wire,
        &mut editor,
        "tandem.edit",
        &uri,
        ALPHA,
        ALPHA_REWRITTEN,
    )
    .await?;
    let second = run(
        &server,
        wire,
        &mut editor,
        "tandem.edit",
        &uri,
        BETA,
        BETA_REWRITTEN,
    )
    .await?;
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok((first, second))
}

/// How many bytes `a` and `b` begin with in common.
fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

#[tokio::test]
async fn two_jobs_on_the_same_file_send_prompts_that_begin_with_the_same_bytes()
-> anyhow::Result<()> {
    let (first, second) = two_edits(Wire::OpenAi).await?;
    assert_eq!(
        first["messages"][0], second["messages"][0],
        "the same system prompt"
    );
    let a = first["messages"][1]["content"].as_str().unwrap();
    let b = second["messages"][1]["content"].as_str().unwrap();
    let shared = &a[..common_prefix(a, b)];
    // Everything that is about the file and the workspace, in that order...
    let mut last = 0;
    for stable in [
        "Prefer iterators to index loops.",
        "Always use early returns.",
        "File: src/main.rs (rust)",
        "use crate::geo::{area_of, distance_between};",
    ] {
        let at = shared.find(stable).unwrap_or_else(|| {
            panic!("{stable:?} not in the shared beginning:\n{shared}\n---\n{a}\n---\n{b}")
        });
        assert!(at >= last, "{stable:?} out of order in\n{a}");
        last = at;
    }
    // ...and nothing about the target: its signatures and its text come after.
    for (prompt, target, signature) in [
        (
            a,
            "fn alpha()",
            "pub fn distance_between(a: f64, b: f64) -> f64",
        ),
        (b, "fn beta()", "pub fn area_of(r: f64) -> f64"),
    ] {
        let signature_at = prompt.find(signature).expect(signature);
        let target_at = prompt.rfind(target).expect(target);
        assert!(
            shared.len() <= signature_at && signature_at < target_at,
            "{prompt}"
        );
        assert!(prompt.ends_with("\nInstruction: double it\n"), "{prompt}");
    }
    Ok(())
}

#[tokio::test]
async fn anthropic_is_told_to_cache_the_system_prompt_and_the_stable_part() -> anyhow::Result<()> {
    let (first, second) = two_edits(Wire::Anthropic).await?;
    let ephemeral = json!({"type": "ephemeral"});
    for body in [&first, &second] {
        let system = &body["system"];
        assert_eq!(system.as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(system[0]["cache_control"], ephemeral, "{body}");
        assert!(
            system[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("You are Tandem")
        );
        let blocks = body["messages"][0]["content"].as_array().unwrap();
        assert_eq!(blocks.len(), 2, "{body}");
        assert_eq!(blocks[0]["cache_control"], ephemeral, "{body}");
        assert_eq!(blocks[1].get("cache_control"), None, "{body}");
        let stable = blocks[0]["text"].as_str().unwrap();
        assert!(
            stable.contains("Always use early returns.")
                && stable.ends_with("use crate::geo::{area_of, distance_between};\n"),
            "{stable}"
        );
    }
    let blocks = |body: &Value, i: usize| body["messages"][0]["content"][i]["text"].clone();
    assert_eq!(first["system"], second["system"]);
    assert_eq!(
        blocks(&first, 0),
        blocks(&second, 0),
        "the stable part is the same"
    );
    assert_ne!(blocks(&first, 1), blocks(&second, 1));
    assert!(blocks(&first, 1).as_str().unwrap().contains("fn alpha()"));
    assert!(blocks(&second, 1).as_str().unwrap().contains("fn beta()"));
    Ok(())
}
