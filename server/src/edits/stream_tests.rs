//! Scripted cases: a job streams into a region of a simulated editor while the user
//! types around it, for every simulated editor.
#![allow(clippy::unwrap_used)]

use super::ChangeOutcome;
use super::sim::{EchoStyle, Flavor, Harness, Side, UserEdit};

const FLAVORS: [Flavor; 6] = [
    Flavor::VsCode,
    Flavor::Neovim(EchoStyle::PrefixFirst),
    Flavor::Neovim(EchoStyle::SuffixFirst),
    Flavor::Neovim(EchoStyle::Split),
    Flavor::Ale,
    Flavor::FullSync,
];

/// One step of a script.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The model streams this text (appended to what it streamed so far).
    Chunk(&'static str),
    /// The user edits before the region: at char `.0` of the text before it, delete
    /// `.1` chars, insert `.2`.
    Above(usize, usize, &'static str),
    /// The same after the region (char 0 is right after its end).
    Below(usize, usize, &'static str),
    /// The user edits strictly inside the region as the editor shows it.
    Inside(usize, usize, &'static str),
    /// The editor handles the server's oldest edit.
    Deliver,
    /// The server reads the editor's oldest message.
    Server,
    /// The debounce fires (Neovim, full sync).
    Flush,
    /// Everything runs until nothing moves.
    Settle,
    /// The job is cancelled (or faulted): what it streamed is taken back.
    Cancel,
    /// `tandem.reject`.
    Reject,
}

use Step::*;

/// Runs `steps` on `fixture` (`before[region]after`) with `flavor`, checking between
/// steps that the user's text stays intact and the region only ever holds what the job
/// asked for (until the user edits inside it).
fn run(flavor: Flavor, fixture: &str, steps: &[Step]) -> Harness {
    let (before, rest) = fixture.split_once('[').unwrap();
    let (region, after) = rest.split_once(']').unwrap();
    let mut h = Harness::new(flavor, before, region, after);
    let mut inside = false;
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Chunk(text) => h.chunk(text),
            Above(at, delete, insert) => {
                h.user(&UserEdit {
                    side: Side::Before,
                    at,
                    delete,
                    insert: insert.into(),
                });
            }
            Below(at, delete, insert) => {
                h.user(&UserEdit {
                    side: Side::After,
                    at,
                    delete,
                    insert: insert.into(),
                });
            }
            Inside(at, delete, insert) => {
                inside = true;
                h.user_inside(at, delete, insert);
            }
            Deliver => {
                h.deliver();
            }
            Server => {
                h.server_step();
            }
            Flush => {
                h.flush();
            }
            Settle => assert!(h.settle(), "{flavor:?}: did not settle"),
            Cancel => {
                h.session.rollback();
                h.pump();
            }
            Reject => {
                h.session.reject();
                h.pump();
            }
        }
        if !inside {
            h.check_between_steps()
                .unwrap_or_else(|e| panic!("{flavor:?} {fixture:?} after step {i} {step:?}: {e}"));
        }
    }
    h
}

/// Runs `steps` with every simulated editor, settles, and checks the editor's whole
/// text against `expected`, the server's view against the editor's, and the session's
/// region against the job's text.
fn check(fixture: &str, steps: &[Step], expected: &str) {
    for flavor in FLAVORS {
        let mut h = run(flavor, fixture, steps);
        assert!(h.settle(), "{flavor:?}: did not settle");
        assert_eq!(
            h.editor.text.to_string(),
            expected,
            "{flavor:?} {fixture:?} {steps:?}"
        );
        assert_eq!(
            h.doc, h.editor.text,
            "{flavor:?}: server and editor disagree"
        );
        assert!(
            h.session.is_settled(),
            "{flavor:?}: not settled: {:?}",
            h.session
        );
        assert!(
            !h.outcomes.contains(&ChangeOutcome::UserEditedInside),
            "{flavor:?}: the user's typing outside was taken as inside: {:?}",
            h.outcomes
        );
        let region = h.session.region();
        let shown: String = h.doc.slice(region.start..region.end).to_string();
        assert_eq!(
            shown,
            h.session.desired(),
            "{flavor:?}: the session's region is off"
        );
    }
}

#[test]
fn streamed_chunks() {
    // Each chunk lands before the next.
    check(
        "fn a() {[todo!()]}\n",
        &[Chunk("\n    1"), Settle, Chunk(" + 1"), Settle, Chunk("\n")],
        "fn a() {\n    1 + 1\n}\n",
    );
    // Chunks pile up while an edit is in flight: later edits say what the region holds now.
    check(
        "x[]y",
        &[
            Chunk("a"),
            Chunk("b"),
            Chunk("c"),
            Deliver,
            Chunk("d"),
            Settle,
            Chunk("e"),
        ],
        "xabcdey",
    );
    // Multi-byte text and CRLF in the document.
    check(
        "é\r\n[old😀]\r\nü",
        &[Chunk("n€w"), Settle, Chunk("\r\n🎉")],
        "é\r\nn€w\r\n🎉\r\nü",
    );
    // The job empties the region.
    check("ab[cd]ef", &[Chunk("")], "abef");
}

#[test]
fn typing_outside_between_chunks() {
    // Above, below, right after the region's end, right at its start.
    check(
        "a\n[b]\nc",
        &[Chunk("X"), Settle, Above(0, 0, "u"), Chunk("Y"), Settle],
        "ua\nXY\nc",
    );
    check(
        "a\n[b]\nc",
        &[Chunk("X"), Settle, Below(2, 0, "u"), Chunk("Y"), Settle],
        "a\nXY\ncu",
    );
    check(
        "a\n[b]\nc",
        &[Chunk("X"), Settle, Below(0, 0, "u"), Chunk("Y"), Settle],
        "a\nXYu\nc",
    );
    check(
        "a\n[b]\nc",
        &[Chunk("X"), Settle, Above(2, 0, "u"), Chunk("Y"), Settle],
        "a\nuXY\nc",
    );
    // Deletions up to the boundaries.
    check(
        "ab[cd]ef",
        &[
            Chunk("X"),
            Settle,
            Above(1, 1, ""),
            Below(0, 1, ""),
            Chunk("Y"),
        ],
        "aXYf",
    );
    // Typing at the boundary of a region that is still empty goes before it.
    check(
        "ab[]ef",
        &[Below(0, 0, "u"), Chunk("X"), Settle, Below(0, 0, "v")],
        "abuXvef",
    );
}

#[test]
fn typing_while_an_edit_is_on_the_wire() {
    // The edit reaches the editor after the user typed: VS Code refuses it, Neovim and
    // ALE drop it; the next edit supersedes it.
    check(
        "ab[cd]ef",
        &[Chunk("X"), Above(0, 0, "u"), Deliver, Settle],
        "uabXef",
    );
    check(
        "ab[cd]ef",
        &[Chunk("X"), Below(0, 0, "u"), Deliver, Chunk("Y"), Settle],
        "abXYuef",
    );
    // Typing on both sides while several edits are lost in a row.
    check(
        "ab[cd]ef",
        &[
            Chunk("X"),
            Above(2, 0, "1"),
            Deliver,
            Server,
            Chunk("Y"),
            Below(0, 0, "2"),
            Deliver,
            Server,
            Settle,
        ],
        "ab1XY2ef",
    );
    // The edit lands, then the user types before the server heard of it.
    check(
        "ab[cd]ef",
        &[
            Chunk("X"),
            Deliver,
            Above(0, 1, "u"),
            Below(1, 1, "v"),
            Chunk("Y"),
            Settle,
        ],
        "ubXYev",
    );
}

#[test]
fn cancel_takes_back_what_was_streamed() {
    check(
        "ab[cd]ef",
        &[Chunk("X\nY"), Settle, Above(0, 0, "u"), Chunk("Z"), Cancel],
        "uabcdef",
    );
    // Cancelled while an edit is in flight and the user types.
    check(
        "ab[cd]ef",
        &[
            Chunk("X"),
            Settle,
            Chunk("Y"),
            Below(0, 0, "v"),
            Cancel,
            Deliver,
            Settle,
        ],
        "abcdvef",
    );
    // Nothing streamed yet.
    check("ab[cd]ef", &[Above(1, 0, "u"), Cancel], "aubcdef");
    // Reject after the job finished, racing the user's typing on both sides.
    check(
        "ab[cd]ef",
        &[
            Chunk("XYZ"),
            Settle,
            Above(0, 0, "u"),
            Reject,
            Below(0, 0, "v"),
        ],
        "uabcdvef",
    );
}

#[test]
fn reject_after_edits_elsewhere_is_one_edit() {
    for flavor in FLAVORS {
        let mut h = run(
            flavor,
            "a\n[b\nc]\nd",
            &[
                Chunk("X\nY\nZ"),
                Settle,
                Above(0, 0, "u\r\n"),
                Below(1, 1, "v"),
                Settle,
            ],
        );
        assert_eq!(
            h.editor.text.to_string(),
            "u\r\na\nX\nY\nZ\nv",
            "{flavor:?}"
        );
        let sent = h.sent.len();
        h.session.reject();
        h.pump();
        assert!(h.settle());
        assert_eq!(h.editor.text.to_string(), "u\r\na\nb\nc\nv", "{flavor:?}");
        assert_eq!(
            h.sent.len(),
            sent + 1,
            "{flavor:?}: reject took more than one edit"
        );
        assert!(h.session.is_settled());
    }
}

#[test]
fn typing_inside_stops_the_job_and_reject_restores() {
    for flavor in FLAVORS {
        let mut h = run(
            flavor,
            "a[bcd]e",
            &[
                Chunk("XYZ"),
                Settle,
                Inside(1, 0, "u"),
                Settle,
                Chunk("W"),
                Settle,
            ],
        );
        assert_eq!(
            h.outcomes.last(),
            Some(&ChangeOutcome::UserEditedInside),
            "{flavor:?}"
        );
        assert!(h.session.user_edited_inside());
        // The user's text stays as typed; the job sent nothing more and never settles.
        assert_eq!(h.editor.text.to_string(), "aXuYZe", "{flavor:?}");
        assert!(!h.session.is_settled());
        // A cancel leaves it that way.
        h.session.rollback();
        h.pump();
        assert!(h.settle());
        assert_eq!(h.editor.text.to_string(), "aXuYZe", "{flavor:?}");
        // Reject puts the original back, in one edit, over what the user typed inside.
        let sent = h.sent.len();
        h.session.reject();
        h.pump();
        assert!(h.settle());
        assert_eq!(h.editor.text.to_string(), "abcde", "{flavor:?}");
        assert_eq!(h.sent.len(), sent + 1);
        assert!(h.session.is_settled());
    }
    // Inside while the job's edit is on the wire: the edit is refused or dropped.
    for flavor in FLAVORS {
        let h = run(flavor, "a[bcd]e", &[Chunk("XYZ"), Inside(2, 1, ""), Settle]);
        assert_eq!(h.editor.text.to_string(), "abce", "{flavor:?}");
        assert!(h.session.user_edited_inside(), "{flavor:?}");
    }
}

#[test]
fn vscode_refusal_is_retried() {
    let mut h = run(
        Flavor::VsCode,
        "ab[cd]ef",
        &[Chunk("X"), Above(0, 0, "u"), Deliver],
    );
    // The user's didChange, then the refusal.
    assert!(h.server_step());
    assert_eq!(h.outcomes, [ChangeOutcome::Lost]);
    assert_eq!(
        h.sent.len(),
        2,
        "the next edit goes out as soon as the loss shows"
    );
    assert!(h.server_step());
    assert_eq!(
        h.session.in_flight().map(|f| f.edit.id),
        Some(2),
        "a late refusal of edit 1 must not free edit 2"
    );
    assert!(h.settle());
    h.check_final("X").unwrap();
}

#[test]
fn neovim_dropped_edit_answered_true_is_not_landed() {
    let mut h = run(
        Flavor::Neovim(EchoStyle::PrefixFirst),
        "ab[cd]ef",
        &[Chunk("X"), Above(0, 0, "u"), Deliver],
    );
    assert!(
        h.server_step(),
        "the answer comes before the debounced didChange"
    );
    let flight = h.session.in_flight().unwrap();
    assert!(flight.answered);
    assert!(!h.session.is_settled());
    assert!(h.flush());
    assert!(h.server_step());
    assert_eq!(h.outcomes, [ChangeOutcome::Lost]);
    assert!(h.settle());
    h.check_final("X").unwrap();
    assert_eq!(h.sent.len(), 2);
}

#[test]
fn neovim_echo_slides_past_the_region() {
    // "ab" + "b" before "bc": Neovim reports the inserted "b" after the region's end.
    let mut h = run(
        Flavor::Neovim(EchoStyle::PrefixFirst),
        "[ab]bc",
        &[Chunk("ab"), Settle, Chunk("b"), Deliver, Flush],
    );
    assert!(h.server_step()); // the answer
    assert!(h.server_step()); // the echo
    assert_eq!(h.outcomes.last(), Some(&ChangeOutcome::Landed));
    assert!(h.settle());
    h.check_final("abb").unwrap();
    // Slid to the left, before the region's start.
    let mut h = run(
        Flavor::Neovim(EchoStyle::SuffixFirst),
        "x[]yx",
        &[Chunk("x"), Settle],
    );
    h.check_final("x").unwrap();
    h.chunk("y");
    assert!(h.settle());
    h.check_final("xy").unwrap();
}

#[test]
fn neovim_late_echo_with_user_typing_in_the_same_batch() {
    let mut h = run(
        Flavor::Neovim(EchoStyle::Split),
        "ab[cd]ef",
        &[
            Chunk("XY"),
            Deliver,
            Above(0, 0, "u"),
            Below(0, 0, "v"),
            Chunk("Z"),
            Server,
        ],
    );
    // Still in flight: the echo has not been reported yet, and nothing else was sent.
    assert_eq!(h.sent.len(), 1);
    assert!(h.flush());
    assert!(h.server_step());
    assert_eq!(h.outcomes, [ChangeOutcome::Landed]);
    assert!(h.version > 5, "changedticks jump: {}", h.version);
    assert_eq!(h.sent.len(), 2, "the next edit follows the echo");
    assert!(h.settle());
    h.check_final("XYZ").unwrap();
    assert_eq!(h.editor.text.to_string(), "uabXYZvef");
}

#[test]
fn ale_never_answers() {
    let h = run(
        Flavor::Ale,
        "ab[cd]ef",
        &[
            Chunk("X"),
            Settle,
            Above(0, 0, "u"),
            Settle,
            Chunk("Y"),
            Settle,
        ],
    );
    h.check_final("XY").unwrap();
    assert_eq!(h.sent.len(), 2);
    assert!(
        h.outcomes
            .iter()
            .all(|o| *o == ChangeOutcome::Landed || *o == ChangeOutcome::Moved),
        "{:?}",
        h.outcomes
    );
}

#[test]
fn an_editor_that_neither_answers_nor_applies_leaves_the_edit_in_flight() {
    let mut h = Harness::new(Flavor::Ale, "ab", "cd", "ef");
    h.chunk("X");
    h.chunk("Y");
    // Never delivered: the caller's timer is what ends the job.
    let flight = h.session.in_flight().unwrap();
    assert_eq!((flight.edit.id, flight.answered), (1, false));
    assert_eq!(h.sent.len(), 1);
    assert!(!h.session.is_settled());
    assert!(h.session.next_edit(&h.doc.clone(), h.version).is_none());
}

/// With a client known to answer, a refusal corrects a `didChange` that looked like the
/// echo but was the user typing (or deleting) exactly what the edit does.
#[test]
fn vscode_refusal_corrects_a_lookalike_echo() {
    // The edit appends "X"; the user typed "X" right after the region first.
    let mut h = Harness::new(Flavor::VsCode, "ab", "cd", "ef");
    h.session.set_client_answers(true);
    h.chunk("cdX");
    h.user(&UserEdit {
        side: Side::After,
        at: 0,
        delete: 0,
        insert: "X".into(),
    });
    assert!(h.deliver());
    assert!(h.server_step());
    assert_eq!(
        h.outcomes,
        [ChangeOutcome::Landed],
        "the user's X reads as the echo"
    );
    assert!(h.session.in_flight().unwrap().landed);
    assert!(!h.session.is_settled(), "not settled before the answer");
    assert!(h.server_step());
    assert_eq!(h.outcomes, [ChangeOutcome::Landed, ChangeOutcome::Lost]);
    assert!(h.settle());
    h.check_final("cdX").unwrap();
    assert_eq!(h.editor.text.to_string(), "abcdXXef");

    // The edit deletes the region's last "c"; the user deleted the "c" right after it.
    let mut h = Harness::new(Flavor::VsCode, "a", "bc", "c");
    h.session.set_client_answers(true);
    h.chunk("b");
    h.user(&UserEdit {
        side: Side::After,
        at: 0,
        delete: 1,
        insert: String::new(),
    });
    assert!(h.settle());
    h.check_final("b").unwrap();
    assert_eq!(h.editor.text.to_string(), "ab");
}

/// With a client known to answer, the next edit waits for the answer to the last one,
/// even once its echo showed; `applied: true` then releases it.
#[test]
fn vscode_next_edit_waits_for_the_answer() {
    let mut h = Harness::new(Flavor::VsCode, "ab", "cd", "ef");
    h.session.set_client_answers(true);
    h.chunk("X");
    assert!(h.deliver());
    h.chunk("Y");
    assert!(h.server_step()); // the echo
    assert_eq!(h.outcomes, [ChangeOutcome::Landed]);
    assert_eq!(h.sent.len(), 1);
    assert!(h.server_step()); // applied: true
    assert_eq!(h.sent.len(), 2);
    assert!(h.settle());
    h.check_final("XY").unwrap();
}

/// Full sync: the echo comes in a diff, after the user's typing above the region and
/// merged with their typing right after it.
#[test]
fn full_sync_echo_inside_a_diff() {
    let mut h = run(
        Flavor::FullSync,
        "ab\n[cd]\nef",
        &[
            Chunk("cdXY"),
            Deliver,
            Above(0, 0, "u"),
            Below(0, 0, "v"),
            Flush,
        ],
    );
    assert!(h.server_step()); // applied: true
    assert!(h.server_step()); // the diff
    assert_eq!(h.outcomes, [ChangeOutcome::Landed]);
    assert!(h.settle());
    h.check_final("cdXY").unwrap();
    assert_eq!(h.editor.text.to_string(), "uab\ncdXYv\nef");
    assert_eq!(h.sent.len(), 1);
}

/// Full sync: the echo and the user's typing on both sides of it come as one change.
#[test]
fn full_sync_echo_merged_with_typing_on_both_sides() {
    let mut h = run(
        Flavor::FullSync,
        "[ö]",
        &[
            Chunk("m"),
            Deliver,
            Above(0, 0, "u"),
            Below(0, 0, "v"),
            Flush,
        ],
    );
    assert!(h.server_step()); // applied: true
    assert!(h.server_step()); // the diff: one change "ö" -> "umv"
    assert_eq!(h.outcomes, [ChangeOutcome::Landed]);
    assert!(h.settle());
    h.check_final("m").unwrap();
    assert_eq!(h.editor.text.to_string(), "umv");
}

/// Neovim reports the user's own changes as diffs, which slide along repeated text:
/// deleting the newline just above a region that starts with one arrives as deleting
/// the region's first char, and typing the region's first char just before it arrives
/// inside. Neither stops the job.
#[test]
fn neovim_user_diffs_slide_into_the_region() {
    for style in [EchoStyle::PrefixFirst, EchoStyle::Split] {
        let mut h = Harness::new(Flavor::Neovim(style), "a\n", "\nb", "c");
        h.editor.user_edits_as_diffs = true;
        h.chunk("\nX");
        assert!(h.settle());
        h.user(&UserEdit {
            side: Side::Before,
            at: 1,
            delete: 1,
            insert: String::new(),
        });
        h.user(&UserEdit {
            side: Side::Before,
            at: 1,
            delete: 0,
            insert: "\n".into(),
        });
        h.chunk("Y");
        assert!(h.settle());
        assert!(
            !h.session.user_edited_inside(),
            "{style:?}: {:?}",
            h.outcomes
        );
        h.check_final("\nXY").unwrap();
        assert_eq!(h.editor.text.to_string(), "a\n\nXYc");
    }
}

/// The caller's deadline: an edit that landed but was never answered lets the job go
/// on; one that neither landed nor was answered fails it.
#[test]
fn answer_timeout() {
    let mut h = Harness::new(Flavor::Ale, "ab", "cd", "ef");
    h.session.set_client_answers(true); // told so, though this editor never answers
    h.chunk("X");
    assert_eq!(
        h.session.on_answer_timeout(1),
        None,
        "neither landed nor answered"
    );
    assert!(h.settle());
    assert!(
        h.session.in_flight().unwrap().landed,
        "landed, waiting for the answer"
    );
    h.chunk("Y");
    assert_eq!(h.sent.len(), 1);
    assert_eq!(
        h.session.on_answer_timeout(1),
        Some(ChangeOutcome::Unchanged)
    );
    h.pump();
    assert!(h.settle());
    // The second edit too waits for an answer that never comes.
    assert!(!h.session.is_settled());
    assert_eq!(
        h.session.on_answer_timeout(2),
        Some(ChangeOutcome::Unchanged)
    );
    h.check_final("XY").unwrap();
    assert_eq!(
        h.session.on_answer_timeout(1),
        Some(ChangeOutcome::Unchanged),
        "long resolved"
    );
}

/// VS Code reports an edit it applied before it answers it, so its first edit looks like one
/// of an editor that applies without answering (Vim's ALE). Once it has answered, an edit
/// neither answered nor shown when the engine's grace runs out (a refusal on its way, the user
/// having typed meanwhile) is not taken as landed: the next edit, at the version that would
/// follow it, would meet the user's keystroke there and land misplaced (seen in code-server
/// under load: the line break before the function gone, its old closing brace kept).
#[test]
fn vscode_edit_neither_answered_nor_shown_is_not_taken_as_landed() {
    let mut h = Harness::new(Flavor::VsCode, "0\n", "[x]", "\n1\n");
    h.chunk("[a");
    assert!(h.deliver());
    assert!(h.server_step()); // the echo
    assert!(h.server_step()); // applied: true
    h.chunk("b");
    h.user(&UserEdit {
        side: Side::Before,
        at: 0,
        delete: 0,
        insert: "u".into(),
    });
    assert!(h.deliver()); // refused: the user typed first
    // The grace runs out before the user's report and the refusal are read.
    let id = h.session.in_flight().map(|f| f.edit.id).unwrap();
    assert!(!h.session.take_as_landed(id));
    h.chunk("c]");
    assert!(h.settle());
    h.check_final("[abc]").unwrap();
}

/// eglot: the user adds a line above while its report is held; the job's edit is refused for it
/// and goes out blind, an insertion of whole lines (the typing may be above). eglot applies it at
/// its line, one too high: above the region. The report shows it there; it is put back, and the
/// region then gets its text.
#[test]
fn eglot_blind_insertion_a_line_too_high_is_put_back() {
    let mut h = Harness::new(
        Flavor::Eglot,
        "fn main() {\n",
        "    let x = 1;\n",
        "    println!(\"{x}\");\n}\n",
    );
    h.user(&UserEdit {
        side: Side::Before,
        at: 0,
        delete: 0,
        insert: "// typed\n".into(),
    });
    h.chunk("    let y = 1;\n");
    while h.deliver() | h.server_step() {}
    assert_eq!(
        h.editor.text.to_string(),
        "// typed\n    let y = 1;\nfn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n"
    );
    let blind = h.sent.last().unwrap().clone();
    assert_eq!(
        (blind.start, blind.end),
        (12, 12),
        "an insertion: {blind:?}"
    );
    h.flush();
    assert!(h.settle());
    h.check_final("    let y = 1;\n").unwrap();
    assert!(h.undone > 0, "put back: {:?}", h.sent);
}

/// eglot: two insertions sent blind land at the file's start, a line too high, among the user's
/// typing there; the first report puts back the first, while the second is still on its way; the
/// user then types at the file's start. The undo waits for the report of the second (sent at the
/// version that one took, it would be refused, and sent again at its old place it would take the
/// user's key with it), and then puts both back.
#[test]
fn eglot_an_undo_waits_for_the_blind_edits_still_on_their_way() {
    use crate::edits::StreamingDiff;
    let mut h = Harness::new(Flavor::Eglot, "", "ö\n\nörö", "qp");
    h.session.set_client_answers(true);
    let mut diff = StreamingDiff::new("ö\n\nörö", false);
    h.session.set_desired(&diff.view("😀😀m"));
    h.pump();
    let typed = |at, insert: &str| UserEdit {
        side: Side::Before,
        at,
        delete: 0,
        insert: insert.into(),
    };
    h.user(&typed(0, "€\r🎉"));
    for _ in 0..2 {
        h.deliver();
        h.server_step();
    }
    h.session.set_desired(&diff.view("😀😀mnn😀"));
    h.pump();
    h.flush();
    h.deliver();
    h.user(&typed(0, "v"));
    h.flush();
    h.session.set_desired("😀😀mnn😀");
    h.pump();
    assert!(h.settle());
    assert_eq!(h.editor.text.to_string(), "v€\r🎉😀😀mnn😀qp");
    h.check_final("😀😀mnn😀").unwrap();
}
