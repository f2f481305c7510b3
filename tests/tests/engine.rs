//! The job engine against an in-memory editor and the scripted model server: streaming, typing,
//! refusals, faults, cancel, reject, preview and the actions that do not stream, with no
//! JSON-RPC and no process. Each table runs its cases through one helper.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use tandem::agent::actions::Action;
use tandem::agent::engine::{Change, EditAnswer, EditTarget, JobReport, JobResult};
use tandem::agent::jobs::{JobId, JobStatus};
use tandem::agent::signals::{Reading, Signal, SignalSink, WATCH};
use tandem::config::EditMode;
use tandem::model::Endpoint;
use tandem_tests::memory_editor::{At, Behavior, MemoryEditor, Options, Record};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const URI: &str = "file:///w/src/main.rs";
const SOURCE: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";
/// SOURCE with line 1 rewritten to the two lines of [`TWO_LINES`].
const EDITED: &str = "fn main() {\n    let y = 1;\n    let z = 2;\n    println!(\"{x}\");\n}\n";
const TWO_LINES: [&str; 4] = ["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"];

/// The model's answer, one delta per piece.
fn answer(pieces: &[&str]) -> Reply {
    Reply::text(Wire::OpenAi, pieces)
}

/// Gated chunks up to and including the first line of code: the role chunk, the fence, the line.
const FIRST_LINE: usize = 3;

