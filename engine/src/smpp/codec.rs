//! Reading and writing PDUs: the header (§3.2), the bodies of §4.1, §4.4, §4.6, §4.7 and §4.11,
//! and optional parameters (§3.3).

use super::{
    Address, BindTransmitter, BindTransmitterResp, COctet, CommandId, CommandStatus, DataCoding,
    Header, Npi, Pdu, Sequence, ShortMessage, SmppError, SubmitSm, SubmitSmResp, Tlv, Ton,
    HEADER_LEN, MAX_PDU_LEN,
};

/// How many bytes the PDU at the head of `buf` takes, from its command_length; `None` until
/// `buf` holds the 4 bytes of that field. A length outside 16..=65536 is an error: the stream
/// cannot be framed any more and should be closed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, SmppError> {
    let Some(head) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*head);
    match usize::try_from(len) {
        Ok(n) if (HEADER_LEN..=MAX_PDU_LEN).contains(&n) => Ok(Some(n)),
        _ => Err(SmppError::BadCommandLength { len }),
    }
}

/// The header at the head of `buf`, whatever its command_id; lets a session answer a PDU that
/// `decode` rejects with a generic_nack of the same sequence number.
pub fn decode_header(buf: &[u8]) -> Result<Header, SmppError> {
    let Some(h) = buf.first_chunk::<HEADER_LEN>() else {
        return Err(SmppError::Truncated {
            needed: HEADER_LEN,
            have: buf.len(),
        });
    };
    let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    frame_len(h)?;
    Ok(Header {
        command_length: word(0),
        command_id: CommandId(word(4)),
        command_status: CommandStatus(word(8)),
        sequence: Sequence(word(12)),
    })
}

/// Decodes exactly one PDU: `buf` must be as long as its command_length says.
pub fn decode(buf: &[u8]) -> Result<(Header, Pdu), SmppError> {
    let header = decode_header(buf)?;
    let len = header.command_length as usize;
    if buf.len() < len {
        return Err(SmppError::Truncated {
            needed: len,
            have: buf.len(),
        });
    }
    if buf.len() > len {
        return Err(SmppError::LengthMismatch {
            len: header.command_length,
            have: buf.len(),
        });
    }
    let mut r = Reader {
        buf: &buf[HEADER_LEN..],
    };
    let status = header.command_status;
    let pdu = match header.command_id {
        CommandId::BIND_TRANSMITTER => Pdu::BindTransmitter(BindTransmitter {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            system_type: r.cstr("system_type")?,
            interface_version: r.u8("interface_version")?,
            addr_ton: Ton(r.u8("addr_ton")?),
            addr_npi: Npi(r.u8("addr_npi")?),
            address_range: r.cstr("address_range")?,
        }),
        CommandId::BIND_TRANSMITTER_RESP => {
            // a refusal may come without a body (§4.1.2)
            let system_id = if r.buf.is_empty() {
                COctet::default()
            } else {
                r.cstr("system_id")?
            };
            Pdu::BindTransmitterResp(BindTransmitterResp {
                status,
                system_id,
                tlvs: r.tlvs()?,
            })
        }
        CommandId::SUBMIT_SM => Pdu::SubmitSm(Box::new(submit_sm(&mut r)?)),
        CommandId::SUBMIT_SM_RESP => {
            // a refusal may come without a body (§4.4.2)
            let message_id = if r.buf.is_empty() {
                COctet::default()
            } else {
                r.cstr("message_id")?
            };
            Pdu::SubmitSmResp(SubmitSmResp { status, message_id })
        }
        CommandId::ENQUIRE_LINK => Pdu::EnquireLink,
        CommandId::ENQUIRE_LINK_RESP => Pdu::EnquireLinkResp(status),
        CommandId::UNBIND => Pdu::Unbind,
        CommandId::UNBIND_RESP => Pdu::UnbindResp(status),
        CommandId::GENERIC_NACK => Pdu::GenericNack(status),
        command_id => return Err(SmppError::UnknownCommand { command_id }),
    };
    if !r.buf.is_empty() {
        return Err(SmppError::TrailingBytes {
            command_id: header.command_id,
            len: r.buf.len(),
        });
    }
    Ok((header, pdu))
}

