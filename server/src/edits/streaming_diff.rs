//! The streaming diff: what a region shows while the model rewrites it. The new text so far,
//! then the old text it has not replaced yet, aligned line by line, so the file stays whole
//! (braces balanced, indentation sane) and an old line leaves only once new text has passed it.
//!
//! Alignment is a longest common subsequence of lines (indentation kept, trailing whitespace
//! ignored, blank lines never matched: they would pull the alignment far ahead), kept as one
//! row of the dynamic programme that grows by one row per new line, so a whole stream costs
//! O(new lines × old lines). The old text is cut after the earliest old line that gives the
//! longest match, and the cut only ever moves forward: an old line never comes back.

/// One region's streaming diff. Feed it the new text as it grows ([`StreamingDiff::view`]).
#[derive(Debug, Clone)]
pub struct StreamingDiff {
    /// The old text's lines, each with its line end (the last may have none).
    old: Vec<String>,
    line_end: &'static str,
    /// `row[k]`: the longest common subsequence of the new complete lines fed so far and
    /// `old[..k]`.
    row: Vec<u32>,
    /// The new complete lines fed into `row`, as one string.
    fed: String,
    /// Old lines before this are replaced; never decreases.
    cut: usize,
    /// Blank new lines at the end of `fed` not yet matched with blank old lines at the cut.
    blanks: usize,
    /// The old text had no final line end (its last line in `old` was given one).
    no_final_line_end: bool,
}

impl StreamingDiff {
    /// A diff against `old`, the region's text when the stream begins. `crlf`: the document
    /// ends its lines with `\r\n`.
    pub fn new(old: &str, crlf: bool) -> Self {
        let line_end = if crlf { "\r\n" } else { "\n" };
        // A region without a final line end (an item, followed by the document's line end):
        // its last line is aligned as a whole line, and no view ends with a line end either,
        // or the region would show a blank line once the new text passed all of the old.
        let no_final_line_end = !old.is_empty() && !old.ends_with('\n');
        let mut old: Vec<String> = old.split_inclusive('\n').map(str::to_owned).collect();
        if no_final_line_end && let Some(last) = old.last_mut() {
            last.push_str(line_end);
        }
        Self {
            row: vec![0; old.len() + 1],
            old,
            no_final_line_end,
            line_end,
            fed: String::new(),
            cut: 0,
            blanks: 0,
        }
    }

    /// The region's text for `new`, the model's text so far (in the document's line ends):
    /// `new`, then the old lines not replaced yet. A partial last line that is the start of
    /// the next old line shows as that old line (nothing changes while the model retypes it);
    /// another partial line stands on a line of its own above the old text.
    pub fn view(&mut self, new: &str) -> String {
        let complete = new.rfind('\n').map_or(0, |i| i + 1);
        let (lines, partial) = new.split_at(complete);
        self.feed(lines);
        let rest = &self.old[self.cut..];
        let mut out =
            String::with_capacity(new.len() + rest.iter().map(String::len).sum::<usize>());
        out.push_str(lines);
        match rest.first() {
            None => out.push_str(partial),
            Some(next) if next.starts_with(partial) => {}
            Some(_) if partial.is_empty() => {}
            Some(_) => {
                out.push_str(partial);
                out.push_str(self.line_end);
            }
        }
        for line in rest {
            out.push_str(line);
        }
        if self.no_final_line_end && out.ends_with(self.line_end) {
            out.truncate(out.len() - self.line_end.len());
        }
        out
    }

    /// Extends the alignment with the complete lines of `lines` not fed yet. Text that does
    /// not extend what was fed (the model's answer was read differently) starts over.
    fn feed(&mut self, lines: &str) {
        if !lines.starts_with(&self.fed) {
            self.row.iter_mut().for_each(|n| *n = 0);
            self.fed.clear();
            self.cut = 0;
            self.blanks = 0;
        }
        let new_part = &lines[self.fed.len()..];
        for line in new_part.split_inclusive('\n') {
            if line.trim().is_empty() {
                self.blanks += 1;
            } else {
                self.blanks = 0;
                self.push_row(key(line));
            }
        }
        self.fed.push_str(new_part);
        let best = self.row.last().copied().unwrap_or(0);
        if best > 0 {
            let earliest = self.row.iter().position(|&n| n == best).unwrap_or(0);
            self.cut = self.cut.max(earliest);
        }
        // Blank lines pass blank old lines right at the cut, and no others.
        while self.blanks > 0 && self.old.get(self.cut).is_some_and(|l| l.trim().is_empty()) {
            self.cut += 1;
            self.blanks -= 1;
        }
    }

    /// Adds the row of one non-blank new line.
    fn push_row(&mut self, line: &str) {
        let mut diagonal = self.row[0];
        for k in 1..self.row.len() {
            let up = self.row[k];
            self.row[k] = if key(&self.old[k - 1]) == line {
                diagonal + 1
            } else {
                up.max(self.row[k - 1])
            };
            diagonal = up;
        }
    }
}

