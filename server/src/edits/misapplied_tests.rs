//! Tests of reading a report that shows the job's edit where the editor misapplied it: the
//! readings themselves (`tests`), and whole sessions that go through them (`session_tests`).

mod tests {
    use super::super::*;
    use crate::edits::{CharChange, apply_change};
    use proptest::prelude::*;

    /// As kak-lsp showed it: the user opened `// above 2` above the function while the edit that
    /// puts the closing brace in place was on its way (`}\n` over lines 5:0-6:1 of the text it
    /// last reported); the editor applied it to the lines of its newer text.
    const REPORTED: &str = "// top\n// above 1\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n    todo!()\n}\n// bottom\n// below 1\n";
    const USERS: &str = "// top\n// above 1\n// above 2\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n    todo!()\n}\n// bottom\n// below 1\n";
    const MISPLACED: &str = "// top\n// above 1\n// above 2\nfn double(x: u32) -> u32 {\n    let y = x;\n}\n   todo!()\n}\n// bottom\n// below 1\n";

    fn region_of(text: &str, region: &str) -> Region {
        let start = text[..text.find(region).expect("the region")]
            .chars()
            .count();
        Region::new(start, start + region.chars().count())
    }

    #[test]
    fn a_line_typed_above_moves_the_edit_a_line_up() {
        let region = region_of(REPORTED, "fn double");
        let region = Region::new(region.start, region_of(REPORTED, "// bottom").start);
        let edit = Placed {
            start: (5, 0),
            end: (6, 1),
            text: "}\n",
        };
        let before = Rope::from_str(REPORTED);
        let after = Rope::from_str(MISPLACED);
        let repair = misapplied(&before, &edit, &after, region, true).expect("a repair");
        let mut fixed = after.clone();
        apply_change(
            &mut fixed,
            &CharChange::new(repair.start, repair.end, repair.text.clone()),
        );
        assert_eq!(fixed.to_string(), USERS);
        assert_eq!(repair.text, "    y * 2\n ");
        assert_eq!(repair.region.start, region.start + "// above 2\n".len());
    }

    #[test]
    fn an_edit_that_landed_where_it_was_meant_is_no_repair() {
        let region = Region::new(0, 6);
        let edit = Placed {
            start: (1, 0),
            end: (1, 1),
            text: "X",
        };
        let before = Rope::from_str("{\na\n}\nend\n");
        // Typed below: the edit's lines did not move.
        let after = Rope::from_str("{\nX\n}\nend\nmore\n");
        assert_eq!(misapplied(&before, &edit, &after, region, true), None);
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config(2000, u32::MAX))]
        /// The user types above the region (lines, or within a line; not ending on the line where
        /// the editor applies the edit), then the editor applies an edit of the region at its lines and columns to that
        /// newer text (when they exist there and it does not overwrite the typing): unless it
        /// still landed where it was meant, the session chooses the repair, and it puts back
        /// exactly the text the user had.
        #[test]
        fn the_repair_gives_back_the_users_text(
            above in "[0-9]{0,3}(\n[0-9]{0,3}){0,3}\n",
            region in "[a-e]{0,3}(\n[a-e]{0,3}){1,4}\n",
            below in "[0-9\n]{0,6}",
            typed in "[u-z]{0,3}(\n[u-z]{0,3}){0,2}",
            at in 0usize..12,
            cut in 0usize..12,
            len in 0usize..8,
            text in "[A-E]{1,3}(\n[A-E]{0,3}){0,2}",
        ) {
            let before = format!("{above}{region}{below}");
            let s = above.chars().count();
            let rl = region.chars().count();
            let a = s + cut.min(rl);
            let b = (a + len).min(s + rl);
            let at = at.min(s);
            let base = Rope::from_str(&before);
            let edit = Placed::of(&base, &SentEdit { start: a, end: b, text: &text });
            let mut users = base.clone();
            apply_change(&mut users, &CharChange::new(at, at, typed.clone()));
            if users.char_to_line(at + typed.chars().count()) == edit.start.0 {
                // Typing that ends on the line where the edit starts, before it, moves it
                // along the line: left out, the repair only knows lines moving.
                return Ok(());
            }
            // The editor applies the edit at its lines and columns, if they exist in its text.
            let (Some(from), Some(to)) = (offset(&users, edit.start), offset(&users, edit.end)) else {
                return Ok(());
            };
            if to < from || from < at + typed.chars().count() {
                // Overwriting the user's typing, which never reached the server: what it was, no
                // server can tell.
                return Ok(());
            }
            let mut after = users.clone();
            apply_change(&mut after, &CharChange::new(from, to, text.clone()));
            let mut with = base.clone();
            apply_change(&mut with, &CharChange::new(a, b, text.clone()));
            let landed = Region::new(s, s + rl + text.chars().count() - (b - a));
            let chars = |r: &Rope| r.chars().collect::<Vec<_>>();
            if around(&chars(&with), &chars(&after), landed).is_some() {
                return Ok(());
            }
            let region = Region::new(s, s + rl);
            let plain = around(&chars(&base), &chars(&after), region);
            let repair = misapplied(&base, &edit, &after, region, true)
                .filter(|r| plain.as_ref().is_none_or(|p| r.cost <= p.cost));
            let users = users.to_string();
            prop_assert!(repair.is_some(), "no repair: {after:?}, the user's {users:?}, plain reading {plain:?}");
            if let Some(repair) = repair {
                let mut fixed = after.clone();
                apply_change(&mut fixed, &CharChange::new(repair.start, repair.end, repair.text.clone()));
                prop_assert_eq!(fixed.to_string(), users);
            }
        }
    }
}

