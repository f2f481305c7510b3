//! The one streaming HTTP transport: retries before the first token, request and idle timeouts, cancellation.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::Stream;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::decode::{DecodeError, Decoder};
use super::error::{ErrorKind, ModelError};
use super::fim::{self, FimWire};
use super::http::{auth_headers, classify, decode_kind, innermost, retry_after, scrub};
use super::meter::{CallMeter, Meter};
use super::{
    Endpoint, FinishReason, ModelEvent, ModelRequest, Provider, ToolCall, Usage, anthropic, ollama,
    openai, responses,
};

/// How often a request is sent again when it fails before anything was streamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `2` means at most three requests).
    pub max_retries: usize,
    /// The first backoff; it doubles each time, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the request fails at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// A client for one endpoint. Cheap to clone; clones share the connection pool.
#[derive(Clone, Debug)]
pub struct ModelClient {
    http: reqwest::Client,
    endpoint: Arc<Endpoint>,
    /// Where the tokens of its chat calls are counted, when they are.
    meter: Option<Meter>,
}

/// A completed answer, for callers that want the whole text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    /// The tool calls the answer made, in order.
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub reason: FinishReason,
}

impl ModelClient {
    pub fn new(endpoint: Endpoint) -> Result<Self, ModelError> {
        // reqwest is built without a bundled crypto provider; ring is ours. Installing twice is
        // harmless (the second call reports that one is already there).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10).min(endpoint.request_timeout));
        // A local model is never behind the proxy that HTTPS_PROXY names for the internet.
        if super::http::is_loopback(&endpoint.base_url) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|error| {
            ModelError::new(
                endpoint.provider,
                &endpoint.base_url,
                ErrorKind::Connect {
                    detail: innermost(&error),
                },
            )
        })?;
        Ok(ModelClient {
            http,
            endpoint: Arc::new(endpoint),
            meter: None,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The same client, counting the tokens of every chat call it makes in `meter`.
    pub fn metered(&self, meter: &Meter) -> ModelClient {
        ModelClient {
            meter: Some(meter.clone()),
            ..self.clone()
        }
    }

    /// Starts a streamed completion. The returned stream ends after one `Finished` or `Error`;
    /// cancelling `cancel` (or dropping the stream) drops the connection at once.
    pub fn stream(&self, request: &ModelRequest, cancel: CancellationToken) -> ModelStream {
        let endpoint = &self.endpoint;
        let (path, body) = match endpoint.provider {
            Provider::OpenAi => (openai::PATH, openai::body(endpoint, request)),
            Provider::OpenAiResponses => (responses::PATH, responses::body(endpoint, request)),
            Provider::Anthropic => (anthropic::PATH, anthropic::body(endpoint, request)),
            Provider::Ollama => (ollama::PATH, ollama::body(endpoint, request)),
        };
        let mut stream = self.start(endpoint.url(path), body, None, cancel);
        stream.meter = self
            .meter
            .as_ref()
            .map(|meter| CallMeter::new(meter.clone(), &endpoint.model, request));
        stream
    }

    /// Posts `body` to `url` and streams the answer, decoded as a chat stream of the endpoint's
    /// provider or, with `fim`, as that fill-in-the-middle wire.
    pub(super) fn start(
        &self,
        url: String,
        body: Value,
        fim: Option<FimWire>,
        cancel: CancellationToken,
    ) -> ModelStream {
        let call = Call {
            http: self.http.clone(),
            endpoint: Arc::clone(&self.endpoint),
            url: url.clone(),
            body,
            fim,
        };
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(call.run(cancel, sender));
        ModelStream {
            receiver,
            provider: self.endpoint.provider,
            url,
            meter: None,
        }
    }

    /// Lists the endpoint's models; `Ok(None)` when its API has no such list.
    pub async fn list_models(&self) -> Result<Option<Vec<String>>, ModelError> {
        let endpoint = &self.endpoint;
        let (path, array, field) = match endpoint.provider {
            Provider::Ollama => ("api/tags", "models", "name"),
            _ => ("models", "data", "id"),
        };
        let url = endpoint.url(path);
        let fail = |kind| ModelError::new(endpoint.provider, &url, kind);
        if let (Some(env), None) = (&endpoint.api_key_env, &endpoint.api_key) {
            return Err(fail(ErrorKind::MissingKey { env: env.clone() }));
        }
        let request = self.http.get(&url).headers(auth_headers(endpoint));
        let response = tokio::time::timeout(endpoint.request_timeout, async {
            let response = request.send().await.map_err(|e| {
                fail(ErrorKind::Connect {
                    detail: innermost(&e),
                })
            })?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| {
                fail(ErrorKind::Cut {
                    detail: innermost(&e),
                })
            })?;
            Ok::<_, ModelError>((status, text))
        })
        .await
        .map_err(|_| {
            fail(ErrorKind::Timeout {
                after: endpoint.request_timeout,
            })
        })??;
        let (status, text) = response;
        let text = scrub(endpoint, &text);
        if status == 404 || status == 405 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(fail(classify(endpoint, status, text)));
        }
        let json: Value = serde_json::from_str(&text).map_err(|e| {
            fail(ErrorKind::Malformed {
                excerpt: super::error::excerpt(&text, 80),
                detail: e.to_string(),
            })
        })?;
        let names = json.get(array).and_then(Value::as_array).map(|items| {
            items
                .iter()
                .filter_map(|m| m.get(field).and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        });
        Ok(names)
    }
}

/// The events of one streamed completion.
#[derive(Debug)]
pub struct ModelStream {
    receiver: mpsc::Receiver<ModelEvent>,
    provider: Provider,
    url: String,
    /// Counts the call's tokens as its events go by, when the client is metered.
    meter: Option<CallMeter>,
}

impl ModelStream {
    /// Waits for the whole answer.
    pub async fn complete(mut self) -> Result<Completion, ModelError> {
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        let mut usage = None;
        while let Some(event) = self.receiver.recv().await {
            if let Some(meter) = &mut self.meter {
                meter.observe(&event);
            }
            match event {
                ModelEvent::TextDelta(delta) => text.push_str(&delta),
                ModelEvent::ToolCall(call) => tool_calls.push(call),
                ModelEvent::Usage(reported) => usage = Some(reported),
                ModelEvent::Finished { reason } => {
                    return Ok(Completion {
                        text,
                        tool_calls,
                        usage,
                        reason,
                    });
                }
                ModelEvent::Error(error) => return Err(error),
            }
        }
        // The task always sends an end; this is only reached if it panicked.
        Err(ModelError::new(
            self.provider,
            self.url,
            ErrorKind::Cut {
                detail: "the model task ended".to_owned(),
            },
        ))
    }
}

impl Stream for ModelStream {
    type Item = ModelEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ModelEvent>> {
        let polled = self.receiver.poll_recv(cx);
        if let (Poll::Ready(Some(event)), Some(meter)) = (&polled, &mut self.meter) {
            meter.observe(event);
        }
        polled
    }
}

struct Call {
    http: reqwest::Client,
    endpoint: Arc<Endpoint>,
    url: String,
    body: Value,
    /// The fill-in-the-middle wire the answer comes in; `None` for a chat stream.
    fim: Option<FimWire>,
}

/// A stream that has begun: everything decoded up to and including the first token.
struct Started {
    response: reqwest::Response,
    decoder: Decoder,
    events: Vec<ModelEvent>,
}

/// A failed attempt, with the server's `Retry-After` when it gave one.
#[derive(Debug)]
struct Failure {
    kind: ErrorKind,
    retry_after: Option<Duration>,
}

impl Call {
    fn error(&self, kind: ErrorKind) -> ModelError {
        let error = ModelError::new(self.endpoint.provider, &self.url, kind);
        match &self.endpoint.api_key {
            Some(key) => error.scrub(key),
            None => error,
        }
    }

