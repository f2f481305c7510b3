//! Real editor: headless Neovim 0.11 runs the Lua client (`editors/neovim`) against the real
//! binary and the scripted model server. Each case is a Lua script in `tests/editors/neovim/`
//! that exits 0 when everything it checks held and prints why otherwise.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tandem::model::FimWire;
use tandem_tests::editor::tandem_bin;
use tandem_tests::model_fim;
use tandem_tests::model_server::{ModelServer, RecordedRequest, Reply, Wire};
use tandem_tests::model_tools::ScriptedCall;
use tandem_tests::real_editors::{DOUBLE_SOURCE, nvim, repo_root, run};
use tempfile::TempDir;

/// How long one Neovim run may take before it is killed (the scripts wait 20 s at most for any
/// one thing).
const DEADLINE: Duration = Duration::from_secs(90);

/// A workspace folder (marked by `.tandem/`) holding one source file.
struct Workspace {
    dir: TempDir,
    file: PathBuf,
}

fn workspace(name: &str, source: &str) -> anyhow::Result<Workspace> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join(".tandem"))?;
    let file = dir.path().join(name);
    std::fs::write(&file, source)?;
    Ok(Workspace { dir, file })
}

/// Runs `tests/editors/neovim/<case>.lua` on the workspace's file and fails with the
/// transcript unless it passed.
async fn nvim_case(server: &ModelServer, workspace: &Workspace, case: &str) -> anyhow::Result<()> {
    nvim_case_with(server, workspace, case, &[]).await
}

async fn nvim_case_with(
    server: &ModelServer,
    workspace: &Workspace,
    case: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<()> {
    let root = repo_root();
    let script = root
        .join("tests/editors/neovim")
        .join(format!("{case}.lua"));
    let home = workspace.dir.path().join(".home");
    let mut command = tokio::process::Command::new(nvim()?);
    command
        .args(["--headless", "--clean", "-u"])
        .arg(&script)
        .arg(&workspace.file)
        .current_dir(workspace.dir.path())
        .env("TANDEM_BIN", tandem_bin())
        .env("TANDEM_PLUGIN", root.join("editors/neovim"))
        .env("TANDEM_MODEL_URL", server.base_url(Wire::OpenAi))
        .env("TANDEM_CONTROL_URL", server.url())
        // Nothing from this machine's configuration: no user file, no keys, no Neovim state.
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("TANDEM_LOG")
        .envs(env.iter().copied());
    let run = run(command, DEADLINE).await?;
    assert!(
        run.success,
        "the Neovim case {case} failed\n{}",
        run.transcript()
    );
    Ok(())
}

fn model_requests(server: &ModelServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect()
}

const MAIN: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";
const BROKEN_ADD: &str = "fn add(a: i32, b: i32) -> i32 { a + }\n";
const FIXED_ADD: &[&str] = &[
    "```rust\n",
    "fn add(a: i32, b: i32) -> i32 {\n",
    "    a + b\n",
    "}\n",
    "```\n",
];

#[tokio::test]
async fn setup_starts_the_server_with_the_settings() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "start").await?;
    assert!(model_requests(&server).is_empty(), "starting asks no model");
    Ok(())
}

#[tokio::test]
async fn setup_starts_the_server_the_neovim_0_10_way() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case_with(
        &server,
        &workspace,
        "start",
        &[("TANDEM_TEST_NO_LSP_CONFIG", "1")],
    )
    .await
}

#[tokio::test]
async fn a_fix_code_action_applies_the_models_fix() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, FIXED_ADD));
    let workspace = workspace("add.rs", BROKEN_ADD)?;
    nvim_case(&server, &workspace, "code_action_fix").await?;
    let requests = model_requests(&server);
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].body.to_string().contains("a + }"),
        "the prompt carries the broken code: {}",
        requests[0].body
    );
    Ok(())
}

#[tokio::test]
async fn an_edit_streams_into_the_buffer() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "stream_edit").await?;
    let requests = model_requests(&server);
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.to_string().contains("use three variables"));
    Ok(())
}

