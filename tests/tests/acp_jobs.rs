//! End to end: actions and tasks run by an ACP agent (`model.provider: "acp"`), the scripted
//! agent in `src/bin/acp_agent.rs` behind the real server. Its writes converge in the open
//! document while the user types, land in closed files and create new ones, files it writes to
//! disk itself become part of the job, and reject puts all of it back; permission questions
//! reach the user; the agent is kept between jobs and started again when it died; a dead, a
//! garbled or a silent agent ends the job with a clear message and the document as it was.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions, default_answer};

const MAIN: &str = "fn main() {\n    println!(\"{}\", add(1, 2));\n}\n\nfn add(a: u8, b: u8) -> u8 {\n    a + b\n}\n";
const LIB: &str = "pub fn sub(a: u8, b: u8) -> u8 {\n    a - b\n}\n";
const NOTES: &str = "first notes\n";

/// A workspace with `src/main.rs` (opened by the tests), `src/lib.rs` and `notes.txt` (closed).
struct Setup {
    root: tempfile::TempDir,
}

impl Setup {
    fn new() -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir_all(root.path().join("src"))?;
        std::fs::write(root.path().join("src/main.rs"), MAIN)?;
        std::fs::write(root.path().join("src/lib.rs"), LIB)?;
        std::fs::write(root.path().join("notes.txt"), NOTES)?;
        std::fs::write(root.path().join(".gitignore"), "target/\n")?;
        Ok(Setup { root })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn uri(&self, relative: &str) -> String {
        format!("file://{}", self.path(relative).display())
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|_| "<missing>".into())
    }

    /// A server whose jobs run the scripted agent with `turns`, on the workspace with
    /// `main.rs` open, edits applied as VS Code applies them; `settings` are merged in.
    async fn start(&self, turns: Value, settings: Value) -> anyhow::Result<Editor> {
        let mut editor = Editor::spawn(SpawnOptions::default()).await?;
        editor.edits = EditBehavior::VsCode;
        let mut options = json!({
            "model": {"provider": "acp", "command": agent(&turns)},
        });
        if let (Some(options), Some(settings)) = (options.as_object_mut(), settings.as_object()) {
            options.extend(settings.clone());
        }
        editor
            .initialize_with(
                &[],
                json!({"rootUri": self.uri(""), "initializationOptions": options}),
            )
            .await?;
        editor
            .open(&self.uri("src/main.rs"), "rust", 1, MAIN)
            .await?;
        Ok(editor)
    }
}

/// The scripted agent's command, with its script in its environment.
fn agent(turns: &Value) -> Vec<String> {
    let script = json!({ "turns": turns }).to_string();
    vec![
        "env".to_owned(),
        format!("TANDEM_ACP_SCRIPT={script}"),
        env!("CARGO_BIN_EXE_acp_agent").to_owned(),
    ]
}

async fn command(editor: &mut Editor, name: &str, argument: Value) -> anyhow::Result<Value> {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": name, "arguments": [argument]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{name} failed: {e}"))
}

async fn finished(editor: &mut Editor, job: &Value) -> anyhow::Result<Value> {
    let job = job.clone();
    editor
        .notification("tandem/jobFinished", move |m| m["jobId"] == job)
        .await
}

fn text_of(editor: &Editor, uri: &str) -> String {
    editor.doc(uri).map(|d| d.text.clone()).unwrap_or_default()
}

fn touch(path: &Path) {
    std::fs::write(path, "").expect("the gate file is written");
}

