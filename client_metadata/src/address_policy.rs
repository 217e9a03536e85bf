//! Which addresses a client metadata fetch may connect to.
//!
//! The client chooses the URL, so without this an attacker could make the server fetch from
//! its own network: loopback services, private ranges, the cloud metadata service
//! (169.254.169.254, fd00:ec2::254), and so on (the Keycloak CVE-2026-4874 class). Only
//! globally routable unicast addresses are fetched from. IPv6 forms that embed an IPv4 address
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by the IPv4 address they carry.
//! Hosts listed in `allow_hosts` skip this check (test setups), nothing else does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is refused, or `None` when a fetch may connect to it.
pub fn refused_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        return Some("the cloud metadata service");
    }
    let reason = if ip.is_unspecified() || a == 0 {
        "unspecified (0.0.0.0/8)"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private (RFC 1918)"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (b & 0xc0) == 64 {
        "shared address space (CGNAT, 100.64.0.0/10)"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if ip.is_multicast() {
        "multicast"
    } else if a >= 240 {
        "reserved (240.0.0.0/4)"
    } else if ip.is_documentation() {
        "documentation range"
    } else if a == 192 && b == 0 && c == 0 {
        "IETF protocol assignments (192.0.0.0/24)"
    } else if a == 198 && (b & 0xfe) == 18 {
        "benchmarking (198.18.0.0/15)"
    } else {
        return None;
    };
    Some(reason)
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return refused_v4(v4);
    }
    let segments = ip.segments();
    if segments == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        return Some("the cloud metadata service");
    }
    let first = segments[0];
    let reason = if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if (first & 0xffc0) == 0xfe80 {
        "link-local (fe80::/10)"
    } else if (first & 0xffc0) == 0xfec0 {
        "site-local (fec0::/10)"
    } else if (first & 0xfe00) == 0xfc00 {
        "unique-local (fc00::/7)"
    } else if ip.is_multicast() {
        "multicast"
    } else if first == 0x2001 && segments[1] == 0x0db8 {
        "documentation range"
    } else if first == 0x2001 && segments[1] == 0 {
        "Teredo (2001::/32)"
    } else if first == 0x0100 && segments[1..4] == [0, 0, 0] {
        "discard-only (100::/64)"
    } else if (first & 0xe000) != 0x2000 {
        // everything outside 2000::/3, the global unicast space, is reserved or special
        "not global unicast"
    } else {
        return None;
    };
    Some(reason)
}

/// The IPv4 address an IPv6 address stands for, where it embeds one that a connection could
/// end up at: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated),
/// NAT64's well-known prefix (`64:ff9b::/96`) and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return Some(tail);
    }
    // ::a.b.c.d, but not :: and ::1 (judged as IPv6 unspecified and loopback)
    if s[..6] == [0, 0, 0, 0, 0, 0] && (s[6] != 0 || s[7] > 1) {
        return Some(tail);
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            (s[1] & 0xff) as u8,
            (s[2] >> 8) as u8,
            (s[2] & 0xff) as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        refused_reason(ip.parse().expect("an IP address")).is_some()
    }

    #[test]
    fn special_ipv4_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.1",
        ] {
            assert!(refused(ip), "{ip} allowed");
        }
    }

    #[test]
    fn public_ipv4_is_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "160.79.104.10",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.1.1",
            "198.17.0.1",
            "198.20.0.1",
        ] {
            assert!(!refused(ip), "{ip} refused");
        }
    }

    #[test]
    fn special_ipv6_ranges_are_refused() {
        for ip in [
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:100.64.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "4000::1",
        ] {
            assert!(refused(ip), "{ip} allowed");
        }
    }

    #[test]
    fn public_ipv6_is_allowed() {
        for ip in [
            "2606:4700::6810:84e5",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!refused(ip), "{ip} refused");
        }
    }

    #[test]
    fn the_metadata_service_is_named() {
        let v4 = refused_reason("169.254.169.254".parse().unwrap());
        let v6 = refused_reason("fd00:ec2::254".parse().unwrap());
        assert_eq!(v4, Some("the cloud metadata service"));
        assert_eq!(v6, Some("the cloud metadata service"));
    }
}