#[tokio::test]
async fn typing_above_a_streaming_edit_keeps_both() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "typing").await
}

#[tokio::test]
async fn the_apply_edit_handler_is_quiet_and_refuses_stale_edits() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "apply_edit").await
}

#[tokio::test]
async fn cancel_stops_the_stream_and_takes_it_back() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "cancel").await
}

#[tokio::test]
async fn implement_fills_the_body_at_the_cursor() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(
        Reply::text(
            Wire::OpenAi,
            &[
                "```rust
",
                "fn double(x: u32) -> u32 {\n",
                "    x * 2\n",
                "}\n",
                "```\n",
            ],
        )
        .gated(),
    );
    let workspace = workspace("double.rs", "fn double(x: u32) -> u32 {\n    todo!()\n}\n")?;
    nvim_case(&server, &workspace, "implement").await
}

#[tokio::test]
async fn typing_above_a_stream_applied_by_neovims_stock_handler_keeps_both() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case_with(
        &server,
        &workspace,
        "typing",
        &[("TANDEM_TEST_STOCK_APPLY_EDIT", "1")],
    )
    .await
}

#[tokio::test]
async fn reject_puts_the_region_back() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(
        Wire::OpenAi,
        &["```rust\n", "    let a = 1;\n", "    let b = 2;\n", "```\n"],
    ));
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "reject").await?;
    let requests = model_requests(&server);
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].body.to_string().contains("use two variables"),
        "the instruction asked for is in the prompt: {}",
        requests[0].body
    );
    Ok(())
}

#[tokio::test]
async fn a_preview_edit_asks_first_and_a_declined_one_changes_nothing() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    for _ in 0..2 {
        server.push(Reply::text(
            Wire::OpenAi,
            &["```rust\n", "    let a = 1;\n", "    let b = 2;\n", "```\n"],
        ));
    }
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "preview").await?;
    assert_eq!(model_requests(&server).len(), 2);
    Ok(())
}

#[tokio::test]
async fn an_explanation_opens_in_a_float() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(
        Wire::OpenAi,
        &["`add` returns ", "the sum of `a` and `b`."],
    ));
    let workspace = workspace("add.rs", "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n")?;
    nvim_case(&server, &workspace, "explain").await
}

#[tokio::test]
async fn checkhealth_reports_the_endpoint_reachable() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    // `tandem doctor` lists the models first, then asks for a fill-in-the-middle.
    server.push(Reply::json(200, json!({"data": [{"id": "test-model"}]})));
    server.push(Reply::fim(
        tandem::model::FimWire::OpenAiCompletions,
        &["a"],
    ));
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "health").await?;
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path == "/v1/models"),
        "doctor asked for the models: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    Ok(())
}

/// Runs `typing_both.lua` on [`DOUBLE_SOURCE`] with `env` (which handler applies the edits, when
/// the user starts typing).
async fn typing_both(env: &[(&str, &str)]) -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("double.rs", DOUBLE_SOURCE)?;
    nvim_case_with(&server, &workspace, "typing_both", env).await
}

const STOCK: (&str, &str) = ("TANDEM_TEST_STOCK_APPLY_EDIT", "1");
const BEFORE_FIRST_EDIT: (&str, &str) = ("TANDEM_TEST_TYPE_BEFORE_FIRST_EDIT", "1");

#[tokio::test]
async fn typing_above_and_below_a_streaming_implement_keeps_every_key_and_brace()
-> anyhow::Result<()> {
    typing_both(&[]).await
}

#[tokio::test]
async fn typing_above_and_below_a_stream_applied_by_neovims_stock_handler_is_right_and_quiet()
-> anyhow::Result<()> {
    typing_both(&[STOCK]).await
}

