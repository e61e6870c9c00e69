//! A media socket, connected to its side's peer once the side has latched.
//!
//! Until a side has latched, its sockets take packets from anyone and send with `sendto` to
//! the address its SDP names. Once a port has learnt its one source (`Session::peer`), the
//! media thread `connect`s its socket there (`media.connect_latched`): a packet to that
//! address then goes out with `send`, on the route the socket keeps, where `sendto` looks the
//! route up for every packet; and the kernel itself refuses every other source, which strict
//! source would drop anyway (those packets are then not counted as `spoofed`: they never
//! reach the session, and the kernel answers them with an ICMP port unreachable, as for a
//! closed port). A new SDP opens learning again: the socket is disconnected
//! (`connect(AF_UNSPEC)`) until the next first packet. A socket bound to an unspecified
//! address is never connected: connecting would also tie it to one local address, the one
//! of the route to the peer, which need not be the one the phone sends to.
//!
//! What a connected socket changes besides: the kernel reports an ICMP error about an earlier
//! packet (the peer's port closed, its host unreachable) on the socket's next `send` or
//! receive, once. Such an error is taken, counted (`media_icmp_errors`) and passed over: a
//! send is tried once more, a receive goes on reading. It never ends the session or the
//! thread.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

/// One UDP socket of a side, and the peer it is connected to.
#[derive(Debug)]
pub(super) struct MediaSocket {
    socket: UdpSocket,
    /// Where it is connected to, if it is.
    peer: Option<SocketAddr>,
    /// Bound to a specified address (only such a socket is ever connected).
    connectable: bool,
}

impl MediaSocket {
    /// A socket bound to an address and a port given (as `ports.rs` binds them): one bound
    /// to port 0 would lose the port the kernel chose when it is disconnected.
    pub(super) fn new(socket: UdpSocket) -> MediaSocket {
        let connectable = socket.local_addr().is_ok_and(|a| !a.ip().is_unspecified());
        MediaSocket {
            socket,
            peer: None,
            connectable,
        }
    }

    pub(super) fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    pub(super) fn socket_mut(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    /// Where it is connected to now.
    pub(super) fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sends `buf` to `to`: with `send` when the socket is connected there, else `sendto`.
    /// An ICMP error the kernel queued on the socket fails the first try: it is counted in
    /// `icmp` and the packet sent again, once.
    pub(super) fn send(&self, buf: &[u8], to: SocketAddr, icmp: &mut u64) -> io::Result<usize> {
        let mut tried = false;
        loop {
            let sent = if self.peer == Some(to) {
                self.socket.send(buf)
            } else {
                self.socket.send_to(buf, to)
            };
            match sent {
                Err(e) if !tried && is_icmp(&e) => {
                    *icmp += 1;
                    tried = true;
                }
                r => return r,
            }
        }
    }

    /// Connects the socket to `peer`, or disconnects it for `None`, when it is not so
    /// already. A failure leaves it as it was (a socket that stays unconnected sends with
    /// `sendto` as before).
    pub(super) fn follow(&mut self, peer: Option<SocketAddr>) -> io::Result<()> {
        if peer == self.peer || !self.connectable {
            return Ok(());
        }
        match peer {
            Some(p) => self.socket.connect(p)?,
            None => disconnect(&self.socket)?,
        }
        self.peer = peer;
        Ok(())
    }
}

/// An error a connected socket reports for an ICMP message about an earlier packet.
pub(super) fn is_icmp(e: &io::Error) -> bool {
    e.raw_os_error().is_some_and(is_icmp_errno)
}

/// The same, by its error number.
pub(super) fn is_icmp_errno(errno: i32) -> bool {
    matches!(
        errno,
        libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH
    )
}

/// Dissolves a UDP socket's association (`connect` with `AF_UNSPEC`): it takes packets from
/// any source again and keeps its bound address and port.
fn disconnect(socket: &UdpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: all zeroes is a valid sockaddr; only its family is read for AF_UNSPEC
    let mut any: libc::sockaddr = unsafe { std::mem::zeroed() };
    any.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: the pointer and length describe `any`, which outlives the call
    let r = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            &any,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A socket bound to `ip` and a port given, as the plane binds them.
    fn bound(ip: &str) -> MediaSocket {
        let port = std::net::UdpSocket::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = std::net::UdpSocket::bind((ip, port)).unwrap();
        s.set_nonblocking(true).unwrap();
        MediaSocket::new(UdpSocket::from_std(s))
    }

    fn phone() -> std::net::UdpSocket {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s
    }

    /// Waits for a datagram on the non-blocking `s`: its source.
    fn arrives(s: &UdpSocket) -> Option<SocketAddr> {
        let mut buf = [0u8; 64];
        for _ in 0..200 {
            match s.recv_from(&mut buf) {
                Ok((_, from)) => return Some(from),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(_) => {}
            }
        }
        None
    }

    #[test]
    fn a_connected_socket_takes_only_its_peer_and_takes_anyone_again_once_disconnected() {
        let mut s = bound("127.0.0.1");
        let to = s.socket().local_addr().unwrap();
        let (peer, other) = (phone(), phone());
        let mut icmp = 0;
        s.follow(Some(peer.local_addr().unwrap())).unwrap();
        assert_eq!(s.peer(), peer.local_addr().ok());
        s.send(b"hi", peer.local_addr().unwrap(), &mut icmp)
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(peer.recv_from(&mut buf).unwrap(), (2, to));
        // anyone else is refused by the kernel
        other.send_to(b"x", to).unwrap();
        peer.send_to(b"y", to).unwrap();
        assert_eq!(arrives(s.socket()), peer.local_addr().ok());
        assert_eq!(arrives(s.socket()), None, "the other source never arrives");
        // a send elsewhere still works while connected
        s.send(b"to", other.local_addr().unwrap(), &mut icmp)
            .unwrap();
        assert_eq!(other.recv_from(&mut buf).unwrap().1, to);

        s.follow(None).unwrap();
        assert_eq!(s.peer(), None);
        assert_eq!(
            s.socket().local_addr().unwrap(),
            to,
            "still bound where it was"
        );
        other.send_to(b"x", to).unwrap();
        assert_eq!(arrives(s.socket()), other.local_addr().ok());
        assert_eq!(icmp, 0);
    }

    #[test]
    fn a_refusal_from_a_closed_port_is_counted_and_the_packet_sent_again() {
        let mut s = bound("127.0.0.1");
        let gone = phone();
        let gone_at = gone.local_addr().unwrap();
        s.follow(Some(gone_at)).unwrap();
        drop(gone);
        let mut icmp = 0;
        // each packet to the closed port brings an ICMP port unreachable back, which the
        // socket's next send reports (and takes): every send still succeeds
        for _ in 0..500 {
            s.send(b"1", gone_at, &mut icmp).unwrap();
            if icmp > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            icmp > 0,
            "the refusal was reported, counted and passed over"
        );
        // the port opens again: what is sent next arrives
        let back = std::net::UdpSocket::bind(gone_at).unwrap();
        back.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s.send(b"3", gone_at, &mut icmp).unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = back.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"3");
    }

    #[test]
    fn a_socket_bound_to_an_unspecified_address_is_never_connected() {
        let mut s = bound("0.0.0.0");
        s.follow(Some("127.0.0.1:9".parse().unwrap())).unwrap();
        assert_eq!(s.peer(), None);
    }
}
