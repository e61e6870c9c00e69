//! RTP port pairs from the configured range: an even port for RTP, the next for RTCP, both
//! bound when handed out (a port someone else holds is skipped) and given back when the
//! session closes. The IPv4 address and the IPv6 one (`media.address_v6`) each have the whole
//! range ([`Pools`]). Handed out round the range, so a port just freed is the last to be taken
//! again (late packets of an old call do not reach the next one).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;

use super::error::MediaError;

/// The port pairs of the range and which are taken.
#[derive(Debug)]
pub(super) struct Ports {
    ip: IpAddr,
    range: RangeInclusive<u16>,
    /// The first RTP port (even).
    first: u16,
    taken: Vec<bool>,
    next: usize,
    free: usize,
}

/// A bound pair.
#[derive(Debug)]
pub(super) struct Pair {
    pub(super) rtp_port: u16,
    /// Bound on the IPv6 address.
    pub(super) v6: bool,
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: UdpSocket,
}

impl Ports {
    pub(super) fn new(ip: IpAddr, range: RangeInclusive<u16>) -> Ports {
        let first = range.start() + range.start() % 2;
        // pairs whose RTCP port (rtp + 1) is still in the range
        let pairs = if first < *range.end() {
            usize::from((range.end() - first - 1) / 2 + 1)
        } else {
            0
        };
        Ports {
            ip,
            range,
            first,
            taken: vec![false; pairs],
            next: 0,
            free: pairs,
        }
    }

    /// Binds the next free pair, non-blocking.
    pub(super) fn bind_pair(&mut self) -> Result<Pair, MediaError> {
        let n = self.taken.len();
        for _ in 0..n {
            let i = self.next;
            self.next = (self.next + 1) % n;
            if self.taken[i] {
                continue;
            }
            let rtp_port = self.first + 2 * i as u16;
            let Ok(rtp) = bind(self.ip, rtp_port) else {
                continue;
            };
            let Ok(rtcp) = bind(self.ip, rtp_port + 1) else {
                continue;
            };
            self.taken[i] = true;
            self.free -= 1;
            return Ok(Pair {
                rtp_port,
                v6: self.ip.is_ipv6(),
                rtp,
                rtcp,
            });
        }
        Err(MediaError::NoPorts {
            range: self.range.clone(),
        })
    }

    /// Gives a pair back (its sockets are closed).
    pub(super) fn release(&mut self, rtp_port: u16) {
        let i = usize::from(rtp_port.wrapping_sub(self.first) / 2);
        if let Some(t) = self.taken.get_mut(i) {
            if std::mem::replace(t, false) {
                self.free += 1;
            }
        }
    }

    /// Pairs not handed out.
    pub(super) fn free(&self) -> usize {
        self.free
    }
}

/// The pairs of the IPv4 address and, when configured, of the IPv6 one.
#[derive(Debug)]
pub(super) struct Pools {
    v4: Ports,
    v6: Option<Ports>,
}

impl Pools {
    pub(super) fn new(v4: Ports, v6: Option<Ports>) -> Pools {
        Pools { v4, v6 }
    }

    /// Binds the next free pair on the IPv6 address when `v6` and there is one, else on the
    /// IPv4 address.
    pub(super) fn bind_pair(&mut self, v6: bool) -> Result<Pair, MediaError> {
        match self.v6.as_mut().filter(|_| v6) {
            Some(p) => p.bind_pair(),
            None => self.v4.bind_pair(),
        }
    }

    /// Gives a pair back to the pool it came from ([`Pair::v6`]).
    pub(super) fn release(&mut self, v6: bool, rtp_port: u16) {
        match self.v6.as_mut().filter(|_| v6) {
            Some(p) => p.release(rtp_port),
            None => self.v4.release(rtp_port),
        }
    }

    /// Pairs not handed out, of both families.
    pub(super) fn free(&self) -> usize {
        self.v4.free() + self.v6.as_ref().map_or(0, Ports::free)
    }
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_bound_skipped_when_taken_elsewhere_and_handed_out_round_the_range() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut p = Ports::new(ip, 41_201..=41_209);
        // 41202/3, 41204/5, 41206/7, 41208/9
        assert_eq!(p.free(), 4);
        let squatter = UdpSocket::bind((ip, 41_205)).unwrap();
        let a = p.bind_pair().unwrap();
        assert_eq!(a.rtp_port, 41_202);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), 41_203);
        drop(a);
        p.release(41_202);
        // the cursor moves on: not the pair just given back, and not 41204, whose RTCP
        // port is someone else's
        let b = p.bind_pair().unwrap();
        assert_eq!(b.rtp_port, 41_206);
        drop(squatter);
        let ports: Vec<u16> = (0..3).map(|_| p.bind_pair().unwrap().rtp_port).collect();
        assert_eq!(ports, [41_208, 41_202, 41_204], "round the range");
        assert_eq!(p.free(), 0);
        assert!(matches!(p.bind_pair(), Err(MediaError::NoPorts { .. })));
        p.release(41_206);
        p.release(41_206);
        assert_eq!(p.free(), 1, "a pair given back twice counts once");
        assert_eq!(
            Ports::new(ip, 41_300..=41_304).free(),
            2,
            "41304 has no RTCP port"
        );
    }

    #[test]
    fn each_family_has_the_whole_range_and_takes_its_pairs_back() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let mut p = Pools::new(
            Ports::new(v4, 41_310..=41_313),
            Some(Ports::new(v6, 41_310..=41_313)),
        );
        assert_eq!(p.free(), 4);
        let a = p.bind_pair(true).unwrap();
        assert!(a.v6 && a.rtp.local_addr().unwrap().is_ipv6());
        let b = p.bind_pair(false).unwrap();
        assert!(!b.v6 && b.rtp.local_addr().unwrap().is_ipv4());
        assert_eq!(a.rtp_port, b.rtp_port, "the same port on each address");
        assert_eq!(p.free(), 2);
        drop(a);
        p.release(true, 41_310);
        assert_eq!(p.free(), 3);
        // without an IPv6 address an IPv6 leg gets an IPv4 pair
        let mut only4 = Pools::new(Ports::new(v4, 41_320..=41_321), None);
        assert!(!only4.bind_pair(true).unwrap().v6);
    }
}
