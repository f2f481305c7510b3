//! Test-only simulated editors (VS Code, Neovim, ALE, a full-sync client), and (`harness`) a
//! harness that runs a [`StreamSession`](super::StreamSession) against one, with the user's
//! typing replayed on the side.
//!
//! Time is explicit: the test decides when the editor receives the server's edit
//! ([`Harness::deliver`]), when the server reads the editor's next message
//! ([`Harness::server_step`]) and when a debounce fires ([`Harness::flush`]). The user
//! types straight into the editor's buffer at any point in between. [`Harness::wait`] lets
//! the job engine's deadlines pass (a refusal retried, an answer timed out) once the editor
//! has nothing more to say.
//!
//! Two flavors apply edits as ALE and kak-lsp really do, at their lines and columns whatever
//! version they name ([`Flavor::AleLint`], [`Flavor::Kak`]); [`Flavor::Ale`] is ALE with the
//! version checked, which drops a stale edit.

use std::collections::VecDeque;

use ropey::Rope;

use super::diff::{common_affixes, minimal_edits, to_sequential};
use super::echo::SentEdit;
use super::misapplied::{self, clamped};
use super::{CharChange, OutgoingEdit, apply_change};

mod harness;
pub(crate) use harness::{Harness, Side, UserEdit};

/// How many edits that fit a simulated editor declines in a row, at most, while its text stays
/// the same (see [`SimEditor::declines`]).
pub(crate) const MAX_DECLINES_IN_A_ROW: u32 = 2;

/// How many unexplained refusals in a row fail a job: the job engine's rule
/// (`agent::engine::converge`), which [`Harness::wait`] applies.
pub(crate) const MAX_REFUSALS: u32 = 3;

/// How a simulated editor treats the server's versioned edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Refuses an edit whose version is not the buffer's (`applied: false`), reports
    /// every change at once, exactly as applied.
    VsCode,
    /// Drops an edit older than the buffer yet answers `applied: true`; reports changes
    /// in debounced batches (when [`Harness::flush`] runs) with changedtick versions that
    /// jump; reports a server edit as a minimal diff of the buffer, shaped by
    /// [`EchoStyle`].
    Neovim(EchoStyle),
    /// Applies an edit at the buffer's version and silently drops a stale one, reports
    /// changes at once, exactly as applied, and never answers.
    Ale,
    /// A client with full-document sync: debounced, refuses a stale edit (`applied:
    /// false`), and each `didChange` carries the whole text, which the LSP layer turns
    /// into a diff in document order ([`minimal_edits`]), so the echo is neither first
    /// nor separate from the user's typing.
    FullSync,
    /// kak-lsp: applies every edit at the lines and columns it names, whatever its version,
    /// answers `applied: true`, and reports the whole text at once after an edit it applied,
    /// and after the user's changes only when the debounce fires.
    Kak,
    /// Vim's ALE as it is: applies every edit at its lines and columns, whatever its version,
    /// never answers, and reports the whole text only when it lints (the debounce).
    AleLint,
    /// Emacs' eglot: refuses an edit whose version is not the buffer's with an error naming its
    /// version, applies the others at their lines and columns (so an edit sent blind lands
    /// among the user's unreported typing) and answers them, counts one version per change,
    /// and reports its changes (the server's edits as applied, and the user's, in order) only
    /// when the user pauses (the debounce).
    Eglot,
}

impl Flavor {
    /// Applies edits at their lines and columns whatever version they name.
    pub(crate) fn ignores_versions(self) -> bool {
        matches!(self, Flavor::Kak | Flavor::AleLint)
    }
}

/// Where an edit goes, in lines and columns: its start and its end.
type Placed = ((usize, usize), (usize, usize));

/// How the simulated Neovim reports a server edit it applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EchoStyle {
    /// One change, common prefix trimmed first (an insertion slides to the right, even
    /// past the region's end).
    PrefixFirst,
    /// One change, common suffix trimmed first (an insertion slides to the left).
    SuffixFirst,
    /// Myers' diff, possibly several changes.
    Split,
}

