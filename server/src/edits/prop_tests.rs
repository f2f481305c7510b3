//! Property tests: random interleavings of the user's typing outside the region, model
//! chunks, cancels, and the editor's and server's steps, for every simulated editor,
//! checked against a replay of the user's edits.
//!
//! 1,000 cases per editor by default; `TANDEM_PROPTEST_CASES` sets another count.
//!
//! The user's text, the model's text, the region's original text and the text around
//! it are drawn from disjoint alphabets (each with multi-byte chars; the user and the
//! document type CRLF, the model LF). Where the user deletes or types exactly what the
//! job's in-flight edit would have done, at the same place, no editor message tells the
//! two apart; disjoint alphabets keep such coincidences out of the random cases, except
//! for VS Code, whose truthful `applied: false` lets the session correct itself: its
//! second property shares one alphabet between the document, the user and the model.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::sim::{EchoStyle, Flavor, Harness, Side, UserEdit};

#[derive(Debug, Clone)]
enum Action {
    User(UserEdit),
    Chunk(String),
    Deliver,
    Server,
    Flush,
    Settle,
    Cancel,
}

#[derive(Debug, Clone)]
struct Case {
    before: String,
    region: String,
    after: String,
    actions: Vec<Action>,
    /// After the job finished: the user edits elsewhere (each seen by the server), then
    /// rejects the job.
    reject_after: Option<Vec<UserEdit>>,
}

fn config() -> ProptestConfig {
    crate::test_support::proptest_config(1000, u32::MAX)
}

/// The user's text: never the model's, so no coincidence with an in-flight edit.
const USER_TEXT: &str = "(u|v|€|🎉|\r\n){1,3}";

fn user_edit(text: &'static str) -> impl Strategy<Value = UserEdit> {
    // `at` is clamped to the side's length: 0 and MAX hit both ends of each side, one of
    // which is the region's boundary.
    let at = prop_oneof![Just(0usize), Just(usize::MAX), 0usize..12];
    let insert = prop_oneof![Just(String::new()), text];
    (any::<bool>(), at, 0usize..3, insert).prop_map(|(before, at, delete, insert)| UserEdit {
        side: if before { Side::Before } else { Side::After },
        at,
        delete,
        insert,
    })
}

fn action(user_text: &'static str) -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => user_edit(user_text).prop_map(Action::User),
        5 => "\n?(m|n|😀){1,4}".prop_map(Action::Chunk),
        4 => Just(Action::Deliver),
        4 => Just(Action::Server),
        2 => Just(Action::Flush),
        1 => Just(Action::Settle),
        1 => Just(Action::Cancel),
    ]
}

/// Cases whose text on each side, region and the user's typing share no char with the
/// model's text.
fn case() -> impl Strategy<Value = Case> {
    let outside = "(p|q|é| |\r\n){0,10}";
    case_from(outside, "(r|s|ö|\n){0,6}", outside, USER_TEXT)
}

/// Cases where the document, the user and the model all write with the same few chars,
/// so the user often types or deletes exactly what the in-flight edit does.
fn case_shared() -> impl Strategy<Value = Case> {
    let text: &'static str = "(m|n|😀|\n|\r\n){0,8}";
    case_from(text, text, text, "(m|n|😀|\n|\r\n){1,3}")
}

fn case_from(
    before: &'static str,
    region: &'static str,
    after: &'static str,
    user_text: &'static str,
) -> impl Strategy<Value = Case> {
    (
        before,
        region,
        after,
        prop::collection::vec(action(user_text), 0..40),
        prop::option::weighted(0.3, prop::collection::vec(user_edit(user_text), 0..4)),
    )
        .prop_map(|(before, region, after, actions, reject_after)| Case {
            before,
            region,
            after,
            actions,
            reject_after,
        })
}

