//! Rules learnt from corrections: the request that asks the model whether the team's corrections
//! share one rule, the reading of its answer, and the edit that adds an approved rule to
//! `.tandem/rules.md`.

use super::secrets::redact;

/// One piece of evidence: what the user did to the agent's text, or why they rejected it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    pub job_id: u64,
    pub path: String,
    /// A unified diff from the agent's text to what the user kept (empty for a rejection).
    pub diff: String,
    /// The reason given with a rejection.
    pub reason: Option<String>,
    /// For a review finding the user dismissed: what the finding said.
    pub finding: Option<String>,
}

/// The unified diff from the agent's text to the text the user kept, `None` when they are the
/// same.
pub fn correction_diff(path: &str, agent: &str, kept: &str) -> Option<String> {
    if agent == kept {
        return None;
    }
    let diff = similar::TextDiff::from_lines(agent, kept);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(&format!("{path} (agent)"), &format!("{path} (kept)"))
        .to_string();
    Some(text)
}

/// The system and user messages that ask for the rule the corrections share. `known` are the
/// rules already approved or rejected: the model is told not to propose them again.
pub fn request(corrections: &[Correction], known: &[String]) -> (String, String) {
    let system = "You help a software team write down its coding rules. You are shown how \
                  people corrected code an AI assistant wrote for them. If the corrections \
                  share one rule the assistant should follow from now on, answer with that rule \
                  as one plain imperative sentence, and nothing else. If they do not share one, \
                  answer exactly NONE."
        .to_owned();
    let mut user = String::from("The corrections:\n");
    for (i, correction) in corrections.iter().enumerate() {
        user.push_str(&format!(
            "\n{}. In {} (job {}):\n",
            i + 1,
            correction.path,
            correction.job_id
        ));
        if let Some(finding) = &correction.finding {
            user.push_str(&format!(
                "A review finding the user dismissed: {}\n",
                redact(finding)
            ));
        }
        if let Some(reason) = &correction.reason {
            user.push_str(&format!("Rejected, because: {}\n", redact(reason)));
        }
        if !correction.diff.is_empty() {
            user.push_str(&format!("```diff\n{}```\n", redact(&correction.diff)));
        }
    }
    if !known.is_empty() {
        user.push_str("\nRules already decided (do not answer any of these again):\n");
        for rule in known {
            user.push_str(&format!("- {rule}\n"));
        }
    }
    user.push_str("\nThe rule, or NONE:");
    (system, user)
}

/// What the model answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Rule { text: String, scope: Option<String> },
    NoRule,
}

/// Reads the model's answer: `NONE`, a `{"rule": text or null, "scope": glob?}` object, or one
/// plain sentence (a leading "Rule:", a list marker, quotes and a code fence are taken off).
pub fn parse_answer(answer: &str) -> Answer {
    let text = strip_fence(answer.trim());
    if let Ok(object) = serde_json::from_str::<serde_json::Value>(text)
        && object.is_object()
    {
        let rule = object.get("rule").and_then(|r| r.as_str()).map(str::trim);
        let scope = object
            .get("scope")
            .and_then(|s| s.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        return match rule {
            Some(rule) if !rule.is_empty() && !is_none(rule) => Answer::Rule {
                text: rule.to_owned(),
                scope,
            },
            _ => Answer::NoRule,
        };
    }
    let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Answer::NoRule;
    };
    let line = line.trim_start_matches(['-', '*', ' ']);
    let line = strip_prefix_ignore_case(line, "rule:").trim();
    let line = line.trim_matches(['"', '\'', '`', ' ']).trim();
    if line.is_empty() || is_none(line) {
        return Answer::NoRule;
    }
    Answer::Rule {
        text: line.to_owned(),
        scope: None,
    }
}

fn is_none(text: &str) -> bool {
    let word = text.trim().trim_end_matches('.').trim_matches(['"', '`']);
    word.eq_ignore_ascii_case("none") || word.eq_ignore_ascii_case("no common rule")
}

fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> &'a str {
    match text.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &text[prefix.len()..],
        _ => text,
    }
}

/// Whether two rules say the same thing, up to case, spacing and punctuation: a proposal never
/// repeats a rule already approved or rejected.
pub fn same_rule(a: &str, b: &str) -> bool {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric() && c != '?' && c != '_')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    words(a) == words(b)
}

/// Text to insert into the rules file, and where (a byte offset into its current text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insertion {
    pub at: usize,
    pub text: String,
}

