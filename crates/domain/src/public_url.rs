//! The SSRF guard for URLs users store (webhook, Bark, Gotify; docs/newapi-behaviour.md §11.10):
//! only public http(s) hosts are accepted.
//!
//! The check runs when the URL is saved. A name can resolve differently later (DNS
//! rebinding), so whatever sends to the URL must check the addresses it connects to again.
//!
//! What is stored is [`stored_form`] of the URL that was checked, never the string as sent,
//! and spellings that other parsers (curl, Python's urllib, Go's net/url) read with another
//! host are refused outright (issue 7.5): `http://1.1.1.1\@127.0.0.1/` is host 1.1.1.1 to
//! the WHATWG parser and 127.0.0.1 to curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::ports::HostResolver;

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRejection {
    /// It does not parse, has no host, or is too long.
    #[error("the url is invalid")]
    Invalid,
    #[error("the url must start with http:// or https://")]
    Scheme,
    /// A loopback, private, link-local, metadata or otherwise non-public host.
    #[error("the url points to a private or reserved address")]
    ForbiddenHost,
    /// The name did not resolve (we fail closed).
    #[error("the url's host name does not resolve")]
    Unresolvable,
    /// A spelling that parsers read differently: user info (any `@` before the path, even an
    /// empty one), a backslash, whitespace or a control character anywhere, a scheme not
    /// followed by `//`, or percent-encoding before the path.
    #[error(
        "the url must not contain user info (@), backslashes, whitespace, control characters \
         or percent-encoding in the host"
    )]
    Ambiguous,
}

/// Parses `raw` and accepts it only if it is an absolute http(s) URL without credentials,
/// spelled so that every parser reads the same host ([`UrlRejection::Ambiguous`]), whose
/// host is public: an IP literal that [`forbidden_ip`] allows, or a name that is not reserved
/// for local use and whose every address is allowed.
///
/// Host forms such as `http://2130706433/` or `http://0x7f.1/` are normalised by the WHATWG
/// parser to the address they mean, so they are checked as that address; store
/// [`stored_form`] of the result, where that address is written in dotted decimal. The
/// resolver is only asked about domain names.
///
/// # Errors
/// See [`UrlRejection`].
pub async fn check_public_http_url(
    raw: &str,
    resolver: &dyn HostResolver,
) -> Result<Url, UrlRejection> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlRejection::Invalid);
    }
    let url = Url::parse(raw).map_err(|_| UrlRejection::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRejection::Scheme);
    }
    check_unambiguous(raw, url.scheme())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRejection::Ambiguous);
    }
    match url.host() {
        None => return Err(UrlRejection::Invalid),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip))?,
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip))?,
        Some(Host::Domain(name)) => {
            if forbidden_name(name) {
                return Err(UrlRejection::ForbiddenHost);
            }
            let addrs = resolver.resolve(name).await.map_err(|e| {
                tracing::debug!(error = %e, "url host did not resolve");
                UrlRejection::Unresolvable
            })?;
            if addrs.is_empty() {
                return Err(UrlRejection::Unresolvable);
            }
            for ip in addrs {
                check_ip(ip)?;
            }
        }
    }
    Ok(url)
}

/// Refuses the spellings on which URL parsers disagree about the host. The WHATWG parser
/// strips tabs, newlines and surrounding spaces, reads `\` as `/`, accepts `http:host`
/// and percent-decodes the host; curl, urllib and Go do none of that, and split user info at
/// an `@` that WHATWG puts into the path, query or fragment. So: no whitespace, control
/// character or backslash anywhere, the scheme followed by `//` and a host (WHATWG skips
/// extra slashes), and no `@` or `%` between `//` and the first `/` (the only delimiter every
/// parser ends the authority at).
fn check_unambiguous(raw: &str, scheme: &str) -> Result<(), UrlRejection> {
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(UrlRejection::Ambiguous);
    }
    let prefix_len = scheme.len() + "://".len();
    let authority = raw
        .get(..prefix_len)
        .filter(|prefix| prefix.eq_ignore_ascii_case(&format!("{scheme}://")))
        .and_then(|_| raw.get(prefix_len..))
        .ok_or(UrlRejection::Ambiguous)?;
    let authority = authority.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['@', '%']) {
        return Err(UrlRejection::Ambiguous);
    }
    Ok(())
}

