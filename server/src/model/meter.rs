//! Counting tokens over many calls: a [`Meter`] sums what every call of a metered
//! [`ModelClient`](super::ModelClient) cost, as its endpoint reported it, or estimated (see
//! [`tokens`](super::tokens)) where the endpoint reported nothing.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::tokens::TokenEstimator;
use super::{ModelEvent, ModelRequest, Usage};

/// Tokens summed over calls, in OpenAI's terms: `prompt_tokens` counts the cached ones too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub prompt_tokens: u64,
    /// The cached part of `prompt_tokens`, summed over the calls whose endpoint said; `None`
    /// when none did.
    pub cached_prompt_tokens: Option<u64>,
    pub output_tokens: u64,
}

impl UsageTotals {
    pub fn add(&mut self, other: UsageTotals) {
        self.prompt_tokens += other.prompt_tokens;
        self.output_tokens += other.output_tokens;
        if let Some(cached) = other.cached_prompt_tokens {
            *self.cached_prompt_tokens.get_or_insert(0) += cached;
        }
    }
}

/// Sums the tokens of the calls made through clients metered by it
/// ([`ModelClient::metered`](super::ModelClient::metered)). Cheap to clone: clones share the sum.
#[derive(Clone, Debug, Default)]
pub struct Meter(Arc<Mutex<Tally>>);

#[derive(Debug, Default)]
struct Tally {
    /// Calls counted so far.
    calls: usize,
    totals: UsageTotals,
    /// Calls whose estimate is still being counted, off the async threads.
    estimating: Vec<JoinHandle<UsageTotals>>,
}

impl Meter {
    /// What the calls so far cost, their estimates counted; `None` when no call was counted
    /// (none was made, or none answered anything).
    pub async fn total(&self) -> Option<UsageTotals> {
        let estimating = std::mem::take(&mut self.0.lock().estimating);
        let mut estimated = UsageTotals::default();
        for estimate in estimating {
            if let Ok(totals) = estimate.await {
                estimated.add(totals);
            }
        }
        let mut tally = self.0.lock();
        tally.totals.add(estimated);
        (tally.calls > 0).then_some(tally.totals)
    }

    fn count(&self, totals: UsageTotals) {
        let mut tally = self.0.lock();
        tally.calls += 1;
        tally.totals.add(totals);
    }

    fn count_later(&self, estimate: JoinHandle<UsageTotals>) {
        let mut tally = self.0.lock();
        tally.calls += 1;
        tally.estimating.push(estimate);
    }
}

/// One call's share: watches its events go by and counts the call once, when it ends (or is
/// dropped). A call that answered nothing and reported nothing counts nothing: the endpoint
/// refused it or it never got there.
#[derive(Debug)]
pub(crate) struct CallMeter {
    meter: Meter,
    model: String,
    /// The request's text, for an estimate.
    prompt: String,
    /// What the model answered: its text and its tool calls.
    answer: String,
    reported: Option<Usage>,
    counted: bool,
}

impl CallMeter {
    pub(crate) fn new(meter: Meter, model: &str, request: &ModelRequest) -> Self {
        CallMeter {
            meter,
            model: model.to_owned(),
            prompt: request_text(request),
            answer: String::new(),
            reported: None,
            counted: false,
        }
    }

    pub(crate) fn observe(&mut self, event: &ModelEvent) {
        match event {
            ModelEvent::TextDelta(text) => self.answer.push_str(text),
            ModelEvent::ToolCall(call) => {
                self.answer.push_str(&call.name);
                self.answer.push_str(&call.arguments_text());
            }
            ModelEvent::Usage(usage) => self.reported = Some(*usage),
            ModelEvent::Finished { .. } | ModelEvent::Error(_) => self.count(),
        }
    }

