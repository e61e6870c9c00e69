//! Field types whose limits the type keeps, so that `encode` never writes a field a peer must
//! reject: C-octet strings (§3.1), short_message (0 to 254 octets, §5.2.22) and optional
//! parameters (TLV, §3.3).

use std::fmt;

use super::SmppError;

/// A C-octet string (§3.1): ASCII without NUL, at most `MAX - 1` characters so that it fits
/// `MAX` octets with its terminating NUL. `MAX` is the size the spec gives the field.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct COctet<const MAX: usize>(String);

impl<const MAX: usize> COctet<MAX> {
    /// Checks `s` fits the field: ASCII, no NUL, at most `MAX - 1` characters.
    pub fn new(s: &str) -> Result<COctet<MAX>, SmppError> {
        Self::check("value", s.as_bytes())?;
        Ok(COctet(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The octets on the wire, without the NUL.
    pub(super) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// A string read off the wire (without its NUL) for `field`.
    pub(super) fn from_wire(field: &'static str, b: &[u8]) -> Result<COctet<MAX>, SmppError> {
        Self::check(field, b)?;
        // check passed: every byte is ASCII 0x01..=0x7F, which is UTF-8
        let s = std::str::from_utf8(b).map_err(|_| SmppError::NotAscii { field })?;
        Ok(COctet(s.to_owned()))
    }

    fn check(field: &'static str, b: &[u8]) -> Result<(), SmppError> {
        if b.len() >= MAX {
            return Err(SmppError::TooLong {
                field,
                len: b.len(),
                max: MAX - 1,
            });
        }
        if !b.iter().all(|&c| (0x01..=0x7F).contains(&c)) {
            return Err(SmppError::NotAscii { field });
        }
        Ok(())
    }
}

impl<const MAX: usize> fmt::Debug for COctet<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// short_message: 0 to 254 octets (§5.2.22); longer user data goes into message_payload.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ShortMessage(Vec<u8>);

impl ShortMessage {
    pub const MAX: usize = 254;

    pub fn new(octets: Vec<u8>) -> Result<ShortMessage, SmppError> {
        if octets.len() > Self::MAX {
            return Err(SmppError::TooLong {
                field: "short_message",
                len: octets.len(),
                max: Self::MAX,
            });
        }
        Ok(ShortMessage(octets))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// sm_length: fits a u8 because `new` keeps at most 254 octets.
    pub(super) fn sm_length(&self) -> u8 {
        self.0.len() as u8
    }
}

impl fmt::Debug for ShortMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortMessage({} octets)", self.0.len())
    }
}

/// An optional parameter (§3.3): a tag and a value of at most 65535 octets.
#[derive(Clone, PartialEq, Eq)]
pub struct Tlv {
    tag: u16,
    value: Vec<u8>,
}

impl Tlv {
    /// message_payload (§5.3.2.32): user data longer than short_message allows.
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    /// sc_interface_version (§5.3.2.25) of a bind response.
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;

    pub fn new(tag: u16, value: Vec<u8>) -> Result<Tlv, SmppError> {
        if value.len() > usize::from(u16::MAX) {
            return Err(SmppError::TooLong {
                field: "optional parameter",
                len: value.len(),
                max: usize::from(u16::MAX),
            });
        }
        Ok(Tlv { tag, value })
    }

    pub fn tag(&self) -> u16 {
        self.tag
    }

    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// length field: fits a u16 because `new` keeps at most 65535 octets.
    pub(super) fn length(&self) -> u16 {
        self.value.len() as u16
    }
}

impl fmt::Debug for Tlv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tlv({:#06x}, {} octets)", self.tag, self.value.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_c_octet_string_keeps_one_octet_for_its_nul() {
        assert!(COctet::<16>::new("fifteen_chars__").is_ok());
        assert_eq!(
            COctet::<16>::new("sixteen_chars___"),
            Err(SmppError::TooLong {
                field: "value",
                len: 16,
                max: 15
            })
        );
    }

    #[test]
    fn a_c_octet_string_is_ascii_without_nul() {
        assert_eq!(
            COctet::<9>::new("pässwd"),
            Err(SmppError::NotAscii { field: "value" })
        );
        assert_eq!(
            COctet::<9>::new("a\0b"),
            Err(SmppError::NotAscii { field: "value" })
        );
    }

    #[test]
    fn short_message_holds_at_most_254_octets() {
        assert!(ShortMessage::new(vec![b'a'; 254]).is_ok());
        assert!(ShortMessage::new(vec![b'a'; 255]).is_err());
    }

    #[test]
    fn an_optional_parameter_holds_at_most_65535_octets() {
        assert!(Tlv::new(Tlv::MESSAGE_PAYLOAD, vec![0; 65_535]).is_ok());
        assert!(Tlv::new(Tlv::MESSAGE_PAYLOAD, vec![0; 65_536]).is_err());
    }
}
