//! A suggestion's shape: one line, or a block where one begins; cut where it would repeat what
//! already follows the cursor or close a bracket the text after the cursor closes.

/// What the text around the cursor says about the suggestion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The cursor's line up to the cursor.
    pub line_before: String,
    /// The rest of the cursor's line.
    pub line_after: String,
    /// The first line after the cursor's line that is not blank (empty when none).
    pub next_line: String,
    /// A block begins at the cursor (see `block::begins`): the suggestion may span lines.
    pub block: bool,
}

/// A suggestion cut to its shape, and whether it is complete: nothing the model streams after
/// it can change it (the caller may drop the stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shaped {
    pub text: String,
    pub complete: bool,
}

/// The most lines a block suggestion has.
const MAX_LINES: usize = 40;

/// `streamed` (what the model wrote so far; `finished` once it ended) shaped for `at`. The
/// text is empty when there is nothing worth showing (never only whitespace).
pub fn shape(streamed: &str, at: &Cursor, finished: bool) -> Shaped {
    let shaped = if at.block {
        block(streamed, at, finished)
    } else {
        line(streamed, at, finished)
    };
    if shaped.text.trim().is_empty() {
        Shaped {
            text: String::new(),
            complete: shaped.complete,
        }
    } else {
        shaped
    }
}

fn line(streamed: &str, at: &Cursor, finished: bool) -> Shaped {
    let (first, complete) = match streamed.split_once('\n') {
        Some((first, _)) => (first, true),
        None => (streamed, finished),
    };
    let first = first.strip_suffix('\r').unwrap_or(first);
    Shaped {
        text: without_rest_of_line(first, &at.line_after)
            .trim_end()
            .to_owned(),
        complete,
    }
}

/// `text` without its end where that end is already on the cursor's line after the cursor:
/// all of the rest of the line, or the closing brackets and punctuation it starts with.
fn without_rest_of_line<'a>(text: &'a str, line_after: &str) -> &'a str {
    let rest = line_after.trim_end();
    if rest.is_empty() {
        return text;
    }
    if let Some(kept) = text.strip_suffix(rest) {
        return kept;
    }
    let closers = rest
        .char_indices()
        .take_while(|(_, c)| is_closer(*c))
        .map(|(i, c)| i + c.len_utf8());
    let mut longest = 0;
    for end in closers {
        if text.ends_with(&rest[..end]) {
            longest = end;
        }
    }
    &text[..text.len() - longest]
}

fn is_closer(c: char) -> bool {
    matches!(c, ')' | ']' | '}' | '>' | '"' | '\'' | '`' | ';' | ',')
}

fn indent(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ' || *c == '\t').count()
}

fn block(streamed: &str, at: &Cursor, finished: bool) -> Shaped {
    let on_blank_line = at.line_before.trim().is_empty();
    // The line that follows the suggestion: its end must not repeat it.
    let follows = if at.line_after.trim().is_empty() {
        at.next_line.trim()
    } else {
        at.line_after.trim()
    };
    let mut pieces = streamed.split('\n').collect::<Vec<_>>();
    // The last piece is a line still being written, unless the stream ended.
    let open = if finished { None } else { pieces.pop() };
    let mut kept: Vec<&str> = Vec::new();
    let mut complete = false;
    // The block's lines are indented like the cursor's blank line, or (after an opening
    // brace on the cursor's line) deeper than the cursor's line: found at the first one.
    let mut body_indent = on_blank_line.then(|| at.line_before.chars().count());
    let line_indent = indent(&at.line_before);
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        let trimmed = piece.trim();
        if i == 0 {
            // The rest of the cursor's line.
            if !trimmed.is_empty() && trimmed == follows {
                complete = true;
                break;
            }
            kept.push(piece);
            continue;
        }
        if trimmed.is_empty() {
            kept.push(piece);
            continue;
        }
        let body = *body_indent.get_or_insert_with(|| indent(piece).max(line_indent + 1));
        if !follows.is_empty() && trimmed == follows {
            complete = true;
            break;
        }
        if indent(piece) < body {
            // The block ends here. Its closing line is kept when the text after the cursor
            // does not close it already.
            complete = true;
            if trimmed.chars().all(is_closer) && !follows.starts_with(trimmed) {
                kept.push(piece);
            }
            break;
        }
        kept.push(piece);
        if kept.len() >= MAX_LINES {
            complete = true;
            break;
        }
    }
    let complete = complete || (finished && open.is_none());
    let mut text = kept.join("\n").trim_end().to_owned();
    if complete && !on_blank_line && text.contains('\n') && !at.line_after.trim().is_empty() {
        // After an opening brace with its closer on the same line: the closer goes on a line of
        // its own, at the line's indentation.
        text.push('\n');
        text.extend(at.line_before.chars().take(line_indent));
    }
    Shaped { text, complete }
}

