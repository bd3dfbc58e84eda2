//! Which address a request comes from when reverse proxies sit in front of the server.
//!
//! The socket peer is the client unless the operator names the peer as a trusted proxy
//! (`server.trusted_proxies`, a list of CIDR blocks). Only then is `X-Forwarded-For` read,
//! from the right (each proxy appends the address it received the request from), skipping
//! the hops that are themselves trusted; the first untrusted address is the client. A header
//! that does not parse, or one sent by an untrusted peer, changes nothing: anyone can write
//! `X-Forwarded-For`, so believing it from anyone but our own proxies would let one client
//! rotate through addresses and escape every per-address limit (New API's defect, spec §8.1).
//!
//! CIDR matching uses the `ipnet` crate, already in the tree through the HTTP client
//! (docs/adr/0016-rate-limits-on-the-kv-port.md).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

/// The header reverse proxies append the client's address to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The networks whose requests may carry the client's address in `X-Forwarded-For`.
/// Empty (the default): the socket peer is always the client.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `server.trusted_proxies` entry that is neither an address nor a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server.trusted_proxies: {0:?} is not an IP address or CIDR block (e.g. 10.0.0.0/8)")]
pub struct BadCidr(String);

impl TrustedProxies {
    /// Parses CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and plain addresses (one host). Empty
    /// entries are skipped, so a trailing comma in the environment variable is harmless.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadCidr> {
        let mut nets = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let net = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| BadCidr(entry.to_owned()))?;
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` lies in one of the trusted networks (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address, as a dual-stack listener reports IPv4 peers).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` unless `peer` is trusted; then the right-most address of
    /// `forwarded_for` (the `X-Forwarded-For` values, in header order) that is not trusted.
    /// When every listed hop is trusted, the left-most one (the furthest known). A missing
    /// header, or an entry that is not a bare IP address before the first untrusted one is
    /// found, gives `peer` (entries further left were written by the client and are not read).
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let mut furthest = None;
        for value in forwarded_for.rev() {
            for hop in value.split(',').rev() {
                let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                    return peer;
                };
                let ip = ip.to_canonical();
                if !self.contains(ip) {
                    return ip;
                }
                furthest = Some(ip);
            }
        }
        furthest.unwrap_or(peer)
    }
}

/// Lists the blocks without their type's noise (`["10.0.0.0/8"]`).
impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(ToString::to_string))
            .finish()
    }
}

/// From a list of strings (the TOML file) or one comma-separated string (the environment
/// variable `TOLLGATE_SERVER__TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1`).
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            One(String),
        }
        let entries = match Raw::deserialize(d)? {
            Raw::List(list) => list,
            Raw::One(s) => s.split(',').map(str::to_owned).collect(),
        };
        Self::parse(&entries).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn blocks_and_single_addresses_parse_and_garbage_is_refused() {
        let t = trusted(&["10.0.0.0/8", " 192.168.1.7 ", "fd00::/8", "", "2001:db8::1"]);
        assert_eq!(
            format!("{t:?}"),
            r#"["10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "2001:db8::1/128"]"#
        );
        for (addr, inside) in [
            ("10.200.3.4", true),
            ("11.0.0.1", false),
            ("192.168.1.7", true),
            ("192.168.1.8", false),
            ("fd12::5", true),
            ("2001:db8::1", true),
            ("2001:db8::2", false),
            // A dual-stack listener reports IPv4 peers as mapped IPv6 addresses.
            ("::ffff:10.1.1.1", true),
        ] {
            assert_eq!(t.contains(ip(addr)), inside, "{addr}");
        }
        // Host bits are dropped, not an error: 10.1.2.3/8 means 10.0.0.0/8.
        assert!(trusted(&["10.1.2.3/8"]).contains(ip("10.9.9.9")));
        for bad in ["10.0.0.0/33", "localhost", "10.0.0", "10.0.0.0/8/1", "*"] {
            assert_eq!(
                TrustedProxies::parse(&[bad]),
                Err(BadCidr(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_header_counts_only_when_the_peer_is_a_trusted_proxy() {
        let t = trusted(&["10.0.0.0/8", "127.0.0.0/8"]);
        let client = |peer: &str, headers: &[&str]| t.client_ip(ip(peer), headers.iter().copied());
        let cases: [(&str, &[&str], &str); 13] = [
            // No proxies in front: a spoofed header from the client itself is ignored.
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // Our proxy forwards the client's address.
            ("10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // The client wrote a fake left-most entry; the right-most untrusted hop wins.
            ("10.0.0.2", &["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
            // Trusted hops are skipped, across repeated headers too.
            (
                "10.0.0.2",
                &["198.51.100.1, 10.0.0.7", "10.0.0.3"],
                "198.51.100.1",
            ),
            ("10.0.0.2", &["1.2.3.4", "198.51.100.1"], "198.51.100.1"),
            // Every hop is ours: the furthest one.
            ("10.0.0.2", &["10.0.0.9, 10.0.0.7"], "10.0.0.9"),
            // No header, an empty one, or garbage where our proxies write: the peer.
            ("10.0.0.2", &[], "10.0.0.2"),
            ("10.0.0.2", &[""], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1:4711"], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1, unknown"], "10.0.0.2"),
            // Garbage left of the client's hop is the client's own writing: not read.
            ("10.0.0.2", &["unknown, 198.51.100.1"], "198.51.100.1"),
            // IPv6 and mapped addresses come out canonical.
            ("127.0.0.1", &["2001:db8::5"], "2001:db8::5"),
            ("::ffff:127.0.0.1", &["::ffff:198.51.100.1"], "198.51.100.1"),
        ];
        for (peer, headers, expected) in cases {
            assert_eq!(client(peer, headers), ip(expected), "{peer} {headers:?}");
        }
        // Nothing trusted: never the header.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("127.0.0.1"), ["198.51.100.1"].into_iter()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_setting_reads_a_list_or_one_comma_separated_string() {
        #[derive(Deserialize)]
        struct S {
            t: TrustedProxies,
        }
        let list: S = serde_json::from_str(r#"{"t": ["10.0.0.0/8", "::1"]}"#).unwrap();
        let joined: S = serde_json::from_str(r#"{"t": "10.0.0.0/8, ::1,"}"#).unwrap();
        assert_eq!(list.t, joined.t);
        assert!(list.t.contains(ip("::1")));
        let bad = serde_json::from_str::<S>(r#"{"t": "10.0.0.0/8,nope"}"#);
        assert!(bad.err().unwrap().to_string().contains("trusted_proxies"));
    }
}