/// Writes `pdu` with sequence number `seq`. A request goes out with command_status 0.
///
/// The field types keep every field within its limit; only a submit_sm built by hand with
/// optional parameters adding up to more than `MAX_PDU_LEN` gives a PDU a peer rejects
/// (`SubmitSm::with_text` never does).
pub fn encode(pdu: &Pdu, seq: Sequence) -> Vec<u8> {
    let mut w = Vec::with_capacity(64);
    w.extend_from_slice(&[0; 4]);
    w.extend_from_slice(&pdu.command_id().0.to_be_bytes());
    w.extend_from_slice(&pdu.status().0.to_be_bytes());
    w.extend_from_slice(&seq.0.to_be_bytes());
    match pdu {
        Pdu::BindTransmitter(b) => {
            put_cstr(&mut w, &b.system_id);
            put_cstr(&mut w, &b.password);
            put_cstr(&mut w, &b.system_type);
            w.extend_from_slice(&[b.interface_version, b.addr_ton.0, b.addr_npi.0]);
            put_cstr(&mut w, &b.address_range);
        }
        Pdu::BindTransmitterResp(r) => {
            put_cstr(&mut w, &r.system_id);
            put_tlvs(&mut w, &r.tlvs);
        }
        Pdu::SubmitSm(s) => put_submit_sm(&mut w, s),
        Pdu::SubmitSmResp(r) => put_cstr(&mut w, &r.message_id),
        Pdu::EnquireLink
        | Pdu::EnquireLinkResp(_)
        | Pdu::Unbind
        | Pdu::UnbindResp(_)
        | Pdu::GenericNack(_) => {}
    }
    let len = u32::try_from(w.len()).unwrap_or(u32::MAX);
    w[..4].copy_from_slice(&len.to_be_bytes());
    w
}

fn submit_sm(r: &mut Reader<'_>) -> Result<SubmitSm, SmppError> {
    let service_type = r.cstr("service_type")?;
    let source = Address {
        ton: Ton(r.u8("source_addr_ton")?),
        npi: Npi(r.u8("source_addr_npi")?),
        addr: r.cstr("source_addr")?,
    };
    let destination = Address {
        ton: Ton(r.u8("dest_addr_ton")?),
        npi: Npi(r.u8("dest_addr_npi")?),
        addr: r.cstr("destination_addr")?,
    };
    let esm_class = r.u8("esm_class")?;
    let protocol_id = r.u8("protocol_id")?;
    let priority_flag = r.u8("priority_flag")?;
    let schedule_delivery_time = r.cstr("schedule_delivery_time")?;
    let validity_period = r.cstr("validity_period")?;
    let registered_delivery = r.u8("registered_delivery")?;
    let replace_if_present_flag = r.u8("replace_if_present_flag")?;
    let data_coding = DataCoding(r.u8("data_coding")?);
    let sm_default_msg_id = r.u8("sm_default_msg_id")?;
    let sm_length = usize::from(r.u8("sm_length")?);
    let short_message = ShortMessage::new(r.take(sm_length, "short_message")?.to_vec())?;
    Ok(SubmitSm {
        service_type,
        source,
        destination,
        esm_class,
        protocol_id,
        priority_flag,
        schedule_delivery_time,
        validity_period,
        registered_delivery,
        replace_if_present_flag,
        data_coding,
        sm_default_msg_id,
        short_message,
        tlvs: r.tlvs()?,
    })
}

