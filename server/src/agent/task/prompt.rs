//! A task's first message: the team's rules and the project's AGENTS.md files for the place, where
//! the user stands (file, lines, the selected text), and the instruction.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::agent::prompt::fence_for;
use crate::agent::secrets::redact;
use crate::agent::task::tools::list::slashed;
use crate::agent::team_rules::TeamRule;
use crate::agent::workspace_files::Rules;
use crate::model::Message;
use crate::workspace::Snapshot;

/// The selection shown to the model is cut at this many bytes.
const MAX_SELECTION_BYTES: usize = 16 * 1024;

/// Where the user stands when they start a task.
pub struct Standing<'a> {
    /// Relative to the workspace root, `/`-separated.
    pub path: &'a str,
    /// 1-based, inclusive.
    pub lines: Option<(usize, usize)>,
    /// The selected text, if any.
    pub selection: Option<&'a str>,
}

/// The task's first user message, from the most stable part to the least so that prompt caches
/// reuse its beginning: how paths are meant, the team's rules and the `AGENTS.md` files for the
/// place (the stable part, marked as such), then where the user stands and the task, last.
pub fn first_message(
    instruction: &str,
    root: &Path,
    standing: Option<&Standing>,
    agents: &[Rules],
    team: &[TeamRule],
) -> Message {
    let mut stable = String::from(
        "Paths in tool calls are relative to the workspace root. Files open in the editor are \
         read as the user sees them, unsaved changes included.\n",
    );
    stable.push_str(&team_section(team));
    for rules in agents {
        let name = rules
            .path
            .strip_prefix(root)
            .unwrap_or(&rules.path)
            .display();
        stable.push_str(&format!(
            "\n# Project rules ({name})\n\n{}\n",
            redact(rules.text.trim())
        ));
    }
    let mut out = String::new();
    if let Some(standing) = standing {
        out.push_str(&standing_section(standing));
    }
    out.push_str(&format!("\n# Task\n\n{}\n", instruction.trim()));
    Message::user_with_stable_prefix(&stable, &out)
}

/// The team's rules as a prompt section; empty when there are none.
pub fn team_section(team: &[TeamRule]) -> String {
    if team.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n# The team's rules\n\n");
    for rule in team {
        match &rule.scope {
            Some(scope) => out.push_str(&format!("- ({scope}) {}\n", rule.text)),
            None => out.push_str(&format!("- {}\n", rule.text)),
        }
    }
    out
}

/// Where the user stands as a prompt section: the file, the lines, and the selected text (cut
/// at [`MAX_SELECTION_BYTES`], secrets redacted).
pub fn standing_section(standing: &Standing) -> String {
    let mut out = String::from("\n# Where the user stands\n\n");
    match standing.lines {
        Some((first, last)) if first == last => {
            out.push_str(&format!("`{}`, line {first}\n", standing.path));
        }
        Some((first, last)) => {
            out.push_str(&format!("`{}`, lines {first}–{last}\n", standing.path));
        }
        None => out.push_str(&format!("`{}`\n", standing.path)),
    }
    if let Some(selection) = standing.selection.filter(|s| !s.trim().is_empty()) {
        let mut cut = selection.len().min(MAX_SELECTION_BYTES);
        while !selection.is_char_boundary(cut) {
            cut -= 1;
        }
        let shown = redact(&selection[..cut]);
        let fence = fence_for(&shown);
        out.push_str(&format!("\nThe selected text:\n{fence}\n{shown}"));
        if !shown.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("{fence}\n"));
    }
    out
}

/// Where the user stands, read from the document they stand in.
pub struct Spot {
    pub path: PathBuf,
    /// Relative to the workspace root, `/`-separated; `None` for a file outside it.
    pub relative: Option<String>,
    /// The selection's lines, 1-based, inclusive.
    pub lines: Option<(usize, usize)>,
    pub selection: Option<String>,
}

