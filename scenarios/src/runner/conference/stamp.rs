//! The kernel's receive timestamp of a datagram (Linux `SO_TIMESTAMPNS`: the real-time clock
//! when the packet reached the socket, in a control message of `recvmsg`), so the probe's
//! delay leaves out how late the runner read it. Elsewhere there is none and the read time
//! stands in.

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Asks the kernel to timestamp every datagram `socket` receives; whether it will.
pub(super) fn enable(socket: &UdpSocket) -> bool {
    imp::enable(socket)
}

/// Receives one datagram: its length, its source, and its arrival (real-time ns since the
/// Unix epoch) when `stamped` and the kernel gave it.
pub(super) async fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    stamped: bool,
) -> io::Result<(usize, SocketAddr, Option<u64>)> {
    if !stamped {
        let (n, from) = socket.recv_from(buf).await?;
        return Ok((n, from, None));
    }
    imp::recv(socket, buf).await
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    /// `SO_TIMESTAMPNS` and its control message type (`SO_TIMESTAMPNS_OLD`, a `timespec` of
    /// the platform's `time_t`: 64 bits on 64-bit Linux), the same on x86-64 and arm64.
    const SO_TIMESTAMPNS: libc::c_int = 35;
    const SCM_TIMESTAMPNS: libc::c_int = SO_TIMESTAMPNS;

    pub(super) fn enable(socket: &UdpSocket) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and an int option of the right size
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    }

    pub(super) async fn recv(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<u64>)> {
        socket
            .async_io(Interest::READABLE, || recvmsg(socket.as_raw_fd(), buf))
            .await
    }

    fn recvmsg(fd: libc::c_int, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Option<u64>)> {
        // SAFETY: every pointer in `msg` points at a live local buffer of the length given;
        // the control messages are read only within what the kernel filled in
        unsafe {
            let mut addr: libc::sockaddr_storage = zeroed();
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut control = [0u64; 16];
            let mut msg: libc::msghdr = zeroed();
            msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; 16]>() as _;
            let n = libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT);
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut arrived = None;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == SCM_TIMESTAMPNS {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    arrived = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            let from = match i32::from(addr.ss_family) {
                libc::AF_INET => {
                    let a = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                    SocketAddr::V4(SocketAddrV4::new(
                        Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                        u16::from_be(a.sin_port),
                    ))
                }
                libc::AF_INET6 => {
                    let a = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                    SocketAddr::V6(SocketAddrV6::new(
                        Ipv6Addr::from(a.sin6_addr.s6_addr),
                        u16::from_be(a.sin6_port),
                        a.sin6_flowinfo,
                        a.sin6_scope_id,
                    ))
                }
                _ => return Err(io::Error::other("datagram from no IP address")),
            };
            Ok((n as usize, from, arrived))
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::net::SocketAddr;

    use tokio::net::UdpSocket;

    pub(super) fn enable(_: &UdpSocket) -> bool {
        false
    }

    pub(super) async fn recv(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<u64>)> {
        let (n, from) = socket.recv_from(buf).await?;
        Ok((n, from, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[tokio::test]
    async fn a_datagram_read_late_carries_the_time_it_arrived() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stamped = enable(&b);
        assert_eq!(stamped, cfg!(target_os = "linux"));
        // the kernel turns receive timestamps on for the whole system by a deferred work item
        // when the first socket asks: until then a datagram is stamped when it is read. Wait
        // for a stamp older than its read, as the runner's first probes may.
        let mut buf = [0u8; 64];
        let mut on = !stamped;
        for _ in 0..200 {
            if on {
                break;
            }
            a.send_to(b"warm", b.local_addr().unwrap()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let (_, _, arrived) = recv(&b, &mut buf, stamped).await.unwrap();
            let read = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            let arrived = std::time::Duration::from_nanos(arrived.unwrap_or(0));
            on = read.saturating_sub(arrived) >= std::time::Duration::from_millis(4);
        }
        assert!(on, "the kernel never stamped a datagram on arrival");
        let sent = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        a.send_to(b"late", b.local_addr().unwrap()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (n, from, arrived) = recv(&b, &mut buf, stamped).await.unwrap();
        let read = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!((&buf[..n], from), (&b"late"[..], a.local_addr().unwrap()));
        if stamped {
            let arrived = std::time::Duration::from_nanos(arrived.unwrap());
            assert!(
                arrived >= sent - std::time::Duration::from_millis(1),
                "{arrived:?}"
            );
            assert!(read - arrived >= std::time::Duration::from_millis(45));
        }
    }
}
