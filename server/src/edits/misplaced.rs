//! Several edits that landed against newer text before one report showed them. Vim's ALE never
//! answers and reports only when it lints, so the session sends edit after edit on the text it
//! takes them to have made; kak-lsp reports each edit it applied, but the repair of a misplaced
//! edit can itself land misplaced. When the user added lines above the region meanwhile (which
//! no report showed yet), each edit landed that many lines too high, each at its own shift.
//!
//! A whole-text report is read here as: the user's typing above and below, and between them the
//! lines the edits reached, as the edits left them when each is applied at its lines and columns
//! a number of lines too high. The shifts tried are the ones the user's typing can explain: they
//! never decrease from one edit to the next (the user adds lines; the soak and the real editors'
//! tests do too) and never exceed the lines the report gained. The reading that needs the fewest
//! changes outside those lines wins, and one edit puts the lines back as the session meant them.

use std::collections::HashMap;

use ropey::Rope;

use super::diff::common_affixes;
use super::echo::SentEdit;
use super::misapplied::{Placed, Repair, clamped};
use super::{CharChange, Region, StreamSession, apply_change};

/// Past this many readings tried, the search stops (the report is then read as usual).
const MAX_READINGS: usize = 20_000;
/// The most lines one edit is taken to have landed too high.
const MAX_SHIFT: usize = 32;

/// An edit as it went out: its lines and columns in the text it was computed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentAt {
    pub start: (usize, usize),
    pub end: (usize, usize),
    pub text: String,
}

impl SentAt {
    /// The edit of `start..end` (char offsets of `text`) by `with`.
    pub fn of(text: &Rope, start: usize, end: usize, with: &str) -> Self {
        let placed = Placed::of(
            text,
            &SentEdit {
                start,
                end,
                text: with,
            },
        );
        Self {
            start: placed.start,
            end: placed.end,
            text: with.to_string(),
        }
    }
}

/// What the session knew when the report came.
pub(crate) struct Sent<'a> {
    /// The text as last reported, and the region in it.
    pub base: &'a Rope,
    pub base_region: Region,
    /// The edits sent since, in order, each computed against the text with the ones before.
    pub edits: &'a [SentAt],
    /// `base` with every edit where it was meant, and the region there.
    pub view: &'a Rope,
    pub view_region: Region,
}

/// If `report` is `sent.base` changed by the user above and below the lines the edits reach,
/// and by the edits applied at shifted lines (not all where they were meant), the repair: the
/// edit that gives those lines the text the session meant, with the region where the session
/// meant it (`Repair::region`, in the text once the repair landed), and the region's text then.
pub(crate) fn misplaced(sent: &Sent<'_>, report: &Rope) -> Option<(Repair, String)> {
    let Sent {
        base,
        base_region,
        edits,
        view,
        view_region,
    } = *sent;
    let gained = report.len_lines().checked_sub(view.len_lines())?;
    if edits.is_empty() || gained == 0 || base_region.end > base.len_chars() {
        return None;
    }
    let most = gained.min(MAX_SHIFT);
    let first = base.char_to_line(base_region.start);
    let last = base.char_to_line(base_region.end);
    let window_end = if last + 1 < base.len_lines() {
        base.line_to_char(last + 1)
    } else {
        base.len_chars()
    };
    let tail: Vec<char> = base.slice(base_region.end..window_end).chars().collect();
    let base_chars: Vec<char> = base.chars().collect();
    let report_chars: Vec<char> = report.chars().collect();
    // The readings' costs of the text before the lines the edits reached (by where those lines
    // start in the base and in the report), and after them (by where they end in the report).
    let mut before_cost = HashMap::new();
    let mut after_cost = HashMap::new();
    let mut windows = HashMap::new();
    // The cost, where the lines start in the report, the lines as the editor holds them, and
    // the line they start at in the base.
    let mut best: Option<(usize, usize, Vec<char>, usize)> = None;
    for shifts in rising(edits.len(), most).into_iter().take(MAX_READINGS) {
        if shifts.iter().all(|&s| s == 0) {
            // Every edit where it was meant: the echo's reading.
            continue;
        }
        // The lines the edits reach: from the highest any landed to the region's last.
        let latest = *shifts.last().unwrap_or(&0);
        let Some(top) = first.checked_sub(latest) else {
            continue;
        };
        let window = windows
            .entry(top)
            .or_insert_with(|| Rope::from(base.slice(base.line_to_char(top)..window_end)));
        let Some(block) = replay(window, top, edits, &shifts, &tail) else {
            continue;
        };
        let top_at = base.line_to_char(top);
        // The user added `above` lines above them, at least as many as the edits' shift.
        for above in latest..=gained {
            if top + above >= report.len_lines() {
                break;
            }
            let at = report.line_to_char(top + above);
            let end = at + block.len();
            if end > report_chars.len() || report_chars[at..end] != block[..] {
                continue;
            }
            let total = *before_cost
                .entry((top_at, at))
                .or_insert_with(|| cost(&base_chars[..top_at], &report_chars[..at]))
                + *after_cost
                    .entry(end)
                    .or_insert_with(|| cost(&base_chars[base_region.end..], &report_chars[end..]));
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, at, block.clone(), top_at));
            }
        }
    }
    let (total, at, block, top_at) = best?;
    // The lines as the session meant them: the view's from `top` to its region's end.
    let meant_end = base_region.end + view.len_chars() - base.len_chars();
    let meant: Vec<char> = view.slice(top_at..meant_end).chars().collect();
    let (prefix, suffix) = common_affixes(&block, &meant);
    let region_at = at + view_region.start - top_at;
    let repair = Repair {
        start: at + prefix,
        end: at + block.len() - suffix,
        text: meant[prefix..meant.len() - suffix].iter().collect(),
        region: Region::new(region_at, region_at + view_region.end - view_region.start),
        cover: Region::new(at, at + block.len()),
        cost: total,
    };
    let region_text = view.slice(view_region.start..view_region.end).to_string();
    Some((repair, region_text))
}

