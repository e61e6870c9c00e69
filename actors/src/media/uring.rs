//! The io_uring a media thread runs on with `media.io = "uring"`: in place of one `epoll_wait`,
//! one `recvmmsg` per readable socket and one `sendto` per relayed packet, one
//! `io_uring_enter` per loop turn submits the turn's sends and takes the next receives.
//!
//! - Every socket of the thread's sessions is a registered file (a sparse table indexed by
//!   the socket's token, as large as the open-files limit allows, at most 65,536; a socket
//!   whose token is past it is named by its descriptor) with one multishot `recvmsg` armed
//!   on it, which takes its buffers
//!   from a ring of provided buffers ([`BUFFERS`] of [`BUFFER`] bytes, shared by all the
//!   sockets): each datagram is one completion naming the socket and the buffer, which holds
//!   the kernel's header, the source address and the datagram.
//! - A packet relayed to a connected socket (`socket.rs`; with `media.connect_latched`, every
//!   latched side's) is a `send` of the same buffer queued on the ring; the buffer goes back
//!   to the ring when the send completes. Packets to an address the socket is not connected
//!   to (before a side latches) and the frame path's packets leave at once with `sendto`.
//! - The thread's waker (commands, the feed bell) is the `mio::Poll` it always had, whose
//!   epoll descriptor the ring polls (multishot): the sockets themselves are not in it.
//! - Deadlines: the wait for completions takes the next deadline as its timeout.
//! - The ring is set up with one issuer and deferred task work: the receives run in the
//!   thread's own `io_uring_enter`, never in another thread's interrupt or system call.
//!
//! An ICMP error on a connected socket ends its multishot receive once (`ECONNREFUSED`, ...),
//! or fails a send: it is counted, the receive armed again and the send tried once more.
//! Closing a socket cancels its receive and clears its file slot, so its port is free again
//! at once. Nothing here allocates after `Ring::new`.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fd, Fixed, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};
use switchboard_engine::media::session::RELAY_HEADROOM;

/// Provided buffers of a thread (a power of two, at most 32768).
pub(super) const BUFFERS: u16 = 1024;
/// Bytes of one: the kernel's header, the source address, the datagram and the room SRTP
/// protection of a relayed packet needs after it.
pub(super) const BUFFER: usize = 2048;
/// The source address field of a received buffer: room for an IPv6 address.
const NAME: usize = std::mem::size_of::<libc::sockaddr_in6>();
/// `io_uring_recvmsg_out`: name, control and payload lengths, and flags.
const HEADER: usize = 16;
/// Where the datagram starts in a buffer.
pub(super) const PAYLOAD: usize = HEADER + NAME;
/// Registered files at most: one per socket token (4 per session slot).
const FILES: u32 = 1 << 16;
/// Submission queue entries; completions get four times as many.
const ENTRIES: u32 = 4096;
/// The buffer group of the provided buffers.
const GROUP: u16 = 0;

/// What a completion is, from its user data: the kind in the top two bits.
const KIND_SHIFT: u32 = 62;
const RECV: u64 = 1;
const SEND: u64 = 2;
const WAKE: u64 = 3;
/// A send's retry bit.
const RETRIED: u64 = 1 << 61;

/// What completed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Done {
    /// A datagram (`Ok(buffer, len, truncated)`) or an error on socket `token`'s receive;
    /// `more`: the receive stays armed.
    Received {
        token: usize,
        generation: u32,
        result: Result<(u16, usize), i32>,
        more: bool,
    },
    /// A send of buffer `buffer` from socket `token` finished with `result` (bytes or -errno).
    Sent {
        token: usize,
        generation: u32,
        buffer: u16,
        retried: bool,
        result: i32,
    },
    /// The thread's epoll descriptor (its waker) turned readable; `rearm`: its poll ended
    /// (a full completion queue ends a multishot request) and should be armed again.
    Woken { rearm: bool },
    /// Something of no interest (a cancellation's own completion).
    Other,
}

/// A media thread's ring, its provided buffers and what it queued.
pub(super) struct Ring {
    // declared first: dropped (and the kernel done with the buffers) before them
    ring: IoUring,
    /// The provided-buffer ring the kernel reads (page-aligned, mapped).
    entries: *mut BufRingEntry,
    /// Our tail of it: buffers given back, not yet published.
    tail: u16,
    bufs: Box<[u8]>,
    /// The message header every multishot receive uses (only its lengths are read).
    msghdr: Box<libc::msghdr>,
    /// By buffer: the length of the datagram queued to be sent from it.
    sending: Box<[u16]>,
    /// The epoll descriptor polled for the waker.
    wake_fd: RawFd,
    /// The registered file table's size: tokens below it are registered files.
    files: u32,
    /// Receives to arm again that found the submission queue full and the kernel refusing
    /// to take it (a completion queue overflowing): armed at the next wait.
    pending: Vec<(usize, u32, RawFd)>,
    /// The same for the waker's poll.
    wake_pending: bool,
}