/// Typed before the job's first edit arrives: Neovim opened the file at version 0, and its stock
/// handler applies an edit of version 0 whatever the buffer's version, at the lines the server
/// computed before the typing (the server repairs it); the plugin's handler refuses it.
#[tokio::test]
async fn typing_before_the_first_edit_of_a_streaming_implement_keeps_every_key_and_brace()
-> anyhow::Result<()> {
    typing_both(&[BEFORE_FIRST_EDIT]).await
}

#[tokio::test]
async fn typing_before_the_first_edit_applied_by_neovims_stock_handler_is_repaired()
-> anyhow::Result<()> {
    typing_both(&[BEFORE_FIRST_EDIT, STOCK]).await
}

/// Copies the directory `from` to `to`, files and folders.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs `health_binary.lua` with the plugin inside a checkout made for the test (its
/// `editors/neovim` and `server/Cargo.toml`, and `target/release/tandem` when `built`), no
/// `cmd` setting and a `$PATH` without `tandem`.
async fn health_binary(built: bool) -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    // `tandem doctor` lists the models first, then asks for a fill-in-the-middle.
    server.push(Reply::json(200, json!({"data": [{"id": "test-model"}]})));
    server.push(Reply::fim(
        tandem::model::FimWire::OpenAiCompletions,
        &["a"],
    ));
    let workspace = workspace("main.rs", MAIN)?;
    let checkout = tempfile::tempdir()?;
    let plugin = checkout.path().join("editors/neovim");
    copy_tree(&repo_root().join("editors/neovim"), &plugin)?;
    std::fs::create_dir_all(checkout.path().join("server"))?;
    std::fs::write(checkout.path().join("server/Cargo.toml"), "")?;
    if built {
        let release = checkout.path().join("target/release");
        std::fs::create_dir_all(&release)?;
        std::fs::copy(tandem_bin(), release.join("tandem"))?;
    }
    let path = tempfile::tempdir()?;
    let (plugin, path) = (plugin.to_string_lossy(), path.path().to_string_lossy());
    let binary = if built { "built" } else { "missing" };
    let env = [
        ("TANDEM_PLUGIN", plugin.as_ref()),
        ("PATH", path.as_ref()),
        ("TANDEM_TEST_BINARY", binary),
    ];
    nvim_case_with(&server, &workspace, "health_binary", &env).await
}

#[tokio::test]
async fn checkhealth_without_a_binary_says_how_to_get_one() -> anyhow::Result<()> {
    health_binary(false).await
}

#[tokio::test]
async fn the_plugin_finds_the_server_built_in_its_checkout() -> anyhow::Result<()> {
    health_binary(true).await
}

/// `learn.lua`: two edits rejected with `:Tandem reject {reason}`, each followed by the rule the
/// server proposes, approved from `:Tandem rules`, the second in the person's words. The model
/// is asked for each rule with the reason given (the server heard it), and `.tandem/rules.md`
/// ends with both rules as approved.
#[tokio::test]
async fn reject_with_a_reason_leads_to_rules_approved_from_tandem_rules() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let edit = ["```rust\n", "    let a = 1;\n", "    let b = 2;\n", "```\n"];
    server.push(Reply::text(Wire::OpenAi, &edit));
    server.push(Reply::text(
        Wire::OpenAi,
        &["Keep the variables the code already has."],
    ));
    server.push(Reply::text(Wire::OpenAi, &edit));
    server.push(Reply::text(Wire::OpenAi, &["Do not shadow variables."]));
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "learn").await?;
    let requests: Vec<String> = model_requests(&server)
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    for (request, reason) in [
        (&requests[1], "we keep the single variable x"),
        (&requests[3], "we never shadow a variable"),
    ] {
        assert!(
            request.contains("The rule, or NONE:") && request.contains(reason),
            "the rule request carries the reason {reason:?}: {request}"
        );
    }
    let rules = std::fs::read_to_string(workspace.dir.path().join(".tandem/rules.md"))?;
    assert!(
        rules.contains("- Keep the variables the code already has.")
            && rules.contains("- Never shadow a variable.")
            && !rules.contains("Do not shadow"),
        "{rules}"
    );
    Ok(())
}