/// The lines from `top` on (`window`, the last one holding the region's end and then `tail`)
/// once each edit landed its shift too high, up to the region's end; `None` if an edit would
/// reach outside them.
fn replay(
    window: &Rope,
    top: usize,
    edits: &[SentAt],
    shifts: &[usize],
    tail: &[char],
) -> Option<Vec<char>> {
    let mut lines = window.clone();
    for (edit, &shift) in edits.iter().zip(shifts) {
        let line = |l: usize| {
            l.checked_sub(top + shift)
                .filter(|&l| l < lines.len_lines())
        };
        let start = clamped(&lines, (line(edit.start.0)?, edit.start.1))?;
        let end = clamped(&lines, (line(edit.end.0)?, edit.end.1))?.max(start);
        lines.remove(start..end);
        lines.insert(start, &edit.text);
    }
    let chars: Vec<char> = lines.chars().collect();
    let cut = chars.len().checked_sub(tail.len())?;
    (chars[cut..] == *tail).then(|| chars[..cut].to_vec())
}

/// How many chars differ between `old` and `new` once their common prefix and suffix are set
/// aside: the user's typing that turns one into the other, at most.
fn cost(old: &[char], new: &[char]) -> usize {
    let (prefix, suffix) = common_affixes(old, new);
    old.len() + new.len() - 2 * (prefix + suffix)
}

impl StreamSession {
    /// Before a whole-text report is read: the edits sent since the last report that it may show
    /// misplaced (taken as landed, and the one in flight), the text with them where they were
    /// meant, and the region there. `None` when there are none, or the editor checks versions.
    pub(super) fn blind_edits(&self) -> Option<(Vec<SentAt>, Rope, Region)> {
        if !self.may_repair_more() {
            return None;
        }
        let in_flight = match &self.in_flight {
            // An edit carried astray lands at lines the replay's shifts do not describe.
            Some(flight)
                if flight.landed
                    || (self.client_answers && !flight.answered)
                    || flight.goes_astray(&self.doc)
                    || flight.undo.is_some() =>
            {
                return None;
            }
            flight => flight.as_ref(),
        };
        // The edits taken as landed, from the text as last reported, then the one in flight.
        let mut view = self.assumed.clone().unwrap_or_else(|| self.doc.clone());
        let mut edits = Vec::new();
        for flight in self.assumed_flights.iter().chain(in_flight) {
            let edit = &flight.edit;
            edits.push(SentAt::of(&view, edit.start, edit.end, &edit.text));
            apply_change(
                &mut view,
                &CharChange::new(edit.start, edit.end, edit.text.clone()),
            );
        }
        let region = in_flight.map_or(self.region, |flight| flight.landed_region());
        (!edits.is_empty()).then_some((edits, view, region))
    }
}