/// The steps announced so far, as `tool: summary` lines.
fn steps(editor: &mut Editor) -> Vec<String> {
    editor
        .take_notifications("tandem/jobStep")
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["tool"].as_str().unwrap_or(""),
                s["summary"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn an_agents_writes_land_under_typing_in_closed_and_new_files_and_on_disk_and_reject_restores_them()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.path("src/main.rs");
    // Outside the workspace: a file in it would be one the agent wrote.
    let gates = tempfile::tempdir()?;
    let gate = gates.path().join("typed");
    let user_gate = gates.path().join("built");
    let fixed_main = MAIN.replace("    a + b\n", "    a.saturating_add(b)\n");
    let turns = json!([{ "steps": [
        { "thought": "Looking at the code" },
        { "plan": ["Read main.rs", "Make it saturate"] },
        { "read": { "path": main } },
        { "tool_call": { "id": "t1", "title": "Edit main.rs", "kind": "edit", "path": main } },
        { "wait_file": gate },
        { "write": { "path": main, "content": format!("// unsaved\n{fixed_main}") } },
        { "tool_done": "t1" },
        { "write": { "path": setup.path("src/lib.rs"), "content": LIB.replace("a - b", "a.saturating_sub(b)") } },
        { "write": { "path": setup.path("src/util/mod.rs"), "content": "pub fn one() -> u8 {\n    1\n}\n" } },
        // Its own tool writes a file on disk: that is the agent's.
        { "tool_call": { "id": "t2", "title": "Run the formatter", "kind": "execute" } },
        { "disk_write": { "path": setup.path("notes.txt"), "content": "notes by the agent\n" } },
        { "tool_done": "t2" },
        // Meanwhile a build writes its output, which is ignored: not the agent's.
        { "wait_file": user_gate },
        { "message": "Made the arithmetic **saturate**." },
    ], "usage": [1200, 80] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    // The user has unsaved text the agent reads.
    editor.type_at(&uri, 0, 0, "// unsaved\n").await?;
    let started = command(
        &mut editor,
        "tandem.fix",
        json!({"uri": uri, "range": {"start": {"line": 5, "character": 0}, "end": {"line": 7, "character": 1}}}),
    )
    .await?;
    let job = started["jobId"].clone();
    let tool_call = editor
        .notification("tandem/jobStep", |m| m["tool"] == "edit")
        .await?;
    assert_eq!(tool_call["summary"], "Edit main.rs", "{tool_call}");
    assert_eq!(tool_call["path"], "src/main.rs", "{tool_call}");
    // The agent has read the file; the user types below its change before it writes.
    let end = text_of(&editor, &uri).len();
    editor.type_at(&uri, end, end, "// mine\n").await?;
    touch(&gate);
    editor
        .notification("tandem/jobStep", |m| m["tool"] == "disk")
        .await?;
    std::fs::create_dir_all(setup.path("target"))?;
    std::fs::write(setup.path("target/build.log"), "built\n")?;
    touch(&user_gate);
    let report = finished(&mut editor, &job).await?;
    assert_eq!(report["status"], "done", "{report}");
    assert_eq!(report["action"], "fix");
    // The agent's words, those about its own requests included (the scripted agent says what
    // each returned), in order.
    let answer = report["result"]["markdown"].as_str().unwrap_or("");
    assert!(answer.starts_with("read: // unsaved\n"), "{answer}");
    assert!(
        answer.ends_with("Made the arithmetic **saturate**."),
        "{answer}"
    );
    assert_eq!(report["usage"]["promptTokens"], 1200, "{report}");
    let files: Vec<(String, bool)> = report["result"]["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["uri"].as_str().unwrap_or("").to_owned(),
                f["created"] == true,
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (uri.clone(), false),
            (setup.uri("src/lib.rs"), false),
            (setup.uri("src/util/mod.rs"), true),
            (setup.uri("notes.txt"), false),
        ]
    );
    // Both the agent's change and every keystroke of the user's.
    assert_eq!(
        text_of(&editor, &uri),
        format!("// unsaved\n{fixed_main}// mine\n")
    );
    assert_eq!(
        setup.read("src/lib.rs"),
        LIB.replace("a - b", "a.saturating_sub(b)")
    );
    assert_eq!(
        setup.read("src/util/mod.rs"),
        "pub fn one() -> u8 {\n    1\n}\n"
    );
    let shown = steps(&mut editor);
    for expected in [
        "plan: [~] Read main.rs; [ ] Make it saturate",
        "write: edited src/main.rs",
        "write: created src/util/mod.rs (3 lines)",
        "execute: Run the formatter",
    ] {
        assert!(
            shown.iter().any(|s| s == expected),
            "{expected:?} in {shown:#?}"
        );
    }

    // The edits are the fix's, by their label.
    let labels: Vec<&str> = editor
        .applied_edits
        .iter()
        .filter_map(|e| e["label"].as_str())
        .collect();
    assert!(labels.contains(&"Tandem: fix"), "{labels:?}");
    assert!(labels.iter().all(|l| *l == "Tandem: fix"), "{labels:?}");
    command(&mut editor, "tandem.reject", json!({"jobId": job})).await?;
    assert_eq!(
        text_of(&editor, &uri),
        format!("// unsaved\n{MAIN}// mine\n")
    );
    assert_eq!(setup.read("src/lib.rs"), LIB);
    assert_eq!(setup.read("notes.txt"), NOTES);
    assert!(!setup.path("src/util/mod.rs").exists());
    assert_eq!(setup.read("target/build.log"), "built\n");
    Ok(())
}

#[tokio::test]
async fn the_agent_is_kept_between_jobs_and_started_again_after_it_died() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let turns = json!([
        { "steps": ["pid"] },
        { "steps": ["pid", "closed"] },
        { "steps": [{ "exit": 3 }] },
        { "steps": ["pid"] },
    ]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    let mut pids = Vec::new();
    for _ in 0..2 {
        let job = command(
            &mut editor,
            "tandem.explain",
            json!({"uri": uri, "position": {"line": 5, "character": 3}}),
        )
        .await?;
        let report = finished(&mut editor, &job["jobId"]).await?;
        assert_eq!(report["status"], "done", "{report}");
        pids.push(
            report["result"]["markdown"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    assert!(pids[0].starts_with("pid: "), "{pids:?}");
    // One agent for both jobs, and the first job's session was closed when it ended.
    assert_eq!(pids[1], format!("{}closed: session-1", pids[0]), "{pids:?}");

    let job = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "failed", "{report}");
    let message = report["message"].as_str().unwrap_or("");
    assert!(
        message.contains("exited") && message.contains("3"),
        "{message}"
    );

    // The script's turns count in the process: a new agent plays from its first turn.
    let job = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let pid = report["result"]["markdown"].as_str().unwrap_or("");
    assert!(
        pid.starts_with("pid: ") && pid != pids[0],
        "{pid} after {pids:?}"
    );
    assert_eq!(text_of(&editor, &uri), MAIN);
    Ok(())
}

#[tokio::test]
async fn permission_questions_reach_the_user_and_no_answer_is_a_reject() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let turns = json!([
        { "steps": [{ "permission": "Run cargo test" }] },
        { "steps": [{ "permission": "Delete target/" }] },
    ]);
    let mut editor = setup.start(turns, json!({})).await?;
    editor.on_request(|method, params| match method {
        "window/showMessageRequest"
            if params["message"]
                .as_str()
                .unwrap_or("")
                .contains("cargo test") =>
        {
            json!({"title": "Always allow"})
        }
        _ => default_answer(method, params),
    });
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "run the tests", "uri": uri}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(
        report["result"]["markdown"], "permission: allow-always",
        "{report}"
    );
    let asked = editor.take_requests("window/showMessageRequest");
    let titles: Vec<&str> = asked[0]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(titles, ["Allow", "Always allow", "Reject"]);
    assert!(
        asked[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("asks to Run cargo test"),
        "{asked:?}"
    );

    // Dismissed (`null`): the agent's reject option, and the user is told.
    let job = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "clean up", "uri": uri}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(
        report["result"]["markdown"], "permission: reject-once",
        "{report}"
    );
    let shown = steps(&mut editor);
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("permission: Delete target/: rejected")),
        "{shown:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn explain_answers_in_words_and_may_not_write() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.path("src/main.rs");
    let turns = json!([{ "steps": [
        "echo_prompt",
        { "write": { "path": main, "content": "gone\n" } },
    ] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    let job = command(&mut editor, "tandem.explain", json!({"uri": uri, "range": {"start": {"line": 4, "character": 0}, "end": {"line": 6, "character": 1}}})).await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let answer = report["result"]["markdown"].as_str().unwrap_or("");
    for expected in [
        "text:Explain the selected code",
        "`src/main.rs`, lines 5–7",
        "fn add(a: u8, b: u8) -> u8",
        &format!("link:{uri}"),
        &format!("cwd: {}", setup.root.path().display()),
        "write error: tandem.explain changes no file",
    ] {
        assert!(answer.contains(expected), "{expected:?} in {answer}");
    }
    assert!(report["result"].get("files").is_none(), "{report}");
    assert_eq!(text_of(&editor, &uri), MAIN);
    Ok(())
}

#[tokio::test]
async fn paths_outside_the_workspace_and_secrets_are_refused() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let outside = tempfile::tempdir()?;
    let elsewhere = outside.path().join("x.rs");
    std::fs::write(setup.path(".env"), "API_KEY=secret\n")?;
    let turns = json!([{ "steps": [
        { "read": { "path": elsewhere } },
        { "write": { "path": elsewhere, "content": "x" } },
        { "read": { "path": setup.path(".env") } },
        { "message": "\nend" },
    ] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "look around", "uri": uri}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    let answer = report["result"]["markdown"].as_str().unwrap_or("");
    assert_eq!(answer.matches("refused").count(), 3, "{answer}");
    assert!(answer.contains("secret"), "{answer}");
    assert!(!answer.contains("API_KEY"), "{answer}");
    assert!(!elsewhere.exists());
    Ok(())
}

#[tokio::test]
async fn a_cancelled_job_leaves_everything_as_it_was() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.path("src/main.rs");
    let turns = json!([{ "steps": [
        { "write": { "path": main, "content": MAIN.replace("a + b", "a - b") } },
        { "write": { "path": setup.path("src/new.rs"), "content": "new\n" } },
        "wait_cancel",
    ] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "change it", "uri": uri}),
    )
    .await?;
    editor
        .notification("tandem/jobStep", |m| {
            m["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("created src/new.rs"))
        })
        .await?;
    command(&mut editor, "tandem.cancel", json!({"jobId": job["jobId"]})).await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "cancelled", "{report}");
    assert_eq!(text_of(&editor, &uri), MAIN);
    assert!(!setup.path("src/new.rs").exists());
    Ok(())
}

#[tokio::test]
async fn a_garbled_or_silent_agent_ends_the_job_with_a_clear_message() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.path("src/main.rs");
    let turns = json!([
        { "steps": [
            { "write": { "path": main, "content": MAIN.replace("a + b", "a * b") } },
            "malformed",
            { "message": "still here" },
        ] },
        { "steps": [
            { "write": { "path": main, "content": MAIN.replace("a + b", "a / b") } },
            "hang",
        ] },
    ]);
    let mut editor = setup
        .start(turns, json!({"agent": {"timeoutMs": 1500}}))
        .await?;
    let uri = setup.uri("src/main.rs");
    // A line that is not JSON is skipped (logged); the turn goes on.
    let job = command(
        &mut editor,
        "tandem.fix",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let answer = report["result"]["markdown"].as_str().unwrap_or("");
    assert!(answer.ends_with("still here"), "{report}");
    command(&mut editor, "tandem.reject", json!({"jobId": job["jobId"]})).await?;
    assert_eq!(text_of(&editor, &uri), MAIN);

    // Silent: the job ends at agent.timeoutMs; what it wrote is kept for a decision.
    let job = command(
        &mut editor,
        "tandem.fix",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let message = report["message"].as_str().unwrap_or("");
    assert!(
        message.contains("did not finish within 1 s (agent.timeoutMs)"),
        "{message}"
    );
    command(&mut editor, "tandem.reject", json!({"jobId": job["jobId"]})).await?;
    assert_eq!(text_of(&editor, &uri), MAIN);
    Ok(())
}

#[tokio::test]
async fn no_command_and_a_missing_program_are_said_plainly() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let mut editor = setup
        .start(
            json!([]),
            json!({"model": {"provider": "acp", "command": ["tandem-no-such-agent"]}}),
        )
        .await?;
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.fix",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "failed", "{report}");
    let message = report["message"].as_str().unwrap_or("");
    assert!(
        message.contains("`tandem-no-such-agent` could not be started"),
        "{message}"
    );
    assert!(message.contains("model.command"), "{message}");
    Ok(())
}

#[tokio::test]
async fn the_agents_process_group_ends_with_the_server() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let turns = json!([{ "steps": ["spawn_child"] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    let child: i32 = report["result"]["markdown"]
        .as_str()
        .and_then(|m| m.strip_prefix("child: "))
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no child pid in {report}"))?;
    let status = command(&mut editor, "tandem.status", json!({})).await?;
    let agent = status["acp"]["pid"].as_i64().unwrap_or(0) as i32;
    assert!(agent > 0, "{status}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    for pid in [agent, child] {
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            !alive(pid)
        });
        assert!(gone, "process {pid} outlived the server");
    }
    Ok(())
}

/// Whether `pid` runs (a zombie waiting for its parent counts as gone).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn exec_runs_an_action_through_the_agent_and_writes_its_files() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let project = home.path().join("project");
    std::fs::create_dir_all(project.join(".git"))?;
    std::fs::write(project.join("lib.rs"), LIB)?;
    let project = project.canonicalize()?;
    let turns = json!([{ "steps": [
        { "read": { "path": project.join("lib.rs") } },
        { "write": { "path": project.join("lib.rs"), "content": LIB.replace("a - b", "a.saturating_sub(b)") } },
        { "write": { "path": project.join("tests.rs"), "content": "#[test]\nfn t() {}\n" } },
        { "message": "\nSaturating now." },
    ] }]);
    let command: Vec<String> = agent(&turns);
    let quoted: Vec<String> = command.iter().map(|part| format!("{part:?}")).collect();
    std::fs::create_dir_all(home.path().join("tandem"))?;
    std::fs::write(
        home.path().join("tandem/config.toml"),
        format!(
            "[model]\nprovider = \"acp\"\ncommand = [{}]\n",
            quoted.join(", ")
        ),
    )?;
    let output = tokio::process::Command::new(tandem_tests::editor::tandem_bin())
        .args(["exec", "fix", "lib.rs", "--range", "2:5"])
        .current_dir(&project)
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("TANDEM_LOG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.trim_end().ends_with("Saturating now."), "{stdout}");
    assert!(
        stderr.contains("tandem: fix with the ACP agent env"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("lib.rs"))?,
        LIB.replace("a - b", "a.saturating_sub(b)")
    );
    assert_eq!(
        std::fs::read_to_string(project.join("tests.rs"))?,
        "#[test]\nfn t() {}\n"
    );
    Ok(())
}

#[tokio::test]
async fn an_editor_that_cannot_answer_a_question_gets_the_reject_choice_and_is_told()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let turns = json!([{ "steps": [{ "permission": "Run make" }] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    editor.silence("window/showMessageRequest");
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "build", "uri": uri}),
    )
    .await?;
    let id = editor
        .wait_for(|m| match m {
            tandem_tests::editor::Incoming::Request { id, method, .. }
                if method == "window/showMessageRequest" =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .await?;
    editor
        .send(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "not supported"}}))
        .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(
        report["result"]["markdown"], "permission: reject-once",
        "{report}"
    );
    let told = editor.take_notifications("window/showMessage");
    assert!(
        told.iter().any(|m| {
            let text = m["message"].as_str().unwrap_or("");
            text.contains("Run make") && text.contains("cannot answer")
        }),
        "{told:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_agents_edit_is_a_learning_signal_like_every_jobs() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.path("src/main.rs");
    let turns = json!([{ "steps": [
        { "write": { "path": main, "content": MAIN.replace("a + b", "a.wrapping_add(b)") } },
    ] }]);
    let mut editor = setup.start(turns, json!({})).await?;
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.fix",
        json!({"uri": uri, "position": {"line": 5, "character": 3}}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    command(
        &mut editor,
        "tandem.reject",
        json!({"jobId": job["jobId"], "reason": "saturate, do not wrap"}),
    )
    .await?;
    assert_eq!(text_of(&editor, &uri), MAIN);
    let mut signals = Value::Null;
    for _ in 0..200 {
        let status = command(&mut editor, "tandem.status", json!({})).await?;
        signals = status["store"]["counts"]["signals"].clone();
        if signals == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(signals, 1, "the rejected edit was recorded");
    Ok(())
}

#[tokio::test]
async fn in_preview_mode_an_agents_writes_land_at_the_end_in_one_edit_to_confirm()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.path("src/main.rs");
    let lib = setup.path("src/lib.rs");
    let turns = json!([{ "steps": [
        { "write": { "path": main, "content": MAIN.replace("a + b", "a.wrapping_add(b)") } },
        { "write": { "path": lib, "content": LIB.replace("a - b", "a.wrapping_sub(b)") } },
        { "read": { "path": lib } },
    ] }]);
    let mut editor = setup
        .start(turns, json!({"edits": {"mode": "preview"}}))
        .await?;
    let uri = setup.uri("src/main.rs");
    let job = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "wrap", "uri": uri}),
    )
    .await?;
    let report = finished(&mut editor, &job["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    // The agent read its own planned change before anything landed.
    let answer = report["result"]["markdown"].as_str().unwrap_or("");
    assert!(
        answer.contains("read: pub fn sub(a: u8, b: u8) -> u8 {\n    a.wrapping_sub(b)"),
        "{answer}"
    );
    let edits = editor.take_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1, "{edits:?}");
    let annotations = edits[0]["edit"]["changeAnnotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(annotations.len(), 2, "{edits:?}");
    assert!(annotations.values().all(|a| a["needsConfirmation"] == true));
    assert_eq!(
        text_of(&editor, &uri),
        MAIN.replace("a + b", "a.wrapping_add(b)")
    );
    assert_eq!(
        setup.read("src/lib.rs"),
        LIB.replace("a - b", "a.wrapping_sub(b)")
    );
    Ok(())
}

#[tokio::test]
async fn doctor_starts_the_agent_and_opens_a_session() -> anyhow::Result<()> {
    use tandem::config::Environment;
    use tandem::doctor::{DoctorOptions, run_with};
    use tandem::logging::Verbosity;
    let root = tempfile::tempdir()?;
    let cases = [
        (agent(&json!([])), 0, "ok: the ACP agent "),
        (
            vec!["tandem-no-such-agent".to_owned()],
            1,
            "failed: the ACP agent `tandem-no-such-agent` could not be started",
        ),
    ];
    for (command, code, said) in cases {
        let options = DoctorOptions {
            env: Environment::from_pairs::<&str, &str>([]),
            user_config: Some(root.path().join("none.toml")),
            workspace_root: Some(root.path().to_path_buf()),
            editor_settings: Some(json!({"model": {"provider": "acp", "command": command}})),
        };
        let mut out = Vec::new();
        let got = run_with(&options, Verbosity::Quiet, &mut out).await;
        let out = String::from_utf8(out)?;
        assert_eq!(got, code, "{out}");
        assert!(out.contains(said), "{said:?} in {out}");
    }
    Ok(())
}
