//! Spacing a job's edits for an editor that prints a line for every edit it applies (Emacs'
//! eglot prints two): the gap between two edits doubles from [`FIRST_GAP`] up to [`MOST_GAP`],
//! each edit carrying all the code streamed meanwhile, so that a job prints a screenful at most
//! (a 10 s stream, 7 edits; a minute, 21). Other editors get every edit as soon as it is due.

use std::time::Duration;

use tokio::time::Instant;

/// The gap after a job's first edit.
const FIRST_GAP: Duration = Duration::from_millis(250);
/// The widest gap.
const MOST_GAP: Duration = Duration::from_secs(4);

#[derive(Debug)]
pub(super) struct Pace {
    spaced: bool,
    sent: u32,
    last: Option<Instant>,
}

impl Pace {
    /// `spaced`: the editor prints a line per edit.
    pub fn new(spaced: bool) -> Self {
        Self {
            spaced,
            sent: 0,
            last: None,
        }
    }

    /// When the next edit may go, if not now.
    pub fn not_before(&self) -> Option<Instant> {
        let last = self.last.filter(|_| self.spaced)?;
        let at = last + self.gap();
        (Instant::now() < at).then_some(at)
    }

    /// An edit went out.
    pub fn sent(&mut self) {
        self.sent += 1;
        self.last = Some(Instant::now());
    }

    /// The gap after the edits sent so far.
    fn gap(&self) -> Duration {
        let doublings = self.sent.saturating_sub(1).min(8);
        (FIRST_GAP * 2u32.pow(doublings)).min(MOST_GAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gaps_double_up_to_the_widest() {
        let mut pace = Pace::new(true);
        assert_eq!(pace.not_before(), None, "the first edit goes at once");
        let mut gaps = Vec::new();
        for _ in 0..7 {
            pace.sent();
            let at = pace.not_before().expect("a gap");
            gaps.push((at - Instant::now()).as_millis());
            tokio::time::sleep_until(at).await;
            assert_eq!(pace.not_before(), None);
        }
        assert_eq!(gaps, [250, 500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_editor_that_prints_nothing_is_not_paced() {
        let mut pace = Pace::new(false);
        pace.sent();
        pace.sent();
        assert_eq!(pace.not_before(), None);
    }
}
