//! `read_file`: a file's lines with their 1-based numbers, from the editor's buffer when open,
//! a range of them, and no more than a bounded size.

use std::path::Path;

use serde_json::Value;

use super::args::{object, optional_line, required_str};
use super::{OpenBuffers, current_text, paths};

/// More text than this is cut at a whole line, and the model is told where to read on.
pub const MAX_READ_BYTES: usize = 48 * 1024;

/// The `read_file` tool.
pub fn read_file(
    root: &Path,
    buffers: &dyn OpenBuffers,
    arguments: &Value,
) -> Result<String, String> {
    object(arguments)?;
    let path = paths::resolve(root, required_str(arguments, "path")?)?;
    let start = optional_line(arguments, "startLine")?;
    let end = optional_line(arguments, "endLine")?;
    let text = current_text(buffers, &path)?.ok_or_else(|| {
        format!(
            "{} does not exist; list_files shows the workspace's files",
            path.relative
        )
    })?;
    numbered(&path.relative, &text, start, end, MAX_READ_BYTES)
}

/// `text`'s lines `start..=end` (1-based, clamped to the file) after a header line, each as its
/// number, a tab and the line, cut at whole lines once `max_bytes` are written.
pub fn numbered(
    name: &str,
    text: &str,
    start: Option<usize>,
    end: Option<usize>,
    max_bytes: usize,
) -> Result<String, String> {
    let lines: Vec<&str> = text
        .split_inclusive('\n')
        .map(|line| line.trim_end_matches('\n').trim_end_matches('\r'))
        .collect();
    let total = lines.len();
    if total == 0 {
        return Ok(format!("{name} is empty"));
    }
    let first = start.unwrap_or(1).max(1);
    let last = end.unwrap_or(total).min(total);
    if first > total {
        return Err(format!(
            "{name} has {total} lines; startLine {first} is past its end"
        ));
    }
    if last < first {
        return Err(format!(
            "endLine {last} is before startLine {first}; {name} has {total} lines"
        ));
    }
    let width = last.to_string().len();
    let mut body = String::new();
    let mut shown = first - 1;
    for (index, line) in lines.iter().enumerate().take(last).skip(first - 1) {
        let numbered = format!("{:>width$}\t{line}\n", index + 1);
        if body.is_empty() && numbered.len() > max_bytes {
            // One line longer than the whole budget (minified code): its start, marked.
            let mut cut = max_bytes;
            while !numbered.is_char_boundary(cut) {
                cut -= 1;
            }
            body.push_str(&numbered[..cut]);
            body.push_str(" [line cut]\n");
            shown = index + 1;
            break;
        }
        if body.len() + numbered.len() > max_bytes {
            break;
        }
        body.push_str(&numbered);
        shown = index + 1;
    }
    let mut out = format!("{name} (lines {first}-{shown} of {total}):\n{body}");
    if shown < last {
        out.push_str(&format!(
            "[cut at {max_bytes} bytes after line {shown}: read on with startLine {}]\n",
            shown + 1
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::numbered;

    /// startLine, endLine, and the output or the error.
    type Case = (
        Option<usize>,
        Option<usize>,
        Result<&'static str, &'static str>,
    );

    /// Ranges are 1-based and inclusive, clamped to the file; impossible ones are errors.
    #[test]
    fn line_ranges_are_one_based_inclusive_and_clamped() {
        let text = "a\nb\r\nc\nd\n";
        let cases: [Case; 8] = [
            (
                None,
                None,
                Ok("f (lines 1-4 of 4):\n1\ta\n2\tb\n3\tc\n4\td\n"),
            ),
            (Some(2), Some(3), Ok("f (lines 2-3 of 4):\n2\tb\n3\tc\n")),
            (Some(0), Some(1), Ok("f (lines 1-1 of 4):\n1\ta\n")),
            (Some(3), None, Ok("f (lines 3-4 of 4):\n3\tc\n4\td\n")),
            (Some(4), Some(99), Ok("f (lines 4-4 of 4):\n4\td\n")),
            (None, Some(1), Ok("f (lines 1-1 of 4):\n1\ta\n")),
            (
                Some(5),
                None,
                Err("f has 4 lines; startLine 5 is past its end"),
            ),
            (
                Some(3),
                Some(2),
                Err("endLine 2 is before startLine 3; f has 4 lines"),
            ),
        ];
        for (start, end, expected) in cases {
            let got = numbered("f", text, start, end, 1 << 20);
            assert_eq!(
                got.as_deref(),
                expected.map_err(str::to_owned).as_deref(),
                "{start:?}-{end:?}"
            );
        }
        assert_eq!(
            numbered("f", "", None, None, 100),
            Ok("f is empty".to_owned())
        );
        assert_eq!(
            numbered("f", "x", None, None, 100),
            Ok("f (lines 1-1 of 1):\nx\n".replace("x\n", "1\tx\n"))
        );
    }

    #[test]
    fn numbers_are_aligned_to_the_widest_shown() {
        let text: String = (1..=12).map(|n| format!("l{n}\n")).collect();
        let got = numbered("f", &text, Some(8), Some(10), 1 << 20).expect("read");
        assert_eq!(got, "f (lines 8-10 of 12):\n 8\tl8\n 9\tl9\n10\tl10\n");
    }

    #[test]
    fn long_output_is_cut_at_a_whole_line_and_says_where_to_read_on() {
        let text: String = (1..=100).map(|n| format!("line {n:03}\n")).collect();
        // Each numbered line is "NNN\tline NNN\n": 13 bytes; 40 bytes hold three.
        let got = numbered("f", &text, None, None, 40).expect("read");
        assert_eq!(
            got,
            "f (lines 1-3 of 100):\n  1\tline 001\n  2\tline 002\n  3\tline 003\n\
             [cut at 40 bytes after line 3: read on with startLine 4]\n"
        );
        // A line longer than the whole cap shows its start, marked, and reading goes on after it.
        let text = format!("{}\nnext\n", "é".repeat(100));
        let got = numbered("f", &text, None, None, 11).expect("read");
        assert_eq!(
            got,
            "f (lines 1-1 of 2):\n1\téééé [line cut]\n\
             [cut at 11 bytes after line 1: read on with startLine 2]\n"
        );
    }
}
