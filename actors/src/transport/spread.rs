//! How the datagrams arriving on one SIP address are spread over the workers' sockets.
//!
//! Each worker has its own UDP socket on every address (SO_REUSEPORT). By default the kernel
//! picks the socket by a hash of the source and destination addresses and ports, so every
//! datagram of one peer lands on one worker. That suits many phones; it does not suit one
//! peer that sends everything, such as a trunk, a session border controller or a load
//! generator: one worker then reads and parses every datagram while the others wait, and
//! under load that one socket's queue overflows.
//!
//! `Spread::Datagram` attaches a classic BPF program to the group (SO_ATTACH_REUSEPORT_CBPF)
//! that picks the socket from the datagram's own bytes: a multiplicative hash of the 32-bit
//! words of its first 160 bytes (the first line and the top Via, whose URI and branch differ
//! from one request to the next), mixed by MurmurHash3's finaliser and taken modulo the
//! number of sockets. The
//! same bytes always land on the same socket, so a retransmission meets the worker that read
//! the original; a datagram shorter than the window goes to the first socket. Whichever
//! worker reads a message hands it to the worker that owns it (ingress `route`), so the spread
//! changes who parses, not who handles.

use std::io;

pub use crate::config::Spread;

/// First byte of the hashed window.
const WINDOW_START: u32 = 0;
/// 32-bit words hashed: 160 bytes, fewer than any request or response has (its Via, From,
/// To, Call-ID and CSeq alone are more).
const WINDOW_WORDS: u32 = 40;

/// Multiplier of the hash (Knuth's multiplicative constant, 2^32 / phi).
const MUL: u32 = 0x9E37_79B1;

/// MurmurHash3's 32-bit finaliser constants.
const F1: u32 = 0x85eb_ca6b;
const F2: u32 = 0xc2b2_ae35;

/// MurmurHash3's finaliser: every bit of `h` moves every bit of the result.
fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(F1);
    h ^= h >> 13;
    h = h.wrapping_mul(F2);
    h ^ (h >> 16)
}

/// The classic BPF program: a multiplicative hash of the window's words, mixed by
/// MurmurHash3's finaliser, modulo `sockets`.
#[cfg(target_os = "linux")]
fn program(sockets: u32) -> Vec<libc::sock_filter> {
    use libc::{BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_K, BPF_LD, BPF_MISC, BPF_MOD, BPF_MUL};
    use libc::{BPF_RET, BPF_RSH, BPF_TAX, BPF_W, BPF_X, BPF_XOR};
    let op = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let mut p = Vec::with_capacity(4 * WINDOW_WORDS as usize + 4);
    // A = word 0; then for each next word: A = A * MUL + word
    p.push(op(BPF_LD | BPF_W | BPF_ABS, WINDOW_START));
    for i in 1..WINDOW_WORDS {
        p.push(op(BPF_ALU | BPF_MUL | BPF_K, MUL));
        p.push(op(BPF_MISC | BPF_TAX, 0));
        p.push(op(BPF_LD | BPF_W | BPF_ABS, WINDOW_START + 4 * i));
        p.push(op(BPF_ALU | BPF_ADD | BPF_X, 0));
    }
    // MurmurHash3's finaliser, so that close inputs (a counter in a branch) spread evenly:
    // A ^= A >> 16; A *= F1; A ^= A >> 13; A *= F2; A ^= A >> 16
    for (shift, mul) in [(16, Some(F1)), (13, Some(F2)), (16, None)] {
        p.push(op(BPF_MISC | BPF_TAX, 0));
        p.push(op(BPF_ALU | BPF_RSH | BPF_K, shift));
        p.push(op(BPF_ALU | BPF_XOR | BPF_X, 0));
        if let Some(k) = mul {
            p.push(op(BPF_ALU | BPF_MUL | BPF_K, k));
        }
    }
    p.push(op(BPF_ALU | BPF_MOD | BPF_K, sockets.max(1)));
    p.push(op(BPF_RET | BPF_A, 0));
    p
}

/// The socket index the program picks for `datagram` among `sockets` (what the kernel
/// computes; for tests and for reading the spread of a capture).
pub fn socket_for(datagram: &[u8], sockets: u32) -> u32 {
    let end = (WINDOW_START + 4 * WINDOW_WORDS) as usize;
    if datagram.len() < end {
        // a load past the end stops a classic BPF program with 0
        return 0;
    }
    let mut words = datagram[WINDOW_START as usize..end]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    let first = words.next().unwrap_or(0);
    let a = words.fold(first, |a, w| a.wrapping_mul(MUL).wrapping_add(w));
    fmix(a) % sockets.max(1)
}

