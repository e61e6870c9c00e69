use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::samples::{self, ALL};
use super::*;
use crate::media::Codec;

fn parse(text: &str) -> Sdp {
    Sdp::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn real_world_descriptions_write_back_byte_for_byte() {
    for (name, text) in ALL {
        let sdp = parse(text);
        assert_eq!(sdp.to_string(), text, "{name}");
        let mut out = String::from("prefix:");
        sdp.write_to(&mut out);
        assert_eq!(&out[7..], text, "{name}");
        assert_eq!(parse(&sdp.to_string()), sdp, "{name}");
    }
}

#[test]
fn real_world_descriptions_read_with_bare_lf_like_with_crlf() {
    for (name, text) in ALL {
        let lf = text.replace("\r\n", "\n");
        assert_eq!(Sdp::parse(lf.as_bytes()), Ok(parse(text)), "{name}");
    }
}

#[test]
fn the_linphone_offer_reads_codecs_events_rtcp_and_ice() {
    let sdp = parse(samples::LINPHONE);
    assert_eq!(sdp.origin.username, "alice");
    assert_eq!(sdp.origin.version, 1783);
    assert_eq!(sdp.session_name.as_deref(), Some("Talk"));
    assert_eq!(
        sdp.attributes()
            .filter(|a| a.name.starts_with("ice-"))
            .count(),
        2
    );
    let m = &sdp.media[0];
    assert_eq!(
        m.payload_types().collect::<Vec<_>>(),
        [96, 97, 9, 0, 8, 101, 98, 99]
    );
    assert_eq!(
        m.codecs().collect::<Vec<_>>(),
        [(9, Codec::G722), (0, Codec::Pcmu), (8, Codec::Pcma)]
    );
    let events: Vec<_> = m
        .telephone_events()
        .map(|t| (t.payload_type, t.clock_rate))
        .collect();
    assert_eq!(events, [(101, 48000), (98, 16000), (99, 8000)]);
    assert_eq!(m.fmtp(96), Some("useinbandfec=1"));
    assert_eq!(
        m.rtcp(),
        Some(Rtcp {
            port: 7079,
            address: None
        })
    );
    assert!(!m.rtcp_mux());
    assert_eq!(m.attributes().filter(|a| a.is("candidate")).count(), 4);
    assert_eq!(sdp.direction_of(m), Direction::SendRecv, "the default");
    assert_eq!(sdp.connection_of(m).unwrap().address, ip("192.168.1.20"));
}

#[test]
fn the_baresip_offer_reads_bandwidth_ptime_and_events() {
    let sdp = parse(samples::BARESIP);
    let m = &sdp.media[0];
    assert!(m.lines.contains(&Line::Bandwidth(Bandwidth {
        kind: "AS".into(),
        value: 96
    })));
    assert_eq!(m.ptime(), Some(Duration::from_millis(20)));
    assert_eq!(m.direction(), Some(Direction::SendRecv));
    let te = m.telephone_events().next().unwrap();
    assert_eq!((te.payload_type, te.events), (101, Some("0-15")));
    assert_eq!(
        m.codecs().map(|(_, c)| c).collect::<Vec<_>>(),
        [Codec::G722, Codec::Pcmu, Codec::Pcma]
    );
}

#[test]
fn static_payload_types_without_rtpmap_count_as_codecs() {
    let sdp = parse(samples::ASTERISK);
    let m = &sdp.media[0];
    assert_eq!(m.rtpmaps().count(), 0);
    assert_eq!(
        m.codecs().collect::<Vec<_>>(),
        [(8, Codec::Pcma), (0, Codec::Pcmu)]
    );
    assert_eq!(m.maxptime(), Some(Duration::from_millis(150)));
    assert_eq!(m.telephone_events().count(), 0);
}

#[test]
fn the_webrtc_offer_keeps_media_level_connections_and_mux() {
    let sdp = parse(samples::WEBRTC);
    assert_eq!(sdp.connection(), None);
    assert_eq!(sdp.origin.session_id, "4611731400430051336");
    assert_eq!(sdp.media.len(), 2);
    let (audio, video) = (&sdp.media[0], &sdp.media[1]);
    assert!(audio.is_rtp() && audio.is_audio());
    assert_eq!(video.kind, MediaKind::Video);
    assert!(audio.rtcp_mux() && video.rtcp_mux());
    assert!(sdp.connection_of(audio).unwrap().is_unspecified());
    assert_eq!(
        audio.rtcp(),
        Some(Rtcp {
            port: 9,
            address: Some(ip("0.0.0.0"))
        })
    );
    assert_eq!(audio.attribute("mid"), Some("0"));
    assert_eq!(audio.fmtp(63), Some("111/111"));
    assert_eq!(video.codecs().count(), 0);
}

#[test]
fn ipv6_connections_read_and_write_as_ipv6() {
    let sdp = parse(samples::IPV6);
    assert_eq!(sdp.origin.addr_type, AddrType::Ip6);
    assert_eq!(sdp.connection().unwrap().address, ip("2001:db8::10"));
    let m = &sdp.media[0];
    assert_eq!(
        m.rtcp(),
        Some(Rtcp {
            port: 49180,
            address: Some(ip("2001:db8::11"))
        })
    );
    assert_eq!(
        SocketAddr::new(sdp.connection_of(m).unwrap().address, m.port).to_string(),
        "[2001:db8::10]:49172"
    );
}

#[test]
fn a_media_level_connection_overrides_the_session_one() {
    let sdp = parse(samples::AUDIO_VIDEO);
    let (audio, video) = (&sdp.media[0], &sdp.media[1]);
    assert_eq!(
        sdp.connection_of(audio).unwrap().address,
        ip("198.51.100.20")
    );
    assert_eq!(
        sdp.connection_of(video).unwrap().address,
        ip("198.51.100.21")
    );
    assert_eq!(
        video.fmtp(96),
        Some("profile-level-id=42e01f;packetization-mode=1")
    );
    assert_eq!(
        video.rtpmap(97).map(|r| (r.encoding, r.clock_rate)),
        Some(("VP8", 90000))
    );
}

#[test]
fn a_media_level_direction_overrides_the_session_one() {
    let sdp = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\n",
    );
    assert_eq!(sdp.direction(), Some(Direction::SendOnly));
    assert_eq!(sdp.direction_of(&sdp.media[0]), Direction::SendOnly);
    assert_eq!(sdp.direction_of(&sdp.media[1]), Direction::Inactive);
}

