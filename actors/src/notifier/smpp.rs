//! The `smpp` gateway: each SMS is one submit_sm (SMPP 3.4 §4.4) to an SMSC, over a TCP
//! connection bound as a transmitter (§4.1.1).
//!
//! `new` only checks the configuration; the first `send` connects and binds, and the bound
//! connection is kept for the next ones. While it waits for a response the gateway answers the
//! SMSC's enquire_link (§4.11) and nacks what it does not know (generic_nack, §4.3). A kept
//! connection the SMSC closed in the meantime is noticed before the submit, or when the submit
//! meets a closed socket, and `send` then reconnects once. Dropping the gateway unbinds.
//!
//! Timeouts: connect, each read and each write take at most `timeout_ms`, and so does the wait
//! for one response however many enquire_links come in meanwhile (name resolution of the
//! address is the system resolver's). A submit whose response timed out may still have been
//! delivered; the connection is then dropped, since a late response would be ambiguous. So may
//! a submit on a kept connection that the SMSC closed before answering: that one is sent again
//! on the new connection.
//!
//! What comes in is decided by `inbound`, a pure function of the PDU bytes; the rest is socket
//! plumbing. The password is never logged; destination numbers only redacted, at debug.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use switchboard_engine::smpp::{
    self, Address, BindTransmitter, COctet, CommandId, CommandStatus, Npi, Pdu, Sequence, SubmitSm,
    Ton,
};
use tracing::{debug, info, trace, warn};

use super::gateway::{Gateway, GatewayError, Sms};
use super::redact::Destination;
use crate::config::NotifySmpp;

/// Longest wait for the unbind_resp when the gateway is dropped.
const UNBIND_WAIT: Duration = Duration::from_secs(1);

pub struct SmppGateway {
    address: String,
    timeout: Duration,
    bind: BindTransmitter,
    source: Address,
    /// Last sequence number used; numbers go on across reconnects.
    seq: Sequence,
    link: Option<TcpStream>,
}

impl SmppGateway {
    /// Checks the configuration (host:port, field lengths of SMPP 3.4, a timeout); connects
    /// only on the first `send`.
    pub fn new(cfg: &NotifySmpp) -> Result<SmppGateway, String> {
        let bad = |key: &str, why: String| format!("notify.smpp.{key}: {why}");
        match cfg.address.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => {
                return Err(bad(
                    "address",
                    format!("{:?} is not host:port", cfg.address),
                ))
            }
        }
        if cfg.timeout_ms == 0 {
            return Err(bad("timeout_ms", "must be at least 1".into()));
        }
        let field = |key: &str, e: smpp::SmppError| bad(key, format!("{e}"));
        let bind = BindTransmitter {
            system_id: COctet::new(&cfg.system_id).map_err(|e| field("system_id", e))?,
            // the error names neither the value nor its length beyond the limit
            password: COctet::new(&cfg.password)
                .map_err(|_| bad("password", "at most 8 ascii characters".into()))?,
            system_type: COctet::new(&cfg.system_type).map_err(|e| field("system_type", e))?,
            interface_version: smpp::INTERFACE_VERSION,
            addr_ton: Ton::UNKNOWN,
            addr_npi: Npi::UNKNOWN,
            address_range: COctet::default(),
        };
        if bind.system_id.is_empty() {
            return Err(bad("system_id", "must not be empty".into()));
        }
        let source = source_address(&cfg.source_addr).map_err(|e| field("source_addr", e))?;
        Ok(SmppGateway {
            address: cfg.address.clone(),
            timeout: Duration::from_millis(cfg.timeout_ms),
            bind,
            source,
            seq: Sequence(0),
            link: None,
        })
    }

    fn next_seq(&mut self) -> Sequence {
        self.seq = self.seq.next();
        self.seq
    }

    /// One try at the submit on the kept link or a new one.
    fn submit(&mut self, sm: &SubmitSm) -> Result<Answer, Failure> {
        let mut stream = match self.link.take() {
            Some(s) => s,
            None => self.connect()?,
        };
        let seq = self.next_seq();
        let pdu = Pdu::SubmitSm(Box::new(sm.clone()));
        let answer = exchange(
            &mut stream,
            &pdu,
            seq,
            CommandId::SUBMIT_SM_RESP,
            self.timeout,
        )?;
        // kept: the SMSC answered in order, whatever the status
        self.link = Some(stream);
        Ok(answer)
    }

    /// Connects and binds as a transmitter.
    fn connect(&mut self) -> Result<TcpStream, Failure> {
        let unreachable = |e: io::Error| {
            Failure::Gateway(GatewayError::Unreachable(format!("{}: {e}", self.address)))
        };
        let addrs = self.address.to_socket_addrs().map_err(unreachable)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut stream = stream.ok_or(last).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(self.timeout))
            .and_then(|_| stream.set_write_timeout(Some(self.timeout)))
            .and_then(|_| stream.set_nodelay(true))
            .map_err(unreachable)?;
        let seq = self.next_seq();
        let bind = Pdu::BindTransmitter(self.bind.clone());
        let answer = exchange(
            &mut stream,
            &bind,
            seq,
            CommandId::BIND_TRANSMITTER_RESP,
            self.timeout,
        )
        .map_err(|f| match f {
            // a fresh connection that dies at once is no kept link to retry
            Failure::Dead(why) => Failure::Gateway(GatewayError::Unreachable(why)),
            other => other,
        })?;
        if !answer.status.is_ok() {
            warn!(address = %self.address, system_id = self.bind.system_id.as_str(),
                status = %answer.status, "smpp bind refused");
            return Err(Failure::Gateway(GatewayError::Refused(format!(
                "bind_transmitter refused: command_status {}",
                answer.status
            ))));
        }
        info!(address = %self.address, system_id = self.bind.system_id.as_str(), "smpp bound");
        Ok(stream)
    }
}