#[cfg(test)]
mod tests {
    use super::{Cursor, shape};

    /// `before|after` with the text after the cursor's line below it.
    fn cursor(line: &str, next_line: &str, block: bool) -> Cursor {
        let (before, after) = line.split_once('|').unwrap_or((line, ""));
        Cursor {
            line_before: before.into(),
            line_after: after.into(),
            next_line: next_line.into(),
            block,
        }
    }

    #[test]
    fn one_line_suggestions_stop_at_the_line_end_and_never_repeat_the_rest_of_it() {
        // (cursor's line, the model's answer, the suggestion)
        let cases = [
            ("let total = |", " a + b;\nlet more = 1;", " a + b;"),
            ("let total = add(|)", "a, b)", "a, b"),
            ("let total = add(|);", "a, b);", "a, b"),
            ("let total = add(|);", "a, b)", "a, b"),
            ("    println!(\"{}\", |);", "x);\n", "x"),
            ("let name = |\"\";", "String::new()", "String::new()"),
            ("let v = vec![|]", "1, 2, 3]", "1, 2, 3"),
            ("let x = |", "\nfoo()", ""),
            ("let x = |", "   \n", ""),
            ("let x = |", "", ""),
            ("if a |", "&& b {  ", "&& b {"),
        ];
        for (line, answer, expected) in cases {
            let at = cursor(line, "", false);
            let shaped = shape(answer, &at, true);
            assert_eq!(shaped.text, expected, "{line:?} + {answer:?}");
        }
    }

    #[test]
    fn a_line_is_complete_at_its_newline_before_the_stream_ends() {
        let at = cursor("let x = |", "", false);
        assert!(!shape(" 1", &at, false).complete);
        let shaped = shape(" 1;\nlet y", &at, false);
        assert_eq!((shaped.text.as_str(), shaped.complete), (" 1;", true));
    }

    #[test]
    fn blocks_end_with_their_body_and_leave_a_closer_the_suffix_has() {
        // (cursor's line, next non-blank line, the model's answer, the suggestion)
        let cases = [
            // An empty body on its own line: the body, not the brace that follows.
            (
                "    |",
                "}",
                "let y = x * 2;\n    y\n}\n\nfn other() {}",
                "let y = x * 2;\n    y",
            ),
            // After the opening brace, the closing brace on the next line.
            (
                "fn double(x: u32) -> u32 {|",
                "}",
                "\n    x * 2\n}\n",
                "\n    x * 2",
            ),
            // Between braces on one line: the closer gets a line of its own.
            (
                "fn double(x: u32) -> u32 {|}",
                "",
                "\n    x * 2\n}",
                "\n    x * 2\n",
            ),
            // No closer after the cursor: the suggestion closes the block itself.
            (
                "fn double(x: u32) -> u32 {|",
                "",
                "\n    x * 2\n}\n\nfn triple() {}",
                "\n    x * 2\n}",
            ),
            // Python: the body ends where the indentation goes back.
            (
                "def double(x):|",
                "print(double(2))",
                "\n    y = x * 2\n    return y\n\nprint(double(2))",
                "\n    y = x * 2\n    return y",
            ),
            // The model repeats the line that follows: cut before it.
            (
                "    |",
                "return total",
                "total = a + b\n    return total\n",
                "total = a + b",
            ),
            ("    |", "}", "\n\n", ""),
        ];
        for (line, next, answer, expected) in cases {
            let at = cursor(line, next, true);
            let shaped = shape(answer, &at, true);
            assert_eq!(shaped.text, expected, "{line:?} / {next:?} + {answer:?}");
        }
    }

    #[test]
    fn a_block_is_complete_once_a_line_leaves_it() {
        let at = cursor("fn f() {|", "}", true);
        assert!(!shape("\n    let a = 1;\n    a", &at, false).complete);
        // A closing line is a line once its newline came (`} else {` may follow).
        assert!(!shape("\n    let a = 1;\n    a\n}", &at, false).complete);
        let shaped = shape("\n    let a = 1;\n    a\n}\n", &at, false);
        assert_eq!(
            (shaped.text.as_str(), shaped.complete),
            ("\n    let a = 1;\n    a", true)
        );
    }
}
