//! One direction of one side's SRTP and SRTCP under one master key.

use hmac::Mac;

use super::cipher::{apply_keystream, iv, SessionKeys};
use super::kdf::session_keys;
use super::replay::{roc, Sources, Window};
use super::{MasterKey, SrtpError, Suite, SRTCP_OVERHEAD};

/// The SRTCP tag is 80 bits with either suite (RFC 4568 §6.2.2).
const RTCP_TAG: usize = 10;
/// The largest SRTCP index (31 bits, RFC 3711 §3.4).
const MAX_RTCP_INDEX: u32 = 0x7fff_ffff;
/// The E flag of the word before the SRTCP tag: the payload is encrypted.
const E_FLAG: u32 = 0x8000_0000;

/// The crypto context of one direction (RFC 3711 §3.2): session keys for SRTP and SRTCP,
/// and per source the index and replay window (protecting keeps the indexes of what it
/// sends, unprotecting those of what it took).
#[derive(Clone)]
pub struct SrtpContext {
    suite: Suite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    rtp_sources: Sources,
    rtcp_sources: Sources,
    /// The SRTCP index of the last packet protected.
    rtcp_index: u32,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// A context for `suite` under `master` (the session keys are derived here).
    pub fn new(suite: Suite, master: &MasterKey) -> SrtpContext {
        let (rtp, rtcp) = session_keys(master);
        SrtpContext {
            suite,
            rtp,
            rtcp,
            rtp_sources: Sources::default(),
            rtcp_sources: Sources::default(),
            rtcp_index: 0,
        }
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Turns the RTP packet in `buf[..len]` into SRTP in place: the payload encrypted, the
    /// tag appended. Returns the new length (`len` plus the suite's tag).
    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        let header = rtp_header_len(buf, len)?;
        let needed = len + tag_len;
        if buf.len() < needed {
            return Err(SrtpError::BufferTooSmall {
                needed,
                capacity: buf.len(),
            });
        }
        let (ssrc, seq) = rtp_ids(buf);
        let window = self.rtp_sources.window(ssrc);
        // what we send is ours: its index follows its own sequence numbers
        let index = match window {
            Some(w) => w.estimate(seq).ok_or(SrtpError::Replay)?,
            None => u64::from(seq),
        };
        let iv = iv(&self.rtp.salt, ssrc, index);
        apply_keystream(&self.rtp.cipher, &iv, &mut buf[header..len]);
        let mut mac = self.rtp.mac.clone();
        mac.update(&buf[..len]);
        mac.update(&roc(index).to_be_bytes());
        let tag = mac.finalize().into_bytes();
        buf[len..needed].copy_from_slice(&tag[..tag_len]);
        let mut w = window.unwrap_or(Window::starting_at(index));
        w.accept(index);
        self.rtp_sources.store(ssrc, w);
        Ok(needed)
    }

