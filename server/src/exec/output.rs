//! What `tandem exec` makes of a finished job: review findings as `path:line:col: severity:
//! message` lines, the files the job changed, written or shown as unified diffs, and the
//! tokens it cost.

use std::io::Write;
use std::path::{Path, PathBuf};

use ropey::Rope;

use super::files::Ended;
use crate::agent::review::{Finding, Severity};
use crate::model::UsageTotals;

/// Where exec writes: the file as the user named it and as it is on disk.
pub struct Names<'a> {
    /// As given on the command line: how messages and findings name it.
    pub given: &'a Path,
    /// Its canonical path: where the job's paths point.
    pub canonical: &'a Path,
}

impl Names<'_> {
    /// How to name `path` to the user: a file in the given one's folder, or below it, is named
    /// the same way.
    fn shown(&self, path: &Path) -> String {
        if path == self.canonical {
            return self.given.display().to_string();
        }
        let folder = self.canonical.parent().unwrap_or(Path::new("/"));
        match path.strip_prefix(folder) {
            Ok(below) => match self.given.parent() {
                Some(given) => given.join(below).display().to_string(),
                None => below.display().to_string(),
            },
            Err(_) => path.display().to_string(),
        }
    }
}

/// One finding per line, in line order: `path:line:col: severity: message`, 1-based, the column
/// that of the line's first character that is not blank (in characters).
pub fn findings(out: &mut impl Write, names: &Names, rope: &Rope, findings: &[Finding]) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.start_line);
    for finding in sorted {
        let line = (finding.start_line as usize)
            .saturating_sub(1)
            .min(rope.len_lines().saturating_sub(1));
        let column = rope
            .line(line)
            .chars()
            .position(|c| !c.is_whitespace())
            .unwrap_or(0)
            + 1;
        // One line per finding: a message's line breaks become spaces.
        let message: Vec<&str> = finding.message.lines().map(str::trim).collect();
        let _ = writeln!(
            out,
            "{}:{}:{column}: {}: {}",
            names.given.display(),
            line + 1,
            severity(finding.severity),
            message.join(" ")
        );
    }
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
        Severity::Hint => "hint",
    }
}

/// A file the job changed.
struct Changed {
    path: PathBuf,
    shown: String,
    before: Option<String>,
    after: Option<String>,
}

/// The files the job changed, the open document first.
fn changed(names: &Names, original: &str, ended: &Ended) -> Vec<Changed> {
    let mut changed = Vec::new();
    if ended.text != original {
        changed.push(Changed {
            path: names.canonical.to_owned(),
            shown: names.shown(names.canonical),
            before: Some(original.to_owned()),
            after: Some(ended.text.to_string()),
        });
    }
    for (path, file) in &ended.files {
        let after = file.after.as_ref().map(Rope::to_string);
        if after != file.before {
            changed.push(Changed {
                path: path.clone(),
                shown: names.shown(path),
                before: file.before.clone(),
                after,
            });
        }
    }
    changed
}

/// Prints the changes as unified diffs (a created file from `/dev/null`, a deleted one to it).
pub fn diffs(
    out: &mut impl Write,
    err: &mut impl Write,
    names: &Names,
    original: &str,
    ended: &Ended,
) {
    let changed = changed(names, original, ended);
    if changed.is_empty() {
        let _ = writeln!(err, "tandem: no changes");
    }
    for file in changed {
        let old = file
            .before
            .as_ref()
            .map_or("/dev/null", |_| file.shown.as_str());
        let new = file
            .after
            .as_ref()
            .map_or("/dev/null", |_| file.shown.as_str());
        let before = file.before.as_deref().unwrap_or("");
        let after = file.after.as_deref().unwrap_or("");
        let diff = similar::TextDiff::from_lines(before, after);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff().context_radius(3).header(old, new)
        );
    }
}

