//! Reading a whole-text `didChange` around a region. A client that sends the whole text
//! (kak-lsp, Vim's ALE) says nothing of what changed, and a minimal diff of the whole text
//! knows nothing of the region: it may join the job's own edit with the user's typing beside
//! it, or align the texts so that a change straddles the region's edge. Here the region's text
//! is looked for in the new text instead, and only what lies on each side of it is diffed, so
//! typing outside the region reads as typing outside, whatever its text.

use ropey::Rope;

use super::diff::{minimal_edits, to_sequential};
use super::misapplied::misapplied;
use super::misplaced::{Sent, misplaced};
use super::stream::InFlight;
use super::{ChangeOutcome, CharChange, Region, StreamSession, apply_change};

/// Past this many char comparisons the search for the region gives up (text made of one
/// repeated char, say): the caller falls back to a plain diff.
const MAX_COMPARISONS: usize = 4_000_000;

/// One way to read the new text: the region's text kept whole, the rest changed around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reading {
    /// The changes that turn the base text into the new one, each applying to the result of
    /// the previous one; none of them touches the region's interior.
    pub changes: Vec<CharChange>,
    /// The region in the new text.
    pub region: Region,
    /// How many chars the changes cover at least (removed plus inserted, around the
    /// common affixes): the smaller, the likelier the reading.
    pub cost: usize,
}

/// A place for the region in the new text, and the spans to diff on each side of it.
struct Sides {
    x: usize,
    /// Before the region: `from..old_to` of the base becomes `from..new_to` of the new text.
    before: (usize, usize, usize),
    /// After it: `old_from..old_to` of the base becomes `new_from..new_to`.
    after: (usize, usize, usize, usize),
    cost: usize,
}

fn common_prefix<'a>(
    a: impl Iterator<Item = &'a char>,
    b: impl Iterator<Item = &'a char>,
) -> usize {
    a.zip(b).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &[char], b: &[char]) -> usize {
    common_prefix(a.iter().rev(), b.iter().rev())
}

/// The likeliest reading of `after` as `base` changed only outside `region` (char offsets of
/// `base`), or `None` when the region's text is not in `after` (the user typed inside it, or
/// the text it was read with never landed).
pub(crate) fn around(base: &[char], after: &[char], region: Region) -> Option<Reading> {
    let (lb, la) = (base.len(), after.len());
    let (s, e) = (
        region.start.min(lb),
        region.end.min(lb).max(region.start.min(lb)),
    );
    let kept = &base[s..e];
    let len = kept.len();
    if len > la {
        return None;
    }
    // The longest common prefix and suffix of the two texts, each on its own (they may
    // overlap): what each side of the region shares with the new text at its far end.
    let p = common_prefix(base.iter(), after.iter());
    let q = common_suffix(base, after);
    // Where the region starts if the user changed nothing before it, and if nothing after it.
    let unchanged_after = (s + la).saturating_sub(lb).min(la - len);
    let mut budget = MAX_COMPARISONS;
    let mut best: Option<Sides> = None;
    // The likeliest places first; after them only places that could cost less than the best
    // so far (the cost is at least the distance to either).
    let likeliest = [s.min(la - len), unchanged_after];
    for x in likeliest.into_iter().chain(0..=la - len) {
        let floor = x.abs_diff(s).max(x.abs_diff(unchanged_after));
        if best.as_ref().is_some_and(|b| b.cost <= floor) {
            continue;
        }
        if budget < len {
            return None;
        }
        budget -= len;
        if after[x..x + len] != *kept {
            continue;
        }
        // Each side's differing middle, between the affixes it shares with the new text.
        let before_prefix = p.min(s).min(x);
        let room = s.min(x) - before_prefix;
        let before_suffix = common_suffix(&base[s - room..s], &after[x - room..x]);
        let (old_tail, new_tail) = (lb - e, la - x - len);
        let after_suffix = q.min(old_tail).min(new_tail);
        let room = old_tail.min(new_tail) - after_suffix;
        let after_prefix = common_prefix(base[e..e + room].iter(), after[x + len..].iter());
        budget = budget.saturating_sub(before_suffix + after_prefix);
        let sides = Sides {
            x,
            before: (before_prefix, s - before_suffix, x - before_suffix),
            after: (
                e + after_prefix,
                lb - after_suffix,
                x + len + after_prefix,
                la - after_suffix,
            ),
            cost: (s - before_prefix - before_suffix)
                + (x - before_prefix - before_suffix)
                + (old_tail - after_prefix - after_suffix)
                + (new_tail - after_prefix - after_suffix),
        };
        if best.as_ref().is_none_or(|b| sides.cost < b.cost) {
            best = Some(sides);
        }
    }
    let Sides {
        x,
        before,
        after: tail,
        cost,
    } = best?;
    let text = |chars: &[char]| chars.iter().collect::<String>();
    let shifted = |changes: Vec<CharChange>, by: usize| {
        to_sequential(&changes)
            .into_iter()
            .map(move |c| CharChange::new(c.start + by, c.old_end + by, c.text))
    };
    let (from, old_to, new_to) = before;
    let mut changes: Vec<CharChange> = shifted(
        minimal_edits(&text(&base[from..old_to]), &text(&after[from..new_to])),
        from,
    )
    .collect();
    // The text before the region is now `after[..x]`, so the rest of `base` starts at `x + len`.
    let (old_from, old_to, new_from, new_to) = tail;
    changes.extend(shifted(
        minimal_edits(
            &text(&base[old_from..old_to]),
            &text(&after[new_from..new_to]),
        ),
        new_from,
    ));
    Some(Reading {
        changes,
        region: Region::new(x, x + len),
        cost,
    })
}

