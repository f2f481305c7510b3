//! Token estimates (tiktoken's bundled vocabularies), corrected by the usage providers report.

use tiktoken_rs::CoreBPE;

/// Counts tokens the way the model probably does, to fit prompts in its window.
///
/// OpenAI models are counted with their own vocabulary; others with `o200k_base`, which is
/// close enough once [`TokenEstimator::observe`] has scaled it by what the provider reported.
pub struct TokenEstimator {
    bpe: &'static CoreBPE,
    /// Reported input tokens per estimated token, learned from usage.
    scale: f64,
}

impl std::fmt::Debug for TokenEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEstimator")
            .field("scale", &self.scale)
            .finish_non_exhaustive()
    }
}

impl TokenEstimator {
    /// The estimator for a model name (`gpt-4o`, `claude-…`, `qwen2.5-coder:7b`…).
    pub fn for_model(model: &str) -> Self {
        let bpe = tiktoken_rs::bpe_for_model(model)
            .unwrap_or_else(|_| tiktoken_rs::o200k_base_singleton());
        TokenEstimator { bpe, scale: 1.0 }
    }

    /// Raw tokens of `text` in the estimator's vocabulary.
    pub fn count_raw(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// Estimated tokens of `text`, scaled by what the provider has reported so far.
    pub fn estimate(&self, text: &str) -> usize {
        scale(self.count_raw(text), self.scale)
    }

    /// Learns from a provider's usage: `estimated` raw tokens were reported as `reported`.
    /// The scale moves halfway each time, so one odd report cannot throw it far off.
    pub fn observe(&mut self, estimated: usize, reported: u64) {
        if estimated == 0 || reported == 0 {
            return;
        }
        let ratio = (reported as f64 / estimated as f64).clamp(0.25, 4.0);
        self.scale = (self.scale + ratio) / 2.0;
    }

    /// The current correction factor (1.0 until usage has been observed).
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

fn scale(raw: usize, by: f64) -> usize {
    (raw as f64 * by).ceil() as usize
}

/// The model's context window in tokens, when it is known.
pub fn context_window(model: &str) -> Option<usize> {
    if model.starts_with("claude") {
        return Some(200_000);
    }
    if model.starts_with("gpt") || model.starts_with('o') {
        return tiktoken_rs::model::get_context_size(model);
    }
    None
}
