//! What we last learned about the model endpoint: whether it answered, and when it last failed,
//! so features that can do without the model do not wait on one that is known to be down.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// After a failure, features that can skip the model skip it for this long.
pub const BACKOFF: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Health {
    inner: Mutex<Option<Seen>>,
}

struct Seen {
    url: String,
    ok: bool,
    at: Instant,
    why: String,
}

impl Health {
    pub fn ok(&self, url: &str) {
        *self.inner.lock() = Some(Seen {
            url: url.to_owned(),
            ok: true,
            at: Instant::now(),
            why: String::new(),
        });
    }

    pub fn failed(&self, url: &str, why: String) {
        *self.inner.lock() = Some(Seen {
            url: url.to_owned(),
            ok: false,
            at: Instant::now(),
            why,
        });
    }

    /// Why `url` failed, when it failed less than [`BACKOFF`] ago and has not answered since.
    pub fn recent_failure(&self, url: &str) -> Option<String> {
        let inner = self.inner.lock();
        let seen = inner.as_ref()?;
        (seen.url == url && !seen.ok && seen.at.elapsed() < BACKOFF).then(|| seen.why.clone())
    }

    /// "ok", "unreachable" or "unknown" (nothing asked yet), for `tandem.status`.
    pub fn state(&self, url: &str) -> &'static str {
        match self.inner.lock().as_ref() {
            Some(seen) if seen.url == url && seen.ok => "ok",
            Some(seen) if seen.url == url => "unreachable",
            _ => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn a_failure_is_remembered_until_the_endpoint_answers() {
        let health = Health::default();
        assert_eq!(health.state("http://a"), "unknown");
        health.failed("http://a", "connection refused".into());
        assert_eq!(
            health.recent_failure("http://a").as_deref(),
            Some("connection refused")
        );
        assert_eq!(health.recent_failure("http://b"), None);
        assert_eq!(health.state("http://a"), "unreachable");
        health.ok("http://a");
        assert_eq!(health.recent_failure("http://a"), None);
        assert_eq!(health.state("http://a"), "ok");
    }
}
