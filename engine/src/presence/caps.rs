//! Media capabilities of a device: what it can take (calls with audio, video or text, instant
//! messages), read from the feature tags of its registered Contact (RFC 3840 section 9) and
//! published as PIDF service capabilities (RFC 5196).
//!
//! A tag the device leaves out says nothing about it (RFC 3840 section 5), so each dimension
//! falls back to what a plain SIP phone does on its own: without any media tag (`audio`,
//! `video`, `text`, `application`, `data`, `control`) the device is taken to do audio;
//! without `methods` it is taken to accept MESSAGE. A device that names either dimension is
//! marked `DECLARED`.

/// A set of media capabilities (a bit set; `DECLARED` says they came from feature tags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Caps(pub u8);

impl Caps {
    /// Audio calls (`audio` feature tag).
    pub const AUDIO: Caps = Caps(1);
    /// Video calls (`video` feature tag).
    pub const VIDEO: Caps = Caps(1 << 1);
    /// Real-time text (`text` feature tag).
    pub const TEXT: Caps = Caps(1 << 2);
    /// Instant messages (MESSAGE in the `methods` feature tag).
    pub const MESSAGE: Caps = Caps(1 << 3);
    /// Set when the device declared feature tags at all.
    pub const DECLARED: Caps = Caps(1 << 4);

    pub(crate) const MEDIA: [(Caps, &'static str); 4] = [
        (Caps::AUDIO, "audio"),
        (Caps::VIDEO, "video"),
        (Caps::TEXT, "text"),
        (Caps::MESSAGE, "message"),
    ];

    /// From one Contact header value as sent in REGISTER (`<sip:a@b>;audio;video`, a name-addr
    /// with a display name, or an addr-spec with parameters). Only the header parameters
    /// count: a parameter inside the angle brackets belongs to the URI. Of a list of contacts
    /// only the first is read.
    ///
    /// No media or `methods` tag at all gives `Caps::assumed()`. Otherwise the result is
    /// `DECLARED` with the media tags that are true (AUDIO if no media tag is present) and
    /// MESSAGE if `methods` lists it (or if there is no `methods` tag).
    pub fn from_contact(value: &str) -> Caps {
        let mut media: Option<Caps> = None;
        let mut methods: Option<Caps> = None;
        for (name, val) in contact_params(value) {
            let name = name.strip_prefix("+sip.").unwrap_or(name);
            let flag = match name.to_ascii_lowercase().as_str() {
                "audio" => Caps::AUDIO,
                "video" => Caps::VIDEO,
                "text" => Caps::TEXT,
                "application" | "data" | "control" => Caps(0),
                "methods" => {
                    let has_message = val.unwrap_or("").split(',').any(|m| m.trim() == "MESSAGE");
                    let m = methods.get_or_insert(Caps(0));
                    if has_message {
                        *m = m.union(Caps::MESSAGE);
                    }
                    continue;
                }
                _ => continue,
            };
            let m = media.get_or_insert(Caps(0));
            if boolean(val) {
                *m = m.union(flag);
            }
        }
        if media.is_none() && methods.is_none() {
            return Caps::assumed();
        }
        Caps::DECLARED
            .union(media.unwrap_or(Caps::AUDIO))
            .union(methods.unwrap_or(Caps::MESSAGE))
    }

    /// What a device that declares nothing is taken to do: audio calls and messages.
    pub fn assumed() -> Caps {
        Caps::AUDIO.union(Caps::MESSAGE)
    }

    /// Both sets.
    pub fn union(self, other: Caps) -> Caps {
        Caps(self.0 | other.0)
    }

    /// Whether every capability of `c` is in this set.
    pub fn has(self, c: Caps) -> bool {
        self.0 & c.0 == c.0
    }

    /// Whether these came from declared feature tags rather than assumption.
    pub fn is_declared(self) -> bool {
        self.has(Caps::DECLARED)
    }

    /// "audio", "video", "text", "message" for the set media bits, in that order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Caps::MEDIA
            .into_iter()
            .filter(move |(c, _)| self.has(*c))
            .map(|(_, n)| n)
    }
}

/// The header parameters of the first contact in `value`, names and unquoted values trimmed.
fn contact_params(value: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let params = after_address(value);
    split_unquoted(params, b';')
        .skip(1) // the address, or what is left of it before the first header parameter
        .filter_map(|p| {
            let (name, val) = match p.split_once('=') {
                Some((n, v)) => (n.trim(), Some(unquote(v.trim()))),
                None => (p.trim(), None),
            };
            (!name.is_empty()).then_some((name, val))
        })
}

/// The part of the first contact from the end of its URI on: after `>` for a name-addr,
/// from the first `;` for an addr-spec (which cannot carry URI parameters, RFC 3261 20.10).
fn after_address(value: &str) -> &str {
    let b = value.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => {
                let Some(close) = value[i..].find('>') else {
                    return "";
                };
                return first_contact(&value[i + close + 1..]);
            }
            b';' | b',' if !quoted => break,
            _ => {}
        }
        i += 1;
    }
    first_contact(&value[i.min(value.len())..])
}

/// Cuts `params` at the first comma outside quotes (the start of the next contact).
fn first_contact(params: &str) -> &str {
    let mut end = params.len();
    let mut quoted = false;
    for (i, c) in params.bytes().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    &params[..end]
}

