//! Callbacks: the compact decision pushed to a caller's URL when its check is decided, and
//! again when a review decides it. Only hosts an operator listed are ever called
//! (`callbacks.allowed_hosts`); a request naming another is refused before anything is
//! queued. Each body is signed as common webhook senders sign theirs:
//!
//! ```text
//! Clipguard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//! ```
//!
//! so a receiver checks both that clipguard sent it and that it is fresh. Deliveries are
//! queued in the store (`store::callbacks`), claimed by one replica per attempt, and retried
//! with doubling delays until the receiver answers 2xx or `callbacks.max_attempts` is spent.

use crate::config::CallbacksConfig;
use crate::store::{DueCallback, Store};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Clipguard-Signature";
/// The header naming the event: `decided` or `reviewed`.
pub const EVENT_HEADER: &str = "Clipguard-Event";
/// The header naming the delivery (`<decision id>:<event>`): the same on every retry, so a
/// receiver can drop a repeat.
pub const DELIVERY_HEADER: &str = "Clipguard-Delivery";

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("callback_url {url:?} is not a URL: {reason}")]
    Invalid { url: String, reason: String },
    #[error("callback_url {url:?} names host {host:?}, which is not in callbacks.allowed_hosts: ask the operator to allow it")]
    NotAllowed { url: String, host: String },
    #[error("callbacks are off on this server: the operator sets callbacks.allowed_hosts and callbacks.secret to turn them on")]
    Off,
}

impl crate::vocab::Failure for CallbackError {
    fn code(&self) -> crate::vocab::ErrorCode {
        match self {
            CallbackError::Invalid { .. } => crate::vocab::ErrorCode::InvalidUri,
            CallbackError::NotAllowed { .. } | CallbackError::Off => {
                crate::vocab::ErrorCode::ForbiddenCallback
            }
        }
    }
}

/// Checks a callback URL against the allow-list: http or https, a host the operator listed
/// (and, where the listing names a port, that port). Answers the URL as it will be called.
pub fn allowed(cfg: &CallbacksConfig, raw: &str) -> Result<String, CallbackError> {
    if cfg.allowed_hosts.is_empty() || cfg.secret.is_empty() {
        return Err(CallbackError::Off);
    }
    let invalid = |reason: &str| CallbackError::Invalid {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https URLs are called"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not sent; drop them"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| invalid("it names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = url.port_or_known_default();
    let listed = cfg.allowed_hosts.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        match entry.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                h.trim_start_matches('[').trim_end_matches(']') == host
                    && p.parse::<u16>().ok() == port
            }
            _ => entry.trim_start_matches('[').trim_end_matches(']') == host,
        }
    });
    if !listed {
        return Err(CallbackError::NotAllowed {
            url: raw.to_string(),
            host,
        });
    }
    Ok(url.to_string())
}

