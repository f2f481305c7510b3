//! Reading a model's reply as it streams: the code inside the first fenced block, tolerant of
//! prose around it, a missing language tag, and a missing closing fence at the end.

/// Follows a streamed reply and exposes the code of its first fenced block as it grows.
///
/// While streaming, [`CodeReply::code_so_far`] holds back anything that could still turn out to
/// be the closing fence, so the code never shows a stray "```". [`CodeReply::finish`] gives the
/// final code: the block's content (closed or not), or, when the reply has no fence at all, the
/// whole reply trimmed (models sometimes answer with bare code).
#[derive(Debug, Default, Clone)]
pub struct CodeReply {
    reply: String,
    /// Byte offset in `reply` where the block's content starts, once the opening fence line is
    /// complete.
    content_start: Option<usize>,
    /// Byte offset in `reply` where the block's content ends (the closing fence's line start).
    content_end: Option<usize>,
    /// The opening fence's backticks: a closing fence needs at least as many.
    fence_len: usize,
    /// Where the first line not yet read whole starts: each piece is scanned from there, not
    /// from the beginning (a long reply in many small pieces would be quadratic).
    scanned: usize,
}

impl CodeReply {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a piece of the reply. Returns whether the visible code changed.
    pub fn push(&mut self, delta: &str) -> bool {
        if self.content_end.is_some() || delta.is_empty() {
            self.reply.push_str(delta);
            return false;
        }
        let before = self.code_so_far().len();
        self.reply.push_str(delta);
        self.scan();
        self.code_so_far().len() != before
    }

    /// Whether the closing fence has been seen: the code is final.
    pub fn is_closed(&self) -> bool {
        self.content_end.is_some()
    }

    /// The whole reply so far, prose included.
    pub fn reply(&self) -> &str {
        &self.reply
    }

    fn scan(&mut self) {
        let mut line_start = self.scanned;
        for line in self.reply[self.scanned..].split_inclusive('\n') {
            if !line.ends_with('\n') {
                break; // Not complete yet: read again with the next piece.
            }
            if self.content_start.is_none() {
                if let Some(len) = fence(line) {
                    self.fence_len = len;
                    self.content_start = Some(line_start + line.len());
                }
            } else if closing_fence(line, self.fence_len) {
                self.content_end = Some(line_start);
                return;
            }
            line_start += line.len();
        }
        self.scanned = line_start;
    }

    /// The code to show now: complete lines of the block, plus the line being written when it
    /// cannot be the start of the closing fence. Empty until the opening fence is complete.
    pub fn code_so_far(&self) -> &str {
        let Some(start) = self.content_start else {
            return "";
        };
        if let Some(end) = self.content_end {
            return &self.reply[start..end];
        }
        let content = &self.reply[start..];
        let last_line_start = content.rfind('\n').map_or(0, |i| i + 1);
        let last = &content[last_line_start..];
        if last.trim_start().starts_with('`') || last.trim().is_empty() {
            &content[..last_line_start]
        } else {
            content
        }
    }

    /// The final code once the stream has ended.
    pub fn finish(&self) -> String {
        match (self.content_start, self.content_end) {
            (Some(start), Some(end)) => self.reply[start..end].to_owned(),
            (Some(start), None) => {
                // No closing fence: the stream ended inside the block. A final line holding only
                // backticks (a fence without its newline) is not code.
                let content = &self.reply[start..];
                let last_line_start = content.rfind('\n').map_or(0, |i| i + 1);
                if closing_fence(&content[last_line_start..], self.fence_len) {
                    content[..last_line_start].to_owned()
                } else {
                    content.to_owned()
                }
            }
            (None, _) => {
                // A fence opened on the last line without a newline, or no fence at all.
                let trimmed = self.reply.trim();
                match fence(trimmed) {
                    Some(_) => String::new(),
                    None => {
                        let mut code = trimmed.to_owned();
                        if !code.is_empty() {
                            code.push('\n');
                        }
                        code
                    }
                }
            }
        }
    }
}

/// The number of backticks if `line` opens a fenced block ("```", "```rust", "````python").
fn fence(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
    (ticks >= 3).then_some(ticks)
}

