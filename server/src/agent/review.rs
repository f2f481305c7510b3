//! Reading a review's findings from the model's reply: a JSON array of objects, found in the first
//! fenced block (or the bare reply), tolerant of missing optional fields and of junk entries.

use serde::Deserialize;

use super::output::CodeReply;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
    Hint,
}

/// One finding, with 1-based inclusive line numbers as the model was asked to give them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub start_line: u32,
    pub end_line: u32,
    pub severity: Severity,
    pub message: String,
    /// The text that should replace lines `start_line..=end_line` whole, when the model gave one.
    pub replacement: Option<String>,
}

#[derive(Deserialize)]
struct RawFinding {
    #[serde(alias = "line", alias = "start", alias = "startLine")]
    start_line: Option<u32>,
    #[serde(alias = "end", alias = "endLine")]
    end_line: Option<u32>,
    severity: Option<String>,
    message: Option<String>,
    replacement: Option<String>,
}

/// Why findings could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReviewError {
    #[error("the model's review is not a JSON array of findings: {0}")]
    NotJson(String),
}

/// The findings in `reply`. Entries without a line or a message are dropped; lines are clamped to
/// `1..=line_count`; an end before its start becomes the start.
pub fn parse_findings(reply: &str, line_count: u32) -> Result<Vec<Finding>, ReviewError> {
    let mut code = CodeReply::new();
    code.push(reply);
    let json = code.finish();
    let raw: Vec<serde_json::Value> = match serde_json::from_str(json.trim()) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(serde_json::Value::Object(map)) => match map.get("findings") {
            Some(serde_json::Value::Array(items)) => items.clone(),
            _ => return Err(ReviewError::NotJson("an object without `findings`".into())),
        },
        Ok(_) => {
            return Err(ReviewError::NotJson(
                "neither an array nor an object".into(),
            ));
        }
        Err(err) => {
            let excerpt: String = json.chars().take(80).collect();
            return Err(ReviewError::NotJson(format!("{err} in {excerpt:?}")));
        }
    };
    let last = line_count.max(1);
    Ok(raw
        .into_iter()
        .filter_map(|value| serde_json::from_value::<RawFinding>(value).ok())
        .filter_map(|f| {
            let message = f.message.filter(|m| !m.trim().is_empty())?;
            let start = f.start_line?.clamp(1, last);
            let end = f.end_line.unwrap_or(start).clamp(start, last);
            Some(Finding {
                start_line: start,
                end_line: end,
                severity: severity(f.severity.as_deref()),
                message: message.trim().to_owned(),
                replacement: f.replacement,
            })
        })
        .collect())
}

fn severity(word: Option<&str>) -> Severity {
    match word.map(str::to_ascii_lowercase).as_deref() {
        Some("error" | "bug" | "critical" | "high") => Severity::Error,
        Some("info" | "information" | "note" | "low") => Severity::Info,
        Some("hint" | "nit" | "style") => Severity::Hint,
        _ => Severity::Warning,
    }
}

#[cfg(test)]
mod tests {
    use super::{Finding, ReviewError, Severity, parse_findings};

    #[test]
    fn reads_findings_from_a_fenced_block_with_prose() {
        let reply = "Here is my review:\n```json\n[\n  {\"start_line\": 3, \"end_line\": 4, \"severity\": \"error\", \"message\": \"Off by one.\", \"replacement\": \"for i in 0..n {\\n}\\n\"},\n  {\"line\": 9, \"message\": \"Unused variable.\"},\n  {\"start_line\": 2},\n  \"junk\"\n]\n```\nThat's all.";
        let found = parse_findings(reply, 10).expect("parses");
        assert_eq!(
            found,
            [
                Finding {
                    start_line: 3,
                    end_line: 4,
                    severity: Severity::Error,
                    message: "Off by one.".into(),
                    replacement: Some("for i in 0..n {\n}\n".into())
                },
                Finding {
                    start_line: 9,
                    end_line: 9,
                    severity: Severity::Warning,
                    message: "Unused variable.".into(),
                    replacement: None
                },
            ]
        );
    }

    #[test]
    fn clamps_lines_and_accepts_an_object_or_bare_json() {
        let found = parse_findings("{\"findings\": [{\"start_line\": 0, \"end_line\": 99, \"severity\": \"nit\", \"message\": \"m\"}]}", 5).expect("parses");
        assert_eq!(
            (found[0].start_line, found[0].end_line, found[0].severity),
            (1, 5, Severity::Hint)
        );
        assert_eq!(parse_findings("[]", 5), Ok(Vec::new()));
        assert!(matches!(
            parse_findings("I found nothing wrong.", 5),
            Err(ReviewError::NotJson(_))
        ));
    }
}
