//! Minimal edits: a model's SEARCH/REPLACE blocks against a region, read as they stream (each
//! block usable as soon as its end marker arrives), and applied only where the SEARCH text
//! occurs exactly once.

/// What a model is asked to answer with instead of the whole region.
pub const INSTRUCTIONS: &str = "Answer with SEARCH/REPLACE blocks that change the TARGET, and \
nothing else. Each block is:\n<<<<<<< SEARCH\nlines copied exactly from the TARGET\n=======\nthe \
lines that replace them\n>>>>>>> REPLACE\nThe SEARCH lines must be whole lines of the TARGET, \
copied character for character, enough of them to occur exactly once in it; keep each block \
small (the lines that change and one line of context). Use several blocks for changes in \
several places, in the order they occur. Do not repeat unchanged code beyond that.";

/// One block: the lines to find and the lines that replace them (each without its last line
/// end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub search: String,
    pub replace: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Outside a block: prose or a fence, skipped.
    Outside,
    Search,
    Replace,
}

/// Reads blocks from a streamed answer.
#[derive(Debug)]
pub struct BlockReply {
    /// The line being received.
    partial: String,
    state: State,
    search: Vec<String>,
    replace: Vec<String>,
    found: usize,
}

impl Default for BlockReply {
    fn default() -> Self {
        BlockReply {
            partial: String::new(),
            state: State::Outside,
            search: Vec::new(),
            replace: Vec::new(),
            found: 0,
        }
    }
}

fn marker(line: &str, c: char, word: &str) -> bool {
    let line = line.trim_end();
    let marks = line.chars().take_while(|&x| x == c).count();
    (5..=9).contains(&marks) && line[marks..].trim() == word
}

impl BlockReply {
    /// Takes a delta of the answer; returns the blocks it completed.
    pub fn push(&mut self, delta: &str) -> Vec<Block> {
        self.partial.push_str(delta);
        let mut done = Vec::new();
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(block) = self.line(line) {
                done.push(block);
            }
        }
        done
    }

    /// The answer ended: the last block, if its end marker came without a line end; an error
    /// when a block is left open or there was none.
    pub fn finish(&mut self) -> Result<Option<Block>, String> {
        let last = std::mem::take(&mut self.partial);
        let block = self.line(last.trim_end_matches('\r'));
        if self.state != State::Outside {
            return Err("the answer ended inside a SEARCH/REPLACE block".into());
        }
        if self.found == 0 {
            return Err("the answer has no SEARCH/REPLACE block".into());
        }
        Ok(block)
    }

    fn line(&mut self, line: &str) -> Option<Block> {
        match self.state {
            State::Outside if marker(line, '<', "SEARCH") => {
                self.state = State::Search;
                self.search.clear();
                self.replace.clear();
            }
            State::Outside => {}
            State::Search if marker(line, '=', "") => self.state = State::Replace,
            State::Search => self.search.push(line.to_owned()),
            State::Replace if marker(line, '>', "REPLACE") => {
                self.state = State::Outside;
                self.found += 1;
                return Some(Block {
                    search: self.search.join("\n"),
                    replace: self.replace.join("\n"),
                });
            }
            State::Replace => self.replace.push(line.to_owned()),
        }
        None
    }
}

