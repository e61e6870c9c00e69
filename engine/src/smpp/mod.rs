//! SMPP 3.4 PDUs: the part an ESME transmitter needs (bind_transmitter, submit_sm, enquire_link,
//! unbind, generic_nack and their responses; SMPP 3.4 §4).
//!
//! Sans-IO. A reader takes the first 4 bytes of a stream to `frame_len`, which says from
//! command_length (§3.2) how many bytes the whole PDU takes, reads exactly that many and hands
//! them to `decode`, which returns the raw `Header` and a typed `Pdu`. `encode` writes a `Pdu`
//! with a sequence number. `SubmitSm::with_text` picks data_coding and moves texts too long for
//! short_message into the message_payload TLV (`text`).
//!
//! A command_id this codec does not know is `SmppError::UnknownCommand`; the session answers it
//! with generic_nack and `SmppError::command_status` (ESME_RINVCMDID, §5.1.3).
//!
//! Invariant: whatever `decode` accepts, `encode` writes back into bytes that decode to the same
//! `Pdu` and sequence number; no input makes either panic.

mod codec;
mod octets;
mod text;

pub use codec::{decode, decode_header, encode, frame_len};
pub use octets::{COctet, ShortMessage, Tlv};
pub use text::{decode_text, encode_text, fits_short_message, DataCoding};

use std::fmt;

/// Bytes of the PDU header (command_length, command_id, command_status, sequence_number).
pub const HEADER_LEN: usize = 16;
/// Largest PDU accepted or built (64 KiB); a larger command_length is a broken stream.
pub const MAX_PDU_LEN: usize = 64 * 1024;
/// interface_version of a bind: SMPP 3.4 (§5.2.4).
pub const INTERFACE_VERSION: u8 = 0x34;

/// sequence_number of a PDU (§3.2): a response carries the number of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sequence(pub u32);

impl Sequence {
    pub const FIRST: Sequence = Sequence(1);

    /// The number after this one; numbers run 1 to 0x7FFFFFFF and then start over (§3.2).
    pub fn next(self) -> Sequence {
        if self.0 >= 0x7FFF_FFFF {
            Sequence::FIRST
        } else {
            Sequence(self.0 + 1)
        }
    }
}

/// command_id (§5.1.2). The high bit marks a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandId(pub u32);

impl CommandId {
    pub const GENERIC_NACK: CommandId = CommandId(0x8000_0000);
    pub const BIND_TRANSMITTER: CommandId = CommandId(0x0000_0002);
    pub const BIND_TRANSMITTER_RESP: CommandId = CommandId(0x8000_0002);
    pub const SUBMIT_SM: CommandId = CommandId(0x0000_0004);
    pub const SUBMIT_SM_RESP: CommandId = CommandId(0x8000_0004);
    pub const UNBIND: CommandId = CommandId(0x0000_0006);
    pub const UNBIND_RESP: CommandId = CommandId(0x8000_0006);
    pub const ENQUIRE_LINK: CommandId = CommandId(0x0000_0015);
    pub const ENQUIRE_LINK_RESP: CommandId = CommandId(0x8000_0015);

