//! Fuzz target for the SMPP 3.4 PDU codec: arbitrary bytes are framed and decoded; nothing may
//! panic, and every PDU that decodes is encoded again and must decode to the same PDU and
//! sequence number. Text of a submit_sm is decoded too, and text we build decodes back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::smpp::{self, Pdu};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = smpp::frame_len(data) {
        assert!((smpp::HEADER_LEN..=smpp::MAX_PDU_LEN).contains(&n));
    }
    let _ = smpp::decode_header(data);
    if let Ok((header, pdu)) = smpp::decode(data) {
        assert_eq!(header.command_length as usize, data.len());
        let bytes = smpp::encode(&pdu, header.sequence);
        let (again_header, again) = smpp::decode(&bytes).expect("what we encode decodes");
        assert_eq!(again, pdu);
        assert_eq!(again_header.sequence, header.sequence);
        assert_eq!(again_header.command_id, header.command_id);
        if let Pdu::SubmitSm(sm) = &pdu {
            if let Ok(text) = sm.text() {
                // whatever text arrived can be sent back out, unless UCS-2 made it too long
                match smpp::SubmitSm::with_text(sm.source.clone(), sm.destination.clone(), &text) {
                    Ok(resent) => assert_eq!(resent.text().as_deref(), Ok(text.as_str())),
                    Err(e) => assert!(matches!(e, smpp::SmppError::TooLong { .. }), "{e}"),
                }
            }
        }
    }
    if let Some((&coding, rest)) = data.split_first() {
        let _ = smpp::decode_text(smpp::DataCoding(coding), rest);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let (coding, octets) = smpp::encode_text(s);
        assert_eq!(smpp::decode_text(coding, &octets).as_deref(), Ok(s));
    }
});
