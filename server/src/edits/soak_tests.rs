//! The soak (issue 11, "proof by simulation"): 10,000 random jobs for each simulated editor,
//! each a whole session from the first chunk to the settled result, with the user typing
//! outside the region all along. Zero jobs may fail, zero keystrokes may be lost or moved,
//! and the model's text must end up exactly in the region.
//!
//! A session: the model streams its text in 1–3 chunks (the region showing the text so far,
//! alone or as the engine's streaming diff shows it: the new text, then the old text not yet
//! passed), then finishes. After each chunk, and after the finish, the user makes a burst of
//! 1–5 changes above or below the region (at its edges too, which count as outside), mixed at
//! random with the editor handling the server's edits and the server reading the editor's
//! messages, so the user often types while an edit is on its way. Now and then time passes
//! with the editor quiet, and the job engine's deadlines apply ([`Harness::wait`]): a refusal
//! that no newer text explains is retried, three in a row fail the job, an edit neither
//! answered nor seen fails it. Now and then, too, the engine's grace runs out for the edit in
//! flight while the editor's reports and answers are still on the wire ([`Harness::grace`]):
//! the edit is taken as landed if the session lets it, as a slow editor under load makes the
//! engine do (drawn apart from the rest, so that each session is otherwise what it was). The
//! declining editor refuses edits that fit for reasons of its own, up to twice in a row. At
//! the end time passes until the job settles.
//!
//! Checked after every step: the user's text on both sides is intact and the region holds a
//! text the job asked for; the session never takes the typing for typing inside. At the end:
//! the job did not fail, it settled, the editor shows the user's text with the model's final
//! text between, and the session's region is exactly that text.
//!
//! With full sync, a report often holds the user's typing together with the echo of the job's
//! edit, or typing on both sides of the region (counted, see [`joins_report`]). Left out, as no
//! server could tell: typing at an empty region with full sync (see [`session`]).
//!
//! Sessions come from a seeded generator over the seeds `0..N` (N = 10,000, or
//! `TANDEM_PROPTEST_CASES`); a failure names its seed, its actions and a shorter list of
//! actions that still fails.
//!
//! The text around the region and the user's typing share no char with the region's
//! original text and the model's (their lines even end differently, `\r` and `\n`): where
//! the user types or deletes exactly what the in-flight edit does, at its place, no editor
//! message tells the two apart (see `prop_tests`), and such coincidences are not what this
//! soak measures.

use super::ChangeOutcome;
use super::StreamingDiff;
use super::sim::{EchoStyle, Flavor, Harness, Side, UserEdit};

/// Sessions per editor by default.
const SESSIONS: u32 = 10_000;

/// A small deterministic generator (SplitMix64): the same seed, the same session.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() - 1)]
    }

    /// `lo..=hi` chars drawn from `alphabet`.
    fn text(&mut self, alphabet: &[&str], lo: usize, hi: usize) -> String {
        (0..self.range(lo, hi))
            .map(|_| self.pick(alphabet))
            .collect()
    }

    /// `lo..=hi` lines of up to three chars each, every line ended by `line_end`.
    fn lines(&mut self, alphabet: &[&str], line_end: &str, lo: usize, hi: usize) -> String {
        let mut out = String::new();
        for _ in 0..self.range(lo, hi) {
            out.push_str(&self.text(alphabet, 0, 3));
            out.push_str(line_end);
        }
        out
    }
}

/// The text around the region and the user's typing: lines end with `\r`.
const OUTSIDE: &[&str] = &["p", "q", "é", " "];
const USER: &[&str] = &["u", "v", "€", "🎉", "\r"];
/// The region's original text and the model's: lines end with `\n`.
const ORIGINAL: &[&str] = &["r", "s", "ö"];
const MODEL: &[&str] = &["m", "n", "😀", "\n"];