    pub fn is_response(self) -> bool {
        self.0 & 0x8000_0000 != 0
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// command_status (§5.1.3): 0 is success; the error codes a transmitter meets are named.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandStatus(pub u32);

impl CommandStatus {
    pub const OK: CommandStatus = CommandStatus(0x00);
    pub const ESME_RINVMSGLEN: CommandStatus = CommandStatus(0x01);
    pub const ESME_RINVCMDLEN: CommandStatus = CommandStatus(0x02);
    pub const ESME_RINVCMDID: CommandStatus = CommandStatus(0x03);
    pub const ESME_RINVBNDSTS: CommandStatus = CommandStatus(0x04);
    pub const ESME_RALYBND: CommandStatus = CommandStatus(0x05);
    pub const ESME_RSYSERR: CommandStatus = CommandStatus(0x08);
    pub const ESME_RINVSRCADR: CommandStatus = CommandStatus(0x0A);
    pub const ESME_RINVDSTADR: CommandStatus = CommandStatus(0x0B);
    pub const ESME_RBINDFAIL: CommandStatus = CommandStatus(0x0D);
    pub const ESME_RINVPASWD: CommandStatus = CommandStatus(0x0E);
    pub const ESME_RINVSYSID: CommandStatus = CommandStatus(0x0F);
    pub const ESME_RMSGQFUL: CommandStatus = CommandStatus(0x14);
    pub const ESME_RTHROTTLED: CommandStatus = CommandStatus(0x58);
    pub const ESME_RINVOPTPARSTREAM: CommandStatus = CommandStatus(0xC0);

    pub fn is_ok(self) -> bool {
        self == CommandStatus::OK
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl fmt::Debug for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandStatus({:#010x})", self.0)
    }
}

/// Type of number of an address (§5.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ton(pub u8);

impl Ton {
    pub const UNKNOWN: Ton = Ton(0);
    pub const INTERNATIONAL: Ton = Ton(1);
    pub const ALPHANUMERIC: Ton = Ton(5);
}

/// Numbering plan indicator of an address (§5.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Npi(pub u8);

impl Npi {
    pub const UNKNOWN: Npi = Npi(0);
    /// E.163/E.164.
    pub const ISDN: Npi = Npi(1);
}

/// The 16-byte header of every PDU (§3.2), as read off the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: CommandId,
    pub command_status: CommandStatus,
    pub sequence: Sequence,
}

/// An SMPP address: source_addr or destination_addr with its TON and NPI (§4.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub ton: Ton,
    pub npi: Npi,
    pub addr: COctet<21>,
}

/// bind_transmitter (§4.1.1). Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct BindTransmitter {
    pub system_id: COctet<16>,
    pub password: COctet<9>,
    pub system_type: COctet<13>,
    pub interface_version: u8,
    pub addr_ton: Ton,
    pub addr_npi: Npi,
    pub address_range: COctet<41>,
}

impl fmt::Debug for BindTransmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindTransmitter")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("interface_version", &self.interface_version)
            .field("addr_ton", &self.addr_ton)
            .field("addr_npi", &self.addr_npi)
            .field("address_range", &self.address_range)
            .finish()
    }
}

/// bind_transmitter_resp (§4.1.2). An SMSC may leave the body out when it refuses the bind:
/// that decodes as an empty system_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindTransmitterResp {
    pub status: CommandStatus,
    pub system_id: COctet<16>,
    /// Optional parameters (sc_interface_version, §5.3.2.25), in the order received.
    pub tlvs: Vec<Tlv>,
}

/// submit_sm (§4.4.1). Build one for a text with `SubmitSm::with_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitSm {
    pub service_type: COctet<6>,
    pub source: Address,
    pub destination: Address,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: COctet<17>,
    pub validity_period: COctet<17>,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: DataCoding,
    pub sm_default_msg_id: u8,
    /// Empty (sm_length 0) when the text travels in message_payload.
    pub short_message: ShortMessage,
    /// Optional parameters in the order received (message_payload among them).
    pub tlvs: Vec<Tlv>,
}

impl SubmitSm {
    /// The user data: message_payload when present, short_message otherwise (§5.3.2.32).
    pub fn message(&self) -> &[u8] {
        match self.tlv(Tlv::MESSAGE_PAYLOAD) {
            Some(t) => t.value(),
            None => self.short_message.as_bytes(),
        }
    }

    /// The first optional parameter with this tag.
    pub fn tlv(&self, tag: u16) -> Option<&Tlv> {
        self.tlvs.iter().find(|t| t.tag() == tag)
    }
}

/// submit_sm_resp (§4.4.2). An SMSC may leave the body out on an error: that decodes as an
/// empty message_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitSmResp {
    pub status: CommandStatus,
    pub message_id: COctet<65>,
}

/// The PDUs of this codec. Responses carry their command_status; requests are always sent
/// with command_status 0 (§3.2) and any other value is ignored on decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    BindTransmitter(BindTransmitter),
    BindTransmitterResp(BindTransmitterResp),
    SubmitSm(Box<SubmitSm>),
    SubmitSmResp(SubmitSmResp),
    EnquireLink,
    EnquireLinkResp(CommandStatus),
    Unbind,
    UnbindResp(CommandStatus),
    GenericNack(CommandStatus),
}