/// An operation's target: the registered file of a token, or a descriptor.
macro_rules! target {
    ($ring:expr, $token:expr, $fd:expr, $op:ident :: new ( _ $(, $arg:expr)* )) => {
        if ($token as u64) < u64::from($ring.files) {
            opcode::$op::new(Fixed($token as u32) $(, $arg)*)
        } else {
            opcode::$op::new(Fd($fd) $(, $arg)*)
        }
    };
}

fn user_data(kind: u64, generation: u32, token: usize) -> u64 {
    kind << KIND_SHIFT | u64::from(generation & 0x1f_ffff) << 40 | token as u64 & 0xff_ffff_ffff
}

fn send_data(generation: u32, token: usize, buffer: u16, retried: bool) -> u64 {
    SEND << KIND_SHIFT
        | if retried { RETRIED } else { 0 }
        | u64::from(generation & 0x1f_ffff) << 40
        | (token as u64 & 0xff_ffff) << 16
        | u64::from(buffer)
}

/// The low 21 bits of a generation, as user data carries them.
pub(super) fn generation_bits(generation: u32) -> u32 {
    generation & 0x1f_ffff
}

impl Ring {
    /// Sets up a ring (on the thread that will use it) polling `wake_fd`. Fails where the
    /// kernel lacks io_uring or a feature used here (Linux 6.1 for deferred task work).
    pub(super) fn new(wake_fd: RawFd) -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_cqsize(ENTRIES * 4)
            .setup_submit_all()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(ENTRIES)?;
        // the kernel refuses a table larger than the open-files limit
        // SAFETY: all zeroes is a valid rlimit, which getrlimit fills
        let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: `limit` is a valid rlimit to write to
        let files = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            (limit.rlim_cur.min(u64::from(FILES)) as u32).max(1)
        } else {
            1024
        };
        ring.submitter().register_files_sparse(files)?;
        let size = usize::from(BUFFERS) * std::mem::size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping of `size` bytes, checked below
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut r = Ring {
            ring,
            entries: map.cast(),
            tail: 0,
            bufs: vec![0u8; usize::from(BUFFERS) * BUFFER].into_boxed_slice(),
            sending: vec![0u16; usize::from(BUFFERS)].into_boxed_slice(),
            msghdr: Box::new(
                // SAFETY: all zeroes is a valid msghdr (null pointers, zero lengths)
                unsafe { std::mem::zeroed::<libc::msghdr>() },
            ),
            wake_fd,
            files,
            pending: Vec::with_capacity(256),
            wake_pending: false,
        };
        r.msghdr.msg_namelen = NAME as libc::socklen_t;
        // SAFETY: the mapping is page-aligned, holds BUFFERS entries and lives as long as
        // the ring (unmapped in Drop, after the ring is gone)
        unsafe {
            r.ring
                .submitter()
                .register_buf_ring_with_flags(map as u64, BUFFERS, GROUP, 0)?;
        }
        for b in 0..BUFFERS {
            r.give_back(b);
        }
        r.publish();
        r.arm_wake()?;
        r.ring.submit()?;
        Ok(r)
    }

    /// Takes socket `fd` as file `token` and arms its receive.
    pub(super) fn watch(&mut self, token: usize, generation: u32, fd: RawFd) -> io::Result<()> {
        if (token as u64) < u64::from(self.files) {
            self.ring
                .submitter()
                .register_files_update(token as u32, &[fd])?;
        }
        self.arm_recv(token, generation, fd)
    }

    /// Arms (again) the multishot receive of socket `token` (descriptor `fd`); when the
    /// ring cannot take it now, at the next wait.
    pub(super) fn arm_recv(&mut self, token: usize, generation: u32, fd: RawFd) -> io::Result<()> {
        let msghdr: *const libc::msghdr = &*self.msghdr;
        let e = target!(self, token, fd, RecvMsgMulti::new(_, msghdr, GROUP))
            .build()
            .user_data(user_data(RECV, generation, token));
        if self.push(&e).is_err() {
            self.pending.push((token, generation, fd));
        }
        Ok(())
    }

    /// Stops receiving on socket `token` and lets go of its file (the socket can close, and
    /// its port is free, once this returns).
    pub(super) fn unwatch(&mut self, token: usize, generation: u32) {
        self.pending.retain(|p| p.0 != token);
        let e = opcode::AsyncCancel::new(user_data(RECV, generation, token))
            .build()
            .user_data(0);
        let _ = self.push(&e);
        let _ = self.ring.submit();
        if (token as u64) < u64::from(self.files) {
            let _ = self
                .ring
                .submitter()
                .register_files_update(token as u32, &[-1]);
        }
    }

    /// Queues buffer `buffer`'s datagram (`len` bytes from [`PAYLOAD`]) to leave from socket
    /// `token` (connected to where it goes); the buffer is the ring's again when `Sent`
    /// says so.
    pub(super) fn send(
        &mut self,
        (token, fd): (usize, RawFd),
        generation: u32,
        buffer: u16,
        len: usize,
        retried: bool,
    ) -> io::Result<()> {
        let at = usize::from(buffer) * BUFFER + PAYLOAD;
        let len = len.min(BUFFER - PAYLOAD);
        self.sending[usize::from(buffer)] = len as u16;
        let ptr = self.bufs[at..at + len].as_ptr();
        let e = target!(self, token, fd, Send::new(_, ptr, len as u32))
            .build()
            .user_data(send_data(generation, token, buffer, retried));
        self.push(&e)
    }

    /// Queues buffer `buffer`'s datagram again after a send failed (an ICMP error about an
    /// earlier packet), once.
    pub(super) fn resend(
        &mut self,
        to: (usize, RawFd),
        generation: u32,
        buffer: u16,
    ) -> io::Result<()> {
        let len = usize::from(self.sending[usize::from(buffer)]);
        self.send(to, generation, buffer, len, true)
    }

    /// The whole of buffer `b`.
    pub(super) fn buffer(&mut self, b: u16) -> &mut [u8] {
        let at = usize::from(b) * BUFFER;
        &mut self.bufs[at..at + BUFFER]
    }

    /// Gives buffer `b` back to the kernel (seen once `publish`ed).
    pub(super) fn give_back(&mut self, b: u16) {
        let at = usize::from(b) * BUFFER;
        let mask = BUFFERS - 1;
        // SAFETY: the index is masked into the mapping's BUFFERS entries; the kernel reads
        // only entries before the published tail, and this one is past it
        let entry = unsafe { &mut *self.entries.add(usize::from(self.tail & mask)) };
        entry.set_addr(self.bufs[at..].as_ptr() as u64);
        // the last RELAY_HEADROOM bytes stay free for SRTP protection in place
        entry.set_len((BUFFER - RELAY_HEADROOM) as u32);
        entry.set_bid(b);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the buffers given back.
    pub(super) fn publish(&mut self) {
        // SAFETY: the tail field of the first entry of the mapping, a u16 the kernel reads
        // atomically; written only here
        let tail = unsafe { &*(BufRingEntry::tail(self.entries).cast::<AtomicU16>()) };
        tail.store(self.tail, Ordering::Release);
    }

    /// Submits what was queued and waits for `want` completions (at least 1), or `timeout`.
    pub(super) fn wait(&mut self, want: usize, timeout: Option<Duration>) -> io::Result<()> {
        if std::mem::take(&mut self.wake_pending) {
            self.arm_wake()?;
        }
        for _ in 0..self.pending.len() {
            let Some((token, generation, fd)) = self.pending.pop() else {
                break;
            };
            self.arm_recv(token, generation, fd)?;
        }
        let r = match timeout {
            Some(t) => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want.max(1), &args)
            }
            None => self.ring.submitter().submit_and_wait(want.max(1)),
        };
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The next completion, if any.
    pub(super) fn next(&mut self) -> Option<Done> {
        let c = self.ring.completion().next()?;
        Some(decode(&c))
    }

    /// Arms (again) the poll of the waker's epoll descriptor; when the ring cannot take it
    /// now, at the next wait.
    pub(super) fn arm_wake(&mut self) -> io::Result<()> {
        let e = opcode::PollAdd::new(io_uring::types::Fd(self.wake_fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(WAKE << KIND_SHIFT);
        if self.push(&e).is_err() {
            self.wake_pending = true;
        }
        Ok(())
    }

    /// Queues an entry, submitting what waits first when the queue is full.
    fn push(&mut self, e: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every buffer an entry points at (the msghdr, a provided buffer) lives
            // as long as the ring, and a provided buffer is not given back before its send
            // completed
            if unsafe { self.ring.submission().push(e) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let size = usize::from(BUFFERS) * std::mem::size_of::<BufRingEntry>();
        let _ = self.ring.submitter().unregister_buf_ring(GROUP);
        // SAFETY: the mapping made in `new`, no longer registered with the kernel
        unsafe {
            libc::munmap(self.entries.cast(), size);
        }
    }
}

/// What a completion says.
fn decode(c: &cqueue::Entry) -> Done {
    let d = c.user_data();
    let more = cqueue::more(c.flags());
    let generation = ((d >> 40) & 0x1f_ffff) as u32;
    match d >> KIND_SHIFT {
        RECV => {
            let token = (d & 0xff_ffff_ffff) as usize;
            let result = match (c.result(), cqueue::buffer_select(c.flags())) {
                (n, Some(b)) if n >= 0 => Ok((b, n as usize)),
                (n, _) if n < 0 => Err(-n),
                _ => Err(libc::ENOBUFS),
            };
            Done::Received {
                token,
                generation,
                result,
                more,
            }
        }
        SEND => Done::Sent {
            token: ((d >> 16) & 0xff_ffff) as usize,
            generation,
            buffer: (d & 0xffff) as u16,
            retried: d & RETRIED != 0,
            result: c.result(),
        },
        WAKE => Done::Woken {
            // not for a descriptor the poll cannot take at all
            rearm: !more && !matches!(-c.result(), libc::EBADF | libc::EINVAL),
        },
        _ => Done::Other,
    }
}

/// A received buffer's datagram: its length and source, from the kernel's header (`n`: the
/// bytes the completion says were written).
pub(super) fn datagram(buf: &[u8], n: usize) -> (usize, Option<std::net::SocketAddr>) {
    if n < PAYLOAD || buf.len() < PAYLOAD {
        return (0, None);
    }
    let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let (namelen, payloadlen) = (word(0) as usize, word(8) as usize);
    let len = payloadlen.min(n - PAYLOAD);
    // SAFETY: all zeroes is a valid sockaddr_storage; the name field's bytes (at most NAME,
    // which is less than its size) are copied into it
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let name = &buf[HEADER..HEADER + namelen.min(NAME)];
    // SAFETY: `name` fits in `storage` (NAME bytes at most), and both are plain bytes here
    unsafe {
        std::ptr::copy_nonoverlapping(
            name.as_ptr(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            name.len(),
        );
    }
    (len, super::recv::source(&storage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_carries_the_kind_the_socket_and_the_buffer() {
        let d = user_data(RECV, 0x12_3456, 0x3_fffd);
        assert_eq!(d >> KIND_SHIFT, RECV);
        assert_eq!(d & 0xff_ffff_ffff, 0x3_fffd);
        assert_eq!(((d >> 40) & 0x1f_ffff) as u32, generation_bits(0x12_3456));
        let s = send_data(7, 0x3_fffd, 1023, true);
        assert_eq!(s >> KIND_SHIFT, SEND);
        assert_eq!(s & RETRIED, RETRIED);
        assert_eq!((s >> 16) & 0xff_ffff, 0x3_fffd);
        assert_eq!(s & 0xffff, 1023);
        assert_eq!((s >> 40) & 0x1f_ffff, 7);
    }

    #[test]
    fn a_ring_receives_on_a_watched_socket_and_sends_from_a_connected_one() {
        let mut ring = match Ring::new(-1) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("no io_uring here ({e}): nothing to test");
                return;
            }
        };
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let out = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        out.connect(tx.local_addr().unwrap()).unwrap();
        tx.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        use std::os::fd::AsRawFd;
        ring.watch(4, 9, rx.as_raw_fd()).unwrap();
        ring.watch(8, 9, out.as_raw_fd()).unwrap();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        let mut got = None;
        for _ in 0..100 {
            ring.wait(1, Some(Duration::from_millis(20))).unwrap();
            while let Some(d) = ring.next() {
                if let Done::Received {
                    token: 4,
                    result: Ok((b, n)),
                    ..
                } = d
                {
                    got = Some((b, n));
                }
            }
            if got.is_some() {
                break;
            }
        }
        let (b, n) = got.expect("received");
        let (len, from) = datagram(ring.buffer(b), n);
        assert_eq!(from, Some(tx.local_addr().unwrap()));
        assert_eq!(&ring.buffer(b)[PAYLOAD..PAYLOAD + len], b"hello");
        ring.send((8, out.as_raw_fd()), 9, b, len, false).unwrap();
        ring.wait(1, Some(Duration::from_millis(100))).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = tx.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"hello"[..], out.local_addr().unwrap())
        );
        let mut sent = false;
        while let Some(d) = ring.next() {
            if let Done::Sent {
                token: 8,
                buffer,
                result: 5,
                ..
            } = d
            {
                assert_eq!(buffer, b);
                sent = true;
            }
        }
        assert!(sent);
        ring.unwatch(4, 9);
        ring.unwatch(8, 9);
    }
}
