//! A review's findings, kept per document as regions that follow the user's edits: a finding
//! moves with the text around it and is dropped once the text it is about is edited.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use ropey::Rope;

use super::review::{Finding, Severity};
use crate::edits::{CharChange, Rebased, Region, rebase_over};
use crate::workspace::DocUri;

/// One finding, anchored in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub id: u64,
    /// The lines the finding is about, whole (from the first line's start to the last line's end,
    /// its line end included), in chars.
    pub region: Region,
    pub severity: Severity,
    pub message: String,
    pub replacement: Option<String>,
    /// The lines' text when the review found it.
    pub lines: String,
}

#[derive(Default)]
pub struct Findings {
    next: AtomicU64,
    by_doc: Mutex<HashMap<DocUri, Vec<Stored>>>,
}

impl Findings {
    /// Replaces the document's findings with those of a new review of `rope`.
    pub fn replace(&self, uri: &DocUri, rope: &Rope, findings: Vec<Finding>) -> Vec<Stored> {
        let lines = rope.len_lines();
        let stored: Vec<Stored> = findings
            .into_iter()
            .map(|f| {
                let first = (f.start_line as usize)
                    .saturating_sub(1)
                    .min(lines.saturating_sub(1));
                let last = (f.end_line as usize)
                    .saturating_sub(1)
                    .clamp(first, lines.saturating_sub(1));
                let start = rope.line_to_char(first);
                let end = rope.line_to_char((last + 1).min(lines));
                let mut replacement = f.replacement;
                let text_then = rope.slice(start..end).to_string();
                // A replacement of whole lines ends with a line end when the lines did.
                if let Some(text) = replacement.as_mut()
                    && text_then.ends_with('\n')
                    && !text.ends_with('\n')
                {
                    text.push('\n');
                }
                Stored {
                    id: self.next.fetch_add(1, Ordering::Relaxed) + 1,
                    region: Region::new(start, end),
                    severity: f.severity,
                    message: f.message,
                    replacement,
                    lines: text_then,
                }
            })
            .collect();
        self.by_doc.lock().insert(uri.clone(), stored.clone());
        stored
    }

    /// Follows one applied `didChange`. Returns the findings it dropped, whose text the user
    /// edited (fixed, as far as anyone can tell).
    pub fn on_did_change(&self, uri: &DocUri, changes: &[CharChange]) -> Vec<Stored> {
        let mut by_doc = self.by_doc.lock();
        let Some(list) = by_doc.get_mut(uri) else {
            return Vec::new();
        };
        let mut dropped = Vec::new();
        list.retain_mut(|finding| {
            for change in changes {
                match rebase_over(finding.region, change) {
                    Rebased::Moved(region) => finding.region = region,
                    Rebased::Inside => {
                        dropped.push(finding.clone());
                        return false;
                    }
                }
            }
            true
        });
        dropped
    }

    pub fn of(&self, uri: &DocUri) -> Vec<Stored> {
        self.by_doc.lock().get(uri).cloned().unwrap_or_default()
    }

    /// Removes one finding; returns it, when it was there.
    pub fn dismiss(&self, uri: &DocUri, id: u64) -> Option<Stored> {
        let mut by_doc = self.by_doc.lock();
        let list = by_doc.get_mut(uri)?;
        let at = list.iter().position(|f| f.id == id)?;
        Some(list.remove(at))
    }

    pub fn forget(&self, uri: &DocUri) {
        self.by_doc.lock().remove(uri);
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::Findings;
    use crate::agent::review::{Finding, Severity};
    use crate::edits::CharChange;
    use crate::workspace::DocUri;

    fn finding(start: u32, end: u32) -> Finding {
        Finding {
            start_line: start,
            end_line: end,
            severity: Severity::Warning,
            message: "m".into(),
            replacement: Some("x".into()),
        }
    }

    #[test]
    fn findings_follow_edits_and_go_when_their_text_is_edited() {
        let findings = Findings::default();
        let uri = DocUri::from("file:///a.rs");
        let rope = Rope::from_str("a\nb\nc\nd\n");
        let stored = findings.replace(&uri, &rope, vec![finding(2, 2), finding(4, 4)]);
        assert_eq!((stored[0].region.start, stored[0].region.end), (2, 4));
        assert_eq!(stored[0].replacement.as_deref(), Some("x\n"));
        // Typing above moves both.
        assert!(
            findings
                .on_did_change(&uri, &[CharChange::new(0, 0, "zz")])
                .is_empty()
        );
        let now = findings.of(&uri);
        assert_eq!((now[0].region.start, now[1].region.start), (4, 8));
        // Editing the text of the first drops it.
        let fixed = findings.on_did_change(&uri, &[CharChange::new(4, 5, "B")]);
        assert_eq!(fixed.len(), 1);
        assert_eq!(findings.of(&uri).len(), 1);
        assert_eq!(
            findings.dismiss(&uri, now[1].id).map(|f| f.id),
            Some(now[1].id)
        );
        assert!(findings.of(&uri).is_empty());
    }
}
