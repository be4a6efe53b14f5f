//! Accept filters: which peers a listener lets in (TCP_ACCEPT_FILTER, IPC_FILTER_UID,
//! IPC_FILTER_GID, IPC_FILTER_PID).
//!
//! A tcp listener with address masks accepts a connection only from an address one of them
//! covers; an ipc listener with credential filters accepts a connection only from a process
//! whose user id, group id (primary or supplementary) or process id is listed. Without filters
//! everyone is accepted. A refused connection is closed at once, before any byte is read.
//!
//! Where libzmq looks the peer's user up in the user and group databases to find its
//! supplementary groups, oxmq takes the groups the peer process had when it connected
//! (SO_PEERGROUPS), and an IPv4 mask also covers a peer that reached an IPv6 listener from an
//! IPv4 address.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// An address and the number of leading bits that must match (`10.0.0.0/8`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AddressMask {
    network: IpAddr,
    prefix: u8,
}

impl AddressMask {
    /// Parses `address[/bits]`, as libzmq: a literal address (no host names), an optional
    /// prefix length of 0 to 32 (IPv4) or 128 (IPv6); no prefix means the whole address.
    pub(crate) fn parse(text: &str) -> Result<AddressMask> {
        let (address, bits) = match text.rsplit_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let address = address
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(address);
        let network: IpAddr = address.parse().map_err(|_| Error::Invalid)?;
        let full = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match bits {
            None => full,
            Some(bits) if !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()) => {
                bits.parse::<u8>().map_err(|_| Error::Invalid)?
            }
            Some(_) => return Err(Error::Invalid),
        };
        if prefix > full {
            return Err(Error::Invalid);
        }
        Ok(AddressMask { network, prefix })
    }

    /// Whether `peer` is inside the mask.
    pub(crate) fn covers(&self, peer: IpAddr) -> bool {
        match (self.network, peer.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(peer)) => {
                prefix_equal(&net.octets(), &peer.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(peer)) => {
                prefix_equal(&net.octets(), &peer.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are equal.
fn prefix_equal(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    if a.get(..whole) != b.get(..whole) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xFFu8 << (8 - rest);
    match (a.get(whole), b.get(whole)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// A socket's accept filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AcceptFilters {
    pub tcp: Vec<AddressMask>,
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
    pub pids: Vec<i32>,
}

impl AcceptFilters {
    /// Whether a tcp peer at `peer` may connect.
    pub(crate) fn allows_tcp(&self, peer: Option<IpAddr>) -> bool {
        self.tcp.is_empty() || peer.is_some_and(|ip| self.tcp.iter().any(|m| m.covers(ip)))
    }

    /// Whether an ipc peer may connect, given its process id, user id and group id (`None`:
    /// they could not be read); its supplementary groups are asked for only when needed.
    pub(crate) fn allows_ipc(
        &self,
        peer: Option<(i32, u32, u32)>,
        groups: impl FnOnce() -> Vec<u32>,
    ) -> bool {
        if !self.filters_ipc() {
            return true;
        }
        let Some((pid, uid, gid)) = peer else {
            return false;
        };
        self.uids.contains(&uid)
            || self.pids.contains(&pid)
            || self.gids.contains(&gid)
            || !self.gids.is_empty() && groups().iter().any(|g| self.gids.contains(g))
    }

    /// Whether any ipc filter is set (the peer's credentials are needed).
    pub(crate) fn filters_ipc(&self) -> bool {
        !(self.uids.is_empty() && self.gids.is_empty() && self.pids.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn masks_parse_as_libzmqs() {
        for bad in [
            "foo",
            "0.0.0.0foo",
            "0.0.0.0/foo",
            "0.0.0.0/",
            "0.0.0.0/-1",
            "0.0.0.0/33",
            "::1/129",
            "localhost",
            "",
        ] {
            assert_eq!(AddressMask::parse(bad), Err(Error::Invalid), "{bad}");
        }
        assert!(
            AddressMask::parse("127.0.0.1")
                .unwrap()
                .covers(ip("127.0.0.1"))
        );
        assert!(
            !AddressMask::parse("127.0.0.1")
                .unwrap()
                .covers(ip("127.0.0.2"))
        );
        assert!(
            AddressMask::parse("0.0.0.0/0")
                .unwrap()
                .covers(ip("8.8.8.8"))
        );
        assert!(AddressMask::parse("[::1]/128").unwrap().covers(ip("::1")));
    }

    #[test]
    fn masks_cover_their_prefix() {
        let mask = AddressMask::parse("10.1.128.0/17").unwrap();
        assert!(mask.covers(ip("10.1.200.3")));
        assert!(!mask.covers(ip("10.1.127.255")));
        assert!(!mask.covers(ip("::1")));
        // An IPv4 peer on a dual-stack listener.
        assert!(mask.covers(ip("::ffff:10.1.129.1")));
        let v6 = AddressMask::parse("fe80::/10").unwrap();
        assert!(v6.covers(ip("fe80::1")) && v6.covers(ip("febf::1")));
        assert!(!v6.covers(ip("fec0::1")));
    }

    #[test]
    fn filters_accept_any_match_and_everyone_when_empty() {
        let mut filters = AcceptFilters::default();
        assert!(filters.allows_tcp(None));
        assert!(filters.allows_ipc(None, Vec::new));
        filters
            .tcp
            .push(AddressMask::parse("127.0.0.255/32").unwrap());
        assert!(!filters.allows_tcp(Some(ip("127.0.0.1"))));
        filters.tcp.push(AddressMask::parse("127.0.0.0/8").unwrap());
        assert!(filters.allows_tcp(Some(ip("127.0.0.1"))));

        let peer = Some((42, 1000, 100));
        let groups = || vec![27, 100];
        let unasked = || -> Vec<u32> { panic!("groups are not needed") };
        filters.uids.push(0);
        assert!(!filters.allows_ipc(peer, unasked));
        assert!(!filters.allows_ipc(None, unasked));
        filters.gids.push(27);
        assert!(filters.allows_ipc(peer, groups), "a supplementary group");
        filters.gids.clear();
        filters.pids.push(42);
        assert!(filters.allows_ipc(peer, unasked));
    }
}