/// The body of a torture message: what follows its first empty line.
fn body(message: &[u8]) -> &[u8] {
    let at = memchr::memmem::find(message, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| memchr::memmem::find(message, b"\n\n").map(|i| i + 2))
        .unwrap();
    &message[at..]
}

#[test]
fn the_sdp_bodies_of_the_rfc_4475_and_5118_messages_read_and_write_back() {
    let vectors: [(&str, &[u8]); 5] = [
        (
            "wsinv",
            include_bytes!("../../testdata/rfc4475/valid/wsinv.dat"),
        ),
        (
            "sdp01",
            include_bytes!("../../testdata/rfc4475/semantic/sdp01.dat"),
        ),
        (
            "ipv6-in-sdp",
            include_bytes!("../../testdata/rfc5118/ipv6-in-sdp.dat"),
        ),
        (
            "ipv4-mapped-ipv6",
            include_bytes!("../../testdata/rfc5118/ipv4-mapped-ipv6.dat"),
        ),
        (
            "mult-ip-in-sdp",
            include_bytes!("../../testdata/rfc5118/mult-ip-in-sdp.dat"),
        ),
    ];
    for (name, message) in vectors {
        let sdp = Sdp::parse(body(message)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parse(&sdp.to_string()), sdp, "{name}");
        assert_eq!(sdp.media.len(), 2, "{name}");
    }
    let mapped = Sdp::parse(body(include_bytes!(
        "../../testdata/rfc5118/ipv4-mapped-ipv6.dat"
    )));
    assert_eq!(
        mapped.unwrap().connection().unwrap().address,
        ip("::ffff:192.0.2.2")
    );
    let mult = Sdp::parse(body(include_bytes!(
        "../../testdata/rfc5118/mult-ip-in-sdp.dat"
    )))
    .unwrap();
    assert_eq!(mult.session_name.as_deref(), Some(""));
    assert_eq!(mult.origin.address, "host.example.com");
    assert_eq!(
        mult.connection_of(&mult.media[1]).unwrap().address,
        ip("2001:db8::1")
    );
    let wsinv = Sdp::parse(body(include_bytes!(
        "../../testdata/rfc4475/valid/wsinv.dat"
    )))
    .unwrap();
    assert_eq!(
        wsinv.media[1].rtpmaps().count(),
        0,
        "a=rtpmap:31 LPC has no clock rate"
    );
}
