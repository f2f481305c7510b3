//! `tandem::acp` against the scripted ACP agent (src/bin/acp_agent.rs): setup, ordered updates,
//! the agent's file and permission requests, cancel, and the agent's process group's life.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tandem::acp::{
    AcpClient, AcpError, AcpHost, FsError, PermissionChoice, PermissionKind, PlanStep, PromptBlock,
    StepStatus, StopReason, TokenUsage, ToolCallInfo, ToolStatus, Update,
};
use tokio::sync::Notify;

/// A read as the host got it: path, first line, line limit.
type Read = (PathBuf, Option<u32>, Option<u32>);

/// The trait as a test answers it: files in memory, writes and questions recorded.
#[derive(Default)]
struct TestHost {
    files: Mutex<HashMap<PathBuf, String>>,
    reads: Mutex<Vec<Read>>,
    writes: Mutex<Vec<(PathBuf, String)>>,
    questions: Mutex<Vec<(ToolCallInfo, Vec<PermissionChoice>)>>,
    /// The option to choose; `None`: never answer.
    answer: Option<String>,
    asked: Notify,
}

impl AcpHost for TestHost {
    async fn read_text_file(
        &self,
        _session: String,
        path: PathBuf,
        line: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, FsError> {
        lock(&self.reads).push((path.clone(), line, limit));
        let text = lock(&self.files).get(&path).cloned();
        let text = text.ok_or(FsError::NotFound(path))?;
        let skip = line.map_or(0, |line| line.saturating_sub(1)) as usize;
        let take = limit.map_or(usize::MAX, |limit| limit as usize);
        Ok(text
            .lines()
            .skip(skip)
            .take(take)
            .collect::<Vec<_>>()
            .join("\n"))
    }

    async fn write_text_file(
        &self,
        _session: String,
        path: PathBuf,
        content: String,
    ) -> Result<(), FsError> {
        lock(&self.writes).push((path.clone(), content.clone()));
        lock(&self.files).insert(path, content);
        Ok(())
    }

    async fn request_permission(
        &self,
        _session: String,
        tool_call: ToolCallInfo,
        options: Vec<PermissionChoice>,
    ) -> Option<String> {
        lock(&self.questions).push((tool_call, options));
        self.asked.notify_one();
        match &self.answer {
            Some(answer) => Some(answer.clone()),
            None => std::future::pending().await,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The scripted agent's command with `turns` as its script; the env var is set per client
/// through `env`, which the agent reads at start.
fn agent(turns: Value) -> Vec<String> {
    let script = json!({ "turns": turns }).to_string();
    vec![
        "env".to_owned(),
        format!("TANDEM_ACP_SCRIPT={script}"),
        env!("CARGO_BIN_EXE_acp_agent").to_owned(),
    ]
}

async fn start(turns: Value, root: &Path, host: &Arc<TestHost>) -> AcpClient {
    AcpClient::start(&agent(turns), root, Arc::clone(host))
        .await
        .expect("the scripted agent starts and initializes")
}

/// Everything the session has received so far.
fn drain(updates: &mut tokio::sync::mpsc::UnboundedReceiver<Update>) -> Vec<Update> {
    std::iter::from_fn(|| updates.try_recv().ok()).collect()
}

fn message(text: &str) -> Update {
    Update::Message(text.to_owned())
}

#[tokio::test]
async fn session_gets_the_root_as_cwd_and_the_prompt_with_its_file_link() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let turns = json!([{ "steps": ["echo_prompt"], "usage": [120, 30] }]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    assert_eq!(session.id, "session-1");
    let file = root.path().join("src/lib.rs");
    let blocks = vec![
        PromptBlock::Text("Fix it".to_owned()),
        PromptBlock::File(file.clone()),
    ];
    let end = client.prompt(&session.id, blocks).await.unwrap();
    assert_eq!(end.stop, StopReason::EndTurn);
    let usage = TokenUsage {
        input: 120,
        output: 30,
        total: 150,
    };
    assert_eq!(end.usage, Some(usage));
    let expected = format!(
        "prompt: text:Fix it | link:file://{} | cwd: {}",
        file.display(),
        root.path().display()
    );
    assert_eq!(drain(&mut session.updates), vec![message(&expected)]);
}

#[tokio::test]
async fn updates_arrive_in_the_agents_order_before_the_turn_ends() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let turns = json!([{ "steps": [
        { "thought": "Looking" },
        { "message": "one " },
        { "tool_call": { "id": "t1", "title": "Edit lib.rs", "kind": "edit", "path": "/w/lib.rs" } },
        { "plan": ["Read", "Edit"] },
        { "message": "two" },
    ] }]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    let end = client.prompt(&session.id, vec![]).await.unwrap();
    assert_eq!(end.stop, StopReason::EndTurn);
    assert_eq!(end.usage, None);
    let tool = ToolCallInfo {
        id: "t1".to_owned(),
        title: "Edit lib.rs".to_owned(),
        kind: "edit".to_owned(),
        status: ToolStatus::Pending,
        paths: vec![PathBuf::from("/w/lib.rs")],
    };
    let plan = vec![
        PlanStep {
            content: "Read".to_owned(),
            status: StepStatus::InProgress,
        },
        PlanStep {
            content: "Edit".to_owned(),
            status: StepStatus::Pending,
        },
    ];
    let expected = vec![
        Update::Thought("Looking".to_owned()),
        message("one "),
        Update::ToolCall(tool),
        Update::Plan(plan),
        message("two"),
    ];
    assert_eq!(drain(&mut session.updates), expected);
}

#[tokio::test]
async fn file_reads_and_writes_are_answered_by_the_host() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let path = root.path().join("a.txt");
    let missing = root.path().join("missing.txt");
    let on_disk = root.path().join("disk.txt");
    lock(&host.files).insert(path.clone(), "one\ntwo\nthree\nfour".to_owned());
    let turns = json!([{ "steps": [
        { "read": { "path": path, "line": 2, "limit": 2 } },
        { "write": { "path": path, "content": "new text" } },
        { "read": { "path": path } },
        { "read": { "path": missing } },
        { "disk_write": { "path": on_disk, "content": "by hand" } },
    ] }]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    client.prompt(&session.id, vec![]).await.unwrap();
    let expected = vec![
        message("read: two\nthree"),
        message(&format!("wrote {}", path.display())),
        message("read: new text"),
        message(&format!("read error: {} not found", missing.display())),
        message(&format!("wrote to disk {}", on_disk.display())),
    ];
    assert_eq!(drain(&mut session.updates), expected);
    let reads = lock(&host.reads).clone();
    assert_eq!(reads[0], (path.clone(), Some(2), Some(2)));
    assert_eq!(reads[1], (path.clone(), None, None));
    assert_eq!(*lock(&host.writes), vec![(path, "new text".to_owned())]);
    // Written by the agent itself: the host never saw it.
    assert_eq!(std::fs::read_to_string(&on_disk).unwrap(), "by hand");
}

#[tokio::test]
async fn a_permission_request_gets_the_hosts_choice() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost {
        answer: Some("allow-once".to_owned()),
        ..TestHost::default()
    });
    let turns = json!([{ "steps": [{ "permission": "Write lib.rs" }] }]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    client.prompt(&session.id, vec![]).await.unwrap();
    assert_eq!(
        drain(&mut session.updates),
        vec![message("permission: allow-once")]
    );
    let questions = lock(&host.questions).clone();
    let (tool, options) = &questions[0];
    assert_eq!(
        (tool.title.as_str(), tool.kind.as_str()),
        ("Write lib.rs", "edit")
    );
    let kinds: Vec<_> = options
        .iter()
        .map(|option| (option.id.as_str(), option.kind))
        .collect();
    let expected = vec![
        ("allow-once", PermissionKind::AllowOnce),
        ("allow-always", PermissionKind::AllowAlways),
        ("reject-once", PermissionKind::RejectOnce),
    ];
    assert_eq!(kinds, expected);
}

#[tokio::test]
async fn cancel_answers_an_open_permission_request_cancelled() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let turns = json!([{ "steps": [{ "permission": "Run rm" }, { "message": "never" }] }]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    let cancel = async {
        host.asked.notified().await;
        client.cancel(&session.id).unwrap();
    };
    let (end, ()) = tokio::join!(client.prompt(&session.id, vec![]), cancel);
    assert_eq!(end.unwrap().stop, StopReason::Cancelled);
    assert_eq!(
        drain(&mut session.updates),
        vec![message("permission: cancelled")]
    );
}

#[tokio::test]
async fn cancel_mid_turn_ends_it_cancelled_and_the_next_turn_runs() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let turns = json!([
        { "steps": [{ "message": "working" }, "wait_cancel", { "message": "never" }] },
        { "steps": [{ "message": "again" }] },
    ]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    let id = session.id.clone();
    let updates = &mut session.updates;
    let cancel = async {
        assert_eq!(updates.recv().await, Some(message("working")));
        client.cancel(&id).unwrap();
    };
    let (end, ()) = tokio::join!(client.prompt(&id, vec![]), cancel);
    assert_eq!(end.unwrap().stop, StopReason::Cancelled);
    assert_eq!(drain(&mut session.updates), vec![]);
    let end = client.prompt(&id, vec![]).await.unwrap();
    assert_eq!(end.stop, StopReason::EndTurn);
    assert_eq!(drain(&mut session.updates), vec![message("again")]);
}

/// Whether the process is gone (or a zombie, dead but not yet reaped).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Waits (bounded) for `pid` to die.
async fn dies(pid: u32) -> bool {
    for _ in 0..500 {
        if dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn dropping_the_client_kills_the_agents_process_group() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let turns = json!([{ "steps": ["spawn_child"] }]);
    let client = start(turns, root.path(), &host).await;
    let mut session = client.new_session().await.unwrap();
    client.prompt(&session.id, vec![]).await.unwrap();
    let updates = drain(&mut session.updates);
    let Some(Update::Message(text)) = updates.first() else {
        panic!("no child pid in {updates:?}");
    };
    let child: u32 = text.strip_prefix("child: ").unwrap().parse().unwrap();
    let agent = client.pid().unwrap();
    assert!(!dead(child) && !dead(agent));
    drop(client);
    assert!(dies(agent).await, "the agent {agent} outlived its client");
    assert!(
        dies(child).await,
        "the agent's child {child} outlived the client"
    );
}

#[tokio::test]
async fn an_agent_that_dies_mid_turn_is_noticed() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let turns = json!([{ "steps": [{ "message": "bye" }, { "exit": 3 }] }]);
    let client = start(turns, root.path(), &host).await;
    let session = client.new_session().await.unwrap();
    assert_eq!(client.exit_status(), None);
    let error = client.prompt(&session.id, vec![]).await.unwrap_err();
    let AcpError::Exited { status, .. } = &error else {
        panic!("expected the exit, got {error}");
    };
    assert!(status.contains('3'), "{status}");
    assert!(client.exit_status().is_some());
    assert!(matches!(
        client.new_session().await,
        Err(AcpError::Exited { .. })
    ));
}

#[tokio::test]
async fn a_missing_agent_says_how_to_fix_it() {
    let root = tempfile::tempdir().unwrap();
    let host = Arc::new(TestHost::default());
    let command = vec!["tandem-no-such-acp-agent".to_owned()];
    let error = AcpClient::start(&command, root.path(), host)
        .await
        .unwrap_err();
    assert!(matches!(error, AcpError::Spawn { .. }), "{error}");
    assert!(error.to_string().contains("model.command"), "{error}");
}
