//! API keys: held in memory, sent in one header, never shown by `Debug`, `Display` or logs.

use std::fmt;

/// An API key. `Debug` prints `ApiKey(<redacted>)`; only the transport reads the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text`, for server bodies that echo it back: as
    /// it is, with `/` escaped as `\/`, JSON-escaped and URL-encoded; and a start of the key
    /// (4 characters or more) left at the end of `text` by an excerpt cut inside it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.0.chars().count() < MIN_SCRUBBED {
            return text.to_owned();
        }
        let forms = self.forms();
        let mut out = text.to_owned();
        for form in &forms {
            out = out.replace(form.as_str(), REDACTED);
        }
        // An excerpt ends with `…` after its cut.
        let body_len = out.trim_end_matches('…').len();
        let (body, tail) = out.split_at(body_len);
        for form in &forms {
            if let Some(start) = cut_key_at_end(body, form) {
                return format!("{}{REDACTED}{tail}", &body[..start]);
            }
        }
        out
    }

    /// The ways a server may write the key back.
    fn forms(&self) -> Vec<String> {
        let key = &self.0;
        let mut forms = vec![key.clone(), key.replace('/', "\\/")];
        if let Ok(json) = serde_json::to_string(key) {
            // JSON escapes `"`, `\` and controls; some encoders escape `/` too.
            let json = &json[1..json.len() - 1];
            forms.push(json.to_owned());
            forms.push(json.replace('/', "\\/"));
        }
        forms.push(percent_encoded(key));
        forms.sort();
        forms.dedup();
        forms
    }
}

const REDACTED: &str = "<redacted>";
/// Keys shorter than this are not scrubbed (nor are shorter cut starts of a key).
const MIN_SCRUBBED: usize = 4;

/// Where a start of `key`, at least [`MIN_SCRUBBED`] characters long, ends `text`.
fn cut_key_at_end(text: &str, key: &str) -> Option<usize> {
    key.char_indices()
        .map(|(i, _)| i)
        .chain([key.len()])
        .filter(|&len| key[..len].chars().count() >= MIN_SCRUBBED)
        .rev()
        .find(|&len| text.ends_with(&key[..len]))
        .map(|len| text.len() - len)
}

/// `text` with every byte but the URL-unreserved ones as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::ApiKey;

    #[track_caller]
    fn check(key: &str, text: &str, expected: &str) {
        assert_eq!(ApiKey::new(key).scrub(text), expected, "{text:?}");
    }

    #[test]
    fn the_key_goes_in_every_form_a_server_may_echo_it() {
        let key = "sk-a/b+c\"d";
        check(key, "bad key sk-a/b+c\"d!", "bad key <redacted>!");
        check(
            key,
            r#"{"error":"bad key sk-a\/b+c\"d"}"#,
            r#"{"error":"bad key <redacted>"}"#,
        );
        check(key, "?key=sk-a%2Fb%2Bc%22d&x", "?key=<redacted>&x");
        // An excerpt cut inside the key, with or without its ellipsis.
        check(key, "chunk: sk-a/b…", "chunk: <redacted>…");
        check(key, "chunk: sk-a", "chunk: <redacted>");
        check(key, "chunk: sk-a\\/b+", "chunk: <redacted>");
        // Three characters are not enough to say; short keys are left alone.
        check(key, "chunk: sk-", "chunk: sk-");
        check("abc", "abc", "abc");
        check(key, "nothing here", "nothing here");
    }
}
