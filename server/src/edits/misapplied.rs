//! An edit that landed against newer text. Vim's ALE and kak-lsp apply an edit at the offsets
//! it names whatever version it targets: if the user typed above the region after the editor's
//! last report, the edit lands shifted, overwriting text before it (or after) and leaving some
//! of the old text it was to replace. The next whole-text report then shows the edit's text at
//! its old offsets and the region's text nowhere. Here that is recognised, and the repair is
//! found: the edit that puts back what the misplaced one overwrote, after which the region holds
//! its old text again, next to the user's typing, and the job's next edit is computed as usual.

use ropey::Rope;

use super::echo::SentEdit;
use super::stream::InFlight;
use super::whole_text::around;
use super::{ChangeOutcome, OutgoingEdit, Region, StreamSession};

/// Past this many char comparisons the search gives up (the job then reads the report as
/// typing inside its region).
const MAX_COMPARISONS: usize = 4_000_000;

/// The edit that undoes a misplaced one, and what it leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repair {
    /// Replace `start..end` of the reported text with `text`...
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// ...and the region is here, holding the text it held before the misplaced edit.
    pub region: Region,
    /// The span of the reported text that the region and the damage cover.
    pub cover: Region,
    /// How many chars the user's typing covers in this reading (see `whole_text`).
    pub cost: usize,
}

/// A repair not sent yet, relative to the start of the span it covers, which the session keeps
/// as its region meanwhile.
#[derive(Debug, Clone)]
pub(crate) struct PendingRepair {
    start: usize,
    end: usize,
    text: String,
    /// Where the region starts once the repair landed.
    region_start: usize,
    /// The region's text once the repair landed.
    region_text: String,
    cover_len: usize,
}

impl StreamSession {
    /// A whole-text report (`after`, at `version`) showed the in-flight edit landed against newer
    /// text (over `before`, as last reported): the edit is lost, and the repair goes out next.
    pub(super) fn start_repair(
        &mut self,
        repair: Repair,
        before: &Rope,
        after: &Rope,
        version: i32,
    ) -> ChangeOutcome {
        let region_text = before.slice(self.region.start..self.region.end).to_string();
        let cover = repair.cover;
        self.repair = Some(PendingRepair {
            start: repair.start - cover.start,
            end: repair.end - cover.start,
            text: repair.text,
            region_start: repair.region.start - cover.start,
            region_text,
            cover_len: cover.end - cover.start,
        });
        self.in_flight = None;
        self.failed_attempts += 1;
        self.doc = after.clone();
        self.version = version;
        self.region = cover;
        ChangeOutcome::Lost
    }

    /// The repair as the next edit, if one waits and the span it covers is as it was (the
    /// user's typing since only moved it).
    pub(super) fn send_repair(&mut self) -> Option<OutgoingEdit> {
        let repair = self.repair.take()?;
        let at = self.region.start;
        if self.region.end - at != repair.cover_len {
            return None;
        }
        let edit = OutgoingEdit {
            id: self.next_id,
            version: self.version,
            start: at + repair.start,
            end: at + repair.end,
            text: repair.text,
        };
        self.next_id += 1;
        self.in_flight = Some(InFlight {
            edit: edit.clone(),
            answered: false,
            landed: false,
            region_start: at + repair.region_start,
            sent: repair.region_text,
            if_refused: None,
            inside_if_applied: false,
        });
        Some(edit)
    }
}