/// Where an approved rule goes in the rules file (`existing`, empty when it does not exist yet):
/// a list item at the end of its scope's `## <glob>` section (made when missing), or, unscoped,
/// after the last item that comes before any section.
pub fn add_rule(existing: &str, rule: &str, scope: Option<&str>) -> Insertion {
    let item = format!("- {}\n", rule.trim().replace('\n', " "));
    let mut lines = Vec::new();
    let mut at = 0;
    for line in existing.split_inclusive('\n') {
        lines.push((at, line));
        at += line.len();
    }
    let end = existing.len();
    // The newline a last line without one needs before anything goes after it.
    let joint = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let section_start = |glob: &str| {
        lines.iter().position(|(_, line)| {
            line.strip_prefix("## ")
                .is_some_and(|h| h.trim().trim_matches('`').trim() == glob)
        })
    };
    let next_heading = |from: usize| (from..lines.len()).find(|&i| lines[i].1.starts_with('#'));
    let (first, stop) = match scope {
        Some(glob) => match section_start(glob) {
            Some(heading) => (
                heading + 1,
                next_heading(heading + 1).unwrap_or(lines.len()),
            ),
            None => {
                let gap = if existing.trim().is_empty() { "" } else { "\n" };
                return Insertion {
                    at: end,
                    text: format!("{joint}{gap}## {glob}\n{item}"),
                };
            }
        },
        None => {
            let first_section = lines
                .iter()
                .position(|(_, line)| line.starts_with("## "))
                .unwrap_or(lines.len());
            (0, first_section)
        }
    };
    // After the section's last list item (and its continuation lines), else right after its
    // heading (unscoped: before the first section).
    let last_item = (first..stop)
        .rev()
        .find(|&i| {
            let line = lines[i].1;
            line.starts_with("- ") || line.starts_with("* ") || {
                line.starts_with([' ', '\t']) && !line.trim().is_empty()
            }
        })
        .map(|i| i + 1);
    let index = last_item.unwrap_or(if scope.is_some() { first } else { stop });
    if index >= lines.len() {
        return Insertion {
            at: end,
            text: format!("{joint}{item}"),
        };
    }
    Insertion {
        at: lines[index].0,
        text: item,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests {
    use super::*;
    use crate::agent::team_rules::{TeamRule, parse};

    fn rule(text: &str) -> Answer {
        Answer::Rule {
            text: text.into(),
            scope: None,
        }
    }

    #[test]
    fn answers_in_every_form() {
        let cases = [
            ("NONE", Answer::NoRule),
            ("none.", Answer::NoRule),
            ("  \n", Answer::NoRule),
            ("No common rule", Answer::NoRule),
            (
                "Use `?` instead of `.unwrap()`.",
                rule("Use `?` instead of `.unwrap()`."),
            ),
            (
                "Rule: Prefer early returns.\n",
                rule("Prefer early returns."),
            ),
            ("- \"Name things in full.\"", rule("Name things in full.")),
            (
                "```\nReturn errors with `?`.\n```",
                rule("Return errors with `?`."),
            ),
            (r#"{"rule": null}"#, Answer::NoRule),
            (r#"{"rule": "NONE"}"#, Answer::NoRule),
            (
                r#"{"rule": "Type every function.", "scope": "*.py"}"#,
                Answer::Rule {
                    text: "Type every function.".into(),
                    scope: Some("*.py".into()),
                },
            ),
            (
                "```json\n{\"rule\": \"Log with tracing.\", \"scope\": \"\"}\n```",
                rule("Log with tracing."),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(parse_answer(answer), want, "{answer:?}");
        }
    }

    #[test]
    fn the_request_carries_every_diff_and_reason_and_the_rules_decided() {
        let diff = correction_diff("src/a.rs", "let x = f().unwrap();\n", "let x = f()?;\n");
        let diff = diff.unwrap();
        assert!(diff.contains("-let x = f().unwrap();") && diff.contains("+let x = f()?;"));
        assert_eq!(correction_diff("a", "same\n", "same\n"), None);
        let corrections = [
            Correction {
                job_id: 3,
                path: "src/a.rs".into(),
                diff: diff.clone(),
                reason: None,
                finding: None,
            },
            Correction {
                job_id: 5,
                path: "src/b.rs".into(),
                diff: String::new(),
                reason: Some("we never unwrap".into()),
                finding: None,
            },
        ];
        let (system, user) = request(&corrections, &["Use tabs.".into()]);
        assert!(system.contains("NONE"));
        assert!(user.contains(&diff) && user.contains("src/b.rs (job 5)"));
        assert!(user.contains("Rejected, because: we never unwrap"));
        assert!(user.contains("- Use tabs."));
    }

    #[test]
    fn rules_are_the_same_up_to_case_spacing_and_punctuation() {
        assert!(same_rule(
            "Use `?` instead of .unwrap().",
            "use ? instead of unwrap"
        ));
        assert!(!same_rule("Use tabs.", "Use spaces."));
    }

    fn apply(existing: &str, rule: &str, scope: Option<&str>) -> String {
        let insertion = add_rule(existing, rule, scope);
        let mut text = existing.to_owned();
        text.insert_str(insertion.at, &insertion.text);
        text
    }

    #[test]
    fn an_approved_rule_lands_in_its_section_and_parses_back() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            ("", "Use `?`.", None, "- Use `?`.\n"),
            ("", "Type it.", Some("*.py"), "## *.py\n- Type it.\n"),
            ("- A.", "B.", None, "- A.\n- B.\n"),
            (
                "# Rules\n\n- A.\n  more.\n\n## *.py\n- P.\n",
                "B.",
                None,
                "# Rules\n\n- A.\n  more.\n- B.\n\n## *.py\n- P.\n",
            ),
            (
                "- A.\n## *.py\n- P.\n## *.go\n- G.\n",
                "Q.",
                Some("*.py"),
                "- A.\n## *.py\n- P.\n- Q.\n## *.go\n- G.\n",
            ),
            (
                "- A.\n",
                "R.",
                Some("src/**/*.rs"),
                "- A.\n\n## src/**/*.rs\n- R.\n",
            ),
            ("## *.py\n", "Q.", Some("*.py"), "## *.py\n- Q.\n"),
            ("# Rules\n", "A.", None, "# Rules\n- A.\n"),
        ];
        for (existing, new, scope, want) in cases {
            let got = apply(existing, new, *scope);
            assert_eq!(got, *want, "{existing:?} + {new:?} in {scope:?}");
            let parsed = parse(&got);
            let added = TeamRule {
                text: new.to_string(),
                scope: scope.map(str::to_owned),
            };
            assert!(parsed.contains(&added), "{got:?} parses to {parsed:?}");
        }
    }
}