impl Gateway for SmppGateway {
    fn kind(&self) -> &'static str {
        "smpp"
    }

    fn send(&mut self, sms: &Sms) -> Result<(), GatewayError> {
        let to = Destination(&sms.to);
        let destination = destination_address(&sms.to).ok_or_else(|| {
            GatewayError::Refused(format!("destination {to} is not an E.164 number"))
        })?;
        let sm = SubmitSm::with_text(self.source.clone(), destination, &sms.text)
            .map_err(|e| GatewayError::Refused(format!("text does not fit a submit_sm: {e}")))?;
        if self.link.as_ref().is_some_and(closed_by_peer) {
            debug!(address = %self.address, "smpp connection closed by the smsc; reconnecting");
            self.link = None;
        }
        let kept = self.link.is_some();
        let answer = match self.submit(&sm) {
            Err(Failure::Dead(why)) if kept => {
                debug!(address = %self.address, why, "kept smpp connection was dead; reconnecting");
                self.submit(&sm)
            }
            other => other,
        }
        .map_err(|f| match f {
            Failure::Dead(why) => GatewayError::Unreachable(why),
            Failure::Gateway(e) => e,
        })?;
        if answer.status.is_ok() {
            debug!(to = %to, message_id = answer.message_id, "smpp submit_sm accepted");
            Ok(())
        } else {
            debug!(to = %to, status = %answer.status, "smpp submit_sm refused");
            Err(GatewayError::Refused(format!(
                "submit_sm refused: command_status {}",
                answer.status
            )))
        }
    }
}