mod session_tests {
    use ropey::Rope;

    use crate::edits::{ChangeOutcome, CharChange, Region, StreamSession, apply_change};

    fn apply(text: &str, start: usize, end: usize, with: &str) -> String {
        let mut rope = Rope::from_str(text);
        apply_change(&mut rope, &CharChange::new(start, end, with));
        rope.to_string()
    }

    /// Applies an edit (char offsets of `meant`) at its lines and columns to `text`, as ALE and
    /// kak-lsp do whatever version it names.
    fn apply_at_lines(meant: &str, text: &str, start: usize, end: usize, with: &str) -> String {
        let (meant, rope) = (Rope::from_str(meant), Rope::from_str(text));
        let at = |offset: usize| {
            let line = meant.char_to_line(offset);
            rope.line_to_char(line) + offset - meant.line_to_char(line)
        };
        apply(text, at(start), at(end), with)
    }

    #[test]
    fn an_edit_that_landed_against_newer_text_is_repaired_then_redone() {
        let before = "top\n{\n    old();\n    two();\n}\nend\n";
        // The region is the block (4..30); the job wants "TWO" for "two".
        let rope = Rope::from_str(before);
        let mut s = StreamSession::new(&rope, 1, Region::new(4, 30));
        s.set_client_answers(false);
        s.set_desired("{\n    old();\n    TWO();\n}\n");
        let edit = s.next_edit(&rope, 1).expect("an edit");
        assert_eq!((edit.start, edit.end, edit.text.as_str()), (21, 24, "TWO"));
        // The user opened a line above before the edit arrived; the editor applied it anyway,
        // at its line and column: one line too high, over "old".
        let typed = apply(before, 3, 3, "\n// x");
        let reported = apply_at_lines(before, &typed, edit.start, edit.end, &edit.text);
        assert_eq!(reported, "top\n// x\n{\n    TWO();\n    two();\n}\nend\n");
        let after = Rope::from_str(&reported);
        assert_eq!(s.on_whole_text(&rope, &after, 2), ChangeOutcome::Lost);
        // First the repair, then the edit again where it belongs now.
        let repair = s.next_edit(&after, 2).expect("the repair");
        let repaired = apply(&reported, repair.start, repair.end, &repair.text);
        assert_eq!(repaired, typed);
        let rope2 = Rope::from_str(&repaired);
        assert_eq!(s.on_whole_text(&after, &rope2, 3), ChangeOutcome::Landed);
        let redo = s.next_edit(&rope2, 3).expect("the edit again");
        let done = apply(&repaired, redo.start, redo.end, &redo.text);
        assert_eq!(done, "top\n// x\n{\n    old();\n    TWO();\n}\nend\n");
        let rope3 = Rope::from_str(&done);
        assert_eq!(s.on_whole_text(&rope2, &rope3, 4), ChangeOutcome::Landed);
        assert!(s.is_settled());
    }

    #[test]
    fn a_ranged_report_of_an_edit_applied_against_newer_text_is_repaired() {
        // Neovim's stock handler applies an edit at version 0 without checking it.
        let before = "// top\nfn double(x: u32) -> u32 {\n    todo!()\n}\n";
        let rope = Rope::from_str(before);
        let mut s = StreamSession::new(&rope, 0, Region::new(7, 48));
        s.set_desired("fn double(x: u32) -> u32 {\n    let y = x;\n    todo!()\n}\n");
        let edit = s.next_edit(&rope, 0).expect("an edit");
        assert_eq!((edit.start, edit.end), (38, 38));
        let typed = apply(before, 7, 7, "// above 1\n");
        let reported = apply_at_lines(before, &typed, edit.start, edit.end, &edit.text);
        assert!(reported.contains("fn dlet y = x;\n    ouble"), "{reported}");
        let changes = [
            CharChange::new(7, 7, "// above 1\n"),
            CharChange::new(22, 22, edit.text.clone()),
        ];
        let after = Rope::from_str(&reported);
        assert_eq!(
            s.on_did_change(&rope, &changes, &after, 15),
            ChangeOutcome::Lost
        );
        let repair = s.next_edit(&after, 15).expect("the repair");
        let repaired = apply(&reported, repair.start, repair.end, &repair.text);
        assert_eq!(repaired, typed);
        let rope2 = Rope::from_str(&repaired);
        let echo = [CharChange::new(
            repair.start,
            repair.end,
            repair.text.clone(),
        )];
        assert_eq!(
            s.on_did_change(&after, &echo, &rope2, 16),
            ChangeOutcome::Landed
        );
        let redo = s.next_edit(&rope2, 16).expect("the edit again");
        let done = apply(&repaired, redo.start, redo.end, &redo.text);
        assert_eq!(
            done,
            "// top\n// above 1\nfn double(x: u32) -> u32 {\n    let y = x;\n    todo!()\n}\n"
        );
    }
}
