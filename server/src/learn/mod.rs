//! What Tandem learns from a workspace, kept on this machine only: one SQLite store per
//! workspace (`store`), where it lives (`location`), its schema (`schema`), and the learning
//! loop's rows in it (`evidence`).
//!
//! The store keeps hover explanations, so they survive a restart, and the learning loop's rows
//! (`evidence`): each job's signal, and the rules proposed from the corrections.

mod completions;
mod evidence;
mod location;
mod schema;
pub mod store;

pub use completions::{CompletionFate, CompletionRecord};
pub use evidence::{Decision, Evidence, Proposal, StoreSignals, StoredCorrection};
pub use location::database_path;
pub use store::{Failure, OnFailure, Store, StoreCounts, StoreState};

/// SHA-256 of a text: a key that stays the same across builds, versions and machines (the
/// standard library's hashers promise none of that), so a file written by one Tandem is read
/// by the next. `ring` is already built for TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StableHash([u8; 32]);

impl StableHash {
    pub fn of(bytes: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let mut out = [0; 32];
        out.copy_from_slice(digest.as_ref());
        StableHash(out)
    }

    /// Lower-case hex, all 64 digits.
    pub fn hex(&self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::StableHash;

    #[test]
    fn the_hash_is_sha256_and_so_the_same_in_every_build() {
        assert_eq!(
            StableHash::of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(StableHash::of(b"fn a() {}"), StableHash::of(b"fn a() { }"));
    }
}