    /// Turns the SRTP packet in `buf[..len]` back into RTP in place, once its tag is right
    /// and its index new. Returns the plain length (`len` minus the tag). On an error the
    /// buffer and the context are as they were.
    pub fn unprotect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        let len = len.min(buf.len());
        let Some(plain) = len.checked_sub(tag_len) else {
            return Err(SrtpError::Malformed { len });
        };
        let header = rtp_header_len(buf, plain).map_err(|_| SrtpError::Malformed { len })?;
        let (ssrc, seq) = rtp_ids(buf);
        let window = self.rtp_sources.window(ssrc);
        let index = match window {
            Some(w) => w.estimate(seq).ok_or(SrtpError::Replay)?,
            None => u64::from(seq),
        };
        if window.is_some_and(|w| !w.is_fresh(index)) {
            return Err(SrtpError::Replay);
        }
        let mut mac = self.rtp.mac.clone();
        mac.update(&buf[..plain]);
        mac.update(&roc(index).to_be_bytes());
        mac.verify_truncated_left(&buf[plain..len])
            .map_err(|_| SrtpError::Auth)?;
        let iv = iv(&self.rtp.salt, ssrc, index);
        apply_keystream(&self.rtp.cipher, &iv, &mut buf[header..plain]);
        let mut w = window.unwrap_or(Window::starting_at(index));
        w.accept(index);
        self.rtp_sources.store(ssrc, w);
        Ok(plain)
    }

    /// Turns the RTCP compound packet in `buf[..len]` into SRTCP in place (RFC 3711 §3.4):
    /// everything after the first header and SSRC encrypted, then the E flag and SRTCP index,
    /// then the 80-bit tag. Returns the new length (`len` plus [`SRTCP_OVERHEAD`]).
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if len < 8 || len > buf.len() {
            return Err(SrtpError::Malformed { len });
        }
        let needed = len + SRTCP_OVERHEAD;
        if buf.len() < needed {
            return Err(SrtpError::BufferTooSmall {
                needed,
                capacity: buf.len(),
            });
        }
        if self.rtcp_index >= MAX_RTCP_INDEX {
            return Err(SrtpError::Exhausted);
        }
        // the first packet has index 1, as libsrtp numbers them
        self.rtcp_index += 1;
        let index = self.rtcp_index;
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let iv = iv(&self.rtcp.salt, ssrc, u64::from(index));
        apply_keystream(&self.rtcp.cipher, &iv, &mut buf[8..len]);
        buf[len..len + 4].copy_from_slice(&(E_FLAG | index).to_be_bytes());
        let mut mac = self.rtcp.mac.clone();
        mac.update(&buf[..len + 4]);
        let tag = mac.finalize().into_bytes();
        buf[len + 4..needed].copy_from_slice(&tag[..RTCP_TAG]);
        Ok(needed)
    }

    /// Turns the SRTCP packet in `buf[..len]` back into RTCP in place, once its tag is right
    /// and its index new. Returns the plain length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let len = len.min(buf.len());
        if len < 8 + SRTCP_OVERHEAD {
            return Err(SrtpError::Malformed { len });
        }
        let authed = len - RTCP_TAG;
        let plain = authed - 4;
        let word = u32::from_be_bytes([buf[plain], buf[plain + 1], buf[plain + 2], buf[plain + 3]]);
        let index = word & MAX_RTCP_INDEX;
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let window = self.rtcp_sources.window(ssrc);
        if window.is_some_and(|w| !w.is_fresh(u64::from(index))) {
            return Err(SrtpError::Replay);
        }
        let mut mac = self.rtcp.mac.clone();
        mac.update(&buf[..authed]);
        mac.verify_truncated_left(&buf[authed..len])
            .map_err(|_| SrtpError::Auth)?;
        if word & E_FLAG != 0 {
            let iv = iv(&self.rtcp.salt, ssrc, u64::from(index));
            apply_keystream(&self.rtcp.cipher, &iv, &mut buf[8..plain]);
        }
        let mut w = window.unwrap_or(Window::starting_at(u64::from(index)));
        w.accept(u64::from(index));
        self.rtcp_sources.store(ssrc, w);
        Ok(plain)
    }
}

/// The length of the RTP header in `buf[..len]` (fixed part, CSRCs, extension): what stays
/// in clear (RFC 3711 §3.1).
fn rtp_header_len(buf: &[u8], len: usize) -> Result<usize, SrtpError> {
    let bad = SrtpError::Malformed { len };
    if len < 12 || len > buf.len() || buf[0] >> 6 != 2 {
        return Err(bad);
    }
    let mut header = 12 + 4 * usize::from(buf[0] & 0x0f);
    if buf[0] & 0x10 != 0 {
        if len < header + 4 {
            return Err(bad);
        }
        let words = u16::from_be_bytes([buf[header + 2], buf[header + 3]]);
        header += 4 + 4 * usize::from(words);
    }
    if header > len {
        return Err(bad);
    }
    Ok(header)
}

/// SSRC and sequence number of a header `rtp_header_len` accepted.
fn rtp_ids(buf: &[u8]) -> (u32, u16) {
    (
        u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        u16::from_be_bytes([buf[2], buf[3]]),
    )
}
