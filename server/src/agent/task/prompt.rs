//! A task's first message: the instruction, where the user stands (file, lines, the selected
//! text), the project's AGENTS.md files and the team's rules for that place.

use std::path::Path;

use crate::agent::prompt::fence_for;
use crate::agent::secrets::redact;
use crate::agent::team_rules::TeamRule;
use crate::agent::workspace_files::Rules;

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

/// The task's first user message.
pub fn first_message(
    instruction: &str,
    root: &Path,
    standing: Option<&Standing>,
    agents: &[Rules],
    team: &[TeamRule],
) -> String {
    let mut out = format!("# Task\n\n{}\n", instruction.trim());
    out.push_str(
        "\nPaths in tool calls are relative to the workspace root. Files open in the editor are \
         read as the user sees them, unsaved changes included.\n",
    );
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
    for rules in agents {
        let name = rules
            .path
            .strip_prefix(root)
            .unwrap_or(&rules.path)
            .display();
        out.push_str(&format!(
            "\n# Project rules ({name})\n\n{}\n",
            redact(rules.text.trim())
        ));
    }
    if !team.is_empty() {
        out.push_str("\n# The team's rules\n\n");
        for rule in team {
            match &rule.scope {
                Some(scope) => out.push_str(&format!("- ({scope}) {}\n", rule.text)),
                None => out.push_str(&format!("- {}\n", rule.text)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{Standing, first_message};
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
        );
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
    fn says_nothing_of_a_place_when_there_is_none() {
        let message = first_message("fix it", Path::new("/w"), None, &[], &[]);
        assert!(!message.contains("Where the user stands"), "{message}");
        assert!(!message.contains("rules"), "{message}");
    }
}