/// The editors the soak runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Editor {
    VsCode,
    /// Each session draws its echo style.
    Neovim,
    Ale,
    FullSync,
    /// VS Code or a full-sync client (drawn per session) that also refuses some edits that
    /// fit, with no newer text to explain it.
    Declining,
    /// kak-lsp and Vim's ALE as they are (drawn per session): edits applied at their lines
    /// whatever their version, whole-text reports.
    IgnoresVersions,
    /// Emacs' eglot: reports held until the user pauses.
    Eglot,
}

#[derive(Debug, Clone)]
enum Action {
    /// The model streams this text.
    Chunk(String),
    /// The model finished: the region gets its final text.
    Finish,
    User(UserEdit),
    /// The editor handles the server's oldest edit.
    Deliver,
    /// The server reads the editor's oldest message.
    Server,
    /// The debounce fires (Neovim, full sync).
    Flush,
    /// Time passes with the editor quiet: the engine's deadlines apply.
    Wait,
    /// The engine's grace runs out for the edit in flight, whatever is still on the wires.
    Grace,
    /// The editor will decline this many of the next edits that fit.
    Decline(u32),
}

#[derive(Debug, Clone)]
struct Session {
    flavor: Flavor,
    /// The LSP layer told the session that the client answers edits.
    answers_known: bool,
    /// The region shows the engine's streaming diff (else the text so far alone).
    streaming_diff: bool,
    /// kak-lsp: edits answered before they apply (see [`SimEditor::answers_first`]).
    answers_first: bool,
    before: String,
    region: String,
    after: String,
    actions: Vec<Action>,
}

fn session(editor: Editor, seed: u64) -> Session {
    let mut rng = Rng::new(seed);
    // The engine's grace running out is drawn apart, so that the rest of each session is what it
    // was before the soak drew it.
    let mut graces = Rng::new(seed ^ 0x6A09_E667_F3BC_C908);
    let flavor = match editor {
        Editor::VsCode => Flavor::VsCode,
        Editor::Neovim => Flavor::Neovim(rng.pick(&[
            EchoStyle::PrefixFirst,
            EchoStyle::SuffixFirst,
            EchoStyle::Split,
        ])),
        Editor::Ale => Flavor::Ale,
        Editor::FullSync => Flavor::FullSync,
        Editor::Declining => rng.pick(&[Flavor::VsCode, Flavor::FullSync]),
        Editor::IgnoresVersions => rng.pick(&[Flavor::Kak, Flavor::AleLint]),
        Editor::Eglot => Flavor::Eglot,
    };
    // ALE never answers, so the LSP layer never learns that it does.
    let answers_known = !matches!(flavor, Flavor::Ale | Flavor::AleLint) && rng.chance(50);
    let streaming_diff = rng.chance(50);
    let answers_first = flavor == Flavor::Kak && rng.chance(50);
    // An editor that ignores versions applies edits at lines, and eglot the ones sent blind:
    // every line ends with `\n` there, or a `\n` the model writes after a `\r` would join them
    // into one line break (and lines and columns cannot name a place inside a `\r\n`).
    let at_lines = flavor.ignores_versions() || flavor == Flavor::Eglot;
    let before = if flavor.ignores_versions() {
        rng.lines(OUTSIDE, "\n", 16, 16)
    } else if at_lines {
        rng.lines(OUTSIDE, "\n", 0, 2)
    } else {
        rng.lines(OUTSIDE, "\r", 0, 2)
    };
    // A region without a final line end, or empty, now and then. Not empty with full sync:
    // typing at an empty region between two equal chars ("\r|\r") reads the same whichever
    // side it went to, and the diff of the whole text says nothing of the side.
    let mut region = rng.lines(ORIGINAL, "\n", 0, 2);
    if rng.chance(25) || (flavor == Flavor::FullSync && region.is_empty()) {
        region.push_str(&rng.text(ORIGINAL, 1, 3));
    }
    if at_lines && !region.starts_with(['r', 's', 'ö']) {
        // The region starts a line with text (an item does).
        region.insert(0, 'r');
    }
    let outside_end = if at_lines { "\n" } else { "\r" };
    // With an editor that answers before it applies, the region does not end the file: the
    // user's line typed at the end would start where the job's edit appends to the region, and a
    // report that lags the answer reads alike either way (the edit landed and the user's text
    // after it, or the user's line alone).
    let after = format!(
        "{}{}",
        rng.lines(OUTSIDE, outside_end, usize::from(answers_first), 1),
        rng.text(OUTSIDE, 0, 3)
    );
    let mut actions = Vec::new();
    let chunks = rng.range(1, 3);
    for i in 0..=chunks {
        if editor == Editor::Declining && rng.chance(40) {
            actions.push(Action::Decline(rng.range(1, 2) as u32));
        }
        actions.push(if i < chunks {
            Action::Chunk(rng.text(MODEL, 1, 4))
        } else {
            Action::Finish
        });
        // The burst, and the wires moving meanwhile.
        let mut gap: Vec<Action> = (0..rng.range(1, 5))
            .map(|_| Action::User(user_edit(&mut rng)))
            .collect();
        for _ in 0..rng.range(0, 4) {
            let step = match rng.range(0, 9) {
                0..=3 => Action::Deliver,
                4..=7 => Action::Server,
                _ => Action::Flush,
            };
            let at = rng.range(0, gap.len());
            gap.insert(at, step);
        }
        if graces.chance(40) {
            let at = graces.range(0, gap.len());
            gap.insert(at, Action::Grace);
        }
        actions.extend(gap);
        if rng.chance(35) {
            actions.push(Action::Wait);
        }
    }
    Session {
        flavor,
        answers_known,
        streaming_diff,
        answers_first,
        before,
        region,
        after,
        actions,
    }
}