/// A message from the editor to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToServer {
    DidChange {
        changes: Vec<CharChange>,
        version: i32,
        /// Full sync: the report carried the whole text; `changes` are a diff of it.
        whole: bool,
    },
    Answer {
        id: u64,
        applied: bool,
    },
    /// eglot: the edit refused with an error that names the buffer's version.
    Stale {
        id: u64,
        have: i32,
    },
}

/// One simulated editor buffer and its two wires.
#[derive(Debug, Clone)]
pub(crate) struct SimEditor {
    pub flavor: Flavor,
    pub text: Rope,
    /// The buffer's version (Neovim: its changedtick).
    pub version: i32,
    /// Neovim: report the user's own changes as diffs too, as the real one does (off by
    /// default: a diff can make the user's typing beside the region indistinguishable
    /// from typing inside it, which the random cases would then trip over).
    pub user_edits_as_diffs: bool,
    /// VS Code, full sync: how many more edits that fit the editor refuses anyway, for
    /// reasons of its own (a buffer read-only for a moment, another extension vetoing the
    /// change), answering `applied: false` with no newer text to explain it. Never more than
    /// [`MAX_DECLINES_IN_A_ROW`] while the text stays the same: an editor that goes on
    /// refusing is one the job engine rightly gives up on.
    pub declines: u32,
    /// kak-lsp: answer an edit before applying it, so that the report of the user's typing
    /// meanwhile goes out between the two (as the real one does when the user types on).
    pub answers_first: bool,
    /// Edits declined since the buffer last changed.
    declined_in_a_row: u32,
    /// Edits declined in all.
    pub declined: u32,
    /// Neovim: changes not reported yet.
    pending: Vec<CharChange>,
    /// Full sync: the text as last reported, and whether it changed since.
    reported: String,
    dirty: bool,
    /// Full sync: a server edit was applied since the last report, so the next one diffs its
    /// echo together with whatever the user typed meanwhile.
    echo_unreported: bool,
    /// Edits the server sent that the editor has not processed yet, with the lines and
    /// columns they name (in the text the server computed them against).
    inbox: VecDeque<(OutgoingEdit, Placed, Rope)>,
    /// Messages the editor sent that the server has not read yet.
    outbox: VecDeque<ToServer>,
}

impl SimEditor {
    pub fn new(flavor: Flavor, text: &str, version: i32) -> Self {
        Self {
            flavor,
            text: Rope::from_str(text),
            version,
            user_edits_as_diffs: false,
            declines: 0,
            answers_first: false,
            declined_in_a_row: 0,
            declined: 0,
            pending: Vec::new(),
            reported: text.to_string(),
            dirty: false,
            echo_unreported: false,
            inbox: VecDeque::new(),
            outbox: VecDeque::new(),
        }
    }

    /// The server sends an edit, computed against `text`; the editor handles it on
    /// [`Self::deliver`].
    pub fn send(&mut self, edit: OutgoingEdit, text: &Rope) {
        let sent = SentEdit {
            start: edit.start,
            end: edit.end,
            text: &edit.text,
        };
        let placed = misapplied::Placed::of(text, &sent);
        let placed = (placed.start, placed.end);
        self.inbox.push_back((edit, placed, text.clone()));
    }

    /// How many edits the server sent that the editor has not handled yet.
    pub fn undelivered(&self) -> usize {
        self.inbox.len()
    }

    /// Full sync: the next report holds the echo of a server edit.
    pub fn echo_unreported(&self) -> bool {
        self.echo_unreported
    }

    /// Neovim, full sync: changes wait for the debounce.
    pub fn unreported(&self) -> bool {
        self.dirty || !self.pending.is_empty()
    }

