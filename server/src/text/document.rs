//! One open document: its text as a rope, the version the client last reported, its language,
//! and whether we still trust that our text matches the client's (sync state).

use ropey::Rope;

use super::edit::{replace_all, replace_chars};
use super::{ByteEdit, PositionEncoding, Range, range_to_chars};

/// One content change of a `didChange`, in plain types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextChange {
    /// The range to replace, in the text as left by the previous change; `None` replaces the
    /// whole text.
    pub range: Option<Range>,
    pub text: String,
}

/// Why a `didChange` was not applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SyncError {
    #[error("version {got} does not increase past {have}")]
    StaleVersion { have: i32, got: i32 },
    #[error(
        "document is out of sync since version {since}; waiting for the client to send the full text"
    )]
    OutOfSync { since: i32 },
}

/// An open document. Cloning is cheap: the rope is shared until one side edits it.
#[derive(Clone, Debug)]
pub struct Document {
    rope: Rope,
    version: i32,
    language_id: String,
    /// `Some(v)`: a change was refused after version `v`, so our text may differ from the
    /// client's; only a full-text change can bring it back.
    out_of_sync_since: Option<i32>,
}

impl Document {
    pub fn new(language_id: impl Into<String>, version: i32, text: &str) -> Self {
        Self {
            rope: Rope::from_str(text),
            version,
            language_id: language_id.into(),
            out_of_sync_since: None,
        }
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    /// The version of the text we hold: the last version whose changes we applied.
    pub fn version(&self) -> i32 {
        self.version
    }

    pub fn language_id(&self) -> &str {
        &self.language_id
    }

    pub fn is_in_sync(&self) -> bool {
        self.out_of_sync_since.is_none()
    }

    /// Marks the document out of sync after a change was lost before reaching it (one the
    /// transport could not decode). Returns whether it was in sync until now.
    pub fn mark_out_of_sync(&mut self) -> bool {
        let was_in_sync = self.out_of_sync_since.is_none();
        self.out_of_sync_since.get_or_insert(self.version);
        was_in_sync
    }

    /// The version after which a change was refused, while out of sync.
    pub fn out_of_sync_since(&self) -> Option<i32> {
        self.out_of_sync_since
    }

    /// Applies one didChange (all its content changes, in order). Returns the byte edits applied,
    /// in order, for the syntax tree.
    ///
    /// A change list holding a full-text change is applied from its last full-text change on,
    /// whatever its version: it says the whole text, so it brings the document back in sync, and
    /// its version becomes the document's even when lower (a client whose numbering went back
    /// is followed). Otherwise, a version that does not increase marks the document out of sync
    /// and applies nothing: we cannot know which text the changes were meant for, and applying
    /// them wrong silently is worse than waiting. While out of sync, incremental changes are
    /// refused with [`SyncError::OutOfSync`], whatever their version, so the caller warns only
    /// once. Ranges are clamped as [`range_to_chars`] documents, so an incremental change on an
    /// in-sync document always applies.
    pub fn apply_changes(
        &mut self,
        version: i32,
        changes: &[TextChange],
        enc: PositionEncoding,
    ) -> Result<Vec<ByteEdit>, SyncError> {
        // Changes before the last full-text change are overwritten by it, so skip them.
        let last_full = changes.iter().rposition(|change| change.range.is_none());
        let from = match (last_full, self.out_of_sync_since) {
            (Some(index), _) => index,
            (None, Some(since)) => return Err(SyncError::OutOfSync { since }),
            (None, None) if version <= self.version => {
                self.out_of_sync_since = Some(self.version);
                return Err(SyncError::StaleVersion {
                    have: self.version,
                    got: version,
                });
            }
            (None, None) => 0,
        };
        let edits = changes[from..]
            .iter()
            .map(|change| match change.range {
                None => replace_all(&mut self.rope, &change.text),
                Some(range) => {
                    let chars = range_to_chars(&self.rope, range, enc);
                    replace_chars(&mut self.rope, chars, &change.text)
                }
            })
            .collect();
        self.version = version;
        self.out_of_sync_since = None;
        Ok(edits)
    }
}
