//! The networks an API token is bound to (`bound_cidrs`, as Vault's
//! `token_bound_cidrs`): IPv4 and IPv6 CIDRs, a bare address meaning that
//! host alone. An exchange from an address outside every one of them is
//! refused.
//!
//! A CIDR is kept in one canonical form, so that a listing reads the same
//! whoever wrote it: host bits must be zero (`10.0.0.1/8` is refused, as a
//! likely typo for `/32` or `10.0.0.0/8`, rather than silently widened),
//! a bare address gets its full prefix, and an IPv4-mapped IPv6 network
//! (`::ffff:10.0.0.0/104`) is written as the IPv4 network it is. A client
//! whose address arrives IPv4-mapped (a dual-stack socket) is matched as
//! the IPv4 address it is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::domain::DomainError;

/// How many networks one token may be bound to.
pub const MAX_BOUND_CIDRS: usize = 32;
/// How long one entry may be: the longest IPv6 CIDR text is 43 characters.
const MAX_ENTRY_LENGTH: usize = 64;

/// One network: an address with its host bits zero, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x:y::z/n` or a bare address, or says why not.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_ENTRY_LENGTH {
            return Err(format!(
                "{:?} is not a CIDR such as 192.0.2.0/24 or 2001:db8::/32",
                truncated(text)
            ));
        }
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not a CIDR such as 192.0.2.0/24 or 2001:db8::/32"))?;
        let width = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => width,
            // Digits only: `u8::from_str` would take a leading `+`.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= width => n,
                    _ => {
                        return Err(format!(
                            "{text:?}: the prefix length of an IPv{} network is 0 to {width}",
                            if width == 32 { 4 } else { 6 }
                        ))
                    }
                }
            }
            Some(_) => {
                return Err(format!(
                    "{text:?}: the prefix length is a number, as in 192.0.2.0/24"
                ))
            }
        };
        let network = masked(address, prefix);
        if network != address {
            return Err(format!(
                "{text:?} has host bits set: the network is {}/{prefix}, the host alone {address}",
                network
            ));
        }
        Ok(Cidr { network, prefix }.unmapped())
    }

    /// An IPv4-mapped IPv6 network as the IPv4 network it is.
    fn unmapped(self) -> Cidr {
        match self.network {
            IpAddr::V6(v6) if self.prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Cidr {
                    network: IpAddr::V4(v4),
                    prefix: self.prefix - 96,
                },
                None => self,
            },
            _ => self,
        }
    }

    /// Whether `client` is in this network. An IPv4-mapped client is its
    /// IPv4 address; IPv4 clients match IPv4 networks only, IPv6 clients
    /// IPv6 networks only.
    pub fn contains(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        match (self.network, client) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                masked(client, self.prefix) == self.network
            }
            _ => false,
        }
    }

    /// Whether it matches every address of its family (`/0`).
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// `address` with every bit past `prefix` cleared.
fn masked(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

fn truncated(text: &str) -> String {
    text.chars().take(MAX_ENTRY_LENGTH).collect()
}

/// The networks a token is bound to; empty: any network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundNetworks(Vec<Cidr>);

impl BoundNetworks {
    /// Parses what a client asked for: at most `MAX_BOUND_CIDRS` entries,
    /// each a CIDR or an address; repeats (in canonical form) are kept
    /// once, in the order first given. The first bad entry is named.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<BoundNetworks, DomainError> {
        if entries.len() > MAX_BOUND_CIDRS {
            return Err(DomainError::Invalid(format!(
                "bound_cidrs holds at most {MAX_BOUND_CIDRS} networks, not {}",
                entries.len()
            )));
        }
        let mut networks: Vec<Cidr> = Vec::with_capacity(entries.len());
        for entry in entries {
            let cidr = Cidr::parse(entry.as_ref())
                .map_err(|why| DomainError::Invalid(format!("bound_cidrs: {why}")))?;
            if !networks.contains(&cidr) {
                networks.push(cidr);
            }
        }
        Ok(BoundNetworks(networks))
    }

    /// The networks as stored: canonical text, read back by `parse`.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Cidr::to_string).collect()
    }

    /// No binding: any network may exchange the token.
    pub fn is_unbound(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a binding narrows nothing: every entry is a `/0`.
    pub fn narrows_nothing(&self) -> bool {
        self.0.iter().all(Cidr::is_everything)
    }

    /// Whether `client` may exchange the token: always when unbound.
    pub fn admits(&self, client: IpAddr) -> bool {
        self.is_unbound() || self.0.iter().any(|cidr| cidr.contains(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn canonical(text: &str) -> String {
        Cidr::parse(text).unwrap().to_string()
    }

    #[test]
    fn a_bare_address_is_that_host_alone() {
        assert_eq!(canonical("192.0.2.7"), "192.0.2.7/32");
        assert_eq!(canonical(" 2001:db8::7 "), "2001:db8::7/128");
        assert_eq!(canonical("2001:DB8:0:0::/64"), "2001:db8::/64");
        assert_eq!(canonical("0.0.0.0/0"), "0.0.0.0/0");
    }

    #[test]
    fn host_bits_garbage_and_out_of_range_prefixes_are_refused() {
        for bad in [
            "10.0.0.1/8",
            "2001:db8::1/64",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08x",
            "10.0.0.0/-1",
            "10.0.0/8",
            "fe80::1%eth0",
            "[::1]",
            "localhost",
            "",
            "10.0.0.0/8/8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} accepted");
        }
        let why = Cidr::parse("10.0.0.1/8").unwrap_err();
        assert!(why.contains("10.0.0.0/8"), "{why}");
    }

    #[test]
    fn an_ipv4_mapped_network_is_written_as_ipv4() {
        assert_eq!(canonical("::ffff:10.0.0.0/104"), "10.0.0.0/8");
        assert_eq!(canonical("::ffff:192.0.2.7"), "192.0.2.7/32");
        // Wider than the mapped range: an IPv6 network.
        assert_eq!(canonical("::/80"), "::/80");
    }

    #[test]
    fn clients_match_their_own_family_and_mapped_clients_are_ipv4() {
        let net = Cidr::parse("127.0.0.2/32").unwrap();
        assert!(net.contains(ip("127.0.0.2")));
        assert!(!net.contains(ip("127.0.0.1")));
        assert!(net.contains(ip("::ffff:127.0.0.2")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let all_v4 = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all_v4.contains(ip("203.0.113.9")));
        assert!(!all_v4.contains(ip("::1")));
    }

    #[test]
    fn a_list_is_bounded_deduplicated_and_empty_means_any_network() {
        let unbound = BoundNetworks::parse::<&str>(&[]).unwrap();
        assert!(unbound.is_unbound() && unbound.admits(ip("198.51.100.1")));
        let bound = BoundNetworks::parse(&["10.0.0.0/8", "::ffff:10.0.0.0/104", "::1"]).unwrap();
        assert_eq!(bound.to_strings(), ["10.0.0.0/8", "::1/128"]);
        assert!(bound.admits(ip("10.2.3.4")) && bound.admits(ip("::1")));
        assert!(!bound.admits(ip("11.0.0.1")));
        let many: Vec<String> = (0..=MAX_BOUND_CIDRS)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        assert!(BoundNetworks::parse(&many).is_err());
        assert!(BoundNetworks::parse(&many[..MAX_BOUND_CIDRS]).is_ok());
        assert!(BoundNetworks::parse(&["0.0.0.0/0", "::/0"])
            .unwrap()
            .narrows_nothing());
        assert!(!bound.narrows_nothing());
    }
}