/// A change strictly outside the region: `at` is clamped to its side's text, so 0 and
/// `usize::MAX` reach both ends of each side, one of which is the region's edge.
fn user_edit(rng: &mut Rng) -> UserEdit {
    let at = match rng.range(0, 3) {
        0 => 0,
        1 => usize::MAX,
        _ => rng.range(0, 8),
    };
    let delete = rng.pick(&[0, 0, 1, 2]);
    let insert = if delete > 0 && rng.chance(50) {
        String::new()
    } else {
        rng.text(USER, 1, 3)
    };
    UserEdit {
        side: if rng.chance(50) {
            Side::Before
        } else {
            Side::After
        },
        at,
        delete,
        insert,
    }
}

/// What the sessions of one soak went through: proof that they reach the races.
#[derive(Debug, Default)]
struct Reached {
    /// The user typed while an edit was on its way to the editor.
    races: usize,
    landed: usize,
    lost: usize,
    declined: u32,
    retried: u32,
    /// Sessions that typed right at one of the region's edges.
    at_edges: usize,
    /// Full sync: reports that join the user's typing with the echo of the job's edit, or
    /// typing on both sides of the region (see [`joins_report`]).
    joined_reports: usize,
    /// eglot: edits sent blind, and edits that put back what one misplaced.
    blind: usize,
    undone: usize,
    /// eglot: edits sent blind while the user may be typing above the region.
    blind_above: usize,
    /// Edits taken as landed when the engine's grace ran out with the editor's messages still on
    /// the wire.
    taken: usize,
}