/// The two files of the task test: `main.rs` calls `util.rs`'s `twice`.
const TASK_MAIN: &str =
    "mod util;\n\nfn main() {\n    let x = util::twice(1);\n    println!(\"{x}\");\n}\n";
const TASK_UTIL: &str = "pub fn twice(x: i32) -> i32 {\n    x * 2\n}\n";

/// One model turn that calls `edit_file` on `path` (relative to the workspace root).
fn edit_file_turn(id: &str, path: &str, old: &str, new: &str) -> Reply {
    let arguments = json!({"path": path, "old": old, "new": new}).to_string();
    Reply::tool_calls(
        Wire::OpenAi,
        &[],
        &[ScriptedCall::new(id, "edit_file", &arguments)],
    )
}

/// `task.lua`: `:4Tandem task {instruction}` in `main.rs`; the model edits `util.rs` (on disk,
/// not open) and then `main.rs`, one turn each, and summarises. Both buffers hold the edits, the
/// steps and the summary are shown, and `:Tandem reject` puts both buffers back exactly. The
/// files on disk are never written (the edits went through the editor).
#[tokio::test]
async fn a_two_file_task_lands_in_both_buffers_and_rejecting_it_restores_them() -> anyhow::Result<()>
{
    let server = ModelServer::start().await?;
    server.push(edit_file_turn(
        "call_1",
        "util.rs",
        "pub fn twice(",
        "pub fn double(",
    ));
    server.push(edit_file_turn(
        "call_2",
        "main.rs",
        "util::twice(1)",
        "util::double(1)",
    ));
    server.push(Reply::text(
        Wire::OpenAi,
        &[
            "Renamed `twice` to `double` ",
            "in `util.rs` and its caller in `main.rs`.",
        ],
    ));
    let workspace = workspace("main.rs", TASK_MAIN)?;
    let util = workspace.dir.path().join("util.rs");
    std::fs::write(&util, TASK_UTIL)?;
    nvim_case(&server, &workspace, "task").await?;
    let requests: Vec<String> = model_requests(&server)
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert_eq!(
        requests.len(),
        3,
        "two tool turns and the summary: {requests:#?}"
    );
    assert!(
        requests[0].contains("rename twice to double everywhere"),
        "the task's instruction reaches the model: {}",
        requests[0]
    );
    for (request, id) in [(&requests[1], "call_1"), (&requests[2], "call_2")] {
        assert!(
            request.contains(id),
            "the model hears how its call {id} went: {request}"
        );
    }
    assert_eq!(std::fs::read_to_string(&workspace.file)?, TASK_MAIN);
    assert_eq!(std::fs::read_to_string(&util)?, TASK_UTIL);
    Ok(())
}

/// The fill-in-the-middle requests the server made (`POST /v1/completions`).
fn fim_requests(server: &ModelServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == model_fim::path(FimWire::OpenAiCompletions))
        .collect()
}

/// The body's string field `name` (empty when it has none).
fn field<'a>(body: &'a serde_json::Value, name: &str) -> &'a str {
    body[name].as_str().unwrap_or_default()
}

