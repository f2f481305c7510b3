//! HTTP details shared by the transport: key headers, what a status means, `Retry-After`, error causes, whether a URL is this machine.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use super::decode::DecodeError;
use super::error::ErrorKind;
use super::{Endpoint, Provider, anthropic};

pub(super) fn auth_headers(endpoint: &Endpoint) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if endpoint.provider == Provider::Anthropic {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(anthropic::VERSION),
        );
    }
    let Some(key) = &endpoint.api_key else {
        return headers;
    };
    let (name, value) = match endpoint.provider {
        Provider::Anthropic => ("x-api-key", key.expose().to_owned()),
        _ => ("authorization", format!("Bearer {}", key.expose())),
    };
    // A key that is not a valid header value is left out: the endpoint then answers 401,
    // which names the variable, and the key itself never reaches an error message.
    if let Ok(mut value) = HeaderValue::from_str(&value) {
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    headers
}

pub(super) fn classify(endpoint: &Endpoint, status: u16, body: String) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorized {
            status,
            key_env: endpoint.api_key_env.clone(),
            body,
        },
        404 if body.contains(&endpoint.model) || body.to_lowercase().contains("model") => {
            ErrorKind::ModelNotFound {
                model: endpoint.model.clone(),
                body,
            }
        }
        429 => ErrorKind::RateLimited { attempts: 1, body },
        _ => ErrorKind::Http {
            status,
            body,
            attempts: 1,
        },
    }
}

pub(super) fn decode_kind(error: DecodeError) -> ErrorKind {
    match error {
        DecodeError::Malformed { excerpt, detail } => ErrorKind::Malformed { excerpt, detail },
        DecodeError::Provider { message } => ErrorKind::Provider { message },
        DecodeError::Incomplete { detail } => ErrorKind::Cut { detail },
    }
}

/// `retry-after-ms` (OpenAI) or `retry-after` in seconds; an HTTP date is ignored.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

pub(super) fn scrub(endpoint: &Endpoint, text: &str) -> String {
    match &endpoint.api_key {
        Some(key) => key.scrub(text),
        None => text.to_owned(),
    }
}

/// The innermost cause of an error: "Connection refused (os error 111)" rather than "error sending request".
pub(super) fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

/// Whether `url` points at this machine (127.0.0.0/8, localhost, [::1]): no proxy is used for
/// it, and a workspace file may send a key there.
pub fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::HeaderMap;

    use super::{is_loopback, retry_after};

    #[test]
    fn retry_after_reads_milliseconds_then_seconds() {
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Headers, Option<Duration>); 6] = [
            (&[("retry-after", "2")], Some(Duration::from_secs(2))),
            (&[("retry-after", "0.5")], Some(Duration::from_millis(500))),
            (
                &[("retry-after-ms", "250"), ("retry-after", "9")],
                Some(Duration::from_millis(250)),
            ),
            (&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], None),
            (&[("retry-after", "-1")], None),
            (&[], None),
        ];
        for (headers, expected) in cases {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(*name, value.parse().expect("header value"));
            }
            assert_eq!(retry_after(&map), expected, "{headers:?}");
        }
    }

    #[test]
    fn loopback_hosts_are_this_machine() {
        let cases = [
            ("http://127.0.0.1:11434", true),
            ("http://localhost:8080/v1", true),
            ("http://LOCALHOST:8080/v1", true),
            ("http://[::1]:8000/v1", true),
            ("http://127.1.2.3/v1", true),
            ("https://api.openai.com/v1", false),
            ("http://192.168.1.20:11434", false),
            ("not a url", false),
        ];
        for (url, expected) in cases {
            assert_eq!(is_loopback(url), expected, "{url}");
        }
    }
}