/// `text` with the block applied: its SEARCH lines must occur exactly once in `text`, as whole
/// lines. Otherwise why not.
pub fn apply(text: &str, block: &Block) -> Result<String, String> {
    if block.search.trim().is_empty() {
        return Err("a SEARCH part is empty".into());
    }
    let at_line_start = |i: usize| i == 0 || text.as_bytes()[i - 1] == b'\n';
    let at_line_end = |i: usize| {
        let rest = &text[i..];
        rest.is_empty() || rest.starts_with('\n') || rest.starts_with("\r\n")
    };
    let found: Vec<usize> = text
        .match_indices(&block.search)
        .map(|(i, _)| i)
        .filter(|&i| at_line_start(i) && at_line_end(i + block.search.len()))
        .collect();
    match found.as_slice() {
        [at] => {
            let mut out = String::with_capacity(text.len() + block.replace.len());
            out.push_str(&text[..*at]);
            out.push_str(&block.replace);
            out.push_str(&text[at + block.search.len()..]);
            Ok(out)
        }
        [] => Err(format!(
            "a SEARCH part is not in the region: {:?}",
            first_line(&block.search)
        )),
        _ => Err(format!(
            "a SEARCH part occurs {} times in the region: {:?}",
            found.len(),
            first_line(&block.search)
        )),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{Block, BlockReply, apply};

    fn block(search: &str, replace: &str) -> Block {
        Block {
            search: search.into(),
            replace: replace.into(),
        }
    }

    #[test]
    fn blocks_complete_as_their_end_marker_arrives_under_any_chunking() {
        let answer = "Here is the fix:\n```\n<<<<<<< SEARCH\n    let a = 1\n=======\n    let a = 1;\n>>>>>>> REPLACE\n\n<<<<<<< SEARCH\n    a\n=======\n    a + 1\n>>>>>>> REPLACE\n```\n";
        let expected = vec![
            block("    let a = 1", "    let a = 1;"),
            block("    a", "    a + 1"),
        ];
        for size in [1, 2, 3, 7, 500] {
            let mut reply = BlockReply::default();
            let mut got = Vec::new();
            let chars: Vec<char> = answer.chars().collect();
            for chunk in chars.chunks(size) {
                got.extend(reply.push(&chunk.iter().collect::<String>()));
            }
            assert_eq!(reply.finish(), Ok(None), "size {size}");
            assert_eq!(got, expected, "size {size}");
        }
        // The first block is usable before the second one starts.
        let mut reply = BlockReply::default();
        let first = answer.find("\n\n<<<").expect("two blocks");
        assert_eq!(reply.push(&answer[..first + 1]).len(), 1);
    }

    #[test]
    fn an_answer_without_blocks_or_ending_inside_one_is_an_error() {
        let mut reply = BlockReply::default();
        reply.push("```rust\nfn f() {}\n```\n");
        assert!(reply.finish().is_err());
        let mut reply = BlockReply::default();
        reply.push("<<<<<<< SEARCH\nfn f() {}\n=======\n");
        assert!(reply.finish().is_err());
        // The end marker without a final newline still ends the block.
        let mut reply = BlockReply::default();
        assert!(reply.push("<<<<<<< SEARCH\na\n=======\nb\n").is_empty());
        reply.push(">>>>>>> REPLACE");
        assert_eq!(reply.finish(), Ok(Some(block("a", "b"))));
    }

    #[test]
    fn a_block_applies_only_where_its_search_occurs_exactly_once_as_whole_lines() {
        let text = "fn f() {\n    let a = 1\n    let b = a\n    a\n}\n";
        // (search, replace, result or None)
        let cases = [
            (
                "    let a = 1",
                "    let a = 1;",
                Some("fn f() {\n    let a = 1;\n    let b = a\n    a\n}\n"),
            ),
            (
                "    let b = a\n    a",
                "    a",
                Some("fn f() {\n    let a = 1\n    a\n}\n"),
            ),
            (
                "}",
                "}\n// end",
                Some("fn f() {\n    let a = 1\n    let b = a\n    a\n}\n// end\n"),
            ),
            // Twice as whole lines? `    a` is one whole line once (the others are parts).
            (
                "    a",
                "    a + 1",
                Some("fn f() {\n    let a = 1\n    let b = a\n    a + 1\n}\n"),
            ),
            ("let a = 1", "x", None),
            ("    let c = 3", "x", None),
            ("", "x", None),
        ];
        for (search, replace, expected) in cases {
            let got = apply(text, &block(search, replace)).ok();
            assert_eq!(got.as_deref(), expected, "{search:?}");
        }
        let twice = "a\nb\na\n";
        assert!(
            apply(twice, &block("a", "c"))
                .unwrap_err()
                .contains("2 times")
        );
    }
}
