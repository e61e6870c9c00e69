//! Where there is no io_uring (not Linux): a ring never sets up, so every media thread runs
//! its epoll loop; the rest is never reached.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

pub(super) const PAYLOAD: usize = 0;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Done {
    Received {
        token: usize,
        generation: u32,
        result: Result<(u16, usize), i32>,
        more: bool,
    },
    Sent {
        token: usize,
        generation: u32,
        buffer: u16,
        retried: bool,
        result: i32,
    },
    Woken {
        rearm: bool,
    },
    Other,
}

pub(super) struct Ring;

impl Ring {
    pub(super) fn new(_: RawFd) -> io::Result<Ring> {
        Err(io::ErrorKind::Unsupported.into())
    }
    pub(super) fn watch(&mut self, _: usize, _: u32, _: RawFd) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    pub(super) fn arm_recv(&mut self, _: usize, _: u32, _: RawFd) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    pub(super) fn unwatch(&mut self, _: usize, _: u32) {}
    pub(super) fn send(
        &mut self,
        _: (usize, RawFd),
        _: u32,
        _: u16,
        _: usize,
        _: bool,
    ) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    pub(super) fn resend(&mut self, _: (usize, RawFd), _: u32, _: u16) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    pub(super) fn buffer(&mut self, _: u16) -> &mut [u8] {
        &mut []
    }
    pub(super) fn give_back(&mut self, _: u16) {}
    pub(super) fn publish(&mut self) {}
    pub(super) fn wait(&mut self, _: Option<Duration>) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    pub(super) fn next(&mut self) -> Option<Done> {
        None
    }
    pub(super) fn arm_wake(&mut self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

pub(super) fn generation_bits(generation: u32) -> u32 {
    generation
}

pub(super) fn datagram(_: &[u8], _: usize) -> (usize, Option<std::net::SocketAddr>) {
    (0, None)
}