/// Runs one session. `Err` says what went wrong, and after which action.
fn run(s: &Session, reached: &mut Reached) -> Result<(), String> {
    let mut h = Harness::new(s.flavor, &s.before, &s.region, &s.after);
    h.session.set_client_answers(s.answers_known);
    h.editor.answers_first = s.answers_first;
    let mut diff = StreamingDiff::new(&s.region, false);
    let mut so_far = String::new();
    let mut at_edge = false;
    // The side of the user's last change.
    let mut last_side = None;
    for (i, action) in s.actions.iter().enumerate() {
        let step = |e: String| format!("after action {i} ({action:?}): {e}");
        match action {
            Action::Chunk(text) => {
                let at_lines = s.flavor.ignores_versions() || s.flavor == Flavor::Eglot;
                if so_far.is_empty() && at_lines && text.starts_with('\n') {
                    // As for the original text: the region starts a line with text.
                    so_far.push('m');
                }
                so_far.push_str(text);
                let shown = if s.streaming_diff {
                    diff.view(&so_far)
                } else {
                    so_far.clone()
                };
                h.session.set_desired(&shown);
                h.pump();
            }
            Action::Finish => {
                h.session.set_desired(&so_far);
                h.pump();
            }
            Action::User(edit) => {
                let line_safe;
                let edit = if s.flavor.ignores_versions() {
                    line_safe = whole_line_at_an_end(edit);
                    &line_safe
                } else {
                    edit
                };
                if s.flavor == Flavor::FullSync && joins_report(&h, edit, last_side) {
                    reached.joined_reports += 1;
                }
                reached.races += usize::from(h.editor.undelivered() > 0);
                at_edge |= touches_region(&h, edit);
                h.user(edit);
                last_side = Some(edit.side);
            }
            Action::Deliver => _ = h.deliver(),
            Action::Server => _ = h.server_step(),
            Action::Flush => _ = h.flush(),
            Action::Wait => h.wait().map_err(step)?,
            Action::Grace => reached.taken += usize::from(h.grace()),
            Action::Decline(n) => h.editor.declines = *n,
        }
        if !s.flavor.ignores_versions() && s.flavor != Flavor::Eglot {
            // An editor that ignores versions may apply an edit at lines the user's typing has
            // moved: the region is repaired, not whole all along.
            h.check_between_steps().map_err(step)?;
        }
        if h.session.user_edited_inside() {
            return Err(step(format!(
                "typing outside taken for typing inside: {:?}",
                h.outcomes
            )));
        }
    }
    // The model finished (even where a shorter list of actions lost the `Finish`).
    h.session.set_desired(&so_far);
    h.pump();
    h.wait().map_err(|e| format!("at the end: {e}"))?;
    if h.session.user_edited_inside() {
        return Err(format!(
            "at the end: typing outside taken for typing inside: {:?}",
            h.outcomes
        ));
    }
    h.check_final(&so_far)
        .map_err(|e| format!("at the end: {e}"))?;
    let count = |want| h.outcomes.iter().filter(|o| **o == want).count();
    reached.landed += count(ChangeOutcome::Landed);
    reached.lost += count(ChangeOutcome::Lost);
    reached.declined += h.editor.declined;
    reached.retried += h.retried;
    if let Some(edit) = &h.blind_above_unsafe {
        return Err(format!(
            "a blind edit, the user maybe typing above, was not a safe insertion: {edit:?}"
        ));
    }
    reached.blind += h.blind;
    reached.blind_above += h.blind_above;
    reached.undone += h.undone;
    reached.at_edges += usize::from(at_edge);
    Ok(())
}

/// `edit` as the user of an editor that ignores versions makes it in the soak: a whole line typed
/// at the top of the file (sixteen lines above the region at least) or at its end. An edit
/// applied at its lines then lands where it was meant or lines too high, over lines of the
/// original text, which the session repairs. Typing closer to the region, unreported, can be
/// what the misplaced edit overwrites (lost before any report could show it), and typing in the
/// region's first line moves the edit along it: no server can tell either from the reports.
fn whole_line_at_an_end(edit: &UserEdit) -> UserEdit {
    let mut edit = edit.clone();
    edit.delete = 0;
    edit.insert = edit.insert.replace('\r', "");
    match edit.side {
        Side::Before => {
            edit.at = 0;
            edit.insert.push('\n');
        }
        Side::After => {
            edit.at = usize::MAX;
            edit.insert.insert(0, '\n');
        }
    }
    edit
}