/// The string to store for a URL that [`check_public_http_url`] accepted: its WHATWG
/// serialisation (lowercase scheme and host, IDNA names in punycode, IPv4 in dotted decimal,
/// IPv6 compressed, no default port, dot segments resolved, `/` after the authority), which
/// curl, urllib and Go read with the same host. Only the `{` and `}` that the serialisation
/// percent-encodes in the path are written back as braces, so Bark's `{{title}}` placeholders
/// stay usable; parsing the stored form gives back exactly the checked URL.
pub fn stored_form(url: &Url) -> String {
    let serialised = url.as_str();
    let path_end = url
        .query()
        .map(|q| q.len() + 1)
        .unwrap_or(0)
        .saturating_add(url.fragment().map(|f| f.len() + 1).unwrap_or(0));
    let split = serialised.len().saturating_sub(path_end);
    let (head, tail) = serialised.split_at(split);
    let head = head.replace("%7B", "{").replace("%7D", "}");
    let stored = format!("{head}{tail}");
    // The braces are re-encoded by any parser; should that ever not give the same URL,
    // store the plain serialisation.
    if Url::parse(&stored).as_ref() == Ok(url) {
        stored
    } else {
        serialised.to_owned()
    }
}

fn check_ip(ip: IpAddr) -> Result<(), UrlRejection> {
    if forbidden_ip(ip) {
        Err(UrlRejection::ForbiddenHost)
    } else {
        Ok(())
    }
}