/// A line as alignment compares it: indentation kept, line end and trailing spaces dropped.
fn key(line: &str) -> &str {
    line.trim_end()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::StreamingDiff;

    /// Streams `new` into a diff against `old`, one piece at a time, and returns each view.
    fn views(old: &str, new: &str, pieces: &[usize]) -> Vec<String> {
        let mut diff = StreamingDiff::new(old, false);
        let mut at = 0;
        let mut out = Vec::new();
        for &len in pieces {
            at = (at + len).min(new.len());
            while !new.is_char_boundary(at) {
                at += 1;
            }
            out.push(diff.view(&new[..at]));
        }
        out.push(diff.view(new));
        out
    }

    #[track_caller]
    fn check(old: &str, steps: &[(&str, &str)]) {
        let mut diff = StreamingDiff::new(old, false);
        for (new, expected) in steps {
            assert_eq!(diff.view(new), *expected, "new so far: {new:?}");
        }
    }

    #[test]
    fn old_lines_leave_only_as_new_ones_pass_them() {
        let old = "fn double(x: u32) -> u32 {\n    todo!()\n}\n";
        check(
            old,
            &[
                ("", old),
                ("fn d", old),
                ("fn double(x: u32) -> u32 {\n", old),
                (
                    "fn double(x: u32) -> u32 {\n    x *",
                    "fn double(x: u32) -> u32 {\n    x *\n    todo!()\n}\n",
                ),
                (
                    "fn double(x: u32) -> u32 {\n    x * 2\n",
                    "fn double(x: u32) -> u32 {\n    x * 2\n    todo!()\n}\n",
                ),
                (
                    "fn double(x: u32) -> u32 {\n    x * 2\n}\n",
                    "fn double(x: u32) -> u32 {\n    x * 2\n}\n",
                ),
            ],
        );
    }

    #[test]
    fn a_doc_comment_streams_above_the_item_it_documents() {
        let old = "fn f() {}\n";
        check(
            old,
            &[
                ("/// Does", "/// Does\nfn f() {}\n"),
                ("/// Does f.\n", "/// Does f.\nfn f() {}\n"),
                ("/// Does f.\nfn f() {}\n", "/// Does f.\nfn f() {}\n"),
            ],
        );
    }

    #[test]
    fn braces_match_by_indentation_and_blank_lines_do_not_pull_ahead() {
        let old = "fn f() {\n    if a {\n        b\n    }\n\n    c\n}\n";
        check(
            old,
            &[
                (
                    "fn f() {\n\n",
                    "fn f() {\n\n    if a {\n        b\n    }\n\n    c\n}\n",
                ),
                ("fn f() {\n\n    c2\n}\n", "fn f() {\n\n    c2\n}\n"),
            ],
        );
    }

    #[test]
    fn an_old_line_never_comes_back_and_empty_old_text_shows_the_new() {
        // "a" matches first; then "x" matches earlier in a longer alignment: the cut holds.
        check("x\na\n", &[("a\n", "a\n"), ("a\nx\n", "a\nx\n")]);
        check("", &[("new", "new"), ("new\nline", "new\nline")]);
        // A region without a final line end keeps it that way.
        check(
            "fn f() { todo!() }",
            &[("fn f() { 4", "fn f() { 4\nfn f() { todo!() }")],
        );
        // Once the new text passed the old, no blank line shows where the old had no final
        // line end (the model's closing brace matches the old one).
        check(
            "fn f() {\n    todo!()\n}",
            &[
                ("fn f() {\n    x\n", "fn f() {\n    x\n    todo!()\n}"),
                ("fn f() {\n    x\n}\n", "fn f() {\n    x\n}"),
                ("fn f() {\n    x\n}\nfn g", "fn f() {\n    x\n}\nfn g"),
            ],
        );
        let mut crlf = StreamingDiff::new("a\r\nb\r\n", true);
        assert_eq!(crlf.view("z"), "z\r\na\r\nb\r\n");
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config(2_000, 100_000))]

        /// Whatever the texts and however the stream is cut: each view starts with the new
        /// text's complete lines, ends with whole old lines, old lines only leave, and retyping
        /// the old text never changes what the region shows.
        #[test]
        fn views_are_new_then_a_shrinking_tail_of_old(
            old_lines in prop::collection::vec("( {0,4})(\\}|fn a\\(\\) \\{|x|y|)", 0..8),
            new_lines in prop::collection::vec("( {0,4})(\\}|fn a\\(\\) \\{|x|z|)", 0..8),
            pieces in prop::collection::vec(1usize..6, 1..20),
        ) {
            let old: String = old_lines.iter().map(|l| format!("{l}\n")).collect();
            let new: String = new_lines.iter().map(|l| format!("{l}\n")).collect();
            let mut tail = old.len() + 1;
            let mut at: usize = 0;
            let mut diff = StreamingDiff::new(&old, false);
            for len in pieces.iter().copied().chain([usize::MAX]) {
                at = at.saturating_add(len).min(new.len());
                let so_far = &new[..at];
                let view = diff.view(so_far);
                let complete = &so_far[..so_far.rfind('\n').map_or(0, |i| i + 1)];
                prop_assert!(view.starts_with(complete), "{view:?} does not start with {complete:?}");
                let rest = old.len() - diff.old[diff.cut..].iter().map(String::len).sum::<usize>();
                prop_assert!(view.ends_with(&old[rest..]));
                prop_assert!(old.len() - rest <= tail, "an old line came back");
                tail = old.len() - rest;
            }
            for view in views(&old, &old, &pieces) {
                prop_assert_eq!(view, old.clone());
            }
        }
    }
}
