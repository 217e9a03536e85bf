//! How long a fetched document stays fresh, from its HTTP cache headers (RFC 9111), clamped to
//! the configured bounds (the draft, §5.2, lets the server set both).
//!
//! - `no-store` or `no-cache`: the lower bound. Honouring them literally would mean a fetch on
//!   every authorization request, which lets anyone make us fetch as often as they like; the
//!   draft allows a lower bound and this is what it is for.
//! - `s-maxage`, else `max-age`: that many seconds (we are a shared cache).
//! - else `Expires` minus `Date` (or minus now without a `Date`); an unparsable `Expires` means
//!   already expired (RFC 9111 §5.3).
//! - no header at all: one hour ([`LIFETIME_WITHOUT_HEADERS`]).
//!
//! Pure: the caller passes the header values and the time.

use std::time::{Duration, UNIX_EPOCH};

/// Freshness of a document that says nothing about caching.
pub const LIFETIME_WITHOUT_HEADERS: u64 = 3600;

/// The cache-relevant headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHeaders {
    /// Every `Cache-Control` header value, in order.
    pub cache_control: Vec<String>,
    pub expires: Option<String>,
    pub date: Option<String>,
}

/// Seconds the document stays fresh, within `[min_secs, max_secs]`.
pub fn fresh_lifetime_secs(headers: &CacheHeaders, now: u64, min_secs: u64, max_secs: u64) -> u64 {
    unclamped(headers, now).clamp(min_secs, max_secs.max(min_secs))
}

fn unclamped(headers: &CacheHeaders, now: u64) -> u64 {
    let directives: Vec<(String, Option<String>)> = headers
        .cache_control
        .iter()
        .flat_map(|value| value.split(','))
        .filter_map(parse_directive)
        .collect();
    let has = |name: &str| directives.iter().any(|(n, _)| n == name);
    if has("no-store") || has("no-cache") {
        return 0;
    }
    let seconds_of = |name: &str| {
        directives.iter().find(|(n, _)| n == name).map(|(_, v)| {
            v.as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
    };
    if let Some(secs) = seconds_of("s-maxage").or_else(|| seconds_of("max-age")) {
        return secs;
    }
    if let Some(expires) = &headers.expires {
        let Some(expires) = http_date_secs(expires) else {
            return 0;
        };
        let base = headers
            .date
            .as_deref()
            .and_then(http_date_secs)
            .unwrap_or(now);
        return expires.saturating_sub(base);
    }
    LIFETIME_WITHOUT_HEADERS
}

fn parse_directive(raw: &str) -> Option<(String, Option<String>)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let (name, value) = match raw.split_once('=') {
        Some((name, value)) => (name, Some(value.trim().trim_matches('"').to_owned())),
        None => (raw, None),
    };
    Some((name.trim().to_ascii_lowercase(), value))
}

fn http_date_secs(value: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(value.trim()).ok()?;
    time.duration_since(UNIX_EPOCH)
        .ok()
        .as_ref()
        .map(Duration::as_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 300;
    const MAX: u64 = 86_400;
    /// 2026-12-01T00:00:00Z
    const NOW: u64 = 1_796_083_200;

    fn cc(value: &str) -> CacheHeaders {
        CacheHeaders {
            cache_control: vec![value.to_owned()],
            ..CacheHeaders::default()
        }
    }

    fn life(headers: &CacheHeaders) -> u64 {
        fresh_lifetime_secs(headers, NOW, MIN, MAX)
    }

    #[test]
    fn max_age_is_honoured_within_the_bounds() {
        assert_eq!(life(&cc("public, max-age=3600")), 3600);
        assert_eq!(life(&cc("max-age=\"7200\"")), 7200);
        assert_eq!(life(&cc("max-age=60")), MIN, "clamped up");
        assert_eq!(life(&cc("max-age=999999999")), MAX, "clamped down");
        assert_eq!(life(&cc("max-age=0")), MIN);
        assert_eq!(life(&cc("max-age=soon")), MIN, "unparsable is stale");
        assert_eq!(
            life(&cc("max-age=600, s-maxage=1200")),
            1200,
            "s-maxage wins"
        );
        let split = CacheHeaders {
            cache_control: vec!["public".into(), "Max-Age=900".into()],
            ..CacheHeaders::default()
        };
        assert_eq!(life(&split), 900);
    }

    #[test]
    fn no_store_and_no_cache_get_the_lower_bound() {
        assert_eq!(life(&cc("no-store")), MIN);
        assert_eq!(life(&cc("no-cache, max-age=3600")), MIN);
        assert_eq!(life(&cc("private, NO-STORE")), MIN);
    }

    #[test]
    fn expires_counts_from_date_or_now() {
        let expires = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW + 7200));
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW - 1800));
        let from_now = CacheHeaders {
            expires: Some(expires.clone()),
            ..CacheHeaders::default()
        };
        assert_eq!(life(&from_now), 7200);
        let from_date = CacheHeaders {
            expires: Some(expires),
            date: Some(date),
            ..CacheHeaders::default()
        };
        assert_eq!(life(&from_date), 9000);
        let invalid = CacheHeaders {
            expires: Some("0".into()),
            ..CacheHeaders::default()
        };
        assert_eq!(life(&invalid), MIN);
        let max_age_wins = CacheHeaders {
            cache_control: vec!["max-age=1000".into()],
            expires: Some("0".into()),
            ..CacheHeaders::default()
        };
        assert_eq!(life(&max_age_wins), 1000);
    }

    #[test]
    fn no_headers_means_an_hour() {
        assert_eq!(life(&CacheHeaders::default()), LIFETIME_WITHOUT_HEADERS);
        assert_eq!(
            fresh_lifetime_secs(&CacheHeaders::default(), NOW, 10, 60),
            60
        );
    }
}