/// `completion.lua`: in the empty body of `double`, `l` typed and erased while the model is
/// still thinking about it (that request is cancelled, its connection closed); the suggestion
/// for the blank line shows as ghost text (first line inline at the cursor, the second below),
/// typing `let` is answered from the server's cache (no model request), `<M-l>` inserts the rest
/// and `u` takes back just that; the next suggestion, after the accepted text, is dismissed by
/// moving up. The model heard the text before the cursor as the prefix and the text after it as
/// the suffix, each time.
#[tokio::test]
async fn ghost_text_shows_the_suggestion_alt_l_inserts_it_and_moving_away_dismisses_the_next()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let wire = FimWire::OpenAiCompletions;
    server.push(Reply::fim(wire, &["et x = 1;"]).gated());
    server.push(Reply::fim(wire, &["let y = x * 2;\n", "    y\n", "}\n"]));
    server.push(Reply::fim(wire, &[" // doubled"]));
    let workspace = workspace("double.rs", "fn double(x: u32) -> u32 {\n    \n}\n")?;
    nvim_case(&server, &workspace, "completion").await?;
    let requests = fim_requests(&server);
    let prompts: Vec<&str> = requests.iter().map(|r| field(&r.body, "prompt")).collect();
    assert!(
        requests.len() >= 3,
        "three suggestions asked for: {prompts:#?}"
    );
    let [cancelled, blank, after] = [&requests[0], &requests[1], &requests[2]].map(|r| &r.body);
    assert!(
        requests[0].is_closed() && field(cancelled, "prompt").ends_with("{\n    l"),
        "the request after `l` was dropped: {cancelled}"
    );
    assert_eq!(field(blank, "model"), "test-model", "{blank}");
    assert!(
        field(blank, "prompt").ends_with("fn double(x: u32) -> u32 {\n    "),
        "the prefix is the text before the cursor: {blank}"
    );
    for body in [blank, after] {
        assert!(
            field(body, "suffix").starts_with("\n}"),
            "the suffix is the text after the cursor: {body}"
        );
    }
    assert!(
        field(after, "prompt").ends_with("    let y = x * 2;\n    y"),
        "the next prefix ends after the accepted text: {after}"
    );
    assert!(
        !prompts.iter().any(|p| p.ends_with("    let")),
        "typing into the suggestion asked the model: {prompts:#?}"
    );
    assert!(model_requests(&server).is_empty(), "no chat request");
    Ok(())
}

/// `completion_off.lua`: `setup{ completion = false }` sends `completion.enabled = false` (the
/// other completion settings kept) and maps no key; a second setup with it on maps the key in
/// the buffer already served.
#[tokio::test]
async fn completion_false_turns_inline_completion_off_in_the_server_and_the_plugin()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = workspace("main.rs", MAIN)?;
    nvim_case(&server, &workspace, "completion_off").await?;
    assert!(fim_requests(&server).is_empty(), "no suggestion asked for");
    Ok(())
}

/// `acp.lua`: with `model.provider = "acp"`, `:1Tandem fix` runs the scripted ACP agent, which
/// reads `add.rs` (the buffer's text), asks leave to edit it, writes the fix and says so. The
/// permission question reaches the user through Neovim's stock handler (`vim.ui.select`,
/// answered "Allow"), the buffer holds the fix, the finished fix ends like a task (the agent's
/// words in a float, the file awaiting accept or reject) and `:Tandem reject` puts the buffer
/// back. The agent, not the model, did the work; the file on disk is never written.
#[tokio::test]
async fn an_acp_agents_fix_asks_permission_lands_in_the_buffer_and_rejecting_it_restores_it()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    // The project is a folder of its own, so that the editor's and the server's state (in
    // `.home`, next to it) stay out of it: the server counts every file that changes on disk
    // during an agent's job as the agent's.
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join(".tandem"))?;
    let file = project.join("add.rs");
    std::fs::write(&file, BROKEN_ADD)?;
    let workspace = Workspace { dir, file };
    let fixed = FIXED_ADD[1..FIXED_ADD.len() - 1].concat();
    let turns = json!([{ "steps": [
        { "read": { "path": workspace.file } },
        { "permission": "Edit add.rs" },
        { "write": { "path": workspace.file, "content": fixed } },
        { "message": "\nFixed `add`: it returns `a + b`." },
    ] }]);
    let script = json!({ "turns": turns }).to_string();
    let command = json!([
        "env",
        format!("TANDEM_ACP_SCRIPT={script}"),
        env!("CARGO_BIN_EXE_acp_agent"),
    ])
    .to_string();
    nvim_case_with(
        &server,
        &workspace,
        "acp",
        &[("TANDEM_ACP_COMMAND", command.as_str())],
    )
    .await?;
    assert!(server.requests().is_empty(), "the model was asked");
    assert_eq!(std::fs::read_to_string(&workspace.file)?, BROKEN_ADD);
    Ok(())
}
