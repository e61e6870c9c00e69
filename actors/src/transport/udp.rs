//! UDP: one socket per worker on the same address (SO_REUSEPORT), read as a stream of
//! datagrams by the worker actor.

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

/// The datagrams arriving on one socket, as a stream.
pub struct Receiver {
    socket: Arc<UdpSocket>,
    buf: Vec<u8>,
}

impl Receiver {
    pub fn new(socket: Arc<UdpSocket>) -> Receiver {
        Receiver {
            socket,
            buf: vec![0; MAX_DATAGRAM],
        }
    }
}

impl futures_core::Stream for Receiver {
    type Item = Datagram;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Datagram>> {
        let this = self.get_mut();
        loop {
            let mut rb = ReadBuf::new(&mut this.buf);
            match this.socket.poll_recv_from(cx, &mut rb) {
                Poll::Ready(Ok(from)) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        continue;
                    }
                    return Poll::Ready(Some(Datagram {
                        bytes: Bytes::copy_from_slice(&this.buf[..n]),
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
