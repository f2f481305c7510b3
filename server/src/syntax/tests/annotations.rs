//! Reads the annotations of `grammars/<lang>/sample.*` (format in `grammars/README.md`).

use std::collections::BTreeMap;

/// One annotation: what it says about the name starting at `byte`.
#[derive(Debug)]
pub(super) struct Annotation {
    /// 1-based line of the annotation itself, for messages.
    pub line: usize,
    /// 0-based line of the annotated code.
    pub target_row: usize,
    pub byte: usize,
    /// `item`, `def` or `ref`.
    pub what: String,
    pub kind: String,
    pub name: String,
    pub keys: BTreeMap<String, String>,
}

/// Parses every annotation line of `source`; `marker` is the line-comment marker (`//` or `#`).
pub(super) fn parse(source: &str, marker: &str) -> Vec<Annotation> {
    let mut out = Vec::new();
    let mut line_start = 0;
    let mut target: Option<(usize, usize)> = None; // (row, byte offset of its start)
    for (row, line) in source.split_inclusive('\n').enumerate() {
        match annotation(line, marker) {
            Some((column, rest)) => {
                let (target_row, target_start) = target
                    .unwrap_or_else(|| panic!("line {}: annotation before any code", row + 1));
                let tokens = tokens(rest);
                let (what, kind) = tokens[0]
                    .split_once('.')
                    .unwrap_or_else(|| panic!("line {}: bad head {:?}", row + 1, tokens[0]));
                let keys = tokens[2..]
                    .iter()
                    .map(|t| {
                        let (k, v) = t
                            .split_once('=')
                            .unwrap_or_else(|| panic!("line {}: bad key {t:?}", row + 1));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                out.push(Annotation {
                    line: row + 1,
                    target_row,
                    byte: target_start + column,
                    what: what.to_owned(),
                    kind: kind.to_owned(),
                    name: tokens[1].clone(),
                    keys,
                });
            }
            None => target = Some((row, line_start)),
        }
        line_start += line.len();
    }
    out
}

/// For an annotation line: the annotated column and the text after the caret or arrow.
fn annotation<'a>(line: &'a str, marker: &str) -> Option<(usize, &'a str)> {
    let indent = line.len() - line.trim_start().len();
    let after_marker = line[indent..].strip_prefix(marker)?;
    let body_start = line.len() - after_marker.trim_start().len();
    let body = &line[body_start..];
    if let Some(rest) = body.strip_prefix("<-") {
        Some((indent, rest.trim()))
    } else {
        body.strip_prefix('^').map(|rest| (body_start, rest.trim()))
    }
}

/// Splits on spaces, keeping `key="quoted value"` together; `\"`, `\\` and `\n` are escapes.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => match chars.next() {
                Some('n') => current.push('\n'),
                Some(other) => current.push(other),
                None => {}
            },
            ' ' if !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