    fn count(&mut self) {
        if self.counted {
            return;
        }
        self.counted = true;
        let reported = self.reported.unwrap_or_default();
        if let (Some(prompt), Some(output)) = (reported.input_tokens, reported.output_tokens) {
            self.meter.count(UsageTotals {
                prompt_tokens: prompt,
                cached_prompt_tokens: reported.cached_input_tokens,
                output_tokens: output,
            });
            return;
        }
        if self.reported.is_none() && self.answer.is_empty() {
            return;
        }
        let model = std::mem::take(&mut self.model);
        let prompt = std::mem::take(&mut self.prompt);
        let answer = std::mem::take(&mut self.answer);
        // Counting a long prompt's tokens is CPU work (and the vocabulary is built once per
        // process, in a few hundred milliseconds): off the async threads.
        let estimate = move || {
            let estimator = TokenEstimator::for_model(&model);
            let count = |text: &str| estimator.count_raw(text) as u64;
            UsageTotals {
                prompt_tokens: reported.input_tokens.unwrap_or_else(|| count(&prompt)),
                cached_prompt_tokens: reported.cached_input_tokens,
                output_tokens: reported.output_tokens.unwrap_or_else(|| count(&answer)),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => self.meter.count_later(runtime.spawn_blocking(estimate)),
            Err(_) => self.meter.count(estimate()),
        }
    }
}

impl Drop for CallMeter {
    /// A call its caller stopped reading (cancelled, or done with it) counts what it got.
    fn drop(&mut self) {
        self.count();
    }
}

/// Everything the request sends the model as text: the system prompt, the messages, their tool
/// calls, and the tools offered.
fn request_text(request: &ModelRequest) -> String {
    let mut text = request.system.clone().unwrap_or_default();
    for message in &request.messages {
        text.push('\n');
        text.push_str(&message.content);
        for call in &message.tool_calls {
            text.push('\n');
            text.push_str(&call.name);
            text.push_str(&call.arguments_text());
        }
    }
    for tool in &request.tools {
        text.push('\n');
        text.push_str(&tool.name);
        text.push_str(&tool.description);
        text.push_str(&tool.parameters.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FinishReason, Message, ModelError, Provider};

    fn usage(prompt: Option<u64>, cached: Option<u64>, output: Option<u64>) -> ModelEvent {
        ModelEvent::Usage(Usage {
            input_tokens: prompt,
            cached_input_tokens: cached,
            output_tokens: output,
        })
    }

    fn finished() -> ModelEvent {
        ModelEvent::Finished {
            reason: FinishReason::Stop,
        }
    }

    fn text(delta: &str) -> ModelEvent {
        ModelEvent::TextDelta(delta.to_owned())
    }

    fn cut() -> ModelEvent {
        ModelEvent::Error(ModelError::new(
            Provider::OpenAi,
            "http://x",
            crate::model::ErrorKind::Cut {
                detail: "gone".into(),
            },
        ))
    }

    /// The meter's total after one call per element, each a list of the events it saw (a call
    /// whose list ends without `Finished` or an error is dropped there).
    async fn total(calls: Vec<Vec<ModelEvent>>) -> Option<UsageTotals> {
        let meter = Meter::default();
        let request = ModelRequest {
            system: Some("You are terse.".into()),
            messages: vec![Message::user("Say hello world.")],
            ..ModelRequest::default()
        };
        for events in calls {
            let mut call = CallMeter::new(meter.clone(), "gpt-4o", &request);
            for event in &events {
                call.observe(event);
            }
        }
        meter.total().await
    }

    fn totals(prompt: u64, cached: Option<u64>, output: u64) -> Option<UsageTotals> {
        Some(UsageTotals {
            prompt_tokens: prompt,
            cached_prompt_tokens: cached,
            output_tokens: output,
        })
    }

    #[tokio::test]
    async fn calls_are_summed_as_reported_or_estimated() {
        let estimator = TokenEstimator::for_model("gpt-4o");
        let prompt = estimator.count_raw("You are terse.\nSay hello world.") as u64;
        let hello = estimator.count_raw("Hello, world!") as u64;
        let cases: Vec<(Vec<Vec<ModelEvent>>, Option<UsageTotals>)> = vec![
            (vec![], None),
            (
                vec![vec![text("a"), usage(Some(10), None, Some(2)), finished()]],
                totals(10, None, 2),
            ),
            // Cached tokens are summed over the calls that report them.
            (
                vec![
                    vec![text("a"), usage(Some(100), Some(64), Some(5)), finished()],
                    vec![text("b"), usage(Some(120), None, Some(7)), finished()],
                    vec![text("c"), usage(Some(130), Some(0), Some(1)), finished()],
                ],
                totals(350, Some(64), 13),
            ),
            // No usage: the request's text and the answer, counted.
            (
                vec![vec![text("Hello, "), text("world!"), finished()]],
                totals(prompt, None, hello),
            ),
            // Part of it reported: the rest estimated.
            (
                vec![vec![
                    text("Hello, world!"),
                    usage(Some(40), Some(32), None),
                    finished(),
                ]],
                totals(40, Some(32), hello),
            ),
            (
                vec![
                    vec![text("a"), usage(Some(10), None, Some(2)), finished()],
                    vec![text("Hello, world!"), finished()],
                ],
                totals(10 + prompt, None, 2 + hello),
            ),
            // Cut or dropped after some text: what came is counted.
            (
                vec![vec![text("Hello, world!"), cut()]],
                totals(prompt, None, hello),
            ),
            (
                vec![vec![text("Hello, world!")]],
                totals(prompt, None, hello),
            ),
            // Refused or cancelled before any answer: nothing.
            (vec![vec![cut()]], None),
            (vec![vec![]], None),
            // Counted once, whatever follows the end.
            (
                vec![vec![
                    text("a"),
                    usage(Some(10), None, Some(2)),
                    finished(),
                    cut(),
                ]],
                totals(10, None, 2),
            ),
        ];
        for (calls, expected) in cases {
            let said = format!("{calls:?}");
            assert_eq!(total(calls).await, expected, "{said}");
        }
    }
}
