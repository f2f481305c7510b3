//! Model errors that say which endpoint failed, what happened and what to do about it.

use std::fmt;
use std::time::Duration;

use super::Provider;

/// A failed model request. `Display` is the message a user reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    pub provider: Provider,
    /// The URL that was requested.
    pub endpoint: String,
    pub kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The settings name a key variable that is not set.
    MissingKey { env: String },
    /// No connection (refused, DNS, TLS…); `detail` is the innermost cause.
    Connect { detail: String },
    /// 401/403.
    Unauthorized {
        status: u16,
        key_env: Option<String>,
        body: String,
    },
    /// 404 that names the model.
    ModelNotFound { model: String, body: String },
    /// 429, still after the retries.
    RateLimited { attempts: u32, body: String },
    /// Any other HTTP failure.
    Http {
        status: u16,
        body: String,
        attempts: u32,
    },
    /// A fill-in-the-middle request the endpoint refused as a kind of request it does not
    /// serve (no such path, or a model without fill-in-the-middle).
    FimUnsupported { status: u16, body: String },
    /// A 200 whose body is a web page or something else that is no model stream.
    NotAStream { content_type: String },
    /// `requestTimeoutMs` passed.
    Timeout { after: Duration },
    /// Nothing arrived for `idleTimeoutMs` inside the stream.
    Idle { after: Duration },
    /// The stream ended (or broke) before its completion marker.
    Cut { detail: String },
    /// A chunk that is not valid for the format.
    Malformed { excerpt: String, detail: String },
    /// The provider reported an error inside the stream.
    Provider { message: String },
    /// The caller cancelled.
    Cancelled,
}

impl ErrorKind {
    /// Whether the request may be sent again (only ever before the first token).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ErrorKind::Connect { .. } | ErrorKind::RateLimited { .. } => true,
            ErrorKind::Http { status, .. } => *status == 408 || *status >= 500,
            // Anthropic's overloaded error can also arrive as the first event of a 200 stream.
            ErrorKind::Provider { message } => message.starts_with("overloaded_error"),
            _ => false,
        }
    }
}

impl ModelError {
    pub(crate) fn new(provider: Provider, endpoint: impl Into<String>, kind: ErrorKind) -> Self {
        ModelError {
            provider,
            endpoint: endpoint.into(),
            kind,
        }
    }

    /// Removes the key from every text the error carries (server bodies may echo it).
    pub(crate) fn scrub(mut self, key: &super::ApiKey) -> Self {
        match &mut self.kind {
            ErrorKind::Connect { detail } | ErrorKind::Cut { detail } => {
                *detail = key.scrub(detail)
            }
            ErrorKind::Unauthorized { body, .. }
            | ErrorKind::ModelNotFound { body, .. }
            | ErrorKind::RateLimited { body, .. }
            | ErrorKind::Http { body, .. }
            | ErrorKind::FimUnsupported { body, .. } => *body = key.scrub(body),
            ErrorKind::Malformed { excerpt, detail } => {
                *excerpt = key.scrub(excerpt);
                *detail = key.scrub(detail);
            }
            ErrorKind::Provider { message } => *message = key.scrub(message),
            ErrorKind::MissingKey { .. }
            | ErrorKind::NotAStream { .. }
            | ErrorKind::Timeout { .. }
            | ErrorKind::Idle { .. }
            | ErrorKind::Cancelled => {}
        }
        self
    }