impl Pdu {
    pub fn command_id(&self) -> CommandId {
        match self {
            Pdu::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            Pdu::BindTransmitterResp(_) => CommandId::BIND_TRANSMITTER_RESP,
            Pdu::SubmitSm(_) => CommandId::SUBMIT_SM,
            Pdu::SubmitSmResp(_) => CommandId::SUBMIT_SM_RESP,
            Pdu::EnquireLink => CommandId::ENQUIRE_LINK,
            Pdu::EnquireLinkResp(_) => CommandId::ENQUIRE_LINK_RESP,
            Pdu::Unbind => CommandId::UNBIND,
            Pdu::UnbindResp(_) => CommandId::UNBIND_RESP,
            Pdu::GenericNack(_) => CommandId::GENERIC_NACK,
        }
    }

    /// command_status: the response's, `OK` for a request.
    pub fn status(&self) -> CommandStatus {
        match self {
            Pdu::BindTransmitterResp(r) => r.status,
            Pdu::SubmitSmResp(r) => r.status,
            Pdu::EnquireLinkResp(s) | Pdu::UnbindResp(s) | Pdu::GenericNack(s) => *s,
            Pdu::BindTransmitter(_) | Pdu::SubmitSm(_) | Pdu::EnquireLink | Pdu::Unbind => {
                CommandStatus::OK
            }
        }
    }
}

/// Why bytes are not a PDU this codec accepts, or a value does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmppError {
    #[error("pdu truncated: need {needed} bytes, have {have}")]
    Truncated { needed: usize, have: usize },
    #[error("command_length {len} outside 16..=65536")]
    BadCommandLength { len: u32 },
    #[error("command_length {len} but {have} bytes given")]
    LengthMismatch { len: u32, have: usize },
    #[error("unknown command_id {command_id}")]
    UnknownCommand { command_id: CommandId },
    #[error("{field}: body ends inside the field")]
    BodyTruncated { field: &'static str },
    #[error("{field}: no nul terminator")]
    Unterminated { field: &'static str },
    #[error("{field}: {len} octets, at most {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field}: not ascii")]
    NotAscii { field: &'static str },
    #[error("{len} bytes after the body of {command_id}")]
    TrailingBytes { command_id: CommandId, len: usize },
    #[error("optional parameter {tag:#06x} runs past the end of the pdu")]
    TlvTruncated { tag: u16 },
    #[error("data_coding {0:#04x} not supported")]
    UnsupportedDataCoding(u8),
    #[error("short message is not valid ucs-2/utf-16be")]
    BadUcs2,
}

impl SmppError {
    /// The command_status of the generic_nack that answers a PDU failing with this error.
    pub fn command_status(&self) -> CommandStatus {
        match self {
            SmppError::UnknownCommand { .. } => CommandStatus::ESME_RINVCMDID,
            SmppError::TlvTruncated { .. } => CommandStatus::ESME_RINVOPTPARSTREAM,
            SmppError::UnsupportedDataCoding(_) | SmppError::BadUcs2 => CommandStatus::ESME_RSYSERR,
            _ => CommandStatus::ESME_RINVCMDLEN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_wrap_to_one_after_the_largest() {
        assert_eq!(Sequence(7).next(), Sequence(8));
        assert_eq!(Sequence(0x7FFF_FFFF).next(), Sequence::FIRST);
    }

    #[test]
    fn statuses_print_as_eight_hex_digits() {
        assert_eq!(CommandStatus::ESME_RTHROTTLED.to_string(), "0x00000058");
        assert_eq!(CommandId::SUBMIT_SM_RESP.to_string(), "0x80000004");
        assert!(CommandId::GENERIC_NACK.is_response());
        assert!(!CommandId::ENQUIRE_LINK.is_response());
    }

    #[test]
    fn the_debug_form_of_a_bind_leaves_the_password_out() {
        let bind = BindTransmitter {
            system_id: COctet::new("esme").unwrap(),
            password: COctet::new("hunter2").unwrap(),
            system_type: COctet::default(),
            interface_version: INTERFACE_VERSION,
            addr_ton: Ton::UNKNOWN,
            addr_npi: Npi::UNKNOWN,
            address_range: COctet::default(),
        };
        let shown = format!("{bind:?}");
        assert!(shown.contains("esme"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn an_unknown_command_is_nacked_with_rinvcmdid() {
        let e = SmppError::UnknownCommand {
            command_id: CommandId(0x0000_0103),
        };
        assert_eq!(e.command_status(), CommandStatus::ESME_RINVCMDID);
        assert_eq!(
            SmppError::BadCommandLength { len: 3 }.command_status(),
            CommandStatus::ESME_RINVCMDLEN
        );
    }
}
