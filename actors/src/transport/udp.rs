//! UDP: one socket per worker on each SIP address (SO_REUSEPORT), read as a stream of
//! datagrams by the worker actor; datagrams of only whitespace are keep-alives.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use crate::metrics::Metrics;

/// Largest datagram accepted.
pub const MAX_DATAGRAM: usize = 65_535;

/// Binds `n` UDP sockets sharing `addr` (SO_REUSEPORT), in order (the group's socket
/// indexes); the kernel spreads peers over them (see `spread`). Port 0: the port the first
/// socket is given, for all.
pub fn bind_shared(addr: SocketAddr, n: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    let mut addr = addr;
    (0..n)
        .map(|_| {
            let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_address(true)?;
            if addr.is_ipv6() {
                // each family its own socket: `[::]` and `0.0.0.0` on one port side by side
                s.set_only_v6(true)?;
            }
            #[cfg(unix)]
            s.set_reuse_port(true)?;
            // room for bursts: a load test offers tens of thousands of datagrams a second
            let _ = s.set_recv_buffer_size(8 << 20);
            let _ = s.set_send_buffer_size(8 << 20);
            s.set_nonblocking(true)?;
            s.bind(&addr.into())?;
            if let Some(bound) = s.local_addr()?.as_socket() {
                addr = bound;
            }
            Ok(s.into())
        })
        .collect()
}

/// A received datagram.
pub struct Datagram {
    pub bytes: Bytes,
    pub from: SocketAddr,
    /// The last of the datagrams one read took from the socket (what a worker collected
    /// for other workers while handling them goes now).
    pub last: bool,
}

/// The datagrams arriving on one socket, as a stream. With `batch` > 1 (Linux), one
/// `recvmmsg` call takes up to that many datagrams per wakeup instead of one `recvfrom` each.
pub struct Receiver {
    socket: Arc<UdpSocket>,
    buf: Vec<u8>,
    batch: usize,
    ready: std::collections::VecDeque<Datagram>,
    /// `recvmmsg`'s headers, made once.
    #[cfg(target_os = "linux")]
    mmsg: Mmsg,
}

/// The slots of one `recvmmsg` call: a header, an iovec and an address per datagram, made
/// once; `recv_many` points them at the buffers before each call.
#[cfg(target_os = "linux")]
struct Mmsg {
    addrs: Vec<libc::sockaddr_storage>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

#[cfg(target_os = "linux")]
impl Mmsg {
    fn new(batch: usize) -> Mmsg {
        // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr (null pointers,
        // zero lengths)
        unsafe {
            Mmsg {
                addrs: vec![std::mem::zeroed(); batch],
                iov: vec![std::mem::zeroed(); batch],
                hdrs: vec![std::mem::zeroed(); batch],
            }
        }
    }
}

impl Receiver {
    pub fn new(socket: Arc<UdpSocket>, batch: usize) -> Receiver {
        let batch = if cfg!(target_os = "linux") {
            batch.clamp(1, 64)
        } else {
            1
        };
        Receiver {
            socket,
            buf: vec![0; MAX_DATAGRAM * batch],
            #[cfg(target_os = "linux")]
            mmsg: Mmsg::new(batch),
            batch,
            ready: std::collections::VecDeque::with_capacity(batch),
        }
    }