/// One step a case takes while its job runs.
#[derive(Clone, Debug)]
enum Step {
    /// Let `n` more gated chunks of the model's reply through.
    Release(usize),
    /// Wait until the buffer holds this text (an edit of the job landed).
    Shows(&'static str),
    /// The user types `text` at a place.
    Type(Place, &'static str),
    /// Edits wait at arrival from now on (see [`MemoryEditor::hold_edits`]).
    HoldEdits,
    /// Wait until this many edits arrived (held ones included).
    Held(usize),
    /// Let the held edits through, and hold later ones again.
    ReleaseHeld,
    /// Let held edits through.
    ReleaseEdits,
    /// Neovim reports its edits only with the user's typing (see [`MemoryEditor::hold_reports`]).
    HoldReports,
    /// Neovim reports what it holds, and goes on as usual.
    ReleaseReports,
    /// `tandem.cancel`.
    Cancel,
    /// Time passes (the user keeps typing in eglot, which holds its reports meanwhile).
    Pass(Duration),
}

#[derive(Clone, Copy, Debug)]
enum Place {
    Start,
    End,
    /// Just after the first occurrence of this text.
    After(&'static str),
}

/// One job: the editor, the model's replies, what happens while it runs, how it must end.
struct Case {
    name: &'static str,
    behavior: Behavior,
    source: &'static str,
    action: Action,
    at: At,
    replies: Vec<Reply>,
    /// The model endpoint's idle timeout, when the case needs a short one.
    idle: Option<Duration>,
    steps: Vec<Step>,
    status: JobStatus,
    /// A part of the report's message; `None`: the report has none.
    message: Option<&'static str>,
    /// The buffer's text at the end, exactly.
    text: String,
    /// The result region's text, for a done edit.
    region: Option<&'static str>,
    /// How many model requests the job made.
    asked: usize,
    /// How many edits were sent.
    edits: Range<usize>,
    /// How many of them the editor refused.
    refusals: usize,
    mode: EditMode,
    /// The editor reports every change as the whole text (kak-lsp, Vim's ALE).
    whole_text: bool,
}

/// `tandem.edit` of line 1 of SOURCE with the gated two-line answer, ending done with EDITED.
fn gated_edit(name: &'static str) -> Case {
    Case {
        name,
        behavior: Behavior::VsCode,
        source: SOURCE,
        action: Action::Edit,
        at: At::Lines(1..2),
        replies: vec![answer(&TWO_LINES).gated()],
        idle: None,
        steps: vec![
            Step::Release(FIRST_LINE),
            Step::Shows("let y = 1;"),
            Step::Release(20),
        ],
        status: JobStatus::Done,
        message: None,
        text: EDITED.into(),
        region: None,
        asked: 1,
        edits: 1..100,
        refusals: 0,
        mode: EditMode::Stream,
        whole_text: false,
    }
}

/// An editor of `behavior` on `endpoint` with SOURCE open, running `tandem.edit` of line 1.
async fn edit_line_one(behavior: Behavior, endpoint: Endpoint) -> (MemoryEditor, JobId) {
    let editor = MemoryEditor::new(Options::new(behavior, endpoint));
    editor.open(URI, SOURCE);
    let job = editor
        .start(Action::Edit, URI, At::Lines(1..2), Some("rewrite it"))
        .await
        .unwrap();
    (editor, job)
}

/// Runs a case and checks what every job must do: one progress begin first and one end last,
/// edits labelled with the job and sent to the document at a version, no change the engine
/// could not apply, and a done region that is the buffer's text as it ended.
async fn check(case: Case) -> (MemoryEditor, JobReport) {
    let name = case.name;
    let server = ModelServer::start().await.unwrap();
    for reply in case.replies {
        server.push(reply);
    }
    let mut endpoint = server.endpoint(Wire::OpenAi);
    if let Some(idle) = case.idle {
        endpoint.idle_timeout = idle;
    }
    let editor = MemoryEditor::new(Options {
        mode: case.mode,
        whole_text: case.whole_text,
        ..Options::new(case.behavior, endpoint)
    });
    editor.open(URI, case.source);
    let job = editor
        .start(case.action, URI, case.at, Some("rewrite it"))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    server.wait_for_requests(1).await;
    for step in case.steps {
        run(&server, &editor, job, step).await;
    }
    let report = editor.report(job).await;
    assert_eq!(report.status, case.status, "{name}: {report:?}");
    match (case.message, &report.message) {
        (None, None) => {}
        (Some(part), Some(message)) => assert!(message.contains(part), "{name}: {message}"),
        (expected, got) => panic!("{name}: message {got:?}, expected {expected:?}"),
    }
    assert_eq!(editor.text(URI), case.text, "{name}: the buffer");
    assert_eq!(
        server.requests().len(),
        case.asked,
        "{name}: model requests"
    );
    editor.record(|r| {
        assert!(r.sync_errors.is_empty(), "{name}: {:?}", r.sync_errors);
        let edits = r.edits.len();
        assert!(case.edits.contains(&edits), "{name}: {edits} edits");
        let refusals = r
            .answers
            .iter()
            .filter(|a| matches!(a, EditAnswer::Refused(_)));
        assert_eq!(refusals.count(), case.refusals, "{name}: {:?}", r.answers);
        let preview = case.mode == EditMode::Preview;
        for edit in &r.edits {
            assert_eq!(
                (edit.job, edit.action, edit.confirm),
                (job, case.action, preview)
            );
            let [Change::Text(text)] = &edit.changes[..] else {
                panic!("{name}: {edit:?}");
            };
            assert!(
                matches!(&text.target, EditTarget::Open { doc, .. } if &**doc == URI),
                "{name}: {edit:?}"
            );
        }
        check_progress(name, &r.progress, job);
    });
    if let (
        JobStatus::Done,
        Some(JobResult::Region {
            target,
            rope,
            chars,
        }),
    ) = (report.status, &report.result)
    {
        assert_eq!(rope.to_string(), case.text, "{name}: the result's text");
        let version = editor.record(|r| r.buffers[URI].version);
        assert_eq!(
            target,
            &EditTarget::Open {
                doc: URI.into(),
                version
            },
            "{name}"
        );
        if let Some(region) = case.region {
            assert_eq!(rope.slice(chars.clone()).to_string(), region, "{name}");
        }
    }
    (editor, report)
}

/// The job's progress began once, first, and ended once, last.
fn check_progress(name: &str, progress: &[(JobId, String)], job: JobId) {
    let events: Vec<&str> = progress
        .iter()
        .filter(|(id, _)| *id == job)
        .map(|(_, e)| e.as_str())
        .collect();
    let ends = events.iter().filter(|e| e.starts_with("end ")).count();
    assert!(
        events
            .first()
            .is_some_and(|e| e.starts_with("begin Tandem: "))
            && events.last().is_some_and(|e| e.starts_with("end "))
            && ends == 1,
        "{name}: {events:?}"
    );
}

async fn run(server: &ModelServer, editor: &MemoryEditor, job: JobId, step: Step) {
    match step {
        Step::Release(n) => server.release(n),
        Step::Shows(text) => editor.shows(URI, text).await,
        Step::Type(place, text) => {
            let buffer = editor.text(URI);
            let at = match place {
                Place::Start => 0,
                Place::End => buffer.chars().count(),
                Place::After(needle) => {
                    let byte = buffer.find(needle).unwrap() + needle.len();
                    buffer[..byte].chars().count()
                }
            };
            editor.type_at(URI, at, at, text);
        }
        Step::HoldEdits => editor.hold_edits(),
        Step::Held(n) => {
            let arrived = |r: &Record| (r.edits.len() >= n).then_some(());
            editor.until("edits to arrive and be held", arrived).await;
        }
        Step::ReleaseHeld => editor.release_held(),
        Step::ReleaseEdits => editor.release_edits(),
        Step::HoldReports => editor.hold_reports(),
        Step::ReleaseReports => editor.release_reports(),
        Step::Cancel => editor.cancel(job),
        Step::Pass(time) => tokio::time::sleep(time).await,
    }
}

/// The user types inside the region while the job streams: it stops, the typing kept.
fn typing_inside() -> Case {
    use Step::*;
    Case {
        steps: vec![
            Release(FIRST_LINE),
            Shows("let y = 1;"),
            Type(Place::After("let y"), "y"),
            Release(20),
        ],
        status: JobStatus::Cancelled,
        message: Some("you edited inside the region"),
        // The buffer as it was then: the new line, the old one it had not passed yet (the
        // streaming diff), and the typing.
        text: "fn main() {\n    let yy = 1;\n    let x = 1;\n    println!(\"{x}\");\n}\n".into(),
        ..gated_edit("typing inside stops the job and keeps the typing")
    }
}

#[tokio::test]
async fn edits_stream_into_the_buffer_and_survive_typing_around_them() {
    use Step::*;
    let cases = vec![
        Case {
            replies: vec![
                answer(&[
                    "Here:\n```rust\n",
                    "    let y = 1;\n",
                    "    let z = 2;\n",
                    "    let w = 3;\n",
                    "```\n",
                ])
                .gated(),
            ],
            steps: vec![
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                Release(1),
                Shows("let z = 2;"),
                Release(20),
            ],
            text: "fn main() {\n    let y = 1;\n    let z = 2;\n    let w = 3;\n    println!(\"{x}\");\n}\n"
                .into(),
            region: Some("    let y = 1;\n    let z = 2;\n    let w = 3;\n"),
            edits: 3..100,
            ..gated_edit("streams in several edits")
        },
        Case {
            steps: vec![
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                Type(Place::Start, "// note\n"),
                Type(Place::End, "// end\n"),
                Release(20),
            ],
            text: format!("// note\n{EDITED}// end\n"),
            region: Some("    let y = 1;\n    let z = 2;\n"),
            ..gated_edit("typing above and below")
        },
        typing_inside(),
        Case {
            steps: vec![
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                Type(Place::After("fn main() {\n"), "// before\n"),
                // The region ends after the old line not passed yet (the streaming diff).
                Type(Place::After("let x = 1;\n"), "// after\n"),
                Release(20),
            ],
            text: EDITED.replace("    let y", "// before\n    let y").replace("    println", "// after\n    println"),
            region: Some("    let y = 1;\n    let z = 2;\n"),
            ..gated_edit("typing just before and just after the region")
        },
        Case {
            source: "fn double(x: u32) -> u32 {\n    todo!()\n}\n",
            action: Action::Implement,
            at: At::Position(31),
            replies: vec![
                answer(&["```rust\nfn double(x: u32) -> u32 {\n    x * 2 +\n}\n```"]),
                answer(&["```rust\nfn double(x: u32) -> u32 {\n    x * 2\n}\n```"]),
            ],
            steps: Vec::new(),
            text: "fn double(x: u32) -> u32 {\n    x * 2\n}\n".into(),
            asked: 2,
            ..gated_edit("a syntax error in the answer is fixed by asking once more")
        },
    ];
    for case in cases {
        check(case).await;
    }
}

#[tokio::test]
async fn model_faults_and_cancel_end_the_job_and_take_its_text_back() {
    use Step::*;
    // Each fault comes after the first line landed: what was streamed must be taken back.
    let after_first_line = vec![Release(FIRST_LINE), Shows("let y = 1;"), Release(20)];
    let fault = |name, reply: Reply, message| Case {
        replies: vec![reply.gated()],
        steps: after_first_line.clone(),
        status: JobStatus::Failed,
        message: Some(message),
        text: SOURCE.into(),
        ..gated_edit(name)
    };
    let cases = vec![
        Case {
            replies: vec![Reply::error(500, "boom"); 3],
            steps: Vec::new(),
            status: JobStatus::Failed,
            message: Some("HTTP 500 after 3 attempts"),
            text: SOURCE.into(),
            asked: 3,
            edits: 0..1,
            ..gated_edit("HTTP 500, retried, then given up")
        },
        fault(
            "a stream cut after the first line",
            answer(&TWO_LINES).cut_after(FIRST_LINE + 1),
            "the stream was cut before the model finished",
        ),
        fault(
            "a malformed chunk",
            answer(&TWO_LINES).malformed_after(Wire::OpenAi, FIRST_LINE + 1),
            "a chunk that is not valid server-sent events",
        ),
        Case {
            idle: Some(Duration::from_millis(500)),
            ..fault(
                "a stall past the idle timeout",
                answer(&TWO_LINES).stall_after(FIRST_LINE + 1),
                "nothing arrived for 500 ms",
            )
        },
    ];
    let cancels =
        [Behavior::VsCode, Behavior::Neovim, Behavior::NeverAnswers].map(|behavior| Case {
            behavior,
            steps: vec![Release(FIRST_LINE), Shows("let y = 1;"), Cancel],
            status: JobStatus::Cancelled,
            message: Some("cancelled by the test"),
            text: SOURCE.into(),
            ..gated_edit("tandem.cancel in the middle of the stream")
        });
    for case in cases.into_iter().chain(cancels) {
        check(case).await;
    }
}

#[tokio::test]
async fn editors_that_answer_differently_all_end_with_exactly_the_right_text() {
    use Step::*;
    let stale = vec![
        HoldEdits,
        Release(FIRST_LINE),
        Held(1),
        Type(Place::Start, "// typed\n"),
        ReleaseEdits,
        Release(20),
    ];
    let inside_while_on_its_way = vec![
        HoldEdits,
        Release(FIRST_LINE),
        Held(1),
        Type(Place::After("let x"), "x"),
        ReleaseEdits,
        Release(20),
    ];
    let around = vec![
        Release(FIRST_LINE),
        Shows("let y = 1;"),
        Type(Place::Start, "// above\n"),
        Type(Place::End, "// below\n"),
        Release(20),
    ];
    // The user types above while every edit is on its way: each is refused as stale, each
    // refusal explained by the typing, and none counts against the job.
    let mut typing_all_along = vec![HoldEdits, Release(FIRST_LINE)];
    for n in 1..=8 {
        typing_all_along.extend([Held(n), Type(Place::Start, "/"), ReleaseHeld]);
    }
    typing_all_along.extend([ReleaseEdits, Release(20)]);
    let mut cases = vec![
        Case {
            steps: typing_all_along,
            text: format!("////////{EDITED}"),
            edits: 9..100,
            refusals: 8,
            ..gated_edit(
                "VS Code refuses eight edits in a row made stale by typing; the job ends done",
            )
        },
        Case {
            steps: stale.clone(),
            text: format!("// typed\n{EDITED}"),
            edits: 2..100,
            refusals: 1,
            ..gated_edit("VS Code refuses an edit made stale by typing; it is recomputed")
        },
        Case {
            behavior: Behavior::Neovim,
            ..gated_edit("Neovim: late didChanges, versions that jump, echoes as minimal diffs")
        },
        Case {
            behavior: Behavior::Neovim,
            steps: around,
            text: format!("// above\n{EDITED}// below\n"),
            ..gated_edit("Neovim: typing above and below")
        },
        Case {
            behavior: Behavior::Neovim,
            steps: vec![
                HoldReports,
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                Type(Place::Start, "// above\n"),
                ReleaseReports,
                Release(20),
            ],
            text: format!("// above\n{EDITED}"),
            ..gated_edit("Neovim: the echo and the typing above it in one didChange")
        },
        Case {
            behavior: Behavior::Neovim,
            steps: vec![
                HoldReports,
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                // The region ends after the old line the new text has not passed yet.
                Type(Place::After("let x = 1;\n"), "// after\n"),
                Type(Place::After("fn main() {\n"), "// before\n"),
                ReleaseReports,
                Release(20),
            ],
            text: EDITED
                .replace("    let y", "// before\n    let y")
                .replace("    println", "// after\n    println"),
            ..gated_edit("Neovim: the echo and the typing just after it in one didChange")
        },
        Case {
            behavior: Behavior::Neovim,
            steps: vec![
                HoldReports,
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                Type(Place::After("let y"), "y"),
                ReleaseReports,
                Release(20),
            ],
            status: JobStatus::Cancelled,
            message: Some("you edited inside the region"),
            text: "fn main() {\n    let yy = 1;\n    let x = 1;\n    println!(\"{x}\");\n}\n"
                .into(),
            ..gated_edit("Neovim: the echo and typing inside it in one didChange")
        },
        Case {
            behavior: Behavior::Neovim,
            steps: stale.clone(),
            text: format!("// typed\n{EDITED}"),
            edits: 2..100,
            ..gated_edit("Neovim drops a stale edit yet answers applied; it is recomputed")
        },
        Case {
            steps: inside_while_on_its_way.clone(),
            status: JobStatus::Cancelled,
            message: Some("you edited inside the region"),
            text: SOURCE.replace("let x", "let xx"),
            edits: 1..2,
            refusals: 1,
            ..gated_edit("VS Code: typing inside while an edit is on its way stops the job")
        },
        Case {
            behavior: Behavior::Neovim,
            steps: inside_while_on_its_way,
            status: JobStatus::Cancelled,
            message: Some("you edited inside the region"),
            text: SOURCE.replace("let x", "let xx"),
            edits: 1..2,
            ..gated_edit("Neovim: typing inside while an edit is on its way stops the job")
        },
        Case {
            behavior: Behavior::NeverAnswers,
            ..gated_edit("an editor that applies edits and never answers")
        },
        Case {
            mode: EditMode::Preview,
            steps: vec![Release(20)],
            edits: 1..2,
            ..gated_edit("preview: one edit at the end, to confirm")
        },
        Case {
            behavior: Behavior::Declines,
            mode: EditMode::Preview,
            steps: vec![Release(20)],
            status: JobStatus::Cancelled,
            message: Some("you declined the edit"),
            text: SOURCE.into(),
            edits: 1..2,
            refusals: 1,
            ..gated_edit("preview: the user declines")
        },
    ];
    // Editors that report every change as the whole text (kak-lsp, Vim's ALE): the server's own
    // edit and the user's typing arrive as one replacement of everything, which must still be
    // told apart.
    let around = || {
        vec![
            Release(FIRST_LINE),
            Shows("let y = 1;"),
            Type(Place::Start, "// above\n"),
            Type(Place::End, "// below\n"),
            Release(20),
        ]
    };
    cases.extend([
        Case {
            whole_text: true,
            steps: around(),
            text: format!("// above\n{EDITED}// below\n"),
            ..gated_edit("whole text: typing above and below")
        },
        Case {
            whole_text: true,
            steps: stale.clone(),
            text: format!("// typed\n{EDITED}"),
            edits: 2..100,
            refusals: 1,
            ..gated_edit("whole text: an edit made stale by typing is refused and recomputed")
        },
        Case {
            whole_text: true,
            behavior: Behavior::Neovim,
            steps: vec![
                HoldReports,
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                Type(Place::Start, "// above\n"),
                Type(Place::After("let x = 1;\n"), "// after\n"),
                ReleaseReports,
                Release(20),
            ],
            text: format!(
                "// above\n{}",
                EDITED.replace("    println", "// after\n    println")
            ),
            ..gated_edit("whole text, Neovim-like: the echo and typing around it in one change")
        },
        Case {
            whole_text: true,
            behavior: Behavior::NeverAnswers,
            steps: around(),
            text: format!("// above\n{EDITED}// below\n"),
            ..gated_edit("whole text, never answers: typing above and below")
        },
        Case {
            behavior: Behavior::Eglot,
            steps: vec![
                HoldReports,
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                // The user types; nothing is reported. The first edit is taken as landed after a
                // second; the next goes at the version the editor would be at without the typing,
                // is refused, and waits for the report rather than fail the job.
                Type(Place::Start, "// typed\n"),
                Release(20),
                Held(2),
                ReleaseReports,
            ],
            text: format!("// typed\n{EDITED}"),
            edits: 3..100,
            refusals: 0,
            ..gated_edit("eglot-like: reports held while the user types")
        },
        Case {
            behavior: Behavior::Eglot,
            steps: vec![
                HoldReports,
                // The user types before the first edit: it is refused (the editor is past its
                // version) while the report of the typing is held. The refusal says so, and the
                // job waits for the report rather than retry and fail.
                Type(Place::Start, "// typed\n"),
                Release(FIRST_LINE),
                Held(1),
                Pass(Duration::from_secs(3)),
                ReleaseReports,
                Release(20),
            ],
            text: format!("// typed\n{EDITED}"),
            edits: 2..100,
            refusals: 0,
            ..gated_edit("eglot-like: the first edit refused while the typing before it is held")
        },
        Case {
            behavior: Behavior::Eglot,
            steps: vec![
                // The user's reported typing is below the function: once eglot refuses an edit
                // for typing it holds, the next edits go at the version it names (blind), and
                // the function goes on appearing while the reports stay held.
                Type(Place::End, "// below 1\n"),
                Release(FIRST_LINE),
                Shows("let y = 1;"),
                HoldReports,
                Type(Place::End, "// below 2\n"),
                Release(1),
                Shows("let z = 2;"),
                Type(Place::End, "// below 3\n"),
                Release(20),
                Shows("let z = 2;\n    println"),
                ReleaseReports,
            ],
            text: format!("{EDITED}// below 1\n// below 2\n// below 3\n"),
            edits: 3..100,
            refusals: 0,
            ..gated_edit("eglot-like: streaming goes on while the user types below, reports held")
        },
        Case {
            whole_text: true,
            behavior: Behavior::NeverEchoes,
            steps: vec![Release(20)],
            text: EDITED.into(),
            ..gated_edit("never echoes (kak-lsp): answered edits are taken as landed")
        },
        Case {
            whole_text: true,
            behavior: Behavior::NeverEchoes,
            replies: vec![
                answer(&[
                    "```rust\n",
                    "    let yy = 1;\n",
                    "    let z = 2;\n",
                    "```\n",
                ])
                .gated(),
            ],
            steps: vec![Release(FIRST_LINE), Shows("let yy = 1;"), Release(20)],
            text: EDITED.replace("let y ", "let yy "),
            ..gated_edit(
                "never echoes (kak-lsp): an edit after one taken as landed goes at its lines",
            )
        },
        Case {
            whole_text: true,
            behavior: Behavior::NeverEchoes,
            steps: around(),
            text: format!("// above\n{EDITED}// below\n"),
            ..gated_edit("never echoes (kak-lsp): typing above and below")
        },
        Case {
            name: "whole text: typing inside stops the job",
            whole_text: true,
            ..typing_inside()
        },
    ]);
    for case in cases {
        check(case).await;
    }
}

#[tokio::test]
async fn explain_and_review_edit_nothing_and_return_their_result() {
    let (editor, report) = check(Case {
        action: Action::Explain,
        replies: vec![answer(&["`main` prints ", "the value of `x`."])],
        steps: Vec::new(),
        text: SOURCE.into(),
        edits: 0..1,
        ..gated_edit("explain")
    })
    .await;
    assert!(
        matches!(&report.result, Some(JobResult::Markdown(m)) if m == "`main` prints the value of `x`."),
        "{report:?}"
    );
    assert!(editor.record(|r| r.findings.is_empty()));

    let source =
        "fn main() {\n    let v = vec![1, 2, 3];\n    let x = v[3];\n    println!(\"{x}\");\n}\n";
    let findings = r#"```json
[
  {"start_line": 3, "end_line": 3, "severity": "error", "message": "Index 3 is out of bounds.", "replacement": "    let x = v[2];"},
  {"start_line": 4, "severity": "hint", "message": "Consider naming x."}
]
```"#;
    let (editor, report) = check(Case {
        source,
        action: Action::Review,
        at: At::Document,
        replies: vec![answer(&[findings])],
        steps: Vec::new(),
        text: source.into(),
        edits: 0..1,
        ..gated_edit("review")
    })
    .await;
    assert!(
        matches!(report.result, Some(JobResult::Findings(2))),
        "{report:?}"
    );
    editor.record(|r| {
        let [(uri, shown)] = &r.findings[..] else {
            panic!("{:?}", r.findings);
        };
        assert_eq!(uri, URI);
        let messages: Vec<_> = shown
            .iter()
            .map(|f| (f.start_line, f.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [(3, "Index 3 is out of bounds."), (4, "Consider naming x.")]
        );
    });
}

#[tokio::test]
async fn tests_for_a_python_function_go_to_the_test_file_beside_it() {
    let python = "def double(x):\n    return x * 2\n";
    let tests = "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n";
    // (the test file before, if there is one; the test file after)
    let cases = [
        (None, tests.to_owned()),
        (Some("import calc\n"), format!("import calc\n\n{tests}")),
    ];
    for (before, after) in cases {
        let dir = tempfile::tempdir().unwrap();
        let test_path = dir.path().join("test_calc.py");
        let server = ModelServer::start().await.unwrap();
        server.push(answer(&["```python\n", tests, "```\n"]));
        let editor = MemoryEditor::new(Options::new(
            Behavior::VsCode,
            server.endpoint(Wire::OpenAi),
        ));
        if let Some(before) = before {
            // The engine reads it from disk; the editor edits its own copy.
            std::fs::write(&test_path, before).unwrap();
            editor.put_file(&test_path, before);
        }
        let uri = format!("file://{}", dir.path().join("calc.py").display());
        editor.open(&uri, python);
        let job = editor
            .start(Action::Tests, &uri, At::Position(5), None)
            .await
            .unwrap();
        let report = editor.report(job).await;
        assert_eq!(report.status, JobStatus::Done, "{before:?}: {report:?}");
        assert_eq!(editor.file(&test_path), Some(after.clone()), "{before:?}");
        assert_eq!(editor.text(&uri), python, "the source is untouched");
        let file = EditTarget::File {
            path: test_path.clone(),
        };
        editor.record(|r| {
            let [edit] = &r.edits[..] else {
                panic!("{before:?}: {:?}", r.edits);
            };
            let (created, text) = match &edit.changes[..] {
                [Change::CreateFile { path }, Change::Text(text)] => (Some(path), text),
                [Change::Text(text)] => (None, text),
                other => panic!("{before:?}: {other:?}"),
            };
            assert_eq!(
                created,
                before.is_none().then_some(&test_path),
                "{before:?}"
            );
            assert_eq!(text.target, file, "{before:?}");
        });
        let Some(JobResult::Region {
            target,
            rope,
            chars,
        }) = &report.result
        else {
            panic!("{report:?}");
        };
        assert_eq!((target, rope.to_string()), (&file, after), "{before:?}");
        assert_eq!(rope.slice(chars.clone()).to_string().trim_start(), tests);
    }
}

#[tokio::test]
async fn reject_puts_the_original_region_back_exactly() {
    for behavior in [Behavior::VsCode, Behavior::Neovim, Behavior::NeverAnswers] {
        // Done, then the user edits above and below the region.
        let (editor, report) = check(Case {
            behavior,
            ..gated_edit("done, then edited around")
        })
        .await;
        editor.type_at(URI, 0, 0, "use std::fmt;\n");
        let end = editor.text(URI).chars().count();
        editor.type_at(URI, end, end, "fn other() {}\n");
        let sent = editor.record(|r| r.edits.len());
        editor.reject(report.id).await.unwrap();
        let expected = format!("use std::fmt;\n{SOURCE}fn other() {{}}\n");
        assert_eq!(editor.text(URI), expected, "{behavior:?}");
        let edits = editor.record(|r| r.edits.len());
        assert_eq!(edits, sent + 1, "{behavior:?}: one edit puts it back");
        let again = editor.reject(report.id).await.unwrap_err();
        assert!(again.contains("already rejected"), "{behavior:?}: {again}");

        // Stopped by the user's typing inside: reject replaces the region, their typing included.
        let (editor, report) = check(Case {
            behavior,
            ..typing_inside()
        })
        .await;
        editor.reject(report.id).await.unwrap();
        assert_eq!(editor.text(URI), SOURCE, "{behavior:?}");
    }
}

#[tokio::test]
async fn closing_the_document_cancels_its_job() {
    let server = ModelServer::start().await.unwrap();
    server.push(answer(&TWO_LINES).gated());
    let (editor, job) = edit_line_one(Behavior::VsCode, server.endpoint(Wire::OpenAi)).await;
    server.release(FIRST_LINE);
    editor.shows(URI, "let y = 1;").await;
    editor.close(URI);
    let report = editor.report(job).await;
    assert_eq!(report.status, JobStatus::Cancelled, "{report:?}");
    assert_eq!(report.message.as_deref(), Some("the document was closed"));
}

/// Editors that stop cooperating cost a job a bounded wait, not a hang: one that neither
/// applies nor answers the engine's 10 s edit timeout; one that refuses every edit while its
/// text stays the same three refusals, each retried after a short grace. Each case reads the
/// model's answer on the real clock (the loopback socket needs it); once its connection is
/// closed the clock is paused, and the waits pass at once. The wait is measured from the first
/// edit's arrival.
#[test]
fn editors_that_stop_cooperating_fail_the_job_after_a_bounded_wait() {
    // (the editor, the report's message, edits sent, answers given, the wait's bounds)
    let cases = [
        (
            Behavior::NeverApplies,
            "the editor did not answer the edit",
            1,
            0,
            Duration::from_secs(10)..Duration::from_secs(12),
        ),
        (
            Behavior::Declines,
            "the editor refused the edit 3 times while its text stayed the same (declined)",
            3,
            3,
            Duration::from_millis(900)..Duration::from_secs(2),
        ),
    ];
    for (behavior, message, edits, answers, waited) in cases {
        // A runtime per case: a paused clock stays paused.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let server = ModelServer::start().await.unwrap();
            server.push(answer(&TWO_LINES));
            let endpoint = server.endpoint(Wire::OpenAi);
            let (editor, job) = edit_line_one(behavior, endpoint).await;
            server.wait_for_requests(1).await[0].closed().await;
            tokio::time::pause();
            let report = editor.report(job).await;
            assert_eq!(report.status, JobStatus::Failed, "{behavior:?}: {report:?}");
            assert_eq!(report.message.as_deref(), Some(message), "{behavior:?}");
            // From the edit's arrival, which was on the real clock, before the pause: the real
            // time between the two counts too (under load it was enough to read 9.999 s).
            let sent = editor.record(|r| r.first_edit_at).expect("an edit arrived");
            let elapsed = tokio::time::Instant::now() - sent;
            assert!(
                waited.contains(&elapsed),
                "{behavior:?}: waited {elapsed:?}"
            );
            assert_eq!(editor.text(URI), SOURCE, "{behavior:?}");
            let sent = editor.record(|r| (r.edits.len(), r.answers.len()));
            assert_eq!(sent, (edits, answers), "{behavior:?}");
        });
    }
}

#[tokio::test]
async fn two_jobs_stream_side_by_side_in_one_document() {
    let server = ModelServer::start().await.unwrap();
    server.push(answer(&TWO_LINES).gated());
    server.push(answer(&[
        "```rust\n",
        "    println!(\"{y} {z}\");\n",
        "```\n",
    ]));
    let (editor, first) = edit_line_one(Behavior::VsCode, server.endpoint(Wire::OpenAi)).await;
    server.wait_for_requests(1).await;
    server.release(FIRST_LINE);
    editor.shows(URI, "let y = 1;").await;
    // The second job's region (the println line) touches the first's, which is still streaming:
    // its new line, then the old line it has not passed yet (the streaming diff).
    let overlapping = editor
        .start(Action::Edit, URI, At::Lines(1..4), Some("no"))
        .await;
    assert!(overlapping.is_err_and(|e| e.contains("already working on that part")));
    let second = editor
        .start(Action::Edit, URI, At::Lines(3..4), Some("print both"))
        .await
        .unwrap();
    let report = editor.report(second).await;
    assert_eq!(report.status, JobStatus::Done, "{report:?}");
    server.release(20);
    let report = editor.report(first).await;
    assert_eq!(report.status, JobStatus::Done, "{report:?}");
    assert_eq!(
        editor.text(URI),
        "fn main() {\n    let y = 1;\n    let z = 2;\n    println!(\"{y} {z}\");\n}\n"
    );
    editor.record(|r| {
        assert!(r.sync_errors.is_empty(), "{:?}", r.sync_errors);
        assert!(
            r.answers.iter().all(|a| *a == EditAnswer::Applied),
            "{:?}",
            r.answers
        );
    });
}

