//! A task's conversation with the model: the bounded loop of model turns and tool calls (it
//! ends when the model answers without a call, at the step limit, at the time limit, or when
//! cancelled), with the conversation kept within a token budget by shortening the oldest tool
//! results first. What the tools do is the caller's [`TaskTools`].

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::model::tokens::TokenEstimator;
use crate::model::{Message, ModelClient, ModelRequest, Role, ToolCall, ToolSpec};

/// What a task may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Model turns that call tools, at most (`agent.maxSteps`).
    pub max_steps: u32,
    /// The whole task, at most (`agent.timeoutMs`).
    pub timeout: Duration,
    /// Tokens the conversation may hold when it is sent (the system prompt included).
    pub budget_tokens: usize,
}

/// What a tool did, for the model to read: its output, or what went wrong.
pub type ToolOutput = Result<String, String>;

/// The tools a task offers, and what calling one does.
pub trait TaskTools: Sync {
    fn specs(&self) -> Vec<ToolSpec>;
    fn call(&self, call: &ToolCall) -> impl Future<Output = ToolOutput> + Send;
}

/// One step, as it is reported (`$/progress`, `tandem/jobStep`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based: the model turn it belongs to.
    pub step: u32,
    pub tool: String,
    /// The call's `path` argument, when it has one.
    pub path: Option<String>,
    /// Its outcome in a few words.
    pub summary: String,
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskEnd {
    /// The model answered without calling a tool: its summary.
    Done(String),
    /// `max_steps` turns called tools and the model still was not done.
    StepLimit(u32),
    TimedOut(Duration),
    Cancelled,
    /// The model could not be asked (the error in words).
    Failed(String),
}

/// Runs the loop: the model gets `system`, the conversation so far and the tools' specs; every
/// call it makes is run, in order, and its output sent back; `on_step` hears of each.
pub async fn run<T: TaskTools>(
    client: &ModelClient,
    system: &str,
    first: Message,
    tools: &T,
    limits: Limits,
    cancel: &CancellationToken,
    mut on_step: impl FnMut(&Step),
) -> TaskEnd {
    let work = async {
        let mut messages = vec![first];
        // The token counter, built off the async threads (its vocabulary takes a few hundred
        // milliseconds, once per process) and only waited for once the conversation may be
        // over budget: a token is at least a byte, so until the bytes exceed the budget the
        // tokens cannot.
        let model = client.endpoint().model.clone();
        let mut building = Some(tokio::task::spawn_blocking(move || {
            TokenEstimator::for_model(&model)
        }));
        let mut counter: Option<(TokenEstimator, usize)> = None;
        // Each message's tokens, counted once: counting the whole conversation every turn made
        // a long task's turns slower and slower.
        let mut costs = Vec::new();
        let specs = tools.specs();
        for step in 1..=limits.max_steps.saturating_add(1) {
            let bytes = system.len() + messages.iter().map(|m| m.content.len() + 8).sum::<usize>();
            if bytes > limits.budget_tokens {
                if counter.is_none() {
                    let built = match building.take() {
                        Some(handle) => handle.await.ok(),
                        None => None,
                    };
                    let estimator = built.unwrap_or_else(|| TokenEstimator::for_model(""));
                    let budget = limits
                        .budget_tokens
                        .saturating_sub(estimator.estimate(system));
                    counter = Some((estimator, budget));
                }
                if let Some((estimator, budget)) = &counter {
                    fit(&mut messages, &mut costs, *budget, estimator);
                }
            }
            let request = ModelRequest {
                system: Some(system.to_owned()),
                messages: messages.clone(),
                max_output_tokens: None,
                tools: specs.clone(),
                prediction: None,
            };
            let answer = match client.stream(&request, cancel.clone()).complete().await {
                Ok(answer) => answer,
                Err(error) if cancel.is_cancelled() => {
                    tracing::debug!("task cancelled during a model turn: {error}");
                    return TaskEnd::Cancelled;
                }
                Err(error) => return TaskEnd::Failed(error.to_string()),
            };
            if answer.tool_calls.is_empty() {
                return TaskEnd::Done(answer.text);
            }
            if step > limits.max_steps {
                return TaskEnd::StepLimit(limits.max_steps);
            }
            messages.push(Message::assistant_calls(
                answer.text,
                answer.tool_calls.clone(),
            ));
            for call in &answer.tool_calls {
                if cancel.is_cancelled() {
                    return TaskEnd::Cancelled;
                }
                let output = match &call.arguments {
                    Ok(_) => tools.call(call).await,
                    Err(bad) => Err(bad.to_string()),
                };
                on_step(&Step {
                    step,
                    tool: call.name.clone(),
                    path: call
                        .arguments
                        .as_ref()
                        .ok()
                        .and_then(|a| a.get("path"))
                        .and_then(|p| p.as_str())
                        .map(str::to_owned),
                    summary: summary(&output),
                });
                let (text, is_error) = match output {
                    Ok(text) => (text, false),
                    Err(text) => (text, true),
                };
                messages.push(Message::tool_result(call, text, is_error));
            }
        }
        TaskEnd::StepLimit(limits.max_steps)
    };
    tokio::select! {
        end = work => end,
        () = tokio::time::sleep(limits.timeout) => TaskEnd::TimedOut(limits.timeout),
        () = cancel.cancelled() => TaskEnd::Cancelled,
    }
}

/// A tool's outcome in a few words: its first line, or the error's.
fn summary(output: &ToolOutput) -> String {
    let (text, error) = match output {
        Ok(text) => (text.as_str(), false),
        Err(text) => (text.as_str(), true),
    };
    let line = text.lines().next().unwrap_or_default();
    let mut cut: String = line.chars().take(80).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    if error { format!("failed: {cut}") } else { cut }
}

/// What a shortened tool result says instead of its text.
fn shortened(lines: usize) -> String {
    format!("[output of {lines} lines dropped to save room; call the tool again if it is needed]")
}

/// Keeps the conversation within `budget` tokens: the oldest tool results are shortened first,
/// never the first message (the task) nor the latest turn's results. `costs` holds the tokens
/// of the messages counted so far (the conversation only grows, or is shortened here); the new
/// ones are counted and added.
pub fn fit(
    messages: &mut [Message],
    costs: &mut Vec<usize>,
    budget: usize,
    estimator: &TokenEstimator,
) {
    let cost = |m: &Message| estimator.estimate(&m.content) + 8;
    costs.truncate(messages.len());
    while costs.len() < messages.len() {
        costs.push(cost(&messages[costs.len()]));
    }
    let mut total: usize = costs.iter().sum();
    if total <= budget {
        return;
    }
    let latest_turn = messages
        .iter()
        .rposition(|m| m.role == Role::Assistant)
        .unwrap_or(messages.len());
    for (message, counted) in messages
        .iter_mut()
        .zip(costs.iter_mut())
        .take(latest_turn)
        .skip(1)
    {
        if total <= budget {
            break;
        }
        if message.role != Role::Tool || message.content.starts_with("[output of ") {
            continue;
        }
        message.content = shortened(message.content.lines().count());
        let now = cost(message);
        total = total - *counted + now;
        *counted = now;
    }
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