/// Splits on `sep` outside double quotes; the first piece is what precedes the first `sep`.
fn split_unquoted(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut quoted = false;
    let mut done = false;
    let mut i = 0;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let b = s.as_bytes();
        while i < b.len() {
            let c = b[i];
            i += 1;
            if c == b'"' {
                quoted = !quoted;
            } else if c == sep && !quoted {
                let piece = &s[start..i - 1];
                start = i;
                return Some(piece);
            }
        }
        done = true;
        Some(&s[start..])
    })
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// An RFC 3840 boolean feature value: bare is TRUE; otherwise TRUE if any listed value is
/// `TRUE` or `!FALSE`.
fn boolean(val: Option<&str>) -> bool {
    let Some(val) = val else { return true };
    val.split(',').any(|v| {
        let v = v.trim();
        match v.strip_prefix('!') {
            Some(neg) => neg.trim().eq_ignore_ascii_case("FALSE"),
            None => v.eq_ignore_ascii_case("TRUE"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(bits: &[Caps]) -> Caps {
        bits.iter().fold(Caps::DECLARED, |a, b| a.union(*b))
    }

    #[test]
    fn a_contact_without_feature_tags_is_assumed_to_do_audio_and_messages() {
        for c in [
            "<sip:alice@192.0.2.1:5060>",
            "<sip:alice@192.0.2.1>;expires=3600",
            "sip:alice@192.0.2.1",
            "\"Alice\" <sip:alice@192.0.2.1;transport=tcp>;q=0.7;expires=60",
            "<sip:alice@192.0.2.1>;+sip.instance=\"<urn:uuid:0001>\";reg-id=1",
            "",
        ] {
            let got = Caps::from_contact(c);
            assert_eq!(got, Caps::assumed(), "{c}");
            assert!(!got.is_declared());
        }
    }

    #[test]
    fn bare_tags_are_true() {
        assert_eq!(
            Caps::from_contact("<sip:a@b>;audio;video;methods=\"INVITE,MESSAGE\";expires=60"),
            caps(&[Caps::AUDIO, Caps::VIDEO, Caps::MESSAGE])
        );
        assert_eq!(
            Caps::from_contact("<sip:a@b>;text;methods=\"INVITE\""),
            caps(&[Caps::TEXT])
        );
    }

    #[test]
    fn tags_inside_the_angle_brackets_are_uri_parameters() {
        assert_eq!(
            Caps::from_contact("<sip:a@b;video;methods=\"INVITE\">;expires=60"),
            Caps::assumed()
        );
        assert_eq!(
            Caps::from_contact("<sip:a@b;audio>;video"),
            caps(&[Caps::VIDEO, Caps::MESSAGE])
        );
    }

    #[test]
    fn negated_and_false_values_clear_a_tag() {
        assert_eq!(
            Caps::from_contact("<sip:a@b>;audio=\"FALSE\";video"),
            caps(&[Caps::VIDEO, Caps::MESSAGE])
        );
        assert_eq!(
            Caps::from_contact("<sip:a@b>;audio=\"!TRUE\";text=\"TRUE\""),
            caps(&[Caps::TEXT, Caps::MESSAGE])
        );
        assert_eq!(
            Caps::from_contact("<sip:a@b>;AUDIO=\"!false\""),
            caps(&[Caps::AUDIO, Caps::MESSAGE])
        );
    }

    #[test]
    fn methods_without_message_clear_message() {
        assert_eq!(
            Caps::from_contact("<sip:a@b>;methods=\"INVITE,ACK,BYE,CANCEL\""),
            caps(&[Caps::AUDIO])
        );
        assert_eq!(
            Caps::from_contact("<sip:a@b>;methods=\"INVITE, MESSAGE , BYE\";audio"),
            caps(&[Caps::AUDIO, Caps::MESSAGE])
        );
        assert_eq!(
            Caps::from_contact("<sip:a@b>;methods=\"!MESSAGE\";audio"),
            caps(&[Caps::AUDIO])
        );
    }

    #[test]
    fn a_data_only_device_does_not_do_audio() {
        assert_eq!(
            Caps::from_contact("<sip:a@b>;application;methods=\"MESSAGE\""),
            caps(&[Caps::MESSAGE])
        );
    }

    #[test]
    fn addr_spec_parameters_are_header_parameters() {
        assert_eq!(
            Caps::from_contact("sip:alice@192.0.2.1;video;expires=60"),
            caps(&[Caps::VIDEO, Caps::MESSAGE])
        );
    }

    #[test]
    fn display_names_with_markup_do_not_confuse_the_scan() {
        assert_eq!(
            Caps::from_contact("\"a;audio <x>\" <sip:a@b;text>;video"),
            caps(&[Caps::VIDEO, Caps::MESSAGE])
        );
    }

    #[test]
    fn only_the_first_of_several_contacts_counts() {
        assert_eq!(
            Caps::from_contact("<sip:a@b>;methods=\"INVITE,MESSAGE\";audio, <sip:c@d>;video"),
            caps(&[Caps::AUDIO, Caps::MESSAGE])
        );
        assert_eq!(
            Caps::from_contact("sip:a@b, <sip:c@d>;video"),
            Caps::assumed()
        );
    }

    #[test]
    fn sip_prefixed_spellings_and_spaces_are_accepted() {
        assert_eq!(
            Caps::from_contact("<sip:a@b> ; +sip.video ; audio = \"TRUE\""),
            caps(&[Caps::AUDIO, Caps::VIDEO, Caps::MESSAGE])
        );
    }

    #[test]
    fn names_follow_the_fixed_order() {
        let c = Caps::MESSAGE.union(Caps::AUDIO).union(Caps::TEXT);
        assert_eq!(c.names().collect::<Vec<_>>(), ["audio", "text", "message"]);
        assert_eq!(Caps::DECLARED.names().count(), 0);
    }

    #[test]
    fn has_needs_every_bit() {
        let c = Caps::AUDIO.union(Caps::VIDEO);
        assert!(c.has(Caps::AUDIO));
        assert!(c.has(Caps::AUDIO.union(Caps::VIDEO)));
        assert!(!c.has(Caps::AUDIO.union(Caps::TEXT)));
    }
}