/// Keeps every signal the engine saves.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<Signal>>);

impl SignalSink for Kept {
    fn save(&self, signal: &Signal) {
        self.0.lock().unwrap().push(signal.clone());
    }
}

/// A finished `tandem.edit` of line 1 (EDITED in the buffer), its signals kept in the returned
/// sink.
async fn edited_and_watched(server: &ModelServer) -> (MemoryEditor, JobId, Arc<Kept>) {
    server.push(answer(&TWO_LINES));
    let (editor, job) = edit_line_one(Behavior::VsCode, server.endpoint(Wire::OpenAi)).await;
    let kept = Arc::new(Kept::default());
    editor.engine().signals.set_sink(Some(kept.clone()));
    assert_eq!(editor.report(job).await.status, JobStatus::Done);
    assert_eq!(editor.text(URI), EDITED);
    (editor, job, kept)
}

/// What became of a job's text is read from its region, tracked through later typing: changed
/// at a save (the diff is the evidence), undone at a close, as written when ten minutes pass.
#[test]
fn the_fate_of_a_jobs_text_is_read_at_save_close_and_after_ten_minutes() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = ModelServer::start().await.unwrap();
        let fates = |kept: &Kept| -> Vec<&'static str> {
            kept.0
                .lock()
                .unwrap()
                .iter()
                .map(|s| s.fate.as_str())
                .collect()
        };

        // Changed, then saved: the user's text above moved the region; the diff is theirs.
        let (editor, _, kept) = edited_and_watched(&server).await;
        editor.type_at(URI, 0, 0, "// a comment\n");
        let at = editor.text(URI).find("let z = 2;").unwrap();
        let at = editor.text(URI)[..at].chars().count();
        editor.type_at(URI, at + 8, at + 9, "3");
        editor.engine().did_save(&URI.into());
        assert_eq!(fates(&kept), ["pending", "changed"]);
        let changed = kept.0.lock().unwrap()[1].clone();
        assert_eq!(
            changed.kept.as_deref(),
            Some("    let y = 1;\n    let z = 3;\n")
        );
        let diff = changed.correction().unwrap().diff;
        assert!(diff.contains("-    let z = 2;\n+    let z = 3;"), "{diff}");

        // Undone, then closed: the original line is back.
        let (editor, _, kept) = edited_and_watched(&server).await;
        let start = EDITED.find("    let y").unwrap();
        let end = EDITED.find("    println").unwrap();
        editor.type_at(URI, start, end, "    let x = 1;\n");
        editor.close(URI);
        assert_eq!(fates(&kept), ["pending", "undone"]);

        // Neither: after ten minutes it is no longer watched, and nothing more is saved.
        let (editor, job, kept) = edited_and_watched(&server).await;
        tokio::time::pause();
        tokio::time::sleep(WATCH + Duration::from_secs(1)).await;
        assert!(editor.engine().signals.watched_in(&URI.into()).is_empty());
        assert_eq!(editor.engine().read_fate(job, Reading::SavedOrClosed), None);
        assert_eq!(fates(&kept), ["pending"]);

        // Changed and left: read when ten minutes pass.
        tokio::time::resume();
        let (editor, _, kept) = edited_and_watched(&server).await;
        editor.type_at(URI, 0, 0, "x");
        let at = editor.text(URI).find("let y").unwrap();
        editor.type_at(URI, at + 4, at + 5, "w");
        tokio::time::pause();
        tokio::time::sleep(WATCH + Duration::from_secs(1)).await;
        assert_eq!(fates(&kept), ["pending", "changed"]);
    });
}
