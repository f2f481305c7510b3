//! What became of inline suggestions, kept in the store beside the jobs' signals: the
//! suggestion, and whether it was accepted (whole or partly) or dismissed.

use rusqlite::params;

use super::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionFate {
    Accepted,
    /// The first part of it was accepted (a word, a line).
    Partly,
    Dismissed,
}

impl CompletionFate {
    pub fn as_str(self) -> &'static str {
        match self {
            CompletionFate::Accepted => "accepted",
            CompletionFate::Partly => "partly",
            CompletionFate::Dismissed => "dismissed",
        }
    }
}

/// One suggestion whose fate is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionRecord {
    pub language: Option<String>,
    pub path: Option<String>,
    pub suggestion: String,
    pub fate: CompletionFate,
    /// The part accepted, when only part was.
    pub accepted_text: Option<String>,
}

impl Store {
    /// Keeps a suggestion's fate; off the caller's path, like every write.
    pub fn record_completion(&self, record: CompletionRecord) {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO completions (language, path, suggestion, fate, accepted_text)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    record.language,
                    record.path,
                    record.suggestion,
                    record.fate.as_str(),
                    record.accepted_text
                ],
            )
            .map(|_| ())
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{CompletionFate, CompletionRecord};
    use crate::learn::Store;

    #[tokio::test]
    async fn fates_are_kept_and_counted() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::open(dir.path().join("w.sqlite3"), Box::new(|_| {}));
        for fate in [CompletionFate::Accepted, CompletionFate::Dismissed] {
            store.record_completion(CompletionRecord {
                language: Some("rust".into()),
                path: Some("src/main.rs".into()),
                suggestion: "x * 2".into(),
                fate,
                accepted_text: None,
            });
        }
        let wait = Duration::from_secs(5);
        assert!(store.flush(wait).await);
        assert_eq!(store.counts(wait).await.map(|c| c.completions), Some(2));
    }
}