    async fn run(self, cancel: CancellationToken, events: mpsc::Sender<ModelEvent>) {
        let started = Instant::now();
        let deadline = started + self.endpoint.request_timeout;
        tracing::debug!(url = %self.url, model = %self.endpoint.model, "model request");
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(self.error(ErrorKind::Cancelled)),
            () = events.closed() => Ok(()),
            () = tokio::time::sleep_until(deadline) => {
                Err(self.error(ErrorKind::Timeout { after: self.endpoint.request_timeout }))
            }
            outcome = self.drive(&events) => outcome,
        };
        // By now the response (and with it the connection) has been dropped.
        match outcome {
            Ok(()) => {
                tracing::debug!(url = %self.url, elapsed_ms = started.elapsed().as_millis(), "model stream ended")
            }
            Err(error) => {
                if error.kind == ErrorKind::Cancelled {
                    tracing::debug!(url = %self.url, "model stream cancelled, connection dropped");
                } else {
                    tracing::warn!("{error}");
                }
                let _ = events.send(ModelEvent::Error(error)).await;
            }
        }
    }

    async fn drive(&self, events: &mpsc::Sender<ModelEvent>) -> Result<(), ModelError> {
        if let (Some(env), None) = (&self.endpoint.api_key_env, &self.endpoint.api_key) {
            return Err(self.error(ErrorKind::MissingKey { env: env.clone() }));
        }
        let Started {
            mut response,
            mut decoder,
            events: first,
        } = self.open().await?;
        let mut decoded = first;
        let mut step = Ok(());
        loop {
            for event in decoded.drain(..) {
                if events.send(event).await.is_err() {
                    return Ok(());
                }
            }
            step.map_err(|error| self.error(decode_kind(error)))?;
            if decoder.is_done() {
                return Ok(());
            }
            step = self.read(&mut response, &mut decoder, &mut decoded).await?;
        }
    }