/// Whether the user's `edit` goes into the same full-sync report as the echo of the job's edit,
/// or as typing on the region's other side. A minimal diff of the whole text knows nothing of
/// the region, and may slide the echo into the typing or align the texts so that a change
/// straddles the region's edge; the session reads a whole-text report around the region
/// instead (`whole_text`). Before it did, these failed 304 of the 10,000 full-sync sessions
/// (250 jobs stopped as if the user typed inside, 54 with the model's text misplaced):
///
/// - The region holds `m`, the job wants `mm` (the edit inserts `m` at 1), the user types `u`
///   just before the region: the report `m` -> `umm` diffs as `um` inserted at 0.
/// - The region `rs` is rewritten to `sm`, the user types `u` just before it: `rs` -> `usm`
///   diffs as `r` replaced by `u` and `m` inserted after `s`.
/// - No edit in flight, the region is the `\n` of `\r\n`; the user deletes the `\r` and
///   types `\r` after the region: `\r\n` -> `\n\r` diffs as `\n` inserted at 0 and the
///   region's `\n` deleted.
fn joins_report(h: &Harness, edit: &UserEdit, last_side: Option<Side>) -> bool {
    let typed_other_side = h.editor.unreported() && last_side.is_some_and(|s| s != edit.side);
    h.editor.echo_unreported() || typed_other_side
}

/// Whether `edit` touches the region's start or end as the editor shows it.
fn touches_region(h: &Harness, edit: &UserEdit) -> bool {
    // `at` is clamped to the side's text, and so is the end of what it deletes.
    match edit.side {
        Side::Before => edit.at.saturating_add(edit.delete) >= h.before.chars().count(),
        Side::After => edit.at == 0 || h.after.is_empty(),
    }
}

/// The shortest list of actions found, by dropping one at a time, that still fails the same
/// way as `error`.
fn shrink(s: &Session, error: &str) -> Session {
    let kind = |e: &str| {
        [
            "inside",
            "refused",
            "answer",
            "settle",
            "intact",
            "region holds",
        ]
        .into_iter()
        .find(|k| e.contains(k))
    };
    let mut s = s.clone();
    let mut i = 0;
    while i < s.actions.len() {
        let mut shorter = s.clone();
        shorter.actions.remove(i);
        match run(&shorter, &mut Reached::default()) {
            Err(e) if kind(&e) == kind(error) => s = shorter,
            _ => i += 1,
        }
    }
    s
}

