//! What an ACP agent is asked for a job: the action's instruction, the team's rules, where the
//! user stands (the file as a `resource_link`, the lines, the selected text) and how Tandem
//! wants its changes made.

use std::path::PathBuf;

use crate::acp::PromptBlock;
use crate::agent::actions::Action;
use crate::agent::task::prompt::{Standing, standing_section, team_section};
use crate::agent::team_rules::TeamRule;

/// Where the user stands: the file (linked) and how the prompt names it.
pub(super) struct Place<'a> {
    pub path: PathBuf,
    pub standing: Standing<'a>,
}

/// What the job asks for.
pub(super) struct Ask<'a> {
    pub action: Action,
    /// The user's words (a task's instruction, an edit's), if any.
    pub instruction: Option<&'a str>,
    /// The diagnostics a fix is about, in words.
    pub diagnostics: &'a [String],
    pub team: &'a [TeamRule],
    pub place: Option<Place<'a>>,
}

/// What the action asks of the agent, in a sentence.
fn what(action: Action) -> &'static str {
    match action {
        Action::Explain => {
            "Explain the selected code (or the file) for a developer reading it in their editor: \
             what it does, why, and anything surprising, in concise Markdown."
        }
        Action::Review => {
            "Review the file for bugs, risky code and unclear code. Answer in Markdown, each \
             finding with its line numbers; say so when there is nothing worth saying."
        }
        Action::Fix => {
            "Fix the problems in the selected code with the smallest change that fixes them."
        }
        Action::Implement => {
            "Complete the unfinished code in the selection (a placeholder body such as todo!(), \
             pass, or a TODO) so that it does what its name, signature and comments say."
        }
        Action::Document => {
            "Write the doc comment of the selected item in the language's own convention: what \
             it does, its parameters, and what it returns or fails with."
        }
        Action::Tests => {
            "Write focused unit tests for the selected code, where and how the project keeps its \
             tests, covering normal cases and edge cases."
        }
        Action::Edit => "Change the selected code as the instruction says.",
        Action::Task => "Carry out the task below in the workspace.",
    }
}

/// The prompt's blocks: the text, then the file the user stands in as a link.
pub(super) fn blocks(ask: &Ask) -> Vec<PromptBlock> {
    let mut text = format!("{}\n", what(ask.action));
    if ask.action.edits() {
        text.push_str(
            "Change files only through the client's fs/write_text_file, not by writing to disk \
             yourself: the user watches your changes land in their editor, keeps typing, and \
             accepts or rejects them. Keep each change small and in the project's style. When you \
             are done, answer with a short Markdown summary of what you changed and why.\n",
        );
    } else {
        text.push_str("Do not change any file.\n");
    }
    text.push_str(&team_section(ask.team));
    if let Some(place) = &ask.place {
        text.push_str(&standing_section(&place.standing));
    }
    if !ask.diagnostics.is_empty() {
        text.push_str("\n# Problems reported there\n\n");
        for diagnostic in ask.diagnostics {
            text.push_str(&format!("- {diagnostic}\n"));
        }
    }
    if let Some(instruction) = ask.instruction.map(str::trim).filter(|i| !i.is_empty()) {
        let heading = if ask.action == Action::Task {
            "Task"
        } else {
            "Instruction"
        };
        text.push_str(&format!("\n# {heading}\n\n{instruction}\n"));
    }
    let mut blocks = vec![PromptBlock::Text(text)];
    if let Some(place) = &ask.place {
        blocks.push(PromptBlock::File(place.path.clone()));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Ask, Place, blocks};
    use crate::acp::PromptBlock;
    use crate::agent::actions::Action;
    use crate::agent::task::prompt::Standing;
    use crate::agent::team_rules::TeamRule;

    #[test]
    fn an_action_names_the_file_the_lines_the_rules_and_how_to_change_files() {
        let team = [TeamRule {
            text: "No unwrap.".into(),
            scope: Some("src/**/*.rs".into()),
        }];
        let diagnostics = ["line 3: expected `;`".to_owned()];
        let ask = Ask {
            action: Action::Fix,
            instruction: None,
            diagnostics: &diagnostics,
            team: &team,
            place: Some(Place {
                path: PathBuf::from("/w/src/lib.rs"),
                standing: Standing {
                    path: "src/lib.rs",
                    lines: Some((3, 4)),
                    selection: Some("let a = 1\n"),
                },
            }),
        };
        let blocks = blocks(&ask);
        let [PromptBlock::Text(text), PromptBlock::File(file)] = blocks.as_slice() else {
            panic!("{blocks:?}");
        };
        assert_eq!(file, &PathBuf::from("/w/src/lib.rs"));
        for part in [
            "Fix the problems",
            "fs/write_text_file",
            "- (src/**/*.rs) No unwrap.",
            "`src/lib.rs`, lines 3–4",
            "```\nlet a = 1\n```",
            "- line 3: expected `;`",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }

    #[test]
    fn explain_changes_nothing_and_a_task_is_its_instruction() {
        let explain = Ask {
            action: Action::Explain,
            instruction: None,
            diagnostics: &[],
            team: &[],
            place: None,
        };
        let [PromptBlock::Text(ref text)] = blocks(&explain)[..] else {
            panic!("one block");
        };
        assert!(text.contains("Do not change any file."), "{text}");
        let task = Ask {
            action: Action::Task,
            instruction: Some(" add a delete endpoint "),
            ..explain
        };
        let [PromptBlock::Text(ref text)] = blocks(&task)[..] else {
            panic!("one block");
        };
        assert!(
            text.ends_with("# Task\n\nadd a delete endpoint\n"),
            "{text}"
        );
    }
}
