//! Text in a submit_sm: the choice of data_coding (§5.2.19) and where the octets go.
//!
//! A text of printable ASCII (with CR and LF) goes out as data_coding 0, the SMSC default
//! alphabet, one octet per character; taking ASCII for it is what SMSCs commonly do for IA5
//! text. Anything else goes out as data_coding 8, UCS-2, written as UTF-16BE so that characters
//! outside the BMP survive as surrogate pairs. One SMS carries 160 characters of the default
//! alphabet or 140 octets of UCS-2; a longer text travels in message_payload (§5.3.2.32) with
//! sm_length 0 and the SMSC splits it.

use super::codec::submit_sm_len;
use super::{Address, COctet, ShortMessage, SmppError, SubmitSm, Tlv, MAX_PDU_LEN};

/// data_coding (§5.2.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataCoding(pub u8);

impl DataCoding {
    /// SMSC default alphabet.
    pub const SMSC_DEFAULT: DataCoding = DataCoding(0x00);
    /// IA5 (CCITT T.50) / ASCII.
    pub const IA5: DataCoding = DataCoding(0x01);
    /// Latin 1 (ISO-8859-1).
    pub const LATIN1: DataCoding = DataCoding(0x03);
    /// UCS-2 (ISO/IEC-10646), big-endian.
    pub const UCS2: DataCoding = DataCoding(0x08);
}

/// The data_coding and octets for `text`: default alphabet when it is printable ASCII, CR and
/// LF only, UCS-2 (UTF-16BE) otherwise.
pub fn encode_text(text: &str) -> (DataCoding, Vec<u8>) {
    let plain = text
        .bytes()
        .all(|b| (0x20..=0x7E).contains(&b) || b == b'\n' || b == b'\r');
    if plain {
        (DataCoding::SMSC_DEFAULT, text.as_bytes().to_vec())
    } else {
        let octets = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        (DataCoding::UCS2, octets)
    }
}

/// Whether `len` octets of `coding` fit one short_message: 160 for the default alphabet (one
/// octet per character here, packed to 140 by the SMSC), 140 for anything else.
pub fn fits_short_message(coding: DataCoding, len: usize) -> bool {
    if coding == DataCoding::SMSC_DEFAULT {
        len <= 160
    } else {
        len <= 140
    }
}

/// The text of user data sent with `coding`: the inverse of `encode_text`, plus IA5 and
/// Latin 1.
pub fn decode_text(coding: DataCoding, octets: &[u8]) -> Result<String, SmppError> {
    match coding {
        DataCoding::SMSC_DEFAULT | DataCoding::IA5 => {
            if !octets.is_ascii() {
                return Err(SmppError::NotAscii {
                    field: "short_message",
                });
            }
            Ok(octets.iter().map(|&b| char::from(b)).collect())
        }
        DataCoding::LATIN1 => Ok(octets.iter().map(|&b| char::from(b)).collect()),
        DataCoding::UCS2 => {
            let (pairs, rest) = octets.as_chunks::<2>();
            if !rest.is_empty() {
                return Err(SmppError::BadUcs2);
            }
            char::decode_utf16(pairs.iter().map(|p| u16::from_be_bytes(*p)))
                .collect::<Result<String, _>>()
                .map_err(|_| SmppError::BadUcs2)
        }
        DataCoding(other) => Err(SmppError::UnsupportedDataCoding(other)),
    }
}

impl SubmitSm {
    /// A submit_sm of `text` from `source` to `destination`, no delivery receipt, default
    /// validity: the text in short_message when it fits one SMS, in message_payload otherwise.
    /// Fails only for a text too long for one PDU (about 64 KiB).
    pub fn with_text(
        source: Address,
        destination: Address,
        text: &str,
    ) -> Result<SubmitSm, SmppError> {
        let (data_coding, octets) = encode_text(text);
        let len = octets.len();
        let (short_message, tlvs) = if fits_short_message(data_coding, len) {
            (ShortMessage::new(octets)?, Vec::new())
        } else {
            let payload = Tlv::new(Tlv::MESSAGE_PAYLOAD, octets)?;
            (ShortMessage::default(), vec![payload])
        };
        let sm = SubmitSm {
            service_type: COctet::default(),
            source,
            destination,
            esm_class: 0,
            protocol_id: 0,
            priority_flag: 0,
            schedule_delivery_time: COctet::default(),
            validity_period: COctet::default(),
            registered_delivery: 0,
            replace_if_present_flag: 0,
            data_coding,
            sm_default_msg_id: 0,
            short_message,
            tlvs,
        };
        if submit_sm_len(&sm) > MAX_PDU_LEN {
            return Err(SmppError::TooLong {
                field: "message_payload",
                len,
                max: MAX_PDU_LEN - (submit_sm_len(&sm) - len),
            });
        }
        Ok(sm)
    }