/// Runs the soak for `editor` and checks that no session failed and that they reached the
/// races. `least` is, per thousand sessions, how many races, declines and retries they must
/// at least have gone through.
#[expect(
    clippy::print_stderr,
    reason = "what the sessions reached, and with TANDEM_SOAK_ALL each that failed, shown with --no-capture"
)]
fn soak(editor: Editor, least: &Reached) {
    let sessions = crate::test_support::proptest_config(SESSIONS, u32::MAX).cases;
    let mut reached = Reached::default();
    // TANDEM_SOAK_ALL: run every session, print each that fails, and fail at the end.
    let every_failure = std::env::var_os("TANDEM_SOAK_ALL").is_some();
    let mut failed = Vec::new();
    // TANDEM_SOAK_SEED: that session alone (a failure's number), for its trace.
    let only: Option<u64> = std::env::var("TANDEM_SOAK_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok());
    for seed in 0..u64::from(sessions) {
        if only.is_some_and(|only| only != seed) {
            continue;
        }
        let s = session(editor, seed);
        if let Err(error) = run(&s, &mut reached) {
            if every_failure {
                eprintln!("{editor:?} session {seed} failed: {error}");
                failed.push(seed);
                continue;
            }
            let short = shrink(&s, &error);
            let short_error = run(&short, &mut Reached::default()).err();
            panic!(
                "{editor:?} session {seed} of {sessions} failed: {error}\n\
                 session: {s:#?}\n\
                 shorter: {short:#?}\n\
                 which fails with: {short_error:?}"
            );
        }
    }
    assert!(
        failed.is_empty(),
        "{editor:?}: {} of {sessions} sessions failed: {failed:?}",
        failed.len()
    );
    eprintln!("{editor:?}, {sessions} sessions: {reached:?}");
    if only.is_some() {
        return;
    }
    let per_thousand = |n: usize| n * 1000 / sessions as usize;
    for (what, got, want) in [
        ("races", per_thousand(reached.races), least.races),
        ("landed edits", per_thousand(reached.landed), least.landed),
        ("lost edits", per_thousand(reached.lost), least.lost),
        (
            "declined edits",
            per_thousand(reached.declined as usize),
            least.declined as usize,
        ),
        (
            "retried refusals",
            per_thousand(reached.retried as usize),
            least.retried as usize,
        ),
        (
            "sessions typing at an edge",
            per_thousand(reached.at_edges),
            least.at_edges,
        ),
        (
            "joined full-sync reports",
            per_thousand(reached.joined_reports),
            least.joined_reports,
        ),
        ("edits sent blind", per_thousand(reached.blind), least.blind),
        (
            "edits sent blind, the user maybe typing above",
            per_thousand(reached.blind_above),
            least.blind_above,
        ),
        (
            "edits taken as landed with messages on the wire",
            per_thousand(reached.taken),
            least.taken,
        ),
        (
            "misplaced edits put back",
            per_thousand(reached.undone),
            least.undone,
        ),
    ] {
        assert!(
            got >= want,
            "{editor:?}: {got} {what} per thousand sessions, expected at least {want} ({reached:?})"
        );
    }
}

/// What every soak must reach, per thousand sessions.
fn least() -> Reached {
    Reached {
        races: 2500,
        landed: 1000,
        lost: 1000,
        declined: 0,
        retried: 0,
        at_edges: 800,
        joined_reports: 0,
        blind: 0,
        undone: 0,
        blind_above: 0,
        taken: 20,
    }
}

/// 10,000 sessions with VS Code: truthful refusals of stale edits.
#[test]
fn soak_10_000_vscode_sessions() {
    // VS Code reports an edit before it answers it: an answered edit that no report showed is
    // rare, and an unanswered one is never taken (the grace runs out on it all the same).
    soak(
        Editor::VsCode,
        &Reached {
            taken: 2,
            ..least()
        },
    );
}

/// 10,000 sessions with Neovim, each with one of its echo styles: stale edits dropped though
/// answered, debounced reports with versions that jump.
#[test]
fn soak_10_000_neovim_sessions() {
    soak(Editor::Neovim, &least());
}

/// 10,000 sessions with Vim's ALE: stale edits dropped, nothing ever answered.
#[test]
fn soak_10_000_ale_sessions() {
    soak(Editor::Ale, &least());
}

/// 10,000 sessions with a full-sync client: every report the whole text, read around the
/// region.
#[test]
fn soak_10_000_full_sync_sessions() {
    soak(
        Editor::FullSync,
        &Reached {
            joined_reports: 2000,
            ..least()
        },
    );
}

/// 10,000 sessions with kak-lsp or ALE as they are: edits applied at their lines whatever
/// their version (misplaced when the user added lines above that the editor had not reported),
/// whole-text reports; kak-lsp answers, ALE does not and reports only when it lints, so several
/// edits, each at its own shift, often show in one report (the `misplaced` module repairs them
/// together). The user types whole lines at the top of the file or at its end (see
/// [`whole_line_at_an_end`]): typing at the region's edges is rarer than in the other soaks.
#[test]
fn soak_10_000_version_ignoring_sessions() {
    soak(
        Editor::IgnoresVersions,
        &Reached {
            lost: 0,
            // Fewer than in the other soaks: sessions with an editor that answers first type at
            // no region's end (see `session`).
            at_edges: 80,
            ..least()
        },
    );
}

/// 10,000 sessions with eglot: stale edits refused, reports held until the user pauses, edits
/// sent blind meanwhile; those sent while the user may be typing above the region must each be
/// an insertion of whole, balanced lines at a line start.
#[test]
fn soak_10_000_eglot_sessions() {
    soak(
        Editor::Eglot,
        &Reached {
            blind: 300,
            undone: 150,
            blind_above: 500,
            ..least()
        },
    );
}

/// 10,000 sessions with an editor (VS Code or full sync) that also refuses edits that fit, up
/// to twice in a row, with no newer text: each refusal is retried once time passes.
#[test]
fn soak_10_000_declining_sessions() {
    soak(
        Editor::Declining,
        &Reached {
            declined: 700,
            retried: 700,
            ..least()
        },
    );
}