impl Drop for SmppGateway {
    fn drop(&mut self) {
        let Some(mut stream) = self.link.take() else {
            return;
        };
        let seq = self.next_seq();
        let wait = self.timeout.min(UNBIND_WAIT);
        // best effort: the process may be going down and the SMSC may be gone already
        let _ = exchange(&mut stream, &Pdu::Unbind, seq, CommandId::UNBIND_RESP, wait);
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// source_addr with its TON/NPI: digits (with or without a leading `+`) are an international
/// number (1/1), anything else alphanumeric (5/0), nothing at all unknown (0/0).
fn source_address(s: &str) -> Result<Address, smpp::SmppError> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    let (ton, npi, addr) = if s.is_empty() {
        (Ton::UNKNOWN, Npi::UNKNOWN, s)
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        (Ton::INTERNATIONAL, Npi::ISDN, digits)
    } else {
        (Ton::ALPHANUMERIC, Npi::UNKNOWN, s)
    };
    Ok(Address {
        ton,
        npi,
        addr: COctet::new(addr)?,
    })
}

/// destination_addr of an E.164 number: international/ISDN, digits without the `+`.
fn destination_address(to: &str) -> Option<Address> {
    let digits = to.strip_prefix('+')?;
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Address {
        ton: Ton::INTERNATIONAL,
        npi: Npi::ISDN,
        addr: COctet::new(digits).ok()?,
    })
}

/// The response a request waited for.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: CommandStatus,
    message_id: String,
}

/// Why an exchange did not produce an `Answer`.
enum Failure {
    /// The SMSC had closed the connection (end of stream, reset, unbind): worth one reconnect
    /// when it was a kept connection.
    Dead(String),
    Gateway(GatewayError),
}

/// What to do with one PDU from the SMSC while waiting for the response to `seq`.
#[derive(Debug, PartialEq, Eq)]
enum Inbound {
    /// The response waited for (or a generic_nack of the request).
    Answer(Answer),
    /// Write this back and keep waiting.
    Reply(Pdu, Sequence),
    /// The SMSC unbinds: answer with unbind_resp of this sequence number; the link is over.
    Unbound(Sequence),
    /// Nothing to do (a late response to an earlier request): keep waiting.
    Ignore,
}

/// Decides about one framed PDU `frame` while `expect` with sequence number `seq` is awaited.
fn inbound(frame: &[u8], expect: CommandId, seq: Sequence) -> Inbound {
    let answer = |status: CommandStatus, message_id: &str| {
        Inbound::Answer(Answer {
            status,
            message_id: message_id.to_owned(),
        })
    };
    match smpp::decode(frame) {
        Ok((h, pdu)) => match pdu {
            Pdu::GenericNack(s) if h.sequence == seq => {
                // a nack is a failure even if the SMSC forgot to say which
                answer(
                    if s.is_ok() {
                        CommandStatus::ESME_RSYSERR
                    } else {
                        s
                    },
                    "",
                )
            }
            Pdu::SubmitSmResp(r) if h.sequence == seq && h.command_id == expect => {
                answer(r.status, r.message_id.as_str())
            }
            _ if h.sequence == seq && h.command_id == expect => answer(pdu.status(), ""),
            Pdu::EnquireLink => Inbound::Reply(Pdu::EnquireLinkResp(CommandStatus::OK), h.sequence),
            Pdu::Unbind => Inbound::Unbound(h.sequence),
            Pdu::BindTransmitter(_) | Pdu::SubmitSm(_) => {
                Inbound::Reply(Pdu::GenericNack(CommandStatus::ESME_RINVCMDID), h.sequence)
            }
            _ => Inbound::Ignore,
        },
        Err(e) => match smpp::decode_header(frame) {
            // a response we cannot read fully still tells its status
            Ok(h) if h.sequence == seq && h.command_id == expect => answer(h.command_status, ""),
            Ok(h) if h.command_id.is_response() => Inbound::Ignore,
            Ok(h) => Inbound::Reply(Pdu::GenericNack(e.command_status()), h.sequence),
            Err(_) => Inbound::Ignore,
        },
    }
}

