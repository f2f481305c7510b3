//! The team's rules: `.tandem/rules.md` at the workspace root, one rule per Markdown list item;
//! items under a `## <glob>` heading apply only to the paths the glob matches (gitignore
//! syntax, relative to the root), or under `## <language>` (`rust`, `python`, …) to the files of
//! that language; the others to every file. Every prompt for a file carries the rules that apply
//! to it.

use std::path::Path;

use ignore::gitignore::GitignoreBuilder;

use crate::syntax::Language;

/// Where the rules live, relative to the workspace root.
pub const RULES_FILE: &str = ".tandem/rules.md";
/// A rules file larger than this is cut: rules are meant to be short.
const MAX_RULES_BYTES: usize = 16 * 1024;

/// One rule, and the glob that scopes it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRule {
    pub text: String,
    pub scope: Option<String>,
}

/// The rules a rules file holds, in order. Anything that is not a list item or a `##` heading
/// (a title, prose, a blank line) is skipped; an item's indented lines continue it.
pub fn parse(text: &str) -> Vec<TeamRule> {
    let mut rules: Vec<TeamRule> = Vec::new();
    let mut scope: Option<String> = None;
    let mut in_item = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(heading) = line.strip_prefix("## ") {
            let glob = heading.trim().trim_matches('`').trim();
            scope = (!glob.is_empty()).then(|| glob.to_owned());
            in_item = false;
        } else if line.starts_with('#') {
            // A title or another level: items after it apply to every file.
            scope = None;
            in_item = false;
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            in_item = true;
            rules.push(TeamRule {
                text: item.trim().to_owned(),
                scope: scope.clone(),
            });
        } else if in_item && !trimmed.is_empty() && line.starts_with([' ', '\t']) {
            if let Some(last) = rules.last_mut() {
                last.text.push(' ');
                last.text.push_str(trimmed);
            }
        } else {
            in_item = false;
        }
    }
    rules.retain(|rule| !rule.text.is_empty());
    rules
}

/// Whether `rule` applies to `path` (a file under `root`). A scope that names a language
/// matches its files (by their extension; `typescript` takes in `.tsx`); any other is a glob,
/// and one that is not valid matches nothing.
pub fn applies(rule: &TeamRule, root: &Path, path: &Path) -> bool {
    let Some(glob) = &rule.scope else {
        return true;
    };
    if let Some(language) = Language::from_language_id(&glob.to_ascii_lowercase()) {
        let file = Language::from_path(&path.to_string_lossy());
        return file == Some(language)
            || (language == Language::TypeScript && file == Some(Language::Tsx));
    }
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let mut builder = GitignoreBuilder::new(root);
    if builder.add_line(None, glob).is_err() {
        return false;
    }
    builder.build().is_ok_and(|matcher| {
        matcher
            .matched_path_or_any_parents(relative, false)
            .is_ignore()
    })
}

/// The rules that apply to `path` (a file under `root`). `buffer` gives the rules file's text
/// when the editor has it open (it is read from disk otherwise), so a rule shows in prompts as
/// soon as it is written.
pub fn for_path(
    root: &Path,
    path: &Path,
    buffer: impl FnOnce(&Path) -> Option<String>,
) -> Vec<TeamRule> {
    all(root, buffer)
        .into_iter()
        .filter(|rule| applies(rule, root, path))
        .collect()
}

/// Every rule of the rules file under `root`: the editor's buffer (`buffer`) when it is open,
/// else the file on disk; none when neither exists.
pub fn all(root: &Path, buffer: impl FnOnce(&Path) -> Option<String>) -> Vec<TeamRule> {
    let file = root.join(RULES_FILE);
    let text = buffer(&file).or_else(|| {
        let bytes = std::fs::read(&file).ok()?;
        Some(String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_RULES_BYTES)]).into_owned())
    });
    let Some(text) = text else {
        return Vec::new();
    };
    parse(&text[..floor_char_boundary(&text, MAX_RULES_BYTES)])
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{TeamRule, applies, for_path, parse};

    fn rule(text: &str, scope: Option<&str>) -> TeamRule {
        TeamRule {
            text: text.into(),
            scope: scope.map(str::to_owned),
        }
    }

    #[test]
    fn items_headings_and_continuations() {
        let text = "# Team rules\n\nSome prose.\n- Use `?` instead of `.unwrap()`.\n- Keep functions\n  short.\n\n## src/**/*.rs\n- No `println!` in library code.\n* Log with `tracing`.\n## `*.py`\n- Type every function.\n# Other\n- Everywhere again.\n-\n";
        assert_eq!(
            parse(text),
            vec![
                rule("Use `?` instead of `.unwrap()`.", None),
                rule("Keep functions short.", None),
                rule("No `println!` in library code.", Some("src/**/*.rs")),
                rule("Log with `tracing`.", Some("src/**/*.rs")),
                rule("Type every function.", Some("*.py")),
                rule("Everywhere again.", None),
            ]
        );
    }

    #[test]
    fn scopes_match_paths_relative_to_the_root() {
        let root = Path::new("/work/project");
        let cases = [
            (None, "/work/project/any/file.go", true),
            (Some("src/**/*.rs"), "/work/project/src/a/b.rs", true),
            (Some("src/**/*.rs"), "/work/project/src/b.rs", true),
            (Some("src/**/*.rs"), "/work/project/tests/b.rs", false),
            (Some("*.py"), "/work/project/deep/down/x.py", true),
            (Some("*.py"), "/work/project/x.rs", false),
            (Some("tests/"), "/work/project/tests/it/works.rs", true),
            (Some("src/**/*.rs"), "/elsewhere/src/b.rs", false),
            (Some("Rust"), "/work/project/src/b.rs", true),
            (Some("python"), "/work/project/src/b.rs", false),
            (Some("python"), "/work/project/x/y.pyi", true),
            (Some("typescript"), "/work/project/ui/App.tsx", true),
        ];
        for (scope, path, want) in cases {
            let got = applies(&rule("r", scope), root, Path::new(path));
            assert_eq!(got, want, "{scope:?} on {path}");
        }
    }

    #[test]
    fn the_open_buffer_wins_over_the_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        crate::test_support::write_file(root, ".tandem/rules.md", "- On disk.\n");
        let file = root.join("src/lib.rs");
        let from_disk = for_path(root, &file, |_| None);
        assert_eq!(from_disk, vec![rule("On disk.", None)]);
        let from_buffer = for_path(root, &file, |path| {
            assert_eq!(path, root.join(".tandem/rules.md"));
            Some("- In the buffer.\n## *.py\n- Not for Rust.\n".into())
        });
        assert_eq!(from_buffer, vec![rule("In the buffer.", None)]);
        let none = for_path(&root.join("missing"), &file, |_| None);
        assert!(none.is_empty());
    }
}