    /// Whether the editor sent messages the server has not read.
    pub fn has_unread(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The oldest message the editor sent that the server has not read.
    pub fn next_message(&mut self) -> Option<ToServer> {
        self.outbox.pop_front()
    }

    /// The user's own change (in the buffer's current char offsets).
    pub fn user_change(&mut self, change: CharChange) {
        match self.flavor {
            Flavor::Neovim(style) if self.user_edits_as_diffs => {
                let before = self.text.to_string();
                apply_change(&mut self.text, &change);
                let changes = echo_as_diff(&before, &self.text.to_string(), style);
                self.report(changes);
            }
            _ => {
                apply_change(&mut self.text, &change);
                self.report(vec![change]);
            }
        }
    }

    fn report(&mut self, changes: Vec<CharChange>) {
        if changes.is_empty() {
            return;
        }
        self.declined_in_a_row = 0;
        match self.flavor {
            Flavor::Kak | Flavor::AleLint => {
                self.version += 1;
                self.dirty = true;
            }
            Flavor::VsCode | Flavor::Ale => {
                self.version += 1;
                self.outbox.push_back(ToServer::DidChange {
                    changes,
                    version: self.version,
                    whole: false,
                });
            }
            Flavor::Neovim(_) => {
                // changedtick moves by more than one for some changes.
                let jump = 1 + changes
                    .iter()
                    .map(|c| c.text.len() + c.old_end)
                    .sum::<usize>()
                    % 3;
                self.version += jump as i32;
                self.pending.extend(changes);
            }
            Flavor::FullSync => {
                self.version += 1;
                self.dirty = true;
            }
            Flavor::Eglot => {
                self.version += changes.len() as i32;
                self.pending.extend(changes);
            }
        }
    }

    /// The debounce timer fires (Neovim, full sync). Whether anything was sent.
    pub fn flush(&mut self) -> bool {
        if self.flavor.ignores_versions() && self.dirty {
            // It handles the edits it received before it reports: an edit that crosses a report
            // of newer text on the wire, before any answer, lands late, and nothing tells it
            // from one that landed where it changed nothing (left out; see
            // `StreamSession::lands_late`). kak-lsp's own lag is in: see `answers_first`.
            while !self.inbox.is_empty() {
                self.deliver();
            }
        }
        self.report_whole()
    }

    /// Full sync, and editors that ignore versions: the whole text goes out if it changed since
    /// the last report; Neovim: the pending changes. Whether anything was sent.
    fn report_whole(&mut self) -> bool {
        if self.dirty {
            self.dirty = false;
            self.echo_unreported = false;
            let text = self.text.to_string();
            let changes = to_sequential(&minimal_edits(&self.reported, &text));
            self.reported = text;
            self.outbox.push_back(ToServer::DidChange {
                changes,
                version: self.version,
                whole: true,
            });
            return true;
        }
        if self.pending.is_empty() {
            return false;
        }
        let changes = std::mem::take(&mut self.pending);
        self.outbox.push_back(ToServer::DidChange {
            changes,
            version: self.version,
            whole: false,
        });
        true
    }

    /// The editor handles the oldest edit the server sent. Whether there was one.
    pub fn deliver(&mut self) -> bool {
        let Some((edit, placed, view)) = self.inbox.pop_front() else {
            return false;
        };
        if self.flavor.ignores_versions() {
            if self.flavor == Flavor::Kak && self.answers_first {
                // kak-lsp answers at once, and Kakoune applies the edit only after the keys it
                // already had: their report goes out first, without the edit.
                self.outbox.push_back(ToServer::Answer {
                    id: edit.id,
                    applied: true,
                });
                self.report_whole();
            }
            let at = |(line, column): (usize, usize)| {
                let line = line.min(self.text.len_lines() - 1);
                clamped(&self.text, (line, column)).unwrap_or(self.text.len_chars())
            };
            let (start, end) = (at(placed.0), at(placed.1));
            apply_change(
                &mut self.text,
                &CharChange::new(start, end.max(start), edit.text.clone()),
            );
            self.version += 1;
            if self.flavor == Flavor::Kak {
                if !self.answers_first {
                    self.outbox.push_back(ToServer::Answer {
                        id: edit.id,
                        applied: true,
                    });
                }
                self.dirty = true;
                self.report_whole();
            } else {
                self.dirty = true;
            }
            return true;
        }
        let fits = edit.version == self.version
            && edit.start <= edit.end
            && edit.end <= self.text.len_chars();
        match self.flavor {
            Flavor::VsCode | Flavor::FullSync => {
                let decline =
                    fits && self.declines > 0 && self.declined_in_a_row < MAX_DECLINES_IN_A_ROW;
                if decline {
                    self.declines -= 1;
                    self.declined_in_a_row += 1;
                    self.declined += 1;
                } else if fits {
                    self.apply_server_edit(&edit);
                }
                self.outbox.push_back(ToServer::Answer {
                    id: edit.id,
                    applied: fits && !decline,
                });
            }
            Flavor::Neovim(_) => {
                if fits {
                    self.apply_server_edit(&edit);
                }
                self.outbox.push_back(ToServer::Answer {
                    id: edit.id,
                    applied: true,
                });
            }
            Flavor::Ale => {
                if fits {
                    self.apply_server_edit(&edit);
                }
            }
            Flavor::Eglot => {
                // At its lines and columns, which name the text the edit was computed against:
                // an edit sent blind (see the session's `blind` module) lands among the user's
                // unreported changes.
                if edit.version == self.version {
                    let at = |pos| clamped(&self.text, pos).unwrap_or(self.text.len_chars());
                    let (start, end) = if view == self.text {
                        // The same text: the same place (lines and columns cannot name a place
                        // between the two chars of a `\r\n`).
                        (edit.start, edit.end)
                    } else {
                        (at(placed.0), at(placed.1))
                    };
                    self.apply_server_edit(&OutgoingEdit {
                        start,
                        end: end.max(start),
                        ..edit.clone()
                    });
                    self.outbox.push_back(ToServer::Answer {
                        id: edit.id,
                        applied: true,
                    });
                } else {
                    self.outbox.push_back(ToServer::Stale {
                        id: edit.id,
                        have: self.version,
                    });
                }
            }
            Flavor::Kak | Flavor::AleLint => unreachable!("applied at their lines above"),
        }
        true
    }

    fn apply_server_edit(&mut self, edit: &OutgoingEdit) {
        let change = CharChange::new(edit.start, edit.end, edit.text.clone());
        let before = self.text.to_string();
        apply_change(&mut self.text, &change);
        let changes = match self.flavor {
            Flavor::Neovim(style) => echo_as_diff(&before, &self.text.to_string(), style),
            _ => vec![change],
        };
        self.echo_unreported = self.flavor == Flavor::FullSync;
        self.report(changes);
    }
}

/// A server edit as Neovim reports it: a diff of the whole buffer, which knows nothing
/// of the edit's range.
fn echo_as_diff(old: &str, new: &str, style: EchoStyle) -> Vec<CharChange> {
    match style {
        EchoStyle::Split => to_sequential(&minimal_edits(old, new)),
        EchoStyle::PrefixFirst => vec![one_change(old, new)],
        EchoStyle::SuffixFirst => {
            let rev = |s: &str| s.chars().rev().collect::<String>();
            let c = one_change(&rev(old), &rev(new));
            let len = old.chars().count();
            vec![CharChange::new(
                len - c.old_end,
                len - c.start,
                rev(&c.text),
            )]
        }
    }
}

/// The single change that replaces what is left between the common prefix and suffix.
fn one_change(old: &str, new: &str) -> CharChange {
    let old: Vec<char> = old.chars().collect();
    let new: Vec<char> = new.chars().collect();
    let (prefix, suffix) = common_affixes(&old, &new);
    CharChange::new(
        prefix,
        old.len() - suffix,
        new[prefix..new.len() - suffix].iter().collect::<String>(),
    )
}