/// The reading of the whole text `new` around the region `flight` leaves, with its edit landed
/// on `before` where it was meant.
fn landed_reading(before: &Rope, flight: &InFlight, new: &[char]) -> Option<Reading> {
    let mut with = before.clone();
    let edit = &flight.edit;
    apply_change(
        &mut with,
        &CharChange::new(edit.start, edit.end, edit.text.clone()),
    );
    around(
        &with.chars().collect::<Vec<_>>(),
        new,
        flight.landed_region(),
    )
}

impl StreamSession {
    /// A `didChange` that carried the whole text (`after`): read around the region, with the
    /// in-flight edit landed first if that reading is the likelier, then handled as
    /// [`StreamSession::on_did_change`] is.
    pub fn on_whole_text(&mut self, before: &Rope, after: &Rope, version: i32) -> ChangeOutcome {
        self.reports_whole_text = true;
        let blind = self.blind_edits();
        let partial = self.resolve_assumed();
        let base: Vec<char> = before.chars().collect();
        let new: Vec<char> = after.chars().collect();
        let echo = self
            .in_flight()
            .filter(|flight| !flight.landed)
            .and_then(|flight| landed_reading(before, flight, &new));
        let cost = echo.as_ref().map(|e| e.cost);
        let echo = self.partial_reading(before, &new, cost, partial).or(echo);
        let plain = around(&base, &new, self.region());
        // When the edit in flight may land late, and where it was meant, the plain reading (it
        // has not landed yet) wins a tie with a reading of it landed elsewhere. (One carried
        // astray is expected elsewhere.)
        let late = self
            .in_flight()
            .is_some_and(|f| !f.landed && self.lands_late(f) && !f.goes_astray(before));
        let beats_plain = |cost: usize| {
            plain
                .as_ref()
                .is_none_or(|p| cost + usize::from(late) <= p.cost)
        };
        // The edit landed at lines the user's unreported typing had moved: a repair, if that
        // reading needs fewer changes than both others (the echo's wins a tie).
        // Not when the echo's reading needs no change at all.
        let meant = blind
            .filter(|_| echo.as_ref().is_none_or(|e| e.cost > 0))
            .and_then(|(edits, view, view_region)| {
                let sent = Sent {
                    base: before,
                    base_region: self.region(),
                    edits: &edits,
                    view: &view,
                    view_region,
                };
                misplaced(&sent, after)
            })
            .filter(|(repair, _)| {
                beats_plain(repair.cost) && echo.as_ref().is_none_or(|e| repair.cost < e.cost)
            });
        if let Some((repair, region_text)) = meant {
            return self.start_repair(repair, region_text, false, after, version);
        }
        let repair = self
            .in_flight()
            .filter(|flight| !flight.landed && self.may_repair(flight))
            // Only where the report does not show the edit where it was meant (an empty region,
            // as a deletion leaves, shows anywhere: that proves nothing), or the editor puts the
            // edit elsewhere (the one it shows there is the user's doing, or a coincidence).
            .filter(|flight| {
                echo.as_ref().is_none_or(|e| {
                    (e.region.is_empty() && e.cost > 0) || flight.goes_astray(before)
                })
            })
            .and_then(|flight| {
                misapplied(
                    before,
                    &flight.placed(before),
                    after,
                    self.region(),
                    !flight.goes_astray(before),
                )
            })
            .filter(|repair| {
                beats_plain(repair.cost) && echo.as_ref().is_none_or(|e| repair.cost < e.cost)
            });
        if let Some(repair) = repair {
            let region_text = before.slice(self.region.start..self.region.end).to_string();
            return self.start_repair(repair, region_text, true, after, version);
        }
        let echo_first = echo
            .as_ref()
            .is_some_and(|e| plain.as_ref().is_none_or(|p| e.cost <= p.cost));
        let changes = match plain {
            Some(plain) => plain.changes,
            None => to_sequential(&minimal_edits(&before.to_string(), &after.to_string())),
        };
        let echo = echo.filter(|_| echo_first).map(|e| e.changes);
        self.report(before, &changes, after, version, echo)
    }

