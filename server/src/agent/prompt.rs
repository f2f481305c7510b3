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
mod tests {
    use std::path::PathBuf;

    use super::{Action, PromptError, PromptParts, build, fence_for};
    use crate::agent::index::IndexedItem;
    use crate::agent::team_rules::TeamRule;
    use crate::agent::workspace_files::Rules;
    use crate::syntax::ItemKind;

    #[test]
    fn carries_target_rules_and_signatures_and_redacts_secrets() {
        let sig = IndexedItem {
            path: PathBuf::from("src/geo.rs"),
            name: "distance".into(),
            kind: ItemKind::Function,
            signature: "pub fn distance(a: &Point, b: &Point) -> f64".into(),
            line: 4,
        };
        let signatures = [&sig];
        let rules = [Rules {
            path: PathBuf::from("AGENTS.md"),
            text: "Never use unwrap.".into(),
        }];
        let imports = ["use crate::geo::distance;".to_owned()];
        let parts = PromptParts {
            language: "rust",
            path: "src/main.rs",
            target: "let key = \"AKIAIOSFODNN7EXAMPLE\";\nlet d = distance(&a, &b)\n",
            target_line: 3,
            imports: &imports,
            signatures: &signatures,
            rules: &rules,
            instruction: Some("use a match"),
            ..PromptParts::default()
        };
        let prompt = build(Action::Edit, &parts, 10_000).expect("fits");
        for expected in [
            "Never use unwrap.",
            "src/geo.rs:5: pub fn distance(a: &Point, b: &Point) -> f64",
            "use crate::geo::distance;",
            "Instruction: use a match",
            "from line 3",
        ] {
            assert!(
                prompt.user.contains(expected),
                "missing {expected:?} in\n{}",
                prompt.user
            );
        }
        assert!(!prompt.user.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(prompt.system.contains("one fenced code block"));
        assert_eq!(prompt.sizes.total, prompt.user.len());
        assert!(prompt.sizes.signatures > 0 && prompt.sizes.rules > 0 && prompt.sizes.imports > 0);
    }

    #[test]
    fn drops_the_least_useful_parts_first_and_refuses_what_cannot_fit() {
        let sig = IndexedItem {
            path: PathBuf::from("a.rs"),
            name: "f".into(),
            kind: ItemKind::Function,
            signature: "x".repeat(400),
            line: 0,
        };
        let signatures = [&sig];
        let enclosing = "fn outer() {\n    body();\n}\n";
        let parts = PromptParts {
            language: "rust",
            path: "a.rs",
            target: "body();\n",
            target_line: 2,
            enclosing: Some(enclosing),
            signatures: &signatures,
            ..PromptParts::default()
        };
        let full = build(Action::Fix, &parts, 10_000).expect("fits");
        assert!(full.sizes.signatures > 0);
        let tight =
            build(Action::Fix, &parts, full.user.len() - 1).expect("fits without signatures");
        assert_eq!(tight.sizes.signatures, 0);
        assert!(tight.sizes.enclosing > 0);
        assert!(matches!(
            build(Action::Fix, &parts, 20),
            Err(PromptError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_context_about_the_file_comes_first_and_is_the_same_for_every_target() {
        let rules = [Rules {
            path: PathBuf::from("AGENTS.md"),
            text: "Never use unwrap.".into(),
        }];
        let team_rules = [TeamRule {
            text: "Prefer iterators.".into(),
            scope: None,
        }];
        let imports = ["use crate::geo::{area, distance};".to_owned()];
        let item = |name: &str, path: &str, line| IndexedItem {
            path: PathBuf::from(path),
            name: name.into(),
            kind: ItemKind::Function,
            signature: format!("pub fn {name}()"),
            line,
        };
        let (distance, area, zeta) = (
            item("distance", "src/geo.rs", 4),
            item("area", "src/geo.rs", 1),
            item("zeta", "src/a.rs", 9),
        );
        let first_signatures = [&distance, &area, &zeta];
        let second_signatures = [&area];
        let parts = |target, line, enclosing, signatures| PromptParts {
            language: "rust",
            path: "src/main.rs",
            target,
            target_line: line,
            enclosing,
            imports: &imports,
            signatures,
            rules: &rules,
            team_rules: &team_rules,
            instruction: Some("double it"),
            ..PromptParts::default()
        };
        let one = build(
            Action::Edit,
            &parts("fn a() {}\n", 3, None, &first_signatures),
            10_000,
        )
        .expect("fits");
        let two = build(
            Action::Edit,
            &parts(
                "    x();\n",
                9,
                Some("fn b() {\n    x();\n}\n"),
                &second_signatures,
            ),
            10_000,
        )
        .expect("fits");
        assert_eq!(one.system, two.system);
        let stable = &one.user[..one.stable];
        assert_eq!(stable, &two.user[..two.stable]);
        assert_eq!(
            stable,
            "The team's rules (.tandem/rules.md), to follow:\n- Prefer iterators.\n\n\
             Project rules (AGENTS.md, nearest last):\n--- AGENTS.md\nNever use unwrap.\n\n\
             File: src/main.rs (rust)\n\n\
             The file's imports:\nuse crate::geo::{area, distance};\n"
        );
        // Then the signatures (in a fixed order), the item around, the target and what to do.
        assert_eq!(
            &one.user[one.stable..],
            "\nSignatures from the workspace of names the target uses:\n\
             src/a.rs:10: pub fn zeta()\nsrc/geo.rs:2: pub fn area()\nsrc/geo.rs:5: pub fn distance()\n\
             \nThe code to rewrite (TARGET) (from line 3):\n```rust\nfn a() {}\n```\n\
             \nInstruction: double it\n"
        );
        let rest = &two.user[two.stable..];
        let at = |text: &str| rest.find(text).expect(text);
        assert!(at("pub fn area()") < at("The code around the target:"));
        assert!(at("The code around the target:") < at("The code to rewrite (TARGET)"));
        assert!(rest.ends_with("\nInstruction: double it\n"), "{rest}");
        let message = one.message();
        assert_eq!(message.content, one.user);
        assert_eq!(message.cache_breakpoint, Some(one.stable));
    }

    #[test]
    fn only_a_whole_rewrite_predicts_its_answer_the_target_as_shown() {
        let parts = PromptParts {
            language: "rust",
            path: "a.rs",
            target: "let key = \"AKIAIOSFODNN7EXAMPLE\";",
            target_line: 1,
            ..PromptParts::default()
        };
        for action in [
            Action::Fix,
            Action::Implement,
            Action::Document,
            Action::Edit,
        ] {
            let prompt = build(action, &parts, 10_000).expect("fits");
            let prediction = prompt.prediction.expect("a rewrite predicts");
            assert_eq!(prediction, "```rust\nlet key = \"[REDACTED]\";\n```\n");
            assert!(prompt.user.contains(&prediction), "{}", prompt.user);
        }
        for action in [Action::Explain, Action::Review, Action::Tests] {
            let prompt = build(action, &parts, 10_000).expect("fits");
            assert_eq!(prompt.prediction, None, "{action:?}");
        }
    }

    #[test]
    fn a_target_with_backticks_gets_a_longer_fence() {
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        let parts = PromptParts {
            language: "markdown",
            path: "a.md",
            target: "```\ncode\n```\n",
            target_line: 1,
            ..PromptParts::default()
        };
        let prompt = build(Action::Explain, &parts, 10_000).expect("fits");
        assert!(
            prompt.user.contains("````markdown\n```\ncode\n```\n````"),
            "{}",
            prompt.user
        );
    }
}