/// `answers_known`: the LSP layer told the session that the client answers edits.
fn run(flavor: Flavor, case: &Case, answers_known: bool) -> Result<(), TestCaseError> {
    let mut h = Harness::new(flavor, &case.before, &case.region, &case.after);
    h.session.set_client_answers(answers_known);
    let mut cancelled = false;
    for (i, action) in case.actions.iter().enumerate() {
        match action {
            Action::User(edit) => h.user(edit),
            // A cancelled job streams nothing more.
            Action::Chunk(text) if !cancelled => h.chunk(text),
            Action::Chunk(_) => {}
            Action::Deliver => {
                h.deliver();
            }
            Action::Server => {
                h.server_step();
            }
            Action::Flush => {
                h.flush();
            }
            Action::Settle => prop_assert!(h.settle(), "did not settle"),
            Action::Cancel => {
                cancelled = true;
                h.session.rollback();
                h.pump();
            }
        }
        h.check_between_steps()
            .map_err(|e| TestCaseError::fail(format!("after action {i}: {e}")))?;
        prop_assert!(
            !h.session.user_edited_inside(),
            "typing outside taken as inside after action {i}: {:?}",
            h.outcomes
        );
    }
    prop_assert!(h.settle(), "did not settle");
    // Nothing streamed, or a cancel: the original text; otherwise all the model wrote.
    let expected = match (&h.streamed, cancelled) {
        (Some(streamed), false) => streamed.clone(),
        _ => case.region.clone(),
    };
    h.check_final(&expected).map_err(TestCaseError::fail)?;

    if let (Some(edits), false) = (&case.reject_after, cancelled) {
        for edit in edits {
            h.user(edit);
            prop_assert!(h.settle(), "did not settle");
        }
        h.check_final(&expected).map_err(TestCaseError::fail)?;
        let sent = h.sent.len();
        h.session.reject();
        h.pump();
        prop_assert!(h.settle(), "did not settle");
        h.check_final(&case.region).map_err(TestCaseError::fail)?;
        let edits = usize::from(expected != case.region);
        prop_assert_eq!(h.sent.len(), sent + edits, "reject must be one edit");
    }
    Ok(())
}

fn echo_style() -> impl Strategy<Value = EchoStyle> {
    prop_oneof![
        Just(EchoStyle::PrefixFirst),
        Just(EchoStyle::SuffixFirst),
        Just(EchoStyle::Split)
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn vscode_converges_to_the_replay(case in case(), answers_known in any::<bool>()) {
        run(Flavor::VsCode, &case, answers_known)?;
    }

    /// With VS Code's truthful refusals, even coincidences converge once the session
    /// knows the client answers.
    #[test]
    fn vscode_converges_with_shared_text(case in case_shared()) {
        run(Flavor::VsCode, &case, true)?;
    }

    #[test]
    fn neovim_converges_to_the_replay(case in case(), style in echo_style(), answers_known in any::<bool>()) {
        run(Flavor::Neovim(style), &case, answers_known)?;
    }

    #[test]
    fn ale_converges_to_the_replay(case in case()) {
        run(Flavor::Ale, &case, false)?;
    }
}

/// The random cases do reach the races they are for: edits lost and landed, echoes
/// arriving with the user's typing, refusals, cancels and rejects, typing at the
/// region's boundaries.
#[test]
fn random_cases_reach_the_races() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::ChangeOutcome;

    let mut runner = TestRunner::deterministic();
    let (mut lost, mut landed, mut cancels, mut rejects, mut at_boundary) = (0, 0, 0, 0, 0);
    for _ in 0..300 {
        let case = case().new_tree(&mut runner).unwrap().current();
        for flavor in [
            Flavor::VsCode,
            Flavor::Neovim(EchoStyle::PrefixFirst),
            Flavor::Ale,
        ] {
            let mut h = Harness::new(flavor, &case.before, &case.region, &case.after);
            for action in &case.actions {
                match action {
                    Action::User(edit) => h.user(edit),
                    Action::Chunk(text) => h.chunk(text),
                    Action::Deliver => _ = h.deliver(),
                    Action::Server => _ = h.server_step(),
                    Action::Flush => _ = h.flush(),
                    Action::Settle => _ = h.settle(),
                    Action::Cancel => {}
                }
            }
            h.settle();
            lost += h
                .outcomes
                .iter()
                .filter(|o| **o == ChangeOutcome::Lost)
                .count();
            landed += h
                .outcomes
                .iter()
                .filter(|o| **o == ChangeOutcome::Landed)
                .count();
        }
        cancels += usize::from(case.actions.iter().any(|a| matches!(a, Action::Cancel)));
        rejects += usize::from(case.reject_after.is_some());
        at_boundary += case
            .actions
            .iter()
            .filter(|a| match a {
                Action::User(e) => {
                    (e.side == Side::Before && e.at == usize::MAX)
                        || (e.side == Side::After && e.at == 0)
                }
                _ => false,
            })
            .count();
    }
    for (what, count, least) in [
        ("lost edits", lost, 300),
        ("landed edits", landed, 1000),
        ("cancels", cancels, 50),
        ("rejects", rejects, 50),
        ("edits at a boundary", at_boundary, 300),
    ] {
        assert!(count >= least, "only {count} {what} in 300 random cases");
    }
}
