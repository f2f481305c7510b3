//! Fill-in-the-middle from a chat model: a prompt that shows the file with a cursor and asks for what goes there, and the answer's code taken out of a fence.

use crate::model::{Message, ModelRequest};

use super::FimRequest;

/// Marks the cursor in the text shown to a chat model.
pub const CURSOR: &str = "<|cursor|>";

const SYSTEM: &str = "You complete code at the cursor. You are shown a file with the cursor \
marked as <|cursor|>. Reply with exactly the text to insert at the cursor and nothing else: no \
explanation, no code fence, no repetition of the text before or after the cursor. Keep the \
file's indentation and style. If nothing should be inserted, reply with nothing.";

/// A chat request that asks for the middle only. The file is shown in a fence longer than any
/// run of backticks in it, so the code cannot close the fence early.
pub fn chat_request(request: &FimRequest) -> ModelRequest {
    let longest = longest_run(&request.prefix, '`').max(longest_run(&request.suffix, '`'));
    let fence = "`".repeat((longest + 1).max(3));
    let language = request.language.as_deref().unwrap_or_default();
    let user = format!(
        "{fence}{language}\n{}{CURSOR}{}\n{fence}\n\nWrite the text that goes at {CURSOR}.",
        request.prefix, request.suffix
    );
    ModelRequest {
        system: Some(SYSTEM.to_owned()),
        messages: vec![Message::user(user)],
        max_output_tokens: Some(request.max_tokens),
        tools: Vec::new(),
        prediction: None,
    }
}

/// The middle in a chat model's answer: when the answer opens with a fence, the code inside it
/// (up to the closing fence, or to the end when the answer was cut short); otherwise the answer
/// as it is. A cursor marker the model copied is dropped.
pub fn chat_answer(answer: &str) -> String {
    let middle = unfence(answer).unwrap_or(answer);
    middle.replace(CURSOR, "")
}

fn unfence(answer: &str) -> Option<&str> {
    let trimmed = answer.trim();
    let ticks = trimmed.chars().take_while(|&c| c == '`').count();
    if ticks < 3 {
        return None;
    }
    // The opening fence's line (with its language) goes; the code starts on the next line.
    let (_, body) = trimmed.split_once('\n')?;
    let fence = &trimmed[..ticks];
    // The code ends at the first line that is the closing fence; what follows (a model's
    // explanation) goes too. No closing fence: the answer was cut short (a token limit).
    let mut end = body.len();
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        if line.trim_end() == fence {
            end = at;
            break;
        }
        at += line.len();
    }
    let inner = &body[..end];
    let inner = inner.strip_suffix('\n').unwrap_or(inner);
    Some(inner.strip_suffix('\r').unwrap_or(inner))
}

fn longest_run(text: &str, of: char) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == of { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}