/// Writes `pdu` and reads until its response, answering what comes in meanwhile; the whole
/// wait takes at most `timeout`.
fn exchange(
    stream: &mut TcpStream,
    pdu: &Pdu,
    seq: Sequence,
    expect: CommandId,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let deadline = Instant::now() + timeout;
    stream
        .write_all(&smpp::encode(pdu, seq))
        .map_err(io_failure)?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        stream.set_read_timeout(Some(left)).map_err(io_failure)?;
        let frame = read_frame(stream)?;
        match inbound(&frame, expect, seq) {
            Inbound::Answer(a) => return Ok(a),
            Inbound::Reply(p, s) => {
                trace!(command_id = %p.command_id(), status = %p.status(), "smpp reply");
                stream.write_all(&smpp::encode(&p, s)).map_err(io_failure)?;
            }
            Inbound::Unbound(s) => {
                let _ = stream.write_all(&smpp::encode(&Pdu::UnbindResp(CommandStatus::OK), s));
                return Err(Failure::Dead("the smsc unbound".into()));
            }
            Inbound::Ignore => {}
        }
    }
}

/// Reads exactly one PDU.
fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, Failure> {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).map_err(io_failure)?;
    let len = match smpp::frame_len(&head) {
        Ok(Some(n)) => n,
        // `Ok(None)` needs fewer than the 4 bytes read
        other => {
            let why = other
                .err()
                .map_or_else(|| "no length".to_owned(), |e| e.to_string());
            warn!(error = why, "smpp stream cannot be framed; closing");
            return Err(Failure::Gateway(GatewayError::Unreachable(format!(
                "smsc sent garbage: {why}"
            ))));
        }
    };
    let mut frame = vec![0u8; len];
    frame[..4].copy_from_slice(&head);
    stream.read_exact(&mut frame[4..]).map_err(io_failure)?;
    Ok(frame)
}

fn timed_out() -> Failure {
    Failure::Gateway(GatewayError::Unreachable(
        "smsc did not answer in time".into(),
    ))
}

/// A closed connection is `Dead`; a timeout or anything else plainly unreachable.
fn io_failure(e: io::Error) -> Failure {
    use io::ErrorKind::*;
    match e.kind() {
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => {
            Failure::Dead(format!("smsc closed the connection: {e}"))
        }
        WouldBlock | TimedOut => timed_out(),
        _ => Failure::Gateway(GatewayError::Unreachable(format!("smsc connection: {e}"))),
    }
}