impl Spot {
    /// The document's file and the selection (bytes, clamped to the text); `None` for a
    /// document that is not a file.
    pub fn read(root: &Path, snapshot: &Snapshot, range: Option<Range<usize>>) -> Option<Spot> {
        let path = url::Url::parse(&snapshot.uri).ok()?.to_file_path().ok()?;
        let relative = path.strip_prefix(root).ok().map(slashed);
        let rope = &snapshot.rope;
        let range = range.map(|r| r.start.min(rope.len_bytes())..r.end.min(rope.len_bytes()));
        let lines = range.as_ref().map(|r| {
            (
                rope.byte_to_line(r.start) + 1,
                rope.byte_to_line(r.end.max(r.start)) + 1,
            )
        });
        let selection = range.map(|r| rope.byte_slice(r).to_string());
        Some(Spot {
            path,
            relative,
            lines,
            selection,
        })
    }

    /// As the prompt shows it, the file named `path`.
    pub fn standing<'a>(&'a self, path: &'a str) -> Standing<'a> {
        Standing {
            path,
            lines: self.lines,
            selection: self.selection.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{Message, Standing, first_message};
    use crate::agent::team_rules::TeamRule;
    use crate::agent::workspace_files::Rules;

    #[test]
    fn carries_the_task_the_place_and_both_kinds_of_rules() {
        let root = Path::new("/w");
        let agents = [Rules {
            path: PathBuf::from("/w/AGENTS.md"),
            text: "Use anyhow for errors.".into(),
        }];
        let team = [
            TeamRule {
                text: "Prefer iterators.".into(),
                scope: None,
            },
            TeamRule {
                text: "No unwrap.".into(),
                scope: Some("src/**/*.rs".into()),
            },
        ];
        let standing = Standing {
            path: "src/db.rs",
            lines: Some((3, 5)),
            selection: Some("let key = \"sk-abcdefghijklmnopqrstuvwxyz0123\";\n"),
        };
        let message = first_message(
            "  add a delete endpoint ",
            root,
            Some(&standing),
            &agents,
            &team,
        )
        .content;
        for expected in [
            "# Task\n\nadd a delete endpoint\n",
            "`src/db.rs`, lines 3–5",
            "# Project rules (AGENTS.md)\n\nUse anyhow for errors.",
            "- Prefer iterators.",
            "- (src/**/*.rs) No unwrap.",
        ] {
            assert!(message.contains(expected), "{expected:?} in {message}");
        }
        assert!(
            !message.contains("sk-abcdefghijklmnopqrstuvwxyz0123"),
            "{message}"
        );
    }

    #[test]
    fn the_rules_come_first_and_stay_the_same_between_tasks_the_task_comes_last() {
        let root = Path::new("/w");
        let agents = [Rules {
            path: PathBuf::from("/w/AGENTS.md"),
            text: "Use anyhow for errors.".into(),
        }];
        let team = [TeamRule {
            text: "Prefer iterators.".into(),
            scope: None,
        }];
        let here = Standing {
            path: "src/db.rs",
            lines: Some((3, 3)),
            selection: None,
        };
        let there = Standing {
            path: "src/db.rs",
            lines: Some((40, 52)),
            selection: Some("fn delete() {}\n"),
        };
        let one = first_message("add a delete endpoint", root, Some(&here), &agents, &team);
        let two = first_message("rename db to store", root, Some(&there), &agents, &team);
        fn stable(m: &Message) -> &str {
            &m.content[..m.cache_breakpoint.expect("a stable part")]
        }
        assert_eq!(stable(&one), stable(&two));
        assert!(
            stable(&one).ends_with("Use anyhow for errors.\n"),
            "{}",
            one.content
        );
        let at = |text: &str| one.content.find(text).expect(text);
        assert!(at("Prefer iterators.") < at("Use anyhow for errors."));
        assert!(at("Use anyhow for errors.") < at("# Where the user stands"));
        assert!(
            one.content.ends_with("# Task\n\nadd a delete endpoint\n"),
            "{}",
            one.content
        );
    }

    #[test]
    fn says_nothing_of_a_place_when_there_is_none() {
        let message = first_message("fix it", Path::new("/w"), None, &[], &[]).content;
        assert!(!message.contains("Where the user stands"), "{message}");
        assert!(!message.contains("rules"), "{message}");
    }
}
