//! Receiving a media socket's datagrams in batches, with one system call per wake-up.
//!
//! The media threads' poll is edge-triggered: a socket reported readable must be read until it
//! is empty, or what is left waits for the next datagram to arrive. Reading with `recv_from`
//! until `WouldBlock` costs two system calls per wake-up for the common case of one waiting
//! datagram (a call's socket gets one packet every 20 ms). One `recvmmsg` of up to [`BATCH`]
//! datagrams takes what waits and, when it returns fewer than it could take, also says the
//! socket is empty (with `MSG_DONTWAIT` the kernel stops at the first empty read): one system
//! call per wake-up, and one for every `BATCH` datagrams of a busy socket.
//!
//! The buffers are allocated once per thread; receiving allocates nothing. Elsewhere than
//! Linux it falls back to one `recv_from` per call (a batch of one: read again until
//! `WouldBlock`).

use std::io;
use std::net::SocketAddr;

use switchboard_engine::media::session::RELAY_HEADROOM;

/// Datagrams one call takes at most.
#[cfg(target_os = "linux")]
pub(super) const BATCH: usize = 8;
#[cfg(not(target_os = "linux"))]
pub(super) const BATCH: usize = 1;

/// The bytes of one datagram's slot: the largest datagram taken (bigger ones are cut, and
/// then fail to parse) and the room SRTP protection of a relayed packet needs after it.
pub(super) const RECEIVE_BUFFER: usize = 4096;

/// The largest datagram taken.
const MAX_DATAGRAM: usize = RECEIVE_BUFFER - RELAY_HEADROOM;

/// Room for `BATCH` datagrams and their sources.
pub(super) struct Batch {
    bufs: Box<[u8]>,
    lens: [usize; BATCH],
    from: [Option<SocketAddr>; BATCH],
    #[cfg(target_os = "linux")]
    addrs: Box<[libc::sockaddr_storage]>,
}

impl Batch {
    pub(super) fn new() -> Batch {
        Batch {
            bufs: vec![0; BATCH * RECEIVE_BUFFER].into_boxed_slice(),
            lens: [0; BATCH],
            from: [None; BATCH],
            #[cfg(target_os = "linux")]
            // SAFETY: sockaddr_storage is plain integers, for which all zeroes is a value
            addrs: vec![unsafe { std::mem::zeroed::<libc::sockaddr_storage>() }; BATCH]
                .into_boxed_slice(),
        }
    }

    /// Takes up to `BATCH` datagrams waiting on `socket`: how many (at least one). Fewer than
    /// `BATCH` means the socket was left empty. `WouldBlock` when nothing waits.
    #[cfg(target_os = "linux")]
    pub(super) fn recv(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        let name_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: all-zero iovec and mmsghdr values are valid (null pointers, zero lengths);
        // every pointer then set points into `self.bufs` (RECEIVE_BUFFER bytes per slot),
        // `self.addrs` (one sockaddr_storage per slot), `iov` or `hdrs`, all of which outlive
        // the call; the kernel writes at most `iov_len` bytes per slot, `msg_namelen` bytes per
        // address, and fills at most BATCH entries.
        let n = unsafe {
            let mut iov: [libc::iovec; BATCH] = std::mem::zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
            let base = self.bufs.as_mut_ptr();
            for (i, (h, v)) in hdrs.iter_mut().zip(iov.iter_mut()).enumerate() {
                v.iov_base = base.add(i * RECEIVE_BUFFER).cast();
                v.iov_len = MAX_DATAGRAM;
                h.msg_hdr.msg_iov = v;
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_name = self.addrs.as_mut_ptr().add(i).cast();
                h.msg_hdr.msg_namelen = name_len;
            }
            let n = libc::recvmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            for (i, h) in hdrs.iter().enumerate().take(n) {
                self.lens[i] = (h.msg_len as usize).min(MAX_DATAGRAM);
                self.from[i] = source(&self.addrs[i]);
            }
            n
        };
        Ok(n)
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn recv(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        let (len, from) = socket.recv_from(&mut self.bufs[..MAX_DATAGRAM])?;
        self.lens[0] = len;
        self.from[0] = Some(from);
        Ok(1)
    }

    /// Datagram `i` of the last `recv`: its buffer (the whole slot, to rewrite in place), its
    /// length and its source (`None` for an address that is not IP, never for UDP over IP).
    pub(super) fn datagram(&mut self, i: usize) -> (&mut [u8], usize, Option<SocketAddr>) {
        let slot = &mut self.bufs[i * RECEIVE_BUFFER..(i + 1) * RECEIVE_BUFFER];
        (slot, self.lens[i], self.from[i])
    }
}

/// The source address the kernel wrote.
#[cfg(target_os = "linux")]
pub(super) fn source(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (its family says so), which fits in and
            // is aligned as a sockaddr_storage
            let v4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, a sockaddr_in6
            let v6 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (std::net::UdpSocket, mio::net::UdpSocket) {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        (tx, mio::net::UdpSocket::from_std(rx))
    }

    #[test]
    fn one_call_takes_what_waits_and_says_the_socket_is_empty_by_taking_fewer() {
        let (tx, rx) = pair();
        let to = rx.local_addr().unwrap();
        let mut b = Batch::new();
        assert_eq!(
            b.recv(&rx).unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "nothing waits"
        );
        for k in 0..3u8 {
            tx.send_to(&[k; 5], to).unwrap();
        }
        // loopback delivers in the sender's call: all three wait now
        let n = b.recv(&rx).unwrap();
        assert_eq!(n, 3.min(BATCH));
        for i in 0..n {
            let (buf, len, from) = b.datagram(i);
            assert_eq!(len, 5);
            assert_eq!(buf[..len], [i as u8; 5], "in order");
            assert_eq!(from, Some(tx.local_addr().unwrap()));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_socket_is_read_batch_by_batch_until_a_short_batch() {
        let (tx, rx) = pair();
        let to = rx.local_addr().unwrap();
        let total = 2 * BATCH + 3;
        for k in 0..total {
            tx.send_to(&(k as u32).to_be_bytes(), to).unwrap();
        }
        let mut b = Batch::new();
        let mut seen = Vec::new();
        loop {
            let n = b.recv(&rx).unwrap();
            for i in 0..n {
                let (buf, len, _) = b.datagram(i);
                seen.push(u32::from_be_bytes(buf[..len].try_into().unwrap()));
            }
            if n < BATCH {
                break;
            }
        }
        assert_eq!(seen, (0..total as u32).collect::<Vec<_>>());
        assert_eq!(b.recv(&rx).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn an_ipv6_source_is_read_back_whole() {
        let Ok(tx) = std::net::UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback here
        };
        let rx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let rx = mio::net::UdpSocket::from_std(rx);
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        let mut b = Batch::new();
        assert_eq!(b.recv(&rx).unwrap(), 1);
        assert_eq!(b.datagram(0).2, Some(tx.local_addr().unwrap()));
    }
}
