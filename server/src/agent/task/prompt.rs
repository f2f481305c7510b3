//! A task's first message: the team's rules and the project's AGENTS.md files for the place, where
//! the user stands (file, lines, the selected text), and the instruction.

use std::path::Path;

use crate::agent::prompt::fence_for;
use crate::agent::secrets::redact;
use crate::agent::team_rules::TeamRule;
use crate::agent::workspace_files::Rules;
use crate::model::Message;

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
    if !team.is_empty() {
        stable.push_str("\n# The team's rules\n\n");
        for rule in team {
            match &rule.scope {
                Some(scope) => stable.push_str(&format!("- ({scope}) {}\n", rule.text)),
                None => stable.push_str(&format!("- {}\n", rule.text)),
            }
        }
    }
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
        out.push_str("\n# Where the user stands\n\n");
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
    }
    out.push_str(&format!("\n# Task\n\n{}\n", instruction.trim()));
    Message::user_with_stable_prefix(&stable, &out)
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
