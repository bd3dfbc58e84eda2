//! Rate limits: how many events a key (a client address, an account) may cause in a period.
//!
//! The rule is a value ([`RateLimit`]); the counting is a port ([`RateLimiter`]), implemented
//! once, by [`WindowLimiter`], over the key-value port: in process for one instance, in Redis
//! for many, so every limit means the same on every instance
//! (docs/adr/0016-rate-limits-on-the-kv-port.md). A limiter never guards money: the database
//! statement is the guarantee there. It keeps one client from spending what every client
//! shares (registrations, audit rows, hash verifications, requests).

mod window;

pub use window::WindowLimiter;

use async_trait::async_trait;

/// At most `max` events per `period_secs` for one key. `max == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub period_secs: u64,
}

impl RateLimit {
    /// No limit at all.
    pub const UNLIMITED: RateLimit = RateLimit {
        max: 0,
        period_secs: 1,
    };

    pub const fn per_hour(max: u32) -> Self {
        Self {
            max,
            period_secs: 3600,
        }
    }

    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            period_secs: 60,
        }
    }

    pub fn is_unlimited(self) -> bool {
        self.max == 0 || self.period_secs == 0
    }
}

/// What a limiter says about one more event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; the event was counted.
    Allow,
    /// Refused; the next event of this key may be allowed after this many seconds (>= 1).
    Deny { retry_after_secs: u64 },
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Counts events per key against one [`RateLimit`]. The check and the count are one atomic
/// step: N concurrent callers never get more than the limit allows.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one event of `key` and says whether it is within the limit.
    async fn check(&self, key: &str) -> anyhow::Result<Decision>;
}

/// A limiter that allows everything (a limit of 0, or tests that are not about limits).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLimit;

#[async_trait]
impl RateLimiter for NoLimit {
    async fn check(&self, _key: &str) -> anyhow::Result<Decision> {
        Ok(Decision::Allow)
    }
}

/// The key under which a client address is limited: an IPv4 address as is; an IPv6 address
/// by its /64 network, because one subscriber usually holds a whole /64 and could otherwise
/// rotate through 2^64 keys; an IPv4-mapped IPv6 address as the IPv4 address. A missing or
/// unparsable address shares the key `unknown`.
pub fn address_key(ip: Option<&str>) -> String {
    use std::net::IpAddr;
    match ip.and_then(|s| s.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_network() {
        let cases = [
            (Some("203.0.113.9"), "203.0.113.9"),
            (Some("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64"),
            (
                Some("2001:db8:1:2:ffff:ffff:ffff:ffff"),
                "2001:db8:1:2::/64",
            ),
            (Some("2001:db8:1:3::1"), "2001:db8:1:3::/64"),
            (Some("::ffff:198.51.100.4"), "198.51.100.4"),
            (Some("::1"), "0:0:0:0::/64"),
            (Some("not an address"), "unknown"),
            (None, "unknown"),
        ];
        for (ip, key) in cases {
            assert_eq!(address_key(ip), key, "{ip:?}");
        }
    }
}