/// Whether the SMSC closed an idle kept connection: a non-blocking peek sees end of stream or
/// an error. Pending bytes (an enquire_link, an unbind) are left for `exchange`.
fn closed_by_peer(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0u8; 1];
    let peeked = stream.peek(&mut b);
    let restored = stream.set_nonblocking(false).is_ok();
    match peeked {
        Ok(0) => true,
        Ok(_) => !restored,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => !restored,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::smpp::{SubmitSmResp, HEADER_LEN};

    fn cfg() -> NotifySmpp {
        NotifySmpp {
            address: "127.0.0.1:2775".into(),
            system_id: "switchboard".into(),
            password: "secret".into(),
            system_type: "".into(),
            source_addr: "Switchboard".into(),
            timeout_ms: 500,
        }
    }

    fn submit_resp(status: CommandStatus, seq: Sequence) -> Vec<u8> {
        let r = SubmitSmResp {
            status,
            message_id: COctet::new("m-1").unwrap(),
        };
        smpp::encode(&Pdu::SubmitSmResp(r), seq)
    }

    #[test]
    fn new_rejects_an_address_without_port_and_an_overlong_password() {
        let mut c = cfg();
        c.address = "smsc.example".into();
        assert!(SmppGateway::new(&c)
            .err()
            .unwrap()
            .contains("notify.smpp.address"));
        let mut c = cfg();
        c.password = "much-too-long".into();
        let e = SmppGateway::new(&c).err().unwrap();
        assert!(e.contains("notify.smpp.password"), "{e}");
        assert!(!e.contains("much-too-long"), "the password leaked: {e}");
        let mut c = cfg();
        c.timeout_ms = 0;
        assert!(SmppGateway::new(&c).is_err());
        assert!(SmppGateway::new(&cfg()).is_ok());
    }

    #[test]
    fn a_numeric_source_is_international_and_a_name_alphanumeric() {
        let a = source_address("821000").unwrap();
        assert_eq!((a.ton, a.npi, a.addr.as_str()), (Ton(1), Npi(1), "821000"));
        let a = source_address("+821000").unwrap();
        assert_eq!((a.ton, a.addr.as_str()), (Ton(1), "821000"));
        let a = source_address("Switchboard").unwrap();
        assert_eq!(
            (a.ton, a.npi, a.addr.as_str()),
            (Ton(5), Npi(0), "Switchboard")
        );
        assert_eq!(source_address("").unwrap().ton, Ton::UNKNOWN);
    }

    #[test]
    fn the_destination_loses_its_plus_and_must_be_digits() {
        let a = destination_address("+821012345678").unwrap();
        assert_eq!(
            (a.ton, a.npi, a.addr.as_str()),
            (Ton(1), Npi(1), "821012345678")
        );
        assert!(destination_address("821012345678").is_none());
        assert!(destination_address("+82-10").is_none());
        assert!(destination_address("+").is_none());
    }

    #[test]
    fn the_response_with_our_sequence_number_is_the_answer() {
        let got = inbound(
            &submit_resp(CommandStatus::ESME_RTHROTTLED, Sequence(5)),
            CommandId::SUBMIT_SM_RESP,
            Sequence(5),
        );
        assert_eq!(
            got,
            Inbound::Answer(Answer {
                status: CommandStatus::ESME_RTHROTTLED,
                message_id: "m-1".into()
            })
        );
    }

    #[test]
    fn a_late_response_to_an_earlier_request_is_ignored() {
        let late = submit_resp(CommandStatus::OK, Sequence(4));
        assert_eq!(
            inbound(&late, CommandId::SUBMIT_SM_RESP, Sequence(5)),
            Inbound::Ignore
        );
    }

    #[test]
    fn an_enquire_link_meanwhile_is_answered_with_its_sequence_number() {
        let el = smpp::encode(&Pdu::EnquireLink, Sequence(77));
        assert_eq!(
            inbound(&el, CommandId::SUBMIT_SM_RESP, Sequence(5)),
            Inbound::Reply(Pdu::EnquireLinkResp(CommandStatus::OK), Sequence(77))
        );
    }

    #[test]
    fn an_unknown_command_is_nacked_with_rinvcmdid() {
        let mut data_sm = smpp::encode(&Pdu::EnquireLink, Sequence(9));
        data_sm[4..8].copy_from_slice(&0x0000_0103u32.to_be_bytes());
        assert_eq!(
            inbound(&data_sm, CommandId::SUBMIT_SM_RESP, Sequence(5)),
            Inbound::Reply(Pdu::GenericNack(CommandStatus::ESME_RINVCMDID), Sequence(9))
        );
    }

    #[test]
    fn a_generic_nack_of_our_request_is_a_refusal() {
        let nack = smpp::encode(
            &Pdu::GenericNack(CommandStatus::ESME_RINVCMDLEN),
            Sequence(5),
        );
        let Inbound::Answer(a) = inbound(&nack, CommandId::BIND_TRANSMITTER_RESP, Sequence(5))
        else {
            panic!("not an answer");
        };
        assert_eq!(a.status, CommandStatus::ESME_RINVCMDLEN);
    }

    #[test]
    fn an_unreadable_response_of_ours_still_gives_its_status() {
        // submit_sm_resp whose message_id lacks its NUL
        let mut b = submit_resp(CommandStatus::ESME_RMSGQFUL, Sequence(5));
        b.pop();
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        assert!(b.len() > HEADER_LEN);
        let Inbound::Answer(a) = inbound(&b, CommandId::SUBMIT_SM_RESP, Sequence(5)) else {
            panic!("not an answer");
        };
        assert_eq!(a.status, CommandStatus::ESME_RMSGQFUL);
    }

    #[test]
    fn an_unbind_from_the_smsc_ends_the_link() {
        let u = smpp::encode(&Pdu::Unbind, Sequence(3));
        assert_eq!(
            inbound(&u, CommandId::SUBMIT_SM_RESP, Sequence(5)),
            Inbound::Unbound(Sequence(3))
        );
    }
}