    /// Reads one network chunk into the decoder; `Err` only for the idle timeout.
    async fn read(
        &self,
        response: &mut reqwest::Response,
        decoder: &mut Decoder,
        decoded: &mut Vec<ModelEvent>,
    ) -> Result<Result<(), DecodeError>, ModelError> {
        let idle = self.endpoint.idle_timeout;
        Ok(match tokio::time::timeout(idle, response.chunk()).await {
            Err(_) => return Err(self.error(ErrorKind::Idle { after: idle })),
            Ok(Err(error)) => Err(DecodeError::Incomplete {
                detail: innermost(&error),
            }),
            Ok(Ok(None)) => decoder.finish(decoded),
            Ok(Ok(Some(chunk))) => decoder.push(chunk, decoded),
        })
    }

    /// Sends the request until the first token arrives, retrying only what may succeed a
    /// second time. Nothing has reached the caller yet, so a retry cannot repeat any text.
    async fn open(&self) -> Result<Started, ModelError> {
        let policy = self.endpoint.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.base_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_retries)
            .with_jitter();
        let attempts = AtomicU32::new(0);
        let outcome = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt().await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|failure: &Failure| failure.kind.is_retryable())
        .adjust(|failure: &Failure, next: Option<Duration>| match (next, failure.retry_after) {
            (Some(_), Some(wait)) if wait > policy.max_retry_after => None,
            (Some(_), Some(wait)) => Some(wait),
            (next, _) => next,
        })
        .notify(|failure: &Failure, wait: Duration| {
            // In words, and scrubbed of the key like any error we show.
            let what = self.error(failure.kind.clone()).what();
            tracing::info!(url = %self.url, wait_ms = wait.as_millis(), "retrying model request: {what}");
        })
        .await;
        outcome.map_err(|failure| {
            let tries = attempts.load(Ordering::Relaxed);
            let kind = match failure.kind {
                ErrorKind::RateLimited { body, .. } => ErrorKind::RateLimited {
                    attempts: tries,
                    body,
                },
                ErrorKind::Http { status, body, .. } => ErrorKind::Http {
                    status,
                    body,
                    attempts: tries,
                },
                other => other,
            };
            self.error(kind)
        })
    }

    async fn attempt(&self) -> Result<Started, Failure> {
        let mut response = self.respond().await?;
        let mut decoder = match self.fim {
            Some(wire) => Decoder::fim(wire),
            None => Decoder::new(self.endpoint.provider),
        };
        let mut events = Vec::new();
        let fail = |kind| Failure {
            kind,
            retry_after: None,
        };
        loop {
            let step = self
                .read(&mut response, &mut decoder, &mut events)
                .await
                .map_err(|e| fail(e.kind))?;
            step.map_err(|error| fail(decode_kind(error)))?;
            // A tool call is an answer too: after one, a retry could repeat it.
            let first_token = events.iter().any(|e| {
                matches!(
                    e,
                    ModelEvent::TextDelta(_)
                        | ModelEvent::ToolCall(_)
                        | ModelEvent::Finished { .. }
                )
            });
            if first_token || decoder.is_done() {
                return Ok(Started {
                    response,
                    decoder,
                    events,
                });
            }
        }
    }

    /// Sends the request once and checks the status.
    async fn respond(&self) -> Result<reqwest::Response, Failure> {
        let request = self
            .http
            .post(&self.url)
            .headers(auth_headers(&self.endpoint))
            .json(&self.body);
        let response = request.send().await.map_err(|error| Failure {
            kind: ErrorKind::Connect {
                detail: innermost(&error),
            },
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if content_type.starts_with("text/html") {
                return Err(Failure {
                    kind: ErrorKind::NotAStream { content_type },
                    retry_after: None,
                });
            }
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        let body = scrub(&self.endpoint, &body);
        let mut kind = classify(&self.endpoint, status, body);
        if self.fim.is_some() {
            kind = fim::unsupported(kind);
        }
        Err(Failure { kind, retry_after })
    }
}