/// Writes the changes (creates, rewrites, deletes), saying each on `err`. The error names the
/// file that could not be written; the ones before it are written.
pub fn write(
    err: &mut impl Write,
    names: &Names,
    original: &str,
    ended: &Ended,
) -> Result<(), String> {
    let changed = changed(names, original, ended);
    if changed.is_empty() {
        let _ = writeln!(err, "tandem: no changes");
    }
    for file in changed {
        let (done, result) = match (&file.before, &file.after) {
            (_, Some(text)) => (
                if file.before.is_some() {
                    "wrote"
                } else {
                    "created"
                },
                // A new file may be in a new folder.
                file.path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&file.path, text)),
            ),
            (Some(_), None) => ("deleted", std::fs::remove_file(&file.path)),
            (None, None) => continue,
        };
        result.map_err(|e| format!("cannot write {}: {e}", file.shown))?;
        let _ = writeln!(err, "tandem: {done} {}", file.shown);
    }
    Ok(())
}

/// The tokens the job's model calls cost, as one line (none when no call answered).
pub fn usage(err: &mut dyn Write, ended: &Ended) {
    if let Some(usage) = ended.report.as_ref().and_then(|report| report.usage) {
        let _ = writeln!(err, "tandem: {}", usage_in_words(&usage));
    }
}

/// `1,234 prompt tokens (1,000 cached), 56 output tokens`.
fn usage_in_words(usage: &UsageTotals) -> String {
    let count = |n: u64, what: &str| {
        let s = if n == 1 { "" } else { "s" };
        format!("{} {what} token{s}", thousands(n))
    };
    let cached = usage
        .cached_prompt_tokens
        .map(|cached| format!(" ({} cached)", thousands(cached)))
        .unwrap_or_default();
    format!(
        "{}{cached}, {}",
        count(usage.prompt_tokens, "prompt"),
        count(usage.output_tokens, "output")
    )
}

/// `n` with a comma between each group of three digits.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ropey::Rope;

    use super::{Names, findings, usage_in_words};
    use crate::model::UsageTotals;

    #[test]
    fn usage_is_one_line_in_words() {
        let cases = [
            (
                (1234, Some(1000), 56),
                "1,234 prompt tokens (1,000 cached), 56 output tokens",
            ),
            ((12, None, 1), "12 prompt tokens, 1 output token"),
            (
                (1, Some(0), 0),
                "1 prompt token (0 cached), 0 output tokens",
            ),
            (
                (1_234_567, None, 999),
                "1,234,567 prompt tokens, 999 output tokens",
            ),
            (
                (100_000, None, 1000),
                "100,000 prompt tokens, 1,000 output tokens",
            ),
        ];
        for ((prompt, cached, output), said) in cases {
            let usage = UsageTotals {
                prompt_tokens: prompt,
                cached_prompt_tokens: cached,
                output_tokens: output,
            };
            assert_eq!(usage_in_words(&usage), said);
        }
    }
    use crate::agent::review::{Finding, Severity};

    #[test]
    fn findings_are_lines_a_compiler_would_print() {
        let names = Names {
            given: Path::new("src/demo.rs"),
            canonical: Path::new("/work/src/demo.rs"),
        };
        let rope = Rope::from_str("fn main() {\n    let x = 1;\n}\n");
        let finding = |line, severity, message: &str| Finding {
            start_line: line,
            end_line: line,
            severity,
            message: message.into(),
            replacement: None,
        };
        let mut out = Vec::new();
        findings(
            &mut out,
            &names,
            &rope,
            &[
                finding(2, Severity::Hint, "Unused\nvariable."),
                finding(1, Severity::Error, "Bad."),
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "src/demo.rs:1:1: error: Bad.\nsrc/demo.rs:2:5: hint: Unused variable.\n"
        );
    }

    #[test]
    fn files_next_to_the_given_one_are_named_like_it() {
        let names = Names {
            given: Path::new("src/calc.py"),
            canonical: Path::new("/work/src/calc.py"),
        };
        assert_eq!(names.shown(Path::new("/work/src/calc.py")), "src/calc.py");
        assert_eq!(
            names.shown(Path::new("/work/src/test_calc.py")),
            "src/test_calc.py"
        );
        assert_eq!(names.shown(Path::new("/elsewhere/x.py")), "/elsewhere/x.py");
        assert_eq!(names.shown(Path::new("/work/src/sub/x.py")), "src/sub/x.py");
    }
}