/// Every list of `n` shifts in `0..=most` that never decreases, fewest lines first (at most
/// [`MAX_READINGS`] and one).
fn rising(n: usize, most: usize) -> Vec<Vec<usize>> {
    let mut all = Vec::new();
    let mut shifts = vec![0; n];
    loop {
        all.push(shifts.clone());
        if all.len() > MAX_READINGS {
            break;
        }
        // The next list in order: raise the last shift that can rise, and set the ones after
        // it to it.
        let Some(i) = (0..n).rev().find(|&i| shifts[i] < most) else {
            break;
        };
        let value = shifts[i] + 1;
        shifts[i..].iter_mut().for_each(|s| *s = value);
    }
    all.sort_by_key(|s| s.iter().sum::<usize>());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `edit` at its lines and columns (clamped) to `text`, as ALE and kak-lsp do.
    fn apply_at(text: &mut Rope, edit: &SentAt) {
        let at = |(line, column): (usize, usize)| {
            clamped(text, (line.min(text.len_lines() - 1), column)).unwrap_or(text.len_chars())
        };
        let (start, end) = (at(edit.start), at(edit.end));
        apply_change(
            text,
            &CharChange::new(start, end.max(start), edit.text.clone()),
        );
    }

    #[test]
    fn rising_lists_go_fewest_lines_first() {
        assert_eq!(
            rising(2, 2),
            vec![
                vec![0, 0],
                vec![0, 1],
                vec![0, 2],
                vec![1, 1],
                vec![1, 2],
                vec![2, 2]
            ]
        );
    }

    /// Two edits sent blind; the user added a line at the top before the first landed and
    /// another before the second: each landed at its own shift. The repair gives the user's
    /// lines back and the region the text the session meant.
    #[test]
    fn two_edits_each_at_its_own_shift() {
        let base = Rope::from_str("a\nb\nc\nd\n{\nold\n}\nend\n");
        let region = Region::new(8, 16);
        let mut view = base.clone();
        let first = SentAt::of(&view, 10, 13, "NEW");
        apply_change(&mut view, &CharChange::new(10, 13, "NEW"));
        let second = SentAt::of(&view, 14, 14, "x\n");
        apply_change(&mut view, &CharChange::new(14, 14, "x\n"));
        let view_region = Region::new(8, 18);
        assert_eq!(view.to_string(), "a\nb\nc\nd\n{\nNEW\nx\n}\nend\n");
        let mut editor = Rope::from_str("top1\na\nb\nc\nd\n{\nold\n}\nend\n");
        apply_at(&mut editor, &first);
        editor.insert(0, "top2\n");
        apply_at(&mut editor, &second);
        let edits = [first, second];
        let sent = Sent {
            base: &base,
            base_region: region,
            edits: &edits,
            view: &view,
            view_region,
        };
        let (repair, region_text) = misplaced(&sent, &editor).expect("a repair");
        let mut fixed = editor.clone();
        apply_change(
            &mut fixed,
            &CharChange::new(repair.start, repair.end, repair.text.clone()),
        );
        let want = "top2\ntop1\na\nb\nc\nd\n{\nNEW\nx\n}\nend\n";
        assert_eq!(fixed.to_string(), want);
        assert_eq!(region_text, "{\nNEW\nx\n}\n");
        let r = repair.region;
        assert_eq!(fixed.slice(r.start..r.end).to_string(), region_text);
    }

    #[test]
    fn edits_where_they_were_meant_are_no_repair() {
        let base = Rope::from_str("a\n{\nold\n}\n");
        let mut view = base.clone();
        let edit = SentAt::of(&view, 4, 7, "NEW");
        apply_change(&mut view, &CharChange::new(4, 7, "NEW"));
        let report = Rope::from_str("top\na\n{\nNEW\n}\n");
        let edits = [edit];
        let sent = Sent {
            base: &base,
            base_region: Region::new(2, 9),
            edits: &edits,
            view: &view,
            view_region: Region::new(2, 9),
        };
        assert_eq!(misplaced(&sent, &report), None);
    }
}