    fn poll_single(&mut self, cx: &mut Context<'_>) -> Poll<Option<Datagram>> {
        loop {
            let mut rb = ReadBuf::new(&mut self.buf[..MAX_DATAGRAM]);
            match self.socket.poll_recv_from(cx, &mut rb) {
                Poll::Ready(Ok(from)) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        continue;
                    }
                    return Poll::Ready(Some(Datagram {
                        bytes: Bytes::copy_from_slice(&self.buf[..n]),
                        from,
                        last: true,
                    }));
                }
                // ICMP port-unreachable from an earlier send surfaces here on Linux; the
                // socket is fine, so keep reading
                Poll::Ready(Err(_)) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Datagram>> {
        loop {
            if let Some(mut d) = self.ready.pop_front() {
                d.last = self.ready.is_empty();
                return Poll::Ready(Some(d));
            }
            match self.socket.poll_recv_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => continue,
                Poll::Ready(Ok(())) => {}
            }
            let (buf, mmsg, ready) = (&mut self.buf, &mut self.mmsg, &mut self.ready);
            let sock = &self.socket;
            // try_io clears the readiness when the socket would block
            let _ = sock.try_io(tokio::io::Interest::READABLE, || {
                recv_many(sock, buf, mmsg, ready)
            });
        }
    }
}

/// One `recvmmsg` into the slots of `mmsg`, MAX_DATAGRAM bytes of `buf` each; received
/// datagrams are appended to `out`.
#[cfg(target_os = "linux")]
fn recv_many(
    sock: &UdpSocket,
    buf: &mut [u8],
    mmsg: &mut Mmsg,
    out: &mut std::collections::VecDeque<Datagram>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let Mmsg { addrs, iov, hdrs } = mmsg;
    let slots = hdrs.len().min(buf.len() / MAX_DATAGRAM);
    for (i, chunk) in buf.chunks_exact_mut(MAX_DATAGRAM).take(slots).enumerate() {
        iov[i] = libc::iovec {
            iov_base: chunk.as_mut_ptr() as *mut libc::c_void,
            iov_len: MAX_DATAGRAM,
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = &mut addrs[i] as *mut libc::sockaddr_storage as *mut libc::c_void;
        h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
        h.msg_iov = &mut iov[i];
        h.msg_iovlen = 1;
        h.msg_control = std::ptr::null_mut();
        h.msg_controllen = 0;
        h.msg_flags = 0;
    }
    // SAFETY: the first `slots` headers point into `buf` (MAX_DATAGRAM bytes each, `iov`)
    // and into `addrs` (one sockaddr_storage each), all alive and not otherwise borrowed for
    // the call; the kernel writes at most `iov_len` bytes per slot and `msg_namelen` bytes
    // per address.
    let n = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            slots as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    for (i, h) in hdrs.iter().take(n as usize).enumerate() {
        let len = h.msg_len as usize;
        // SAFETY: the kernel filled `msg_namelen` bytes of this slot's address
        let sa = unsafe { socket2::SockAddr::new(addrs[i], h.msg_hdr.msg_namelen) };
        if let (Some(from), true) = (sa.as_socket(), len > 0) {
            let start = i * MAX_DATAGRAM;
            out.push_back(Datagram {
                bytes: Bytes::copy_from_slice(&buf[start..start + len]),
                from,
                last: false,
            });
        }
    }
    Ok(())
}

impl futures_core::Stream for Receiver {
    type Item = Datagram;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Datagram>> {
        let this = self.get_mut();
        #[cfg(target_os = "linux")]
        if this.batch > 1 {
            return this.poll_batch(cx);
        }
        this.poll_single(cx)
    }
}

/// What a datagram of nothing but whitespace is: NAT keep-alives, never SIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blank {
    /// Exactly a double CRLF: a ping, answered with one CRLF to its source (the CRLF
    /// keep-alive of RFC 5626 §3.5.1 that phones also send over UDP).
    Ping,
    /// Any other whitespace (a single CRLF, spaces): ignored, and not counted as malformed.
    Ignore,
}

/// The answer to a ping.
pub const PONG: &[u8] = b"\r\n";

/// Whether a datagram is a keep-alive rather than a message.
pub fn blank(bytes: &[u8]) -> Option<Blank> {
    if bytes == b"\r\n\r\n" {
        Some(Blank::Ping)
    } else if bytes
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
    {
        Some(Blank::Ignore)
    } else {
        None
    }
}

/// Sends a datagram without waiting; a full socket buffer falls back to an async send.
pub fn send(socket: &Arc<UdpSocket>, to: SocketAddr, bytes: Bytes, metrics: &Metrics) {
    match socket.try_send_to(&bytes, to) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            let s = socket.clone();
            actix_rt::spawn(async move {
                let _ = s.send_to(&bytes, to).await;
            });
        }
        Err(_) => metrics.dropped("udp send error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_double_crlf_is_a_ping_and_other_whitespace_is_ignored() {
        assert_eq!(blank(b"\r\n\r\n"), Some(Blank::Ping));
        assert_eq!(blank(b"\r\n"), Some(Blank::Ignore));
        assert_eq!(blank(b" \r\n \t"), Some(Blank::Ignore));
        assert_eq!(blank(b"\r\n\r\nOPTIONS"), None);
        assert_eq!(blank(b"x"), None);
    }
}
