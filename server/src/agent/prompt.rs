//! The prompt an action sends: one system message saying how to answer, one user message with
//! the target and its context, fitted to a budget, with obvious secrets redacted, from the most
//! stable part to the least (prompt caches reuse the beginning).

use super::actions::Action;
use super::index::IndexedItem;
use super::secrets::redact;
use super::team_rules::{RULES_FILE, TeamRule};
use super::workspace_files::Rules;
use crate::model::Message;

/// Everything a prompt may carry; the job gathers it, this module decides what fits.
#[derive(Debug, Default)]
pub struct PromptParts<'a> {
    pub language: &'a str,
    /// The file's path as shown to the model (relative to the workspace when possible).
    pub path: &'a str,
    /// The text the action works on (the region a rewriting action replaces).
    pub target: &'a str,
    /// 1-based first line of the target, for the model's orientation and for review findings.
    pub target_line: usize,
    /// The item around the target, when the target is only part of it.
    pub enclosing: Option<&'a str>,
    pub imports: &'a [String],
    pub signatures: &'a [&'a IndexedItem],
    /// Diagnostics to fix, already in words ("line 3: expected `;`").
    pub diagnostics: &'a [String],
    pub rules: &'a [Rules],
    /// The team's rules that apply to the file (`.tandem/rules.md`).
    pub team_rules: &'a [TeamRule],
    pub instruction: Option<&'a str>,
    /// Syntax errors in a previous answer, when asking again (self-correction).
    pub errors_in_previous: &'a [String],
    /// The previous answer that had those errors.
    pub previous: Option<&'a str>,
}

/// The messages to send, and how big each part ended up (for `tandem.status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
    /// How many bytes `user` begins with that do not depend on the target (the rules, the
    /// file's name and imports): the same for every job on the file, for prompt caches.
    pub stable: usize,
    /// For a whole rewrite (fix, implement, document, edit): what the answer will mostly be,
    /// the target fenced as the model is asked to answer it.
    pub prediction: Option<String>,
    pub sizes: ContextSizes,
}

impl Prompt {
    /// The user message, its stable beginning marked for caches that need a marker.
    pub fn message(&self) -> Message {
        let (stable, changing) = self.user.split_at(self.stable);
        Message::user_with_stable_prefix(stable, changing)
    }
}

/// Characters of each context part that made it into the prompt; dropped parts are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextSizes {
    pub target: usize,
    pub enclosing: usize,
    pub imports: usize,
    pub signatures: usize,
    pub rules: usize,
    pub diagnostics: usize,
    pub total: usize,
    /// How many of the team's rules went in (they count in `rules` too).
    pub team_rules: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PromptError {
    #[error(
        "the code to send is too large for the model's context ({needed} characters, {budget} available); select less"
    )]
    TooLarge { needed: usize, budget: usize },
}

/// Builds the prompt of `action` within `budget` characters of user message. Parts are dropped
/// whole, least useful first: workspace signatures, imports, rules, the enclosing item.
///
/// The user message goes from the most stable part to the least, so that prompt caches reuse
/// its beginning: the team's rules and the `AGENTS.md` files, the file's name and imports (the
/// same for every job on the file: [`Prompt::stable`] ends there), then what depends on the
/// target: the signatures of the names it uses, the item around it, and the target itself with
/// the instruction and the problems to fix, last.
pub fn build(action: Action, parts: &PromptParts, budget: usize) -> Result<Prompt, PromptError> {
    let mut sizes = ContextSizes::default();
    let fence = fence_for(parts.target);
    let header = format!("File: {} ({})\n", parts.path, parts.language);
    let target_text = redact(parts.target);
    let newline = if parts.target.ends_with('\n') || parts.target.is_empty() {
        ""
    } else {
        "\n"
    };
    let fenced_target = format!("{fence}{}\n{target_text}{newline}{fence}\n", parts.language);
    let mut target = format!(
        "\n{} (from line {}):\n{fenced_target}",
        target_heading(action),
        parts.target_line,
    );
    sizes.target = parts.target.len();
    if let Some(instruction) = parts.instruction {
        target.push_str(&format!("\nInstruction: {}\n", redact(instruction)));
    }
    if !parts.diagnostics.is_empty() {
        let text = format!("\nProblems to fix:\n{}\n", bullets(parts.diagnostics));
        sizes.diagnostics = text.len();
        target.push_str(&text);
    }
    if let Some(previous) = parts.previous
        && !parts.errors_in_previous.is_empty()
    {
        target.push_str(&format!(
            "\nYour previous answer did not parse:\n{fence}\n{}\n{fence}\nErrors:\n{}\nAnswer again, fixing them.\n",
            redact(previous),
            bullets(parts.errors_in_previous)
        ));
    }
    let must = header.len() + target.len();
    if must > budget {
        return Err(PromptError::TooLarge {
            needed: must,
            budget,
        });
    }

    let enclosing = parts.enclosing.map(|text| {
        let fence = fence_for(text);
        format!(
            "\nThe code around the target:\n{fence}{}\n{}\n{fence}\n",
            parts.language,
            redact(text).trim_end()
        )
    });
    let rules = (!parts.rules.is_empty() || !parts.team_rules.is_empty()).then(|| {
        let mut text = String::new();
        if !parts.team_rules.is_empty() {
            text.push_str(&format!("The team's rules ({RULES_FILE}), to follow:\n"));
            for rule in parts.team_rules {
                text.push_str(&format!("- {}\n", redact(&rule.text)));
            }
            text.push('\n');
        }
        if !parts.rules.is_empty() {
            text.push_str("Project rules (AGENTS.md, nearest last):\n");
            for rule in parts.rules {
                text.push_str(&format!(
                    "--- {}\n{}\n",
                    rule.path.display(),
                    redact(&rule.text).trim_end()
                ));
            }
            text.push('\n');
        }
        text
    });
    let imports = (!parts.imports.is_empty()).then(|| {
        format!(
            "\nThe file's imports:\n{}\n",
            redact(&parts.imports.join("\n"))
        )
    });
    let signatures = (!parts.signatures.is_empty()).then(|| {
        let mut lines: Vec<String> = parts
            .signatures
            .iter()
            .map(|item| {
                format!(
                    "{}:{}: {}",
                    item.path.display(),
                    item.line + 1,
                    item.signature
                )
            })
            .collect();
        // In a fixed order, whatever order the index found them in.
        lines.sort();
        format!(
            "\nSignatures from the workspace of names the target uses:\n{}\n",
            redact(&lines.join("\n"))
        )
    });

    // Optional parts, most useful first; each goes in only if it fits whole.
    let mut used = must;
    let mut fits = |part: Option<String>, size: &mut usize| {
        let text = part.filter(|text| used + text.len() <= budget)?;
        used += text.len();
        *size = text.len();
        Some(text)
    };
    let enclosing = fits(enclosing, &mut sizes.enclosing);
    let rules = fits(rules, &mut sizes.rules);
    let imports = fits(imports, &mut sizes.imports);
    let signatures = fits(signatures, &mut sizes.signatures);
    if sizes.rules > 0 {
        sizes.team_rules = parts.team_rules.len();
    }

    // From the most stable to the least.
    let mut user = String::with_capacity(used);
    user.push_str(rules.as_deref().unwrap_or_default());
    user.push_str(&header);
    user.push_str(imports.as_deref().unwrap_or_default());
    let stable = user.len();
    user.push_str(signatures.as_deref().unwrap_or_default());
    user.push_str(enclosing.as_deref().unwrap_or_default());
    user.push_str(&target);
    sizes.total = user.len();
    // A whole rewrite's answer is mostly the target as it is, fenced as it was shown.
    let prediction = matches!(
        action,
        Action::Fix | Action::Implement | Action::Document | Action::Edit
    )
    .then_some(fenced_target);
    Ok(Prompt {
        system: system_prompt(action),
        user,
        stable,
        prediction,
        sizes,
    })
}

