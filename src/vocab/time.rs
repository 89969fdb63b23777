//! Points in time given by clients, compared exactly with the times the decision log keeps.

use chrono::{DateTime, Duration, Utc};

/// An instant from a client: RFC 3339 with any offset and any fraction of a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{input:?} is not an RFC 3339 time such as 2026-11-25T05:14:37Z, 2026-11-25T05:14:37.157Z or 2026-11-25T06:14:37+01:00 ({reason})")]
pub struct TimeError {
    pub input: String,
    pub reason: String,
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Self, TimeError> {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| TimeError {
                input: s.to_string(),
                // A `+` left unescaped in a URL's query arrives as a space.
                reason: if s.contains(' ') {
                    format!("{e}; in a URL, write the offset's + as %2B")
                } else {
                    e.to_string()
                },
            })
    }
}

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }

    /// The instant as the decision log writes times (UTC, milliseconds, `Z`), so comparing the
    /// strings compares the instants. Rounded up to the next millisecond: the log keeps
    /// milliseconds, so a decision logged at .157 is before a bound of .1571 (and at or after
    /// a bound of .157).
    pub fn log_key(&self) -> String {
        let sub_ms = self.0.timestamp_subsec_nanos() % 1_000_000;
        let t = if sub_ms > 0 {
            self.0 + Duration::nanoseconds(i64::from(1_000_000 - sub_ms))
        } else {
            self.0
        };
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        s.parse::<Timestamp>().unwrap().log_key()
    }

    #[test]
    fn times_compare_as_the_log_writes_them() {
        assert_eq!(key("2026-11-25T05:14:37Z"), "2026-11-25T05:14:37.000Z");
        assert_eq!(key("2026-11-25T05:14:37.157Z"), "2026-11-25T05:14:37.157Z");
        assert_eq!(
            key("2026-11-25T06:14:37.157+01:00"),
            "2026-11-25T05:14:37.157Z"
        );
        assert_eq!(key("2026-11-25T05:14:37.1571Z"), "2026-11-25T05:14:37.158Z");
        assert_eq!(
            key("2026-11-25T05:14:37.999999Z"),
            "2026-11-25T05:14:38.000Z"
        );
        // As the log writes it: humantime's millisecond form.
        let now = std::time::SystemTime::now();
        let logged = humantime::format_rfc3339_millis(now).to_string();
        assert_eq!(key(&logged), logged);
    }

    #[test]
    fn anything_else_is_refused_with_an_example() {
        for bad in [
            "yesterday",
            "2026-11-25",
            "2026-11-25T05:14:37",
            "1700000000",
            "",
        ] {
            let e = bad.parse::<Timestamp>().unwrap_err();
            assert!(e.to_string().contains("2026-11-25T05:14:37Z"), "{e}");
        }
        let e = "2026-11-25T06:14:37 01:00"
            .parse::<Timestamp>()
            .unwrap_err();
        assert!(e.to_string().contains("%2B"), "{e}");
    }
}