fn put_submit_sm(w: &mut Vec<u8>, s: &SubmitSm) {
    put_cstr(w, &s.service_type);
    w.extend_from_slice(&[s.source.ton.0, s.source.npi.0]);
    put_cstr(w, &s.source.addr);
    w.extend_from_slice(&[s.destination.ton.0, s.destination.npi.0]);
    put_cstr(w, &s.destination.addr);
    w.extend_from_slice(&[s.esm_class, s.protocol_id, s.priority_flag]);
    put_cstr(w, &s.schedule_delivery_time);
    put_cstr(w, &s.validity_period);
    w.extend_from_slice(&[
        s.registered_delivery,
        s.replace_if_present_flag,
        s.data_coding.0,
        s.sm_default_msg_id,
        s.short_message.sm_length(),
    ]);
    w.extend_from_slice(s.short_message.as_bytes());
    put_tlvs(w, &s.tlvs);
}

/// The encoded length of a submit_sm PDU, header included.
pub(super) fn submit_sm_len(s: &SubmitSm) -> usize {
    let cstrs = [
        s.service_type.as_bytes().len(),
        s.source.addr.as_bytes().len(),
        s.destination.addr.as_bytes().len(),
        s.schedule_delivery_time.as_bytes().len(),
        s.validity_period.as_bytes().len(),
    ];
    // 5 NULs; TON+NPI twice; esm_class, protocol_id, priority_flag; 5 octets before the
    // short message
    let fixed = HEADER_LEN + 5 + 4 + 3 + 5;
    let tlvs: usize = s.tlvs.iter().map(|t| 4 + t.value().len()).sum();
    fixed + cstrs.iter().sum::<usize>() + s.short_message.as_bytes().len() + tlvs
}

fn put_cstr<const MAX: usize>(w: &mut Vec<u8>, s: &COctet<MAX>) {
    w.extend_from_slice(s.as_bytes());
    w.push(0);
}

fn put_tlvs(w: &mut Vec<u8>, tlvs: &[Tlv]) {
    for t in tlvs {
        w.extend_from_slice(&t.tag().to_be_bytes());
        w.extend_from_slice(&t.length().to_be_bytes());
        w.extend_from_slice(t.value());
    }
}