    /// The text this submit_sm carries, decoded by its data_coding.
    pub fn text(&self) -> Result<String, SmppError> {
        decode_text(self.data_coding, self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::{decode, encode, Npi, Pdu, Sequence, Ton};

    fn to(text: &str) -> Result<SubmitSm, SmppError> {
        let source = Address {
            ton: Ton::ALPHANUMERIC,
            npi: Npi::UNKNOWN,
            addr: COctet::new("Switchboard").unwrap(),
        };
        let destination = Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: COctet::new("821012345678").unwrap(),
        };
        SubmitSm::with_text(source, destination, text)
    }

    #[test]
    fn printable_ascii_with_newlines_uses_the_default_alphabet() {
        let (dc, octets) = encode_text("Hi!\r\nCall 1001 ~ {ok}");
        assert_eq!(dc, DataCoding::SMSC_DEFAULT);
        assert_eq!(octets, b"Hi!\r\nCall 1001 ~ {ok}");
    }

    #[test]
    fn a_tab_or_a_control_character_needs_ucs2() {
        assert_eq!(encode_text("a\tb").0, DataCoding::UCS2);
        assert_eq!(encode_text("a\u{7f}").0, DataCoding::UCS2);
    }

    #[test]
    fn korean_goes_out_as_utf16_big_endian() {
        let (dc, octets) = encode_text("안녕");
        assert_eq!(dc, DataCoding::UCS2);
        assert_eq!(octets, [0xC5, 0x48, 0xB1, 0x55]);
        assert_eq!(decode_text(dc, &octets).unwrap(), "안녕");
    }

    #[test]
    fn characters_outside_the_bmp_survive_as_surrogate_pairs() {
        let (dc, octets) = encode_text("ok 👍");
        assert_eq!(octets.len(), 10);
        assert_eq!(decode_text(dc, &octets).unwrap(), "ok 👍");
    }

    #[test]
    fn ucs2_of_odd_length_or_a_lone_surrogate_is_an_error() {
        assert_eq!(
            decode_text(DataCoding::UCS2, &[0x00, 0x41, 0x00]),
            Err(SmppError::BadUcs2)
        );
        assert_eq!(
            decode_text(DataCoding::UCS2, &[0xD8, 0x3D]),
            Err(SmppError::BadUcs2)
        );
    }

    #[test]
    fn eight_bit_octets_are_not_default_alphabet_text() {
        assert!(decode_text(DataCoding::SMSC_DEFAULT, &[0x41, 0xE9]).is_err());
        assert_eq!(
            decode_text(DataCoding::LATIN1, &[0x41, 0xE9]).unwrap(),
            "Aé"
        );
        assert_eq!(
            decode_text(DataCoding(0xF5), b"x"),
            Err(SmppError::UnsupportedDataCoding(0xF5))
        );
    }

    #[test]
    fn one_hundred_sixty_ascii_characters_fit_short_message() {
        let sm = to(&"a".repeat(160)).unwrap();
        assert_eq!(sm.short_message.as_bytes().len(), 160);
        assert!(sm.tlvs.is_empty());
    }

    #[test]
    fn the_hundred_sixty_first_ascii_character_moves_the_text_to_message_payload() {
        let text = "b".repeat(161);
        let sm = to(&text).unwrap();
        assert!(sm.short_message.as_bytes().is_empty());
        assert_eq!(sm.tlv(Tlv::MESSAGE_PAYLOAD).unwrap().value().len(), 161);
        assert_eq!(sm.text().unwrap(), text);
    }

    #[test]
    fn seventy_korean_characters_fit_and_seventy_one_do_not() {
        let sm = to(&"가".repeat(70)).unwrap();
        assert_eq!(sm.short_message.as_bytes().len(), 140);
        let sm = to(&"가".repeat(71)).unwrap();
        assert!(sm.short_message.as_bytes().is_empty());
        assert_eq!(sm.message().len(), 142);
        assert_eq!(sm.data_coding, DataCoding::UCS2);
    }

    #[test]
    fn a_long_text_decodes_back_from_the_wire() {
        let text = "장문 메시지 ".repeat(40);
        let sm = to(&text).unwrap();
        let bytes = encode(&Pdu::SubmitSm(Box::new(sm)), Sequence(3));
        let (_, Pdu::SubmitSm(back)) = decode(&bytes).unwrap() else {
            panic!("not a submit_sm");
        };
        assert_eq!(back.text().unwrap(), text);
        // sm_length is 0: the octet before the first TLV tag
        let tlv_at = bytes.len() - back.message().len() - 4;
        assert_eq!(bytes[tlv_at - 1], 0);
        assert_eq!(&bytes[tlv_at..tlv_at + 2], &[0x04, 0x24]);
    }

    #[test]
    fn a_text_too_long_for_one_pdu_is_an_error() {
        assert!(matches!(
            to(&"x".repeat(65_500)),
            Err(SmppError::TooLong {
                field: "message_payload",
                ..
            })
        ));
        assert!(to(&"x".repeat(65_000)).is_ok());
    }
}