/// If `after` is `before` changed by the user outside `region` and then by `sent` applied at
/// its offsets (char offsets of `before`) to that newer text, the repair. `None` if the edit's
/// text is not at its offsets, or no shift of the user's typing explains the rest.
pub(crate) fn misapplied(
    before: &[char],
    sent: &SentEdit<'_>,
    after: &[char],
    region: Region,
) -> Option<Repair> {
    let (lb, la) = (before.len(), after.len());
    let t: Vec<char> = sent.text.chars().collect();
    let (a, b) = (sent.start.min(lb), sent.end.min(lb).max(sent.start.min(lb)));
    let (s, e) = (
        region.start.min(lb),
        region.end.min(lb).max(region.start.min(lb)),
    );
    if a + t.len() > la || after[a..a + t.len()] != t[..] {
        return None;
    }
    // `after` without the edit is `u`: `after[..a]`, then the `b - a` chars the edit replaced,
    // then `after[a + t.len()..]`. If the user's typing before the edit's place shifted the text
    // by `k`, those chars are `before[a - k..b - k]`, and the region is at `s + k..e + k` of `u`.
    let u_len = la - t.len() + (b - a);
    let net = u_len as isize - lb as isize;
    let mut budget = MAX_COMPARISONS;
    // Shifts in order of distance from the net length of the typing (all typed above).
    let widest = lb.max(u_len) as isize;
    let shifts = (1..=widest * 2).map(|i| net + if i % 2 == 1 { (i + 1) / 2 } else { -(i / 2) });
    for k in std::iter::once(net).chain(shifts) {
        if k == 0 || a as isize - k < 0 || b as isize - k > lb as isize {
            continue;
        }
        let Some((rs, re)) = Some((s as isize + k, e as isize + k))
            .filter(|&(rs, re)| rs >= 0 && re as usize <= u_len)
        else {
            continue;
        };
        let (rs, re) = (rs as usize, re as usize);
        let from = (a as isize - k) as usize;
        let u_at = |i: usize| -> char {
            if i < a {
                after[i]
            } else if i < b {
                before[from + (i - a)]
            } else {
                after[i - b + a + t.len()]
            }
        };
        if budget < e - s {
            return None;
        }
        budget -= e - s;
        if !(rs..re).map(u_at).eq(before[s..e].iter().copied()) {
            continue;
        }
        // The rest must read as the user's typing outside the region.
        let u: Vec<char> = (0..u_len).map(u_at).collect();
        budget = budget.saturating_sub(u_len);
        let reading = around(before, &u, region)?;
        if reading.region != Region::new(rs, re) {
            continue;
        }
        let shift = t.len() as isize - (b - a) as isize;
        let to_after = |i: usize| {
            if i <= a {
                i
            } else if i >= b {
                i.saturating_add_signed(shift)
            } else {
                a + t.len()
            }
        };
        return Some(Repair {
            start: a,
            end: a + t.len(),
            text: before[from..from + (b - a)].iter().collect(),
            region: Region::new(rs, re),
            cover: Region::new(rs.min(a), to_after(re).max(a + t.len())),
            cost: reading.cost,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::{CharChange, apply_change};
    use proptest::prelude::*;
    use ropey::Rope;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// The user's `typed` at `at` of `before`, then `sent` applied at its offsets regardless.
    fn report(before: &str, typed: (usize, &str), sent: (usize, usize, &str)) -> String {
        let mut rope = Rope::from_str(before);
        apply_change(&mut rope, &CharChange::new(typed.0, typed.0, typed.1));
        apply_change(&mut rope, &CharChange::new(sent.0, sent.1, sent.2));
        rope.to_string()
    }

    #[test]
    fn a_line_typed_above_shifts_the_edit_into_it() {
        // The region "[abc]" at 3..8; the edit replaces "b" with "XY"; the user typed "uu" at 0.
        let before = "00\n[abc]\n11\n";
        let after = report(before, (0, "uu"), (5, 6, "XY"));
        // "[" overwritten, "b" left.
        assert_eq!(after, "uu00\nXYabc]\n11\n");
        let sent = SentEdit {
            start: 5,
            end: 6,
            text: "XY",
        };
        let repair =
            misapplied(&chars(before), &sent, &chars(&after), Region::new(3, 8)).expect("a repair");
        let mut fixed = Rope::from_str(&after);
        apply_change(
            &mut fixed,
            &CharChange::new(repair.start, repair.end, repair.text.clone()),
        );
        assert_eq!(fixed.to_string(), "uu00\n[abc]\n11\n");
        assert_eq!(repair.region, Region::new(5, 10));
    }

    #[test]
    fn an_edit_that_landed_where_it_was_meant_is_no_repair() {
        let before = "00\n[abc]\n11\n";
        let after = report(before, (12, "uu"), (5, 6, "XY"));
        let sent = SentEdit {
            start: 5,
            end: 6,
            text: "XY",
        };
        assert_eq!(
            misapplied(&chars(before), &sent, &chars(&after), Region::new(3, 8)),
            None
        );
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config(2000, u32::MAX))]
        /// Typing above the region before a misplaced edit (not overwritten by it): unless the
        /// edit still landed where it was meant, the session chooses the repair, and it puts
        /// back exactly the text the user had, region included.
        #[test]
        fn the_repair_gives_back_the_users_text(
            above in "[0-9\n]{0,10}",
            region in "[a-e\n]{1,8}",
            below in "[0-9\n]{0,6}",
            typed in "[u-z\n]{1,6}",
            at in 0usize..10,
            cut in 0usize..8,
            len in 0usize..8,
            text in "[A-E]{1,5}",
        ) {
            let before = format!("{above}{region}{below}");
            let s = above.chars().count();
            let rl = region.chars().count();
            let a = s + cut.min(rl);
            let b = (a + len).min(s + rl);
            let at = at.min(s);
            if at + typed.chars().count() > a {
                // The edit overwrote the user's typing, which never reached the server: what
                // it was, no server can tell.
                return Ok(());
            }
            let after = report(&before, (at, &typed), (a, b, &text));
            let mut users = Rope::from_str(&before);
            apply_change(&mut users, &CharChange::new(at, at, typed.clone()));
            let sent = SentEdit { start: a, end: b, text: &text };
            // Only where the report reads neither as the edit landed nor as it lost, as the
            // session asks.
            let mut with = Rope::from_str(&before);
            apply_change(&mut with, &CharChange::new(a, b, text.clone()));
            let landed = Region::new(s, s + rl + text.chars().count() - (b - a));
            if around(&chars(&with.to_string()), &chars(&after), landed).is_some() {
                // It reads as landed where it was meant (the shift moved nothing it touched).
                return Ok(());
            }
            let plain = around(&chars(&before), &chars(&after), Region::new(s, s + rl));
            let repair = misapplied(&chars(&before), &sent, &chars(&after), Region::new(s, s + rl))
                .filter(|r| plain.as_ref().is_none_or(|p| r.cost <= p.cost));
            let users = users.to_string();
            prop_assert!(repair.is_some(), "no repair: {after:?}, the user's {users:?}, plain reading {plain:?}");
            if let Some(repair) = repair {
                let mut fixed = Rope::from_str(&after);
                apply_change(&mut fixed, &CharChange::new(repair.start, repair.end, repair.text.clone()));
                let fixed = fixed.to_string();
                let fixed_region: String = fixed.chars().skip(repair.region.start).take(repair.region.end - repair.region.start).collect();
                prop_assert_eq!(&fixed_region, &region);
                // The text around the region is the user's.
                prop_assert_eq!(fixed.chars().count(), users.chars().count());
                prop_assert_eq!(fixed, users);
            }
        }
    }
}

#[cfg(test)]
mod session_tests {
    use ropey::Rope;

    use crate::edits::{ChangeOutcome, CharChange, Region, StreamSession, apply_change};

    /// Applies `edit`'s change to `text` at its offsets, whatever its version (ALE, kak-lsp).
    fn apply(text: &str, start: usize, end: usize, with: &str) -> String {
        let mut rope = Rope::from_str(text);
        apply_change(&mut rope, &CharChange::new(start, end, with));
        rope.to_string()
    }

    #[test]
    fn an_edit_that_landed_against_newer_text_is_repaired_then_redone() {
        let before = "top\n{\nold();\n}\nend\n";
        // The region is "{\nold();\n}\n" (4..15); the job wants "{\nnew();\n}\n".
        let rope = Rope::from_str(before);
        let mut s = StreamSession::new(&rope, 1, Region::new(4, 15));
        s.set_client_answers(false);
        s.set_desired("{\nnew();\n}\n");
        let edit = s.next_edit(&rope, 1).expect("an edit");
        assert_eq!((edit.start, edit.end, edit.text.as_str()), (6, 9, "new"));
        // The user typed a line above before the edit arrived; the editor applied it anyway.
        let typed = apply(before, 0, 0, "// x\n");
        let reported = apply(&typed, edit.start, edit.end, &edit.text);
        assert_eq!(reported, "// x\ntnew{\nold();\n}\nend\n");
        let after = Rope::from_str(&reported);
        assert_eq!(s.on_whole_text(&rope, &after, 2), ChangeOutcome::Lost);
        // First the repair: "op\n" back where "new" overwrote it.
        let repair = s.next_edit(&after, 2).expect("the repair");
        assert_eq!(
            (repair.start, repair.end, repair.text.as_str()),
            (6, 9, "op\n")
        );
        let repaired = apply(&reported, repair.start, repair.end, &repair.text);
        assert_eq!(repaired, typed);
        let rope2 = Rope::from_str(&repaired);
        assert_eq!(s.on_whole_text(&after, &rope2, 3), ChangeOutcome::Landed);
        assert_eq!(s.region(), Region::new(9, 20));
        // Then the edit again, where it belongs now.
        let redo = s.next_edit(&rope2, 3).expect("the edit again");
        let done = apply(&repaired, redo.start, redo.end, &redo.text);
        assert_eq!(done, "// x\ntop\n{\nnew();\n}\nend\n");
        let rope3 = Rope::from_str(&done);
        assert_eq!(s.on_whole_text(&rope2, &rope3, 4), ChangeOutcome::Landed);
        assert!(s.is_settled());
    }
}