    /// The reading of the report with only the first of the edits taken as landed (fewer than
    /// all) landed, when one needs fewer changes than `cost`, the reading with all of them (if
    /// any); the fewest wins, and a tie goes to more edits. That edit is then the one in flight
    /// (see [`Self::resolve_assumed`]).
    fn partial_reading(
        &mut self,
        before: &Rope,
        new: &[char],
        cost: Option<usize>,
        partial: Vec<InFlight>,
    ) -> Option<Reading> {
        let mut best: Option<(InFlight, Reading)> = None;
        for flight in partial {
            let Some(reading) = landed_reading(before, &flight, new) else {
                continue;
            };
            let bound = best.as_ref().map(|(_, r)| r.cost).or(cost);
            if bound.is_none_or(|bound| reading.cost < bound) {
                best = Some((flight, reading));
            }
        }
        let (flight, reading) = best?;
        self.in_flight = Some(flight);
        self.taken_as_landed = false;
        Some(reading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::apply_change;
    use proptest::prelude::*;
    use ropey::Rope;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// `expected`: the changes as `start..end=>text` and the region in `after`, or `None`.
    fn check(
        base: &str,
        region: (usize, usize),
        after: &str,
        expected: Option<(&str, (usize, usize))>,
    ) {
        let got = around(&chars(base), &chars(after), Region::new(region.0, region.1));
        let shown = got.as_ref().map(|r| {
            let changes = r
                .changes
                .iter()
                .map(|c| format!("{}..{}=>{}", c.start, c.old_end, c.text))
                .collect::<Vec<_>>()
                .join(" ");
            (changes, (r.region.start, r.region.end))
        });
        assert_eq!(
            shown.as_ref().map(|(c, r)| (c.as_str(), *r)),
            expected,
            "{base:?} {region:?} -> {after:?}"
        );
        if let Some(reading) = got {
            let mut rope = Rope::from_str(base);
            for change in &reading.changes {
                apply_change(&mut rope, change);
            }
            assert_eq!(rope.to_string(), after);
        }
    }

    #[test]
    fn cases() {
        // Typing just before the region: a plain diff reads "um" inserted before "m".
        check("mm", (0, 2), "umm", Some(("0..0=>u", (1, 3))));
        // "rs" rewritten to "sm" is the region; "u" typed before it.
        check("sm", (0, 2), "usm", Some(("0..0=>u", (1, 3))));
        // `\r` moved from before a `\n` region to after it.
        check("\r\n", (1, 2), "\n\r", Some(("0..1=> 1..1=>\r", (0, 1))));
        // A deletion before the region, where the text repeats.
        check("\n\n\n", (1, 3), "\n\na", Some(("0..1=> 2..2=>a", (0, 2))));
        // Typing on both sides.
        check(
            "a[xy]b",
            (2, 4),
            "aa[xy]bb",
            Some(("1..1=>a 6..6=>b", (3, 5))),
        );
        // Typing inside: the region's text is gone.
        check("a[xy]b", (2, 4), "a[xzy]b", None);
        // Nothing changed.
        check("abc", (1, 2), "abc", Some(("", (1, 2))));
        // Everything around deleted.
        check("abc", (1, 2), "b", Some(("0..1=> 1..2=>", (0, 1))));
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config(2000, u32::MAX))]
        /// Whatever the user does outside the region, the reading finds the region and
        /// reproduces the new text, with no change inside the region. (Not for an empty
        /// region: typing at its position reads as before it, whichever side it was meant.)
        #[test]
        fn typing_outside_is_read_outside(
            before in "[ab\n]{0,8}",
            region in "[ab\n]{1,4}",
            after in "[ab\n]{0,8}",
            typed_before in "[ab\n]{0,3}",
            cut_before in 0usize..3,
            typed_after in "[ab\n]{0,3}",
        ) {
            let base = format!("{before}{region}{after}");
            let s = before.chars().count();
            let e = s + region.chars().count();
            let kept_before: String = before.chars().take(s.saturating_sub(cut_before)).collect();
            let new = format!("{kept_before}{typed_before}{region}{typed_after}{after}");
            let reading = around(&chars(&base), &chars(&new), Region::new(s, e));
            let reading = reading.expect("the region's text is there");
            let mut rope = Rope::from_str(&base);
            let mut r = Region::new(s, e);
            for change in &reading.changes {
                match crate::edits::rebase_over(r, change) {
                    crate::edits::Rebased::Moved(m) => r = m,
                    crate::edits::Rebased::Inside => prop_assert!(false, "a change inside: {:?}", reading),
                }
                apply_change(&mut rope, change);
            }
            prop_assert_eq!(rope.to_string(), new);
            prop_assert_eq!(r, reading.region);
        }
    }
}