/// The follow-up that shows the model the syntax errors its answer added (self-correction).
pub fn correction(errors: &[String]) -> String {
    format!(
        "Your answer has syntax errors:\n{}\nAnswer again with the whole corrected TARGET in one fenced code block.",
        errors
            .iter()
            .map(|e| format!("- {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("- {}", redact(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fence longer than any run of backticks in `text`, so the text cannot close it.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn target_heading(action: Action) -> &'static str {
    match action {
        Action::Explain => "The code to explain",
        Action::Review => "The file to review (each line shown as `number | text`)",
        Action::Implement => "The unfinished code to complete (TARGET)",
        Action::Document => "The item to document (TARGET)",
        Action::Tests => "The code to test",
        Action::Fix | Action::Edit => "The code to rewrite (TARGET)",
        Action::Task => "Where the user stands",
    }
}

/// How a rewrite answers: the whole region (see `search_replace::INSTRUCTIONS` for the other way).
pub const REWRITE: &str = "Answer with the complete new text of the TARGET in one fenced code block, and nothing \
    else after it. It replaces the TARGET exactly: keep its indentation and anything in it that \
    needs no change, and do not repeat code from outside it.";

pub fn system_prompt(action: Action) -> String {
    let rewrite = REWRITE;
    let task = match action {
        Action::Explain => "Explain what the code does, why, and anything surprising in it, for a developer \
            reading it in their editor. Answer in concise Markdown; do not rewrite the code."
            .to_owned(),
        Action::Review => "Review the file for bugs, risky code and unclear code. Answer with one fenced json \
            block holding an array of findings, each {\"start_line\": N, \"end_line\": M, \"severity\": \
            \"error\"|\"warning\"|\"info\"|\"hint\", \"message\": \"…\", \"replacement\": \"…\"}, with \
            1-based line numbers as shown, and `replacement` (optional) the full new text of those \
            lines, without the line numbers. An empty array when there is nothing worth saying."
            .to_owned(),
        Action::Fix => format!("Fix the problems listed in the TARGET with the smallest change that fixes them. {rewrite}"),
        Action::Implement => format!(
            "Complete the unfinished code in the TARGET (a placeholder body such as todo!(), pass, or a TODO) \
             so that it does what its name, signature and comments say. {rewrite}"
        ),
        Action::Document => format!(
            "Write the doc comment of the item in the TARGET in the language's own convention (/// in Rust, \
             a docstring in Python, /** */ JSDoc in JavaScript and TypeScript, // lines in Go), saying what \
             it does, its parameters and what it returns or fails with. {rewrite}"
        ),
        Action::Tests => "Write focused unit tests for the code, in the language's usual test style and \
            framework, covering normal cases and edge cases. The instruction says where they go and what to \
            answer; answer with that code in one fenced code block, and nothing else after it."
            .to_owned(),
        Action::Edit => format!("Rewrite the TARGET as the instruction asks. {rewrite}"),
        Action::Task => "Carry out the user's task in their workspace with the tools you are given: \
            read and search before you change code, change files only with edit_file and create_file, \
            keep each change small and in the project's style, and run the checks when they are \
            offered and fix what they report. When the task is done, answer without calling a tool: \
            a short Markdown summary of what you changed and why."
            .to_owned(),
    };
    format!(
        "You are Tandem, a coding agent working inside the user's editor. {task} Follow the project's rules \
         when they are given."
    )
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
