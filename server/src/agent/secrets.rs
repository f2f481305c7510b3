//! Redacting obvious secrets from text before it leaves the machine in a prompt.
//!
//! Caught: PEM private key blocks, AWS access key ids (`AKIA…`), OpenAI/Anthropic-style keys
//! (`sk-…`, `sk-ant-…`), GitHub tokens (`ghp_…`, `github_pat_…`), Slack tokens (`xox…-`), and
//! quoted values assigned to names like `password`, `secret`, `token`, `api_key`. This is a net
//! for accidents, not a guarantee: ignore files (`.gitignore`, `.tandemignore`) are the way to
//! keep whole files out.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // A whole PEM private key block (any key type), or its start if the block is cut.
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b",
        r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// `password = "…"`, `"api_key": '…'`, `SECRET_TOKEN := "…"`: the quoted value is group 2.
static ASSIGNED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)([A-Za-z0-9_\-]*(?:password|passwd|pwd|secret|token|api_?key|access_?key|private_?key)[A-Za-z0-9_\-]*["']?\s*(?::=|=|:)\s*)["']([^"'\r\n]{4,})["']"#,
    )
    .ok()
});

/// The text with every secret found replaced by [`REDACTED`]; borrowed when there is none.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for pattern in PATTERNS.iter() {
        if pattern.is_match(&out) {
            out = Cow::Owned(pattern.replace_all(&out, REDACTED).into_owned());
        }
    }
    if let Some(assigned) = ASSIGNED.as_ref()
        && assigned.is_match(&out)
    {
        out = Cow::Owned(
            assigned
                .replace_all(&out, |caps: &regex::Captures| {
                    let quote = caps.get(0).map_or("\"", |m| {
                        let s = m.as_str();
                        if s.ends_with('\'') { "'" } else { "\"" }
                    });
                    format!("{}{quote}{REDACTED}{quote}", &caps[1])
                })
                .into_owned(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{REDACTED, redact};

    #[test]
    fn planted_secrets_are_redacted() {
        let cases = [
            (
                "let key = \"AKIAIOSFODNN7EXAMPLE\";",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            (
                "OPENAI=sk-proj-abcdefghijklmnop1234567890",
                "sk-proj-abcdefghijklmnop1234567890",
            ),
            (
                "k = 'sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA'",
                "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            (
                "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            ),
            ("password = \"hunter22\"", "hunter22"),
            ("DB_PASSWORD := \"correct horse\"", "correct horse"),
            ("{\"api_key\": \"abcd1234\"}", "abcd1234"),
            ("self.secret_token = 'zzzz9999'", "zzzz9999"),
            (
                "slack xoxb-1234567890-abcdefghij",
                "xoxb-1234567890-abcdefghij",
            ),
        ];
        for (text, secret) in cases {
            let out = redact(text);
            assert!(!out.contains(secret), "{text:?} -> {out:?}");
            assert!(out.contains(REDACTED), "{text:?} -> {out:?}");
        }
    }

    #[test]
    fn private_key_blocks_go_whole() {
        let text =
            "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nb\n";
        assert_eq!(redact(text), format!("a\n{REDACTED}\nb\n"));
        let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA";
        assert_eq!(redact(cut), REDACTED);
    }

    #[test]
    fn ordinary_code_is_untouched() {
        let code = "fn password_ok(password: &str) -> bool { password.len() > 8 }\nlet token = next_token();\nlet sk = \"sk-short\";\n";
        assert!(
            matches!(redact(code), std::borrow::Cow::Borrowed(_)),
            "{}",
            redact(code)
        );
    }
}
