//! Outbound host rules: the patterns manifests and grants list
//! (`api.example.com`, `*.example.com`, optionally `:port`), the check that
//! a host is allowed by both, and the address classes refused after DNS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `host`, `*.suffix`, either optionally followed by `:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lowercase; for a wildcard, the suffix without `*.`.
    name: String,
    wildcard: bool,
    port: Option<u16>,
}

fn is_host_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let bad = || {
            format!(
                "'{}' is not a host name (write it without scheme or path)",
                text.chars().take(80).collect::<String>()
            )
        };
        let lower = text.trim().to_ascii_lowercase();
        let (host, port) = match lower.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => {
                (h.to_owned(), Some(p.parse::<u16>().map_err(|_| bad())?))
            }
            _ => (lower.clone(), None),
        };
        let (name, wildcard) = match host.strip_prefix("*.") {
            Some(rest) => (rest.to_owned(), true),
            None => (host, false),
        };
        let is_ip = name.parse::<IpAddr>().is_ok();
        let is_name = name.len() <= 253
            && name.split('.').all(is_host_label)
            && (name.contains('.') || wildcard || name == "localhost");
        let valid = if wildcard {
            is_name && !is_ip
        } else {
            is_ip || is_name
        };
        if !valid {
            return Err(bad());
        }
        Ok(HostPattern {
            name,
            wildcard,
            port,
        })
    }

    /// Whether `host` (lowercase, no brackets) on `port` matches.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        if self.wildcard {
            host.len() > self.name.len()
                && host.ends_with(&self.name)
                && host.as_bytes()[host.len() - self.name.len() - 1] == b'.'
        } else {
            host == self.name
        }
    }
}

/// Hosts allowed for one installation: declared by the manifest AND
/// granted to the installation.
#[derive(Debug, Clone, Default)]
pub struct HostAllowlist {
    declared: Vec<HostPattern>,
    granted: Vec<HostPattern>,
}

impl HostAllowlist {
    /// Invalid entries were refused at install/bind time; here they are skipped.
    pub fn new(declared: &[String], granted: &[String]) -> HostAllowlist {
        let parse = |list: &[String]| {
            list.iter()
                .filter_map(|h| HostPattern::parse(h).ok())
                .collect()
        };
        HostAllowlist {
            declared: parse(declared),
            granted: parse(granted),
        }
    }

    /// `Ok` when allowed; otherwise the reason, naming what is missing.
    pub fn check(&self, host: &str, port: u16) -> Result<(), String> {
        if !self.declared.iter().any(|p| p.matches(host, port)) {
            return Err(format!(
                "host '{host}' is not declared in the plugin's manifest"
            ));
        }
        if !self.granted.iter().any(|p| p.matches(host, port)) {
            return Err(format!("host '{host}' is not granted to this installation"));
        }
        Ok(())
    }
}

/// Why an address is refused unless the operator allows private networks,
/// or `None` for an ordinary public address.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] {
        Some("cloud metadata")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        Some("private")
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || o[0] >= 240
    {
        Some("non-routable")
    } else if ip.is_documentation() || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) {
        Some("reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if s[0] == 0xfd00 && s[1] == 0x0ec2 {
        Some("cloud metadata")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("private")
    } else if ip.is_unspecified() || ip.is_multicast() || s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("non-routable")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_wildcard_and_port() {
        let exact = HostPattern::parse("API.example.com").unwrap();
        assert!(exact.matches("api.example.com", 443));
        assert!(!exact.matches("x.api.example.com", 443));
        let wild = HostPattern::parse("*.example.com:8443").unwrap();
        assert!(wild.matches("a.b.example.com", 8443));
        assert!(!wild.matches("example.com", 8443));
        assert!(!wild.matches("evilexample.com", 8443));
        assert!(!wild.matches("a.example.com", 443));
        assert!(
            HostPattern::parse("127.0.0.1:8080")
                .unwrap()
                .matches("127.0.0.1", 8080)
        );
        assert!(
            HostPattern::parse("*.com")
                .unwrap()
                .matches("api.example.com", 443)
        );
        for bad in [
            "https://x.com",
            "x.com/path",
            "*.*.com",
            "",
            "a..b",
            "intranet",
            "*.10.0.0.1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowlist_needs_manifest_and_grant() {
        let list = HostAllowlist::new(&["*.example.com".into()], &["api.example.com".into()]);
        assert!(list.check("api.example.com", 443).is_ok());
        assert_eq!(
            list.check("other.example.com", 443).unwrap_err(),
            "host 'other.example.com' is not granted to this installation"
        );
        assert_eq!(
            list.check("evil.test", 443).unwrap_err(),
            "host 'evil.test' is not declared in the plugin's manifest"
        );
    }

    #[test]
    fn private_and_special_addresses_are_classified() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.20.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("private")),
            ("169.254.169.254", Some("cloud metadata")),
            ("169.254.1.1", Some("link-local")),
            ("0.0.0.0", Some("non-routable")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("fd00:ec2::254", Some("cloud metadata")),
            ("fe80::1", Some("link-local")),
            ("fc00::1", Some("private")),
            ("93.184.216.34", None),
            ("2606:4700::1111", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(forbidden_address(ip.parse().unwrap()), expected, "{ip}");
        }
    }
}