/// Makes the group that `socket` belongs to spread as `spread` says over `sockets` sockets
/// (the group's sockets in the order they were bound). `Flow` leaves the kernel's default.
#[cfg(target_os = "linux")]
pub fn apply(socket: &std::net::UdpSocket, spread: Spread, sockets: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if spread == Spread::Flow || sockets < 2 {
        return Ok(());
    }
    let mut filter = program(sockets as u32);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `filter`, alive for the call; the kernel copies the program
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            &prog as *const libc::sock_fprog as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Elsewhere the kernel's default is all there is.
#[cfg(not(target_os = "linux"))]
pub fn apply(_socket: &std::net::UdpSocket, _spread: Spread, _sockets: usize) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load generator's REGISTER: what differs is in the branch, 90 bytes in.
    fn register(n: u32) -> Vec<u8> {
        format!(
            "REGISTER sip:127.0.0.1:5080 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-{n}-0\r\n\
             From: <sip:1000@127.0.0.1>;tag=4242SIPpTag00{n}\r\n\
             To: <sip:1000@127.0.0.1>\r\n\
             Call-ID: {n}-4242@127.0.0.1\r\n\
             CSeq: 1 REGISTER\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn one_peers_requests_spread_evenly_and_the_same_bytes_land_together() {
        for sockets in [2u32, 3, 4] {
            let mut count = vec![0u32; sockets as usize];
            for n in 0..1000 {
                let d = register(n);
                let s = socket_for(&d, sockets);
                assert_eq!(s, socket_for(&d.clone(), sockets));
                count[s as usize] += 1;
            }
            let even = 1000 / sockets;
            for c in &count {
                assert!(
                    (*c as i64 - even as i64).abs() < even as i64 / 4,
                    "{sockets} sockets: {count:?}"
                );
            }
        }
    }

    /// SIPp's MESSAGE (scenarios/sipp/uac_message.xml) from SIPp process `pid` at `from` to
    /// the switch at `to`: the counter is in the branch, the From and the Call-ID.
    fn message(n: u32, pid: u32, to: &str, from: &str) -> Vec<u8> {
        let body = format!("sipp message {n}");
        format!(
            "MESSAGE sip:spread1@{to}:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from}:5073;branch=z9hG4bK-{pid}-{n}-0\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+8210777{n}@sipp.example>;tag={pid}M{n}\r\n\
             To: <sip:spread1@{to}:5060>\r\n\
             Call-ID: {n}-{pid}@{from}\r\n\
             CSeq: 1 MESSAGE\r\n\
             Content-Type: text/plain;charset=UTF-8\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn consecutive_requests_spread_evenly_whatever_the_addresses_and_process() {
        // 300 requests of one SIPp run, for 64 runs (process ids and loopback addresses from
        // a fixed sequence): a hash that only moved its low bits left some runs 40/260
        let mut x = 0x2545_f491_u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..64 {
            let pid = 1000 + next() % 999_000;
            let (a, b) = (next(), next());
            let to = format!("127.{}.{}.{}", a >> 24, (a >> 16) & 255, 1 + (a & 127));
            let from = format!("127.{}.{}.{}", b >> 24, (b >> 16) & 255, 1 + (b & 127));
            let on_first = (1..=300)
                .filter(|&n| socket_for(&message(n, pid, &to, &from), 2) == 0)
                .count();
            assert!(
                (105..=195).contains(&on_first),
                "pid {pid}, {from} to {to}: {on_first}/300 on the first socket"
            );
        }
        // and REGISTERs, from any start
        for start in [0u32, 1, 7, 100, 999] {
            let on_first = (start..start + 300)
                .filter(|&n| socket_for(&register(n), 2) == 0)
                .count();
            assert!(
                (105..=195).contains(&on_first),
                "from {start}: {on_first}/300"
            );
        }
    }

    #[test]
    fn a_short_datagram_goes_to_the_first_socket() {
        assert_eq!(socket_for(b"\r\n\r\n", 2), 0);
        assert_eq!(socket_for(&[0xff; 159], 4), 0);
        assert_eq!(socket_for(&[0; 160], 3), 0);
        // one changed byte moves the pick (the last word: a * MUL + 1, then mixed)
        let mut last = [0u8; 160];
        last[159] = 1;
        assert_eq!(socket_for(&last, 1 << 31), fmix(1) % (1 << 31));
        assert_ne!(fmix(1), 1);
        assert_eq!(socket_for(&register(7), 1), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_program_is_what_socket_for_computes() {
        // 1 load + 4 per further word + 11 to mix + mod + ret
        let p = program(2);
        assert_eq!(p.len(), 1 + 4 * (WINDOW_WORDS as usize - 1) + 11 + 2);
        assert_eq!(p.last().unwrap().code as u32, libc::BPF_RET | libc::BPF_A);
        assert_eq!(p[p.len() - 2].k, 2);
    }

    /// Two sockets of one group on loopback, one peer sending: the kernel runs the program
    /// and each datagram arrives where `socket_for` says.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_spreads_one_peer_over_the_group() {
        use std::time::Duration;
        let group = crate::transport::udp::bind_shared("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let to = group[0].local_addr().unwrap();
        assert_eq!(group[1].local_addr().unwrap(), to);
        apply(&group[0], Spread::Datagram, 2).unwrap();
        for s in &group {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        }
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent: Vec<Vec<u8>> = (0..64).map(register).collect();
        for d in &sent {
            peer.send_to(d, to).unwrap();
        }
        let mut buf = [0u8; 2048];
        let mut got = [0usize; 2];
        for d in &sent {
            let want = socket_for(d, 2) as usize;
            got[want] += 1;
        }
        for (i, s) in group.iter().enumerate() {
            for _ in 0..got[i] {
                let (n, _) = s.recv_from(&mut buf).unwrap();
                assert_eq!(socket_for(&buf[..n], 2) as usize, i, "socket {i}");
            }
        }
        // both sockets took a share, and nothing is left over on either
        assert!(got[0] >= 16 && got[1] >= 16, "{got:?}");
        for s in &group {
            s.set_nonblocking(true).unwrap();
            assert!(s.recv_from(&mut buf).is_err());
        }
    }
}