/// The `Clipguard-Signature` value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is a valid signature of `body` by `secret`, made within `tolerance` of
/// `now` (unix seconds): what a receiver checks. The comparison takes constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now: u64, tolerance: u64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if t.abs_diff(now) > tolerance {
        return false;
    }
    v1.iter().any(|sig| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(sig).is_ok()
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The delay before attempt `n + 1` after `n` failed ones: `retry_base_ms` doubled each
/// time, at most `retry_max_s`; None once `max_attempts` are spent.
pub fn retry_delay_ms(cfg: &CallbacksConfig, failed_attempts: u32) -> Option<u64> {
    if failed_attempts >= cfg.max_attempts {
        return None;
    }
    let doubled = cfg
        .retry_base_ms
        .saturating_mul(1u64 << failed_attempts.saturating_sub(1).min(30));
    Some(doubled.min(cfg.retry_max_s.saturating_mul(1000)))
}

/// Delivers the queued callbacks of every replica's decisions: claims each due one, sends
/// it, records the outcome. Runs on its own thread until the process ends.
pub struct Deliverer {
    store: Arc<Store>,
    cfg: CallbacksConfig,
    /// This replica's name for the deliveries it holds.
    owner: String,
    client: reqwest::Client,
}

/// How often the queue is looked at when there was nothing to send.
const POLL: Duration = Duration::from_millis(200);
/// Deliveries in flight at once, per replica.
const CONCURRENCY: usize = 8;

impl Deliverer {
    /// Starts delivering; nothing is started when callbacks are off.
    pub fn start(store: Arc<Store>, cfg: CallbacksConfig, owner: String) -> std::io::Result<()> {
        if cfg.allowed_hosts.is_empty() || cfg.secret.is_empty() {
            return Ok(());
        }
        let client = reqwest::Client::builder()
            // A redirect could lead anywhere: the allow-list would mean nothing.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(cfg.timeout_s.max(1)))
            .user_agent(concat!("clipguard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(std::io::Error::other)?;
        let me = Arc::new(Self {
            store,
            cfg,
            owner,
            client,
        });
        std::thread::Builder::new()
            .name("callbacks".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the callbacks' connections");
                rt.block_on(me.run());
            })?;
        Ok(())
    }

    async fn run(self: Arc<Self>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let me = self.clone();
            let lease_ms = (self.cfg.timeout_s.max(1) + 30) * 1000;
            let claimed =
                tokio::task::spawn_blocking(move || me.store.claim_callback(&me.owner, lease_ms))
                    .await;
            match claimed {
                Ok(Ok(Some(due))) => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        me.attempt(due).await;
                        drop(slot);
                    });
                }
                Ok(Ok(None)) => tokio::time::sleep(POLL).await,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot look for callbacks to deliver");
                    tokio::time::sleep(POLL * 5).await;
                }
                Err(_) => return,
            }
        }
    }

    /// One attempt at a delivery, recorded whatever its outcome. The URL is checked against
    /// the allow-list again: a host the operator has since removed is not called.
    async fn attempt(&self, due: DueCallback) {
        if let Err(e) = allowed(&self.cfg, &due.url) {
            self.record(due, None, Some(e.to_string()), None).await;
            return;
        }
        let sent = self
            .client
            .post(&due.url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&self.cfg.secret, unix_now(), due.body.as_bytes()),
            )
            .header(EVENT_HEADER, due.event.as_str())
            .header(DELIVERY_HEADER, &due.id)
            .body(due.body.clone())
            .send()
            .await;
        let (status, failure) = match sent {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("the receiver answered {}", r.status())),
            ),
            Err(e) => (None, Some(reason(&e))),
        };
        let failed = due.attempts as u32 + 1;
        let retry = failure
            .as_ref()
            .and_then(|_| retry_delay_ms(&self.cfg, failed));
        match &failure {
            None => tracing::info!(callback = %due.id, url = %due.url, "callback delivered"),
            Some(why) if retry.is_some() => {
                tracing::warn!(callback = %due.id, url = %due.url, attempt = failed, error = %why, "callback failed; it will be retried")
            }
            Some(why) => {
                tracing::error!(callback = %due.id, url = %due.url, attempts = failed, error = %why, "callback given up")
            }
        }
        self.record(due, status, failure, retry).await;
    }

    /// Records an attempt's outcome: delivered (no failure), or retried after `retry` ms, or
    /// given up.
    async fn record(
        &self,
        due: DueCallback,
        status: Option<u16>,
        failure: Option<String>,
        retry: Option<u64>,
    ) {
        crate::metrics::callback_attempt(match (&failure, retry) {
            (None, _) => "delivered",
            (Some(_), Some(_)) => "retry",
            (Some(_), None) => "failed",
        });
        let (store, owner) = (self.store.clone(), self.owner.clone());
        let recorded = tokio::task::spawn_blocking(move || {
            store.record_callback_attempt(&due.id, &owner, status, failure.as_deref(), retry)
        })
        .await;
        if let Ok(Err(e)) = recorded {
            tracing::error!(error = %e, "cannot record a callback attempt");
        }
    }
}

/// Why a request got no answer, with its causes.
fn reason(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "no answer in time".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out = format!("{out}: {cause}");
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(hosts: &[&str]) -> CallbacksConfig {
        CallbacksConfig {
            allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            secret: "s3cret".into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_listed_hosts_are_called() {
        let cfg = on(&["hooks.example.com", "127.0.0.1:9000", "[::1]"]);
        assert!(allowed(&cfg, "https://hooks.example.com/clipguard").is_ok());
        assert!(allowed(&cfg, "http://HOOKS.example.com:8443/x").is_ok());
        assert!(allowed(&cfg, "http://127.0.0.1:9000/x").is_ok());
        assert!(allowed(&cfg, "http://[::1]:1234/x").is_ok());
        for refused in [
            "http://127.0.0.1:9001/x",
            "https://evil.example.com/",
            "https://hooks.example.com.evil.net/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert!(
                matches!(
                    allowed(&cfg, refused),
                    Err(CallbackError::NotAllowed { .. })
                ),
                "{refused}"
            );
        }
        for invalid in [
            "ftp://hooks.example.com/",
            "not a url",
            "https://u:p@hooks.example.com/",
        ] {
            assert!(
                matches!(allowed(&cfg, invalid), Err(CallbackError::Invalid { .. })),
                "{invalid}"
            );
        }
        let off = CallbacksConfig::default();
        assert!(matches!(
            allowed(&off, "https://hooks.example.com/"),
            Err(CallbackError::Off)
        ));
    }

    #[test]
    fn signatures_verify_only_with_the_secret_body_and_a_fresh_time() {
        let body = br#"{"action":"allow"}"#;
        let header = signature("s3cret", 1_765_000_000, body);
        assert!(header.starts_with("t=1765000000,v1="));
        assert!(verify("s3cret", &header, body, 1_765_000_100, 300));
        assert!(!verify("other", &header, body, 1_765_000_100, 300));
        assert!(!verify(
            "s3cret",
            &header,
            br#"{"action":"block"}"#,
            1_765_000_100,
            300
        ));
        assert!(
            !verify("s3cret", &header, body, 1_765_001_000, 300),
            "stale"
        );
        let forged_time = header.replace("t=1765000000", "t=1765000900");
        assert!(!verify("s3cret", &forged_time, body, 1_765_000_900, 300));
    }

    #[test]
    fn retries_back_off_then_stop() {
        let cfg = CallbacksConfig {
            max_attempts: 5,
            retry_base_ms: 1000,
            retry_max_s: 3,
            ..Default::default()
        };
        let delays: Vec<_> = (1..=5).map(|n| retry_delay_ms(&cfg, n)).collect();
        assert_eq!(
            delays,
            [Some(1000), Some(2000), Some(3000), Some(3000), None]
        );
    }
}