/// Whether `line` closes a block opened with `fence_len` backticks: only backticks, enough of
/// them, and nothing after them but whitespace.
fn closing_fence(line: &str, fence_len: usize) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= fence_len && trimmed.bytes().all(|b| b == b'`')
}

/// The model's code as a region should hold it: the document's line ends (`crlf`), and no final
/// line end unless the region's text ended with one (`keep_final_newline`).
pub fn fit_to_region(code: &str, keep_final_newline: bool, crlf: bool) -> String {
    let mut code = code.to_owned();
    if !keep_final_newline && code.ends_with('\n') {
        code.pop();
        if code.ends_with('\r') {
            code.pop();
        }
    }
    if crlf {
        code = code.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::{CodeReply, fit_to_region};

    #[test]
    fn code_takes_the_regions_line_ends() {
        assert_eq!(fit_to_region("a\nb\n", true, false), "a\nb\n");
        assert_eq!(fit_to_region("a\nb\n", false, false), "a\nb");
        assert_eq!(fit_to_region("a\r\nb\n", true, true), "a\r\nb\r\n");
        assert_eq!(fit_to_region("a\nb\r\n", false, true), "a\r\nb");
    }

    fn run(chunks: &[&str]) -> (Vec<String>, String) {
        let mut reply = CodeReply::new();
        let mut seen = Vec::new();
        for chunk in chunks {
            if reply.push(chunk) {
                seen.push(reply.code_so_far().to_owned());
            }
        }
        (seen, reply.finish())
    }

    #[test]
    fn takes_the_first_block_and_ignores_prose() {
        let (_, code) =
            run(&["Here you go:\n```rust\nfn a() {}\n```\nHope that helps.\n```\nno\n```\n"]);
        assert_eq!(code, "fn a() {}\n");
    }

    #[test]
    fn never_shows_a_partial_closing_fence() {
        let chunks = ["```py\n", "def f():\n", "    pass\n", "`", "``", "\nAfter."];
        let (seen, code) = run(&chunks);
        for s in &seen {
            assert!(!s.contains('`'), "{s:?}");
        }
        assert_eq!(code, "def f():\n    pass\n");
    }

    #[test]
    fn every_split_of_a_reply_gives_the_same_code() {
        let reply = "Sure.\n\n```go\nfunc f() int {\n\treturn \"中文😀\"\n}\n```\nDone.";
        let whole = run(&[reply]).1;
        assert_eq!(whole, "func f() int {\n\treturn \"中文😀\"\n}\n");
        for (i, _) in reply.char_indices() {
            let (seen, code) = run(&[&reply[..i], &reply[i..]]);
            assert_eq!(code, whole, "split at {i}");
            for s in seen {
                assert!(whole.starts_with(&s), "split at {i}: {s:?} is not a prefix");
            }
        }
    }

    #[test]
    fn tolerates_missing_pieces() {
        // No language tag.
        assert_eq!(run(&["```\nx = 1\n```"]).1, "x = 1\n");
        // No closing fence: the stream ended inside the block.
        assert_eq!(
            run(&["```js\nlet a = 1;\nlet b = 2;"]).1,
            "let a = 1;\nlet b = 2;"
        );
        // A closing fence without its newline at the very end.
        assert_eq!(run(&["```js\nlet a = 1;\n```"]).1, "let a = 1;\n");
        // No fence at all: the reply is the code.
        assert_eq!(run(&["fn a() {}\n"]).1, "fn a() {}\n");
        // Four backticks open a block that three do not close.
        assert_eq!(
            run(&["````md\n```\ninner\n```\n````\n"]).1,
            "```\ninner\n```\n"
        );
        // Nothing at all.
        assert_eq!(run(&[""]).1, "");
    }

    #[test]
    fn the_line_being_written_shows_unless_it_may_be_a_fence() {
        let mut reply = CodeReply::new();
        reply.push("```rust\nfn a(");
        assert_eq!(reply.code_so_far(), "fn a(");
        reply.push(") {}\n  ");
        assert_eq!(reply.code_so_far(), "fn a() {}\n");
        reply.push("`");
        assert_eq!(reply.code_so_far(), "fn a() {}\n");
        reply.push("x`\n");
        assert_eq!(reply.code_so_far(), "fn a() {}\n  `x`\n");
        assert!(!reply.is_closed());
    }
}