/// Names that mean "this machine" or "the provider's internal network" whatever DNS says.
/// `name` is already lowercased and IDNA-encoded by the URL parser.
fn forbidden_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    const RESERVED: [&str; 5] = ["localhost", "internal", "local", "localdomain", "home.arpa"];
    RESERVED.iter().any(|reserved| {
        name == *reserved
            || name
                .strip_suffix(reserved)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// Whether a server must not connect to `ip` on a user's behalf: anything that is not a
/// public unicast address.
///
/// IPv4: 0/8 (includes 0.0.0.0), 10/8, 100.64/10 (CGNAT, includes Alibaba's metadata
/// 100.100.100.200), 127/8, 169.254/16 (includes the 169.254.169.254 metadata address),
/// 172.16/12, 192.0.0/24, the documentation ranges, 192.88.99/24, 192.168/16, 198.18/15
/// (benchmarking), and 224/4 and above (multicast, reserved, broadcast).
///
/// IPv6: `::`, `::1`, the whole deprecated IPv4-compatible `::/96`, `100::/64` (discard),
/// Teredo `2001::/32`, documentation `2001:db8::/32` and `3fff::/20`, `64:ff9b:1::/48`,
/// fc00::/7 (unique local, includes AWS fd00:ec2::254), fe80::/10, fec0::/10 and ff00::/8;
/// and the IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated, NAT64 (`64:ff9b::/96`) and
/// 6to4 (`2002::/16`) forms of any forbidden IPv4 address.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => forbidden_v6(ip),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0
        || a == 10
        || (a == 100 && (64..128).contains(&b))
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // IPv4-compatible (deprecated), including :: and ::1.
        [0, 0, 0, 0, 0, 0, _, _] => true,
        // IPv4-mapped.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => forbidden_v4(v4(hi, lo)),
        // IPv4-translated (SIIT).
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => forbidden_v4(v4(hi, lo)),
        // NAT64 well-known prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => forbidden_v4(v4(hi, lo)),
        // NAT64 local-use prefix.
        [0x64, 0xff9b, 1, ..] => true,
        // Discard-only.
        [0x100, 0, 0, 0, ..] => true,
        // Teredo and documentation.
        [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => true,
        // 6to4 embeds the IPv4 address of its relay.
        [0x2002, hi, lo, ..] => forbidden_v4(v4(hi, lo)),
        // Documentation (RFC 9637).
        [0x3fff, second, ..] if second < 0x1000 => true,
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast.
        [first, ..] => (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || first >= 0xfec0,
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockHostResolver;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A resolver that must not be called.
    fn no_dns() -> MockHostResolver {
        let mut r = MockHostResolver::new();
        r.expect_resolve().never();
        r
    }

    fn dns(host: &'static str, addrs: &'static [&'static str]) -> MockHostResolver {
        let mut r = MockHostResolver::new();
        r.expect_resolve()
            .with(eq(host))
            .times(1)
            .returning(|_| Ok(addrs.iter().map(|a| ip(a)).collect()));
        r
    }

    #[test]
    fn forbidden_ip_refuses_non_public_ipv4() {
        for addr in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.100.100.200",
            "100.127.255.255",
            "192.0.0.170",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden_ip(ip(addr)), "{addr} should be forbidden");
        }
    }

    #[test]
    fn forbidden_ip_allows_public_ipv4_next_to_reserved_ranges() {
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.255.255",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            assert!(!forbidden_ip(ip(addr)), "{addr} should be allowed");
        }
    }

    #[test]
    fn forbidden_ip_refuses_non_public_ipv6_and_ipv4_in_ipv6() {
        for addr in [
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::ffff:0:127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fd00:ec2::254",
            "fc00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(forbidden_ip(ip(addr)), "{addr} should be forbidden");
        }
    }

    #[test]
    fn forbidden_ip_allows_public_ipv6() {
        for addr in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "fbff::1",
            "3fff:1000::1",
            "2001:db9::1",
        ] {
            assert!(!forbidden_ip(ip(addr)), "{addr} should be allowed");
        }
    }

    #[tokio::test]
    async fn a_public_name_is_accepted_and_returned_parsed() {
        let url = check_public_http_url(
            "https://hooks.example.com/notify?x=1",
            &dns("hooks.example.com", &["93.184.215.14", "2606:2800:21f::1"]),
        )
        .await
        .unwrap();
        assert_eq!(url.as_str(), "https://hooks.example.com/notify?x=1");
    }

    #[tokio::test]
    async fn a_public_ip_literal_is_accepted_without_dns() {
        assert!(
            check_public_http_url("http://8.8.8.8:8080/x", &no_dns())
                .await
                .is_ok()
        );
        assert!(
            check_public_http_url("http://[2606:4700:4700::1111]/", &no_dns())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn forbidden_ip_literals_in_any_spelling_are_refused_without_dns() {
        for raw in [
            "http://127.0.0.1/",
            "http://127.0.0.1./",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://127.1/",
            "http://0/",
            "http://0.0.0.0:8080/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.100.100.200/latest/meta-data/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "https://192.168.0.1:8443/gotify",
        ] {
            assert_eq!(
                check_public_http_url(raw, &no_dns()).await,
                Err(UrlRejection::ForbiddenHost),
                "{raw}"
            );
        }
    }

    #[tokio::test]
    async fn reserved_names_are_refused_without_dns() {
        for raw in [
            "http://localhost/",
            "http://LOCALHOST:3000/",
            "http://localhost./",
            "http://api.localhost/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://db.internal/",
            "http://printer.local/",
            "http://router.home.arpa/",
        ] {
            assert_eq!(
                check_public_http_url(raw, &no_dns()).await,
                Err(UrlRejection::ForbiddenHost),
                "{raw}"
            );
        }
    }

    #[tokio::test]
    async fn names_merely_ending_in_reserved_words_are_resolved() {
        assert!(
            check_public_http_url(
                "https://mylocalhost.com/",
                &dns("mylocalhost.com", &["93.184.215.14"])
            )
            .await
            .is_ok()
        );
        assert!(
            check_public_http_url("https://notinternal/", &dns("notinternal", &["8.8.8.8"]))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_name_with_any_forbidden_address_is_refused() {
        assert_eq!(
            check_public_http_url(
                "https://rebind.example.com/",
                &dns("rebind.example.com", &["93.184.215.14", "127.0.0.1"]),
            )
            .await,
            Err(UrlRejection::ForbiddenHost)
        );
        assert_eq!(
            check_public_http_url(
                "https://v6.example.com/",
                &dns("v6.example.com", &["::ffff:10.0.0.1"]),
            )
            .await,
            Err(UrlRejection::ForbiddenHost)
        );
    }

    #[tokio::test]
    async fn resolution_failure_or_no_address_fails_closed() {
        let mut failing = MockHostResolver::new();
        failing
            .expect_resolve()
            .times(1)
            .returning(|_| Err(anyhow::anyhow!("nxdomain")));
        assert_eq!(
            check_public_http_url("https://nope.example/", &failing).await,
            Err(UrlRejection::Unresolvable)
        );
        assert_eq!(
            check_public_http_url("https://empty.example/", &dns("empty.example", &[])).await,
            Err(UrlRejection::Unresolvable)
        );
    }

    #[tokio::test]
    async fn international_names_are_resolved_in_punycode() {
        assert!(
            check_public_http_url("https://例え.jp/", &dns("xn--r8jz45g.jp", &["8.8.8.8"]))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        for raw in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com:70/",
            "javascript:alert(1)",
            "mailto:a@example.com",
            "ws://example.com/",
        ] {
            assert_eq!(
                check_public_http_url(raw, &no_dns()).await,
                Err(UrlRejection::Scheme),
                "{raw}"
            );
        }
    }

    #[tokio::test]
    async fn spellings_that_parsers_read_differently_are_refused_before_any_lookup() {
        for raw in [
            // WHATWG: host 1.1.1.1; curl, urllib: user "1.1.1.1", host 127.0.0.1.
            "http://1.1.1.1\\@127.0.0.1:6379/",
            "http://1.1.1.1#@127.0.0.1:6379/",
            "http://1.1.1.1?@127.0.0.1:6379/",
            "http://1.1.1.1;@127.0.0.1/",
            "http://hooks.example.com#@127.0.0.1/",
            // User info, even empty.
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://:pass@example.com/",
            "http://@1.1.1.1/",
            "http://:@1.1.1.1/",
            // Stripped or rewritten by WHATWG only.
            "http://1.1.1.1\t@127.0.0.1/",
            "http://1.1.1.1\n@127.0.0.1/",
            "http://1.1.1.1/\r\n",
            " http://1.1.1.1/",
            "http://1.1.1.1/ ",
            "\u{0}http://1.1.1.1/",
            "http://1.1.1.1/\u{7f}",
            "http://1.1.1.1/\u{a0}",
            "http:\\\\1.1.1.1\\",
            "http:/\\1.1.1.1/",
            "http://1.1.1.1\\x",
            "http:1.1.1.1/",
            "http:/1.1.1.1/",
            "http:///1.1.1.1/",
            // Percent-encoded hosts (WHATWG decodes them, others do not).
            "http://127.0.0.%31/",
            "http://%31.1.1.1/",
            "http://example%2ecom/",
        ] {
            assert_eq!(
                check_public_http_url(raw, &no_dns()).await,
                Err(UrlRejection::Ambiguous),
                "{raw:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_at_sign_after_the_path_starts_is_data() {
        for raw in [
            "https://1.1.1.1/users/@me",
            "https://1.1.1.1/x?to=a@b.example",
            "https://1.1.1.1/x#a@b",
        ] {
            let url = check_public_http_url(raw, &no_dns()).await.unwrap();
            assert_eq!(url.host_str(), Some("1.1.1.1"), "{raw}");
            assert_eq!(stored_form(&url), raw);
        }
    }

    #[tokio::test]
    async fn the_stored_form_is_the_normalised_serialisation() {
        for (raw, stored) in [
            ("HTTP://1.1.1.1:80/hook", "http://1.1.1.1/hook"),
            ("http://16843009/hook", "http://1.1.1.1/hook"),
            ("http://0x1.0x1.0x1.0x1/hook", "http://1.1.1.1/hook"),
            ("http://01.1.1.1/hook", "http://1.1.1.1/hook"),
            ("http://1.1.1.1", "http://1.1.1.1/"),
            ("http://1.1.1.1?x=1", "http://1.1.1.1/?x=1"),
            ("https://1.1.1.1:443/a/../b/./c", "https://1.1.1.1/b/c"),
            (
                "http://[2606:4700:4700:0:0:0:0:1111]/",
                "http://[2606:4700:4700::1111]/",
            ),
            (
                "https://1.1.1.1/KEY/{{title}}/{{content}}?g={{title}}",
                "https://1.1.1.1/KEY/{{title}}/{{content}}?g={{title}}",
            ),
            ("https://1.1.1.1/a b", "https://1.1.1.1/a%20b"),
        ] {
            let Ok(url) = check_public_http_url(raw, &no_dns()).await else {
                // `a b` has a space: refused, as every other whitespace.
                assert!(raw.contains(' '), "{raw}");
                continue;
            };
            let got = stored_form(&url);
            assert_eq!(got, stored, "{raw}");
            assert_eq!(Url::parse(&got).unwrap(), url, "{raw}: reads back the same");
        }
        let idn = check_public_http_url("https://例え.jp/", &dns("xn--r8jz45g.jp", &["8.8.8.8"]))
            .await
            .unwrap();
        assert_eq!(stored_form(&idn), "https://xn--r8jz45g.jp/");
    }

    #[tokio::test]
    async fn malformed_relative_or_huge_urls_are_invalid() {
        let huge = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        for raw in [
            "",
            "not a url",
            "example.com/hook",
            "/relative/path",
            "http://",
            "http://exa mple.com/",
            "http://[::1/",
            "http://999.1.1.1/",
            // WHATWG decodes the host to `1.1.1.1@127.0.0.1`, which it cannot parse.
            "http://1.1.1.1%40127.0.0.1/",
            huge.as_str(),
        ] {
            assert_eq!(
                check_public_http_url(raw, &no_dns()).await,
                Err(UrlRejection::Invalid),
                "{raw:.60}"
            );
        }
    }
}
