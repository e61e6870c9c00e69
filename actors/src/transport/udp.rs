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

/// Binds `n` UDP sockets sharing `addr` (SO_REUSEPORT); the kernel spreads peers over them.
pub fn bind_shared(addr: SocketAddr, n: usize) -> io::Result<Vec<std::net::UdpSocket>> {
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
            Ok(s.into())
        })
        .collect()
}

/// A received datagram.
pub struct Datagram {
    pub bytes: Bytes,
    pub from: SocketAddr,
}

/// The datagrams arriving on one socket, as a stream. With `batch` > 1 (Linux), one
/// `recvmmsg` call takes up to that many datagrams per wakeup instead of one `recvfrom` each.
pub struct Receiver {
    socket: Arc<UdpSocket>,
    buf: Vec<u8>,
    batch: usize,
    ready: std::collections::VecDeque<Datagram>,
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
            if let Some(d) = self.ready.pop_front() {
                return Poll::Ready(Some(d));
            }
            match self.socket.poll_recv_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => continue,
                Poll::Ready(Ok(())) => {}
            }
            let (batch, buf, ready) = (self.batch, &mut self.buf, &mut self.ready);
            let sock = &self.socket;
            // try_io clears the readiness when the socket would block
            let _ = sock.try_io(tokio::io::Interest::READABLE, || {
                recv_many(sock, buf, batch, ready)
            });
        }
    }
}

/// One `recvmmsg` into `batch` slots of `buf`; received datagrams are appended to `out`.
#[cfg(target_os = "linux")]
fn recv_many(
    sock: &UdpSocket,
    buf: &mut [u8],
    batch: usize,
    out: &mut std::collections::VecDeque<Datagram>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: every pointer handed to the kernel points into `buf`, `iov` or `addrs`, which
    // outlive the call and are sized for `batch` entries; the kernel writes at most
    // `iov_len` bytes per slot and `msg_namelen` bytes per address.
    unsafe {
        let mut addrs: Vec<libc::sockaddr_storage> = vec![std::mem::zeroed(); batch];
        let mut iov: Vec<libc::iovec> = (0..batch)
            .map(|i| libc::iovec {
                iov_base: buf.as_mut_ptr().add(i * MAX_DATAGRAM) as *mut libc::c_void,
                iov_len: MAX_DATAGRAM,
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = (0..batch)
            .map(|i| {
                let mut h: libc::mmsghdr = std::mem::zeroed();
                h.msg_hdr.msg_name = addrs.as_mut_ptr().add(i) as *mut libc::c_void;
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
                h.msg_hdr.msg_iov = iov.as_mut_ptr().add(i);
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        let n = libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            batch as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for (i, h) in hdrs.iter().take(n as usize).enumerate() {
            let len = h.msg_len as usize;
            let sa = socket2::SockAddr::new(addrs[i], h.msg_hdr.msg_namelen);
            if let (Some(from), true) = (sa.as_socket(), len > 0) {
                let start = i * MAX_DATAGRAM;
                out.push_back(Datagram {
                    bytes: Bytes::copy_from_slice(&buf[start..start + len]),
                    from,
                });
            }
        }
        Ok(())
    }
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