    /// The one-line description of what happened, without the endpoint or the advice.
    pub fn what(&self) -> String {
        match &self.kind {
            ErrorKind::MissingKey { env } => format!("the environment variable ${env} is not set"),
            ErrorKind::Connect { detail } => format!("could not connect ({detail})"),
            ErrorKind::Unauthorized {
                status,
                key_env: Some(env),
                body,
            } => {
                format!(
                    "the key in ${env} was refused (HTTP {status}{})",
                    excerpt_suffix(body)
                )
            }
            ErrorKind::Unauthorized {
                status,
                key_env: None,
                body,
            } => {
                format!(
                    "the endpoint wants an API key (HTTP {status}{})",
                    excerpt_suffix(body)
                )
            }
            ErrorKind::ModelNotFound { model, body } => {
                format!(
                    "model `{model}` not found at {}{}",
                    self.endpoint,
                    excerpt_suffix(body)
                )
            }
            ErrorKind::RateLimited { attempts, body } => format!(
                "rate limited (HTTP 429) after {attempts} attempt{}{}",
                plural(*attempts),
                excerpt_suffix(body)
            ),
            ErrorKind::Http {
                status,
                body,
                attempts,
            } => {
                let tries = if *attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                };
                format!("HTTP {status}{tries}{}", excerpt_suffix(body))
            }
            ErrorKind::FimUnsupported { status, body } => format!(
                "the endpoint does not serve fill-in-the-middle for this model (HTTP {status}{})",
                excerpt_suffix(body)
            ),
            ErrorKind::NotAStream { content_type } => {
                format!("the answer is `{content_type}`, not a model stream")
            }
            ErrorKind::Timeout { after } => {
                format!("no complete answer within {} ms", after.as_millis())
            }
            ErrorKind::Idle { after } => {
                format!(
                    "the stream stalled: nothing arrived for {} ms",
                    after.as_millis()
                )
            }
            ErrorKind::Cut { detail } => {
                format!("the stream was cut before the model finished ({detail})")
            }
            ErrorKind::Malformed { excerpt, detail } => format!(
                "received a chunk that is not valid {} ({detail}): `{excerpt}`",
                self.provider.wire_format()
            ),
            ErrorKind::Provider { message } => format!("the model reported an error: {message}"),
            ErrorKind::Cancelled => "cancelled".to_owned(),
        }
    }

    /// What the user can do about it.
    pub fn advice(&self) -> String {
        match &self.kind {
            ErrorKind::MissingKey { env } => {
                format!(
                    "Export {env} with your API key, or set model.apiKeyEnv to the variable that holds it."
                )
            }
            ErrorKind::Connect { .. } if self.provider == Provider::Ollama => {
                "Is Ollama running (`ollama serve`)? Set model.baseUrl to change the address."
                    .to_owned()
            }
            ErrorKind::Connect { .. } => {
                "Is the server running and reachable? Set model.baseUrl to change the address."
                    .to_owned()
            }
            ErrorKind::Unauthorized {
                key_env: Some(env), ..
            } => {
                format!(
                    "Check the key in ${env}, or set model.apiKeyEnv to the variable that holds the right one."
                )
            }
            ErrorKind::Unauthorized { key_env: None, .. } => {
                "Set model.apiKeyEnv to the environment variable that holds your key.".to_owned()
            }
            ErrorKind::ModelNotFound { model, .. } if self.provider == Provider::Ollama => {
                format!("Run `ollama pull {model}`, or set model.name to a model you have.")
            }
            ErrorKind::ModelNotFound { .. } => {
                "Set model.name to a model the endpoint serves (`tandem doctor` lists them)."
                    .to_owned()
            }
            ErrorKind::RateLimited { .. } => {
                "Wait a moment and try again, or use a plan or endpoint with a higher limit."
                    .to_owned()
            }
            ErrorKind::Http { status: 404, .. } => {
                "Check model.baseUrl: the API path was not found there.".to_owned()
            }
            ErrorKind::Http { status, .. } if *status >= 500 => {
                "The server failed; try again later.".to_owned()
            }
            ErrorKind::Http { .. } => {
                "Check model.name, model.baseUrl and model.provider.".to_owned()
            }
            ErrorKind::FimUnsupported { .. } => {
                "Use a code model that has fill-in-the-middle (e.g. qwen2.5-coder) and the provider that matches the server, or set completion.mode to \"chat\".".to_owned()
            }
            ErrorKind::NotAStream { .. } => {
                "Check model.baseUrl and model.provider: the URL does not serve this API."
                    .to_owned()
            }
            ErrorKind::Timeout { .. } => {
                "Raise model.requestTimeoutMs, or ask for less.".to_owned()
            }
            ErrorKind::Idle { .. } => {
                "The server may be overloaded; try again or raise model.idleTimeoutMs.".to_owned()
            }
            ErrorKind::Cut { .. } => "The connection broke; try again.".to_owned(),
            ErrorKind::Malformed { .. } => {
                "Check that model.provider matches the API the server speaks.".to_owned()
            }
            ErrorKind::Provider { message } if message.contains("overloaded") => {
                "The provider is overloaded; try again shortly.".to_owned()
            }
            ErrorKind::Provider { .. } => {
                "Try again; if it persists, check the endpoint's status.".to_owned()
            }
            ErrorKind::Cancelled => String::new(),
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model request to {} failed: {}.",
            self.endpoint,
            self.what()
        )?;
        let advice = self.advice();
        if !advice.is_empty() {
            write!(f, " {advice}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelError {}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn excerpt_suffix(body: &str) -> String {
    if body.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", excerpt(body, 200))
    }
}

/// The first `max` characters of `text` on one line, for messages.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    }
}