/// The unread rest of a PDU body.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], SmppError> {
        if self.buf.len() < n {
            return Err(SmppError::BodyTruncated { field });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, SmppError> {
        Ok(self.take(1, field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, SmppError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A C-octet string of at most `MAX` octets with its NUL (§3.1).
    fn cstr<const MAX: usize>(&mut self, field: &'static str) -> Result<COctet<MAX>, SmppError> {
        let window = &self.buf[..self.buf.len().min(MAX)];
        let Some(nul) = window.iter().position(|&b| b == 0) else {
            return Err(if self.buf.len() >= MAX {
                SmppError::TooLong {
                    field,
                    len: MAX,
                    max: MAX - 1,
                }
            } else {
                SmppError::Unterminated { field }
            });
        };
        let s = COctet::from_wire(field, &self.buf[..nul])?;
        self.buf = &self.buf[nul + 1..];
        Ok(s)
    }

    /// Optional parameters up to the end of the body.
    fn tlvs(&mut self) -> Result<Vec<Tlv>, SmppError> {
        let mut out = Vec::new();
        while !self.buf.is_empty() {
            let tag = self
                .u16("tlv tag")
                .map_err(|_| SmppError::TlvTruncated { tag: 0 })?;
            let len = self
                .u16("tlv length")
                .map_err(|_| SmppError::TlvTruncated { tag })?;
            let value = self
                .take(usize::from(len), "tlv value")
                .map_err(|_| SmppError::TlvTruncated { tag })?;
            out.push(Tlv::new(tag, value.to_vec())?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn bind() -> BindTransmitter {
        BindTransmitter {
            system_id: COctet::new("SMPP3TEST").unwrap(),
            password: COctet::new("secret08").unwrap(),
            system_type: COctet::new("SUBMIT1").unwrap(),
            interface_version: 0x34,
            addr_ton: Ton::INTERNATIONAL,
            addr_npi: Npi::ISDN,
            address_range: COctet::default(),
        }
    }

    fn submit() -> SubmitSm {
        SubmitSm::with_text(
            Address {
                ton: Ton::ALPHANUMERIC,
                npi: Npi::UNKNOWN,
                addr: COctet::new("Switchboard").unwrap(),
            },
            Address {
                ton: Ton::INTERNATIONAL,
                npi: Npi::ISDN,
                addr: COctet::new("821012345678").unwrap(),
            },
            "You have 2 new messages",
        )
        .unwrap()
    }

    fn round_trip(pdu: Pdu, seq: Sequence) {
        let bytes = encode(&pdu, seq);
        let (h, back) = decode(&bytes).unwrap();
        assert_eq!(back, pdu);
        assert_eq!(h.sequence, seq);
        assert_eq!(h.command_length as usize, bytes.len());
        assert_eq!(h.command_status, pdu.status());
    }

    /// §4.1.1: system_id, password, system_type as C-octet strings, then interface_version,
    /// addr_ton, addr_npi as one octet each, then address_range.
    const BIND_TRANSMITTER: &str = "0000002F 00000002 00000000 00000001
        534D5050335445535400 736563726574303800 5355424D49543100 34 01 01 00";

    #[test]
    fn bind_transmitter_matches_the_spec_layout() {
        let bytes = encode(&Pdu::BindTransmitter(bind()), Sequence(1));
        assert_eq!(bytes, hex(BIND_TRANSMITTER));
        let (h, pdu) = decode(&hex(BIND_TRANSMITTER)).unwrap();
        assert_eq!(h.command_length, 47);
        assert_eq!(h.command_id, CommandId::BIND_TRANSMITTER);
        assert_eq!(pdu, Pdu::BindTransmitter(bind()));
    }

    #[test]
    fn enquire_link_is_a_bare_header() {
        let bytes = encode(&Pdu::EnquireLink, Sequence(7));
        assert_eq!(bytes, hex("00000010 00000015 00000000 00000007"));
    }

    #[test]
    fn a_refused_submit_without_body_decodes_with_an_empty_message_id() {
        let (h, pdu) = decode(&hex("00000010 80000004 00000058 00000009")).unwrap();
        assert_eq!(h.sequence, Sequence(9));
        assert_eq!(
            pdu,
            Pdu::SubmitSmResp(SubmitSmResp {
                status: CommandStatus::ESME_RTHROTTLED,
                message_id: COctet::default(),
            })
        );
    }

    #[test]
    fn every_pdu_decodes_to_what_was_encoded() {
        let resp = BindTransmitterResp {
            status: CommandStatus::OK,
            system_id: COctet::new("SMSC").unwrap(),
            tlvs: vec![Tlv::new(Tlv::SC_INTERFACE_VERSION, vec![0x34]).unwrap()],
        };
        for pdu in [
            Pdu::BindTransmitter(bind()),
            Pdu::BindTransmitterResp(resp),
            Pdu::SubmitSm(Box::new(submit())),
            Pdu::SubmitSmResp(SubmitSmResp {
                status: CommandStatus::OK,
                message_id: COctet::new("msg-00042").unwrap(),
            }),
            Pdu::EnquireLink,
            Pdu::EnquireLinkResp(CommandStatus::OK),
            Pdu::Unbind,
            Pdu::UnbindResp(CommandStatus::OK),
            Pdu::GenericNack(CommandStatus::ESME_RINVCMDID),
        ] {
            round_trip(pdu, Sequence(0x1234_5678));
        }
    }

    #[test]
    fn submit_sm_len_is_the_encoded_length() {
        let mut sm = submit();
        sm.tlvs.push(Tlv::new(0x1400, vec![1, 2, 3]).unwrap());
        let bytes = encode(&Pdu::SubmitSm(Box::new(sm.clone())), Sequence(5));
        assert_eq!(submit_sm_len(&sm), bytes.len());
    }

    #[test]
    fn frame_len_waits_for_four_bytes_then_reads_command_length() {
        assert_eq!(frame_len(&[0, 0, 0]), Ok(None));
        assert_eq!(frame_len(&[0, 0, 0, 0x2F, 0xFF]), Ok(Some(47)));
        assert_eq!(
            frame_len(&[0, 0, 0, 15]),
            Err(SmppError::BadCommandLength { len: 15 })
        );
        assert_eq!(frame_len(&[0, 1, 0, 0]), Ok(Some(65_536)));
        assert_eq!(
            frame_len(&[0, 1, 0, 1]),
            Err(SmppError::BadCommandLength { len: 65_537 })
        );
        assert!(frame_len(&[0xFF; 4]).is_err());
    }

    #[test]
    fn every_truncation_of_a_submit_sm_is_an_error() {
        let bytes = encode(&Pdu::SubmitSm(Box::new(submit())), Sequence(2));
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes decoded");
        }
    }

    #[test]
    fn a_body_shorter_than_its_fields_is_an_error() {
        // command_length says 20, but a bind needs at least 7 octets of body
        let mut b = encode(&Pdu::EnquireLink, Sequence(1));
        b[3] = 20;
        b[7] = 0x02;
        b.extend_from_slice(b"ab\0\0");
        assert_eq!(
            decode(&b),
            Err(SmppError::Unterminated {
                field: "system_type"
            })
        );
    }

    #[test]
    fn more_bytes_than_command_length_are_rejected() {
        let mut b = encode(&Pdu::EnquireLink, Sequence(1));
        b.push(0);
        assert_eq!(
            decode(&b),
            Err(SmppError::LengthMismatch { len: 16, have: 17 })
        );
    }

    #[test]
    fn a_body_on_enquire_link_is_rejected() {
        let mut b = encode(&Pdu::EnquireLink, Sequence(1));
        b[3] = 17;
        b.push(0);
        assert!(matches!(
            decode(&b),
            Err(SmppError::TrailingBytes { len: 1, .. })
        ));
    }

    #[test]
    fn a_system_id_without_nul_within_sixteen_octets_is_rejected() {
        let mut body = vec![b'A'; 16];
        body.extend_from_slice(b"\0pw\0\0\x34\x01\x01\0");
        let mut b = hex("00000000 00000002 00000000 00000001");
        b.extend_from_slice(&body);
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            decode(&b),
            Err(SmppError::TooLong {
                field: "system_id",
                len: 16,
                max: 15
            })
        );
    }

    #[test]
    fn an_unknown_command_id_is_reported_with_its_header() {
        // data_sm (0x103) is not part of this codec
        let b = hex("00000010 00000103 00000000 0000002A");
        assert_eq!(
            decode(&b),
            Err(SmppError::UnknownCommand {
                command_id: CommandId(0x103)
            })
        );
        assert_eq!(decode_header(&b).unwrap().sequence, Sequence(42));
    }

    #[test]
    fn a_tlv_running_past_the_body_is_rejected() {
        let mut b = encode(&Pdu::SubmitSm(Box::new(submit())), Sequence(2));
        b.extend_from_slice(&[0x04, 0x24, 0x00, 0x09, b'x']);
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            decode(&b),
            Err(SmppError::TlvTruncated {
                tag: Tlv::MESSAGE_PAYLOAD
            })
        );
    }

    #[test]
    fn an_oversized_command_length_is_rejected_before_reading_the_body() {
        let b = hex("00010001 00000004 00000000 00000001");
        assert_eq!(decode(&b), Err(SmppError::BadCommandLength { len: 65_537 }));
        assert!(matches!(
            decode(&[0, 0, 0]),
            Err(SmppError::Truncated { needed: 16, .. })
        ));
    }
}
