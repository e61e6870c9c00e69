use super::*;
use crate::media::SampleRate;
use crate::sdp::samples;

const HEAD: &str =
    "v=0\r\no=phone 10 20 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";

fn parse(text: &str) -> Sdp {
    Sdp::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// An offer of the phone at 192.0.2.10 with these media sections.
fn offer_of(media: &str) -> Sdp {
    parse(&format!("{HEAD}{media}"))
}

fn relay() -> IpAddr {
    "203.0.113.1".parse().unwrap()
}

fn local() -> LocalEndpoint {
    LocalEndpoint::new(relay(), 30000)
}

fn origin() -> Origin {
    Origin::new(7, 1, relay())
}

fn answer_with(offer: &Sdp, policy: &CodecPolicy) -> Result<Answer, NegotiationError> {
    answer(offer, &local(), policy, origin())
}

fn answer_default(offer: &Sdp) -> Answer {
    answer_with(offer, &CodecPolicy::default()).unwrap()
}

fn attrs<'a>(m: &'a Media, name: &'a str) -> Vec<&'a str> {
    m.attributes()
        .filter(|a| a.is(name))
        .map(|a| a.value.as_deref().unwrap_or(""))
        .collect()
}

#[test]
fn an_answer_names_one_codec_and_the_offerers_event_number() {
    let answer = answer_default(&parse(samples::BARESIP));
    assert_eq!(
        answer.sdp.to_string(),
        "v=0\r\no=- 7 1 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    assert_eq!(
        answer.streams,
        [Negotiated {
            index: 0,
            remote_rtp: "10.0.0.3:10614".parse().unwrap(),
            remote_rtcp: "10.0.0.3:10615".parse().unwrap(),
            rtcp_mux: false,
            codec: Codec::G722,
            payload_type: 9,
            incoming_payload_type: 9,
            telephone_event: Some(101),
            incoming_telephone_event: Some(101),
            ptime: FRAME,
            direction: Direction::SendRecv,
            remote_hold: false,
        }]
    );
}

#[test]
fn real_world_offers_get_the_codec_our_policy_prefers() {
    use Codec::*;
    type Picked = Result<(Codec, u8, Option<u8>), NegotiationError>;
    let cases: [(&str, Picked); 7] = [
        // telephone-event on the clock of G.722's RTP timestamps (8000), numbered 99
        ("linphone", Ok((G722, 9, Some(99)))),
        ("baresip", Ok((G722, 9, Some(101)))),
        // PCMU before PCMA in our order, though the offer prefers PCMA
        ("asterisk", Ok((Pcmu, 0, None))),
        ("sipp", Ok((Pcmu, 0, None))),
        // DTLS-SRTP: not plain RTP, nothing the switch can accept
        ("webrtc", Err(NegotiationError::NoCommonCodec)),
        ("ipv6", Ok((Pcmu, 0, Some(101)))),
        ("audio_video", Ok((Pcmu, 0, Some(101)))),
    ];
    for ((name, text), (want_name, want)) in samples::ALL.iter().zip(cases) {
        assert_eq!(name, &want_name);
        let got = answer_with(&parse(text), &CodecPolicy::default()).map(|a| {
            let s = &a.streams[0];
            (s.codec, s.payload_type, s.telephone_event)
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn the_preference_decides_between_our_order_and_the_offerers() {
    let offer = parse(samples::ASTERISK); // 8 0 3
    let mut policy = CodecPolicy {
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        ..CodecPolicy::default()
    };
    assert_eq!(
        answer_with(&offer, &policy).unwrap().streams[0].codec,
        Codec::Pcmu
    );
    policy.preference = Preference::Offerer;
    assert_eq!(
        answer_with(&offer, &policy).unwrap().streams[0].codec,
        Codec::Pcma
    );
    policy.codecs = vec![Codec::G722];
    assert_eq!(
        answer_with(&offer, &policy),
        Err(NegotiationError::NoCommonCodec)
    );
}

#[test]
fn an_offer_without_a_common_codec_is_the_488_case() {
    for media in [
        "m=audio 4000 RTP/AVP 18 96\r\na=rtpmap:18 G729/8000\r\na=rtpmap:96 opus/48000/2\r\n",
        "m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        "m=audio 4000 RTP/SAVP 0\r\n",
        "m=audio 0 RTP/AVP 0\r\n",
        "m=video 4000 RTP/AVP 0\r\n",
        "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 233.252.0.1/127\r\n",
    ] {
        assert_eq!(
            answer_with(&offer_of(media), &CodecPolicy::default()),
            Err(NegotiationError::NoCommonCodec),
            "{media}"
        );
    }
    let g726 = include_bytes!("../../../testdata/rfc5118/ipv6-in-sdp.dat");
    let body = &g726[memchr::memmem::find(g726, b"\n\n").unwrap() + 2..];
    let offer = Sdp::parse(body).unwrap();
    assert_eq!(
        answer_with(&offer, &CodecPolicy::default()),
        Err(NegotiationError::NoCommonCodec)
    );
    assert_eq!(
        NegotiationError::NoCommonCodec.to_string(),
        "no audio stream with a codec in common"
    );
}

#[test]
fn hold_offers_are_answered_per_rfc_3264_and_mark_the_remote_on_hold() {
    use Direction::*;
    let cases = [
        ("a=sendonly\r\n", "", RecvOnly),
        ("a=inactive\r\n", "", Inactive),
        ("", "c=IN IP4 0.0.0.0\r\n", RecvOnly),
        ("a=sendonly\r\n", "c=IN IP4 0.0.0.0\r\n", RecvOnly),
    ];
    for (direction, connection, answered) in cases {
        let offer = offer_of(&format!(
            "m=audio 4000 RTP/AVP 0\r\n{connection}{direction}"
        ));
        assert!(is_hold(&offer), "{direction}{connection}");
        let answer = answer_default(&offer);
        let stream = &answer.streams[0];
        assert!(stream.remote_hold, "{direction}{connection}");
        assert_eq!(stream.direction, answered, "{direction}{connection}");
        assert_eq!(attrs(&answer.sdp.media[0], answered.as_str()), [""]);
    }
}

#[test]
fn a_resume_after_hold_is_answered_sendrecv() {
    let held = offer_of("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n");
    assert!(is_hold(&held));
    for resume in [
        "m=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n",
        "m=audio 4000 RTP/AVP 0\r\n",
    ] {
        let offer = offer_of(resume);
        assert!(!is_hold(&offer));
        let stream = answer_default(&offer).streams.remove(0);
        assert_eq!(
            (stream.direction, stream.remote_hold),
            (Direction::SendRecv, false)
        );
    }
    let recvonly = answer_default(&offer_of("m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"));
    assert_eq!(recvonly.streams[0].direction, Direction::SendOnly);
    assert!(!recvonly.streams[0].remote_hold, "recvonly still receives");
}

#[test]
fn we_hold_by_answering_sendonly_and_a_hold_of_a_hold_is_inactive() {
    let mut local = local();
    local.direction = Direction::SendOnly;
    let sendrecv = answer(
        &offer_of("m=audio 4000 RTP/AVP 0\r\n"),
        &local,
        &CodecPolicy::default(),
        origin(),
    );
    assert_eq!(sendrecv.unwrap().streams[0].direction, Direction::SendOnly);
    let sendonly = offer_of("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n");
    let both = answer(&sendonly, &local, &CodecPolicy::default(), origin()).unwrap();
    assert_eq!(both.streams[0].direction, Direction::Inactive);
}

#[test]
fn rtcp_mux_is_echoed_only_when_offered_and_supported() {
    for (offered, supported, echoed) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let mux = if offered { "a=rtcp-mux\r\n" } else { "" };
        let offer = offer_of(&format!("m=audio 4000 RTP/AVP 0\r\n{mux}"));
        let mut local = local();
        local.rtcp_mux = supported;
        let answer = answer(&offer, &local, &CodecPolicy::default(), origin()).unwrap();
        let stream = &answer.streams[0];
        assert_eq!(
            answer.sdp.media[0].rtcp_mux(),
            echoed,
            "{offered} {supported}"
        );
        assert_eq!(stream.rtcp_mux, echoed);
        let rtcp_port = if echoed { 4000 } else { 4001 };
        assert_eq!(
            stream.remote_rtcp,
            SocketAddr::new(stream.remote_rtp.ip(), rtcp_port)
        );
    }
}

#[test]
fn rtcp_goes_where_a_rtcp_says() {
    let stream = answer_default(&parse(samples::IPV6)).streams.remove(0);
    assert_eq!(stream.remote_rtp, "[2001:db8::10]:49172".parse().unwrap());
    assert_eq!(stream.remote_rtcp, "[2001:db8::11]:49180".parse().unwrap());
    let linphone = answer_default(&parse(samples::LINPHONE)).streams.remove(0);
    assert_eq!(linphone.remote_rtcp, "192.168.1.20:7079".parse().unwrap());
}

#[test]
fn telephone_event_is_answered_with_the_offerers_number_when_both_want_it() {
    let offer = offer_of(
        "m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n",
    );
    let answer = answer_default(&offer);
    let m = &answer.sdp.media[0];
    assert_eq!(m.formats, ["0", "96"]);
    assert_eq!(
        attrs(m, "rtpmap"),
        ["0 PCMU/8000", "96 telephone-event/8000"]
    );
    assert_eq!(m.fmtp(96), Some(DTMF_EVENTS));
    assert_eq!(answer.streams[0].telephone_event, Some(96));

    let quiet = CodecPolicy {
        telephone_event: None,
        ..CodecPolicy::default()
    };
    let answer = answer_with(&offer, &quiet).unwrap();
    assert_eq!(answer.sdp.media[0].formats, ["0"]);
    assert_eq!(answer.streams[0].telephone_event, None);
}

#[test]
fn telephone_event_on_another_clock_than_the_codec_is_not_answered() {
    let offer = offer_of("m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/16000\r\n");
    assert_eq!(answer_default(&offer).streams[0].telephone_event, None);
    let wide = offer_of(
        "m=audio 4000 RTP/AVP 97 96 101\r\na=rtpmap:97 L16/16000\r\n\
         a=rtpmap:96 telephone-event/16000\r\na=rtpmap:101 telephone-event/8000\r\n",
    );
    let policy = CodecPolicy {
        codecs: vec![Codec::L16(SampleRate::WIDE)],
        ..CodecPolicy::default()
    };
    let stream = answer_with(&wide, &policy).unwrap().streams.remove(0);
    assert_eq!(
        (stream.payload_type, stream.telephone_event),
        (97, Some(96))
    );
}

#[test]
fn other_media_is_rejected_with_port_zero_and_its_formats() {
    let answer = answer_default(&parse(samples::AUDIO_VIDEO));
    assert_eq!(answer.sdp.media.len(), 2);
    let video = &answer.sdp.media[1];
    assert_eq!((video.kind.clone(), video.port), (MediaKind::Video, 0));
    assert_eq!(video.formats, ["96", "97"]);
    assert_eq!(
        answer.sdp.to_string().lines().last(),
        Some("m=video 0 RTP/AVP 96 97")
    );

    let video_first = offer_of(
        "m=video 4002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\nm=image 4004 udptl t38\r\n\
         m=audio 4000 RTP/AVP 8\r\n",
    );
    let answer = answer_default(&video_first);
    assert_eq!(answer.streams.len(), 1);
    assert_eq!(answer.streams[0].index, 2);
    let ports: Vec<_> = answer.sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 0, 30000]);
    assert_eq!(answer.sdp.media[1].formats, ["t38"]);
}

#[test]
fn each_audio_stream_takes_a_port_and_the_rest_are_rejected() {
    let offer = offer_of("m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\n");
    let one = answer_default(&offer);
    assert_eq!(one.streams.len(), 1);
    assert_eq!(one.sdp.media[1].port, 0);
    let mut two = local();
    two.ports = vec![30000, 30002];
    let both = answer(&offer, &two, &CodecPolicy::default(), origin()).unwrap();
    let got: Vec<_> = both.streams.iter().map(|s| (s.index, s.codec)).collect();
    assert_eq!(got, [(0, Codec::Pcmu), (1, Codec::Pcma)]);
    assert_eq!(both.sdp.media[1].port, 30002);
}

#[test]
fn ptime_is_echoed_and_tells_the_packet_duration_to_send() {
    let offer = offer_of("m=audio 4000 RTP/AVP 0\r\na=ptime:30\r\n");
    let answer = answer_default(&offer);
    assert_eq!(answer.sdp.media[0].ptime(), Some(Duration::from_millis(30)));
    assert_eq!(answer.streams[0].ptime, Duration::from_millis(30));
    let none = answer_default(&parse(samples::SIPP));
    assert_eq!(none.sdp.media[0].ptime(), None);
    assert_eq!(none.streams[0].ptime, FRAME);
}

#[test]
fn the_answer_keeps_the_offers_timing() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=x\r\nc=IN IP4 192.0.2.10\r\n\
         t=3338481189 3370017201\r\nm=audio 4000 RTP/AVP 0\r\n",
    );
    assert_eq!(
        answer_default(&offer).sdp.timing(),
        Some("3338481189 3370017201")
    );
}

#[test]
fn our_offer_lists_our_codecs_events_ptime_and_mux() {
    let sdp = offer(&local(), &CodecPolicy::default(), origin());
    assert_eq!(
        sdp.to_string(),
        "v=0\r\no=- 7 1 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP 9 0 8 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
         a=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n"
    );
}

#[test]
fn our_offer_numbers_dynamic_codecs_around_the_event_type() {
    let policy = CodecPolicy {
        codecs: vec![Codec::L16(SampleRate::WIDE), Codec::Pcmu, Codec::Pcmu],
        telephone_event: Some(96),
        ..CodecPolicy::default()
    };
    let mut local = local();
    local.rtcp_mux = false;
    let sdp = offer(&local, &policy, origin());
    let m = &sdp.media[0];
    assert_eq!(m.formats, ["97", "0", "98", "96"]);
    let events: Vec<_> = m
        .telephone_events()
        .map(|t| (t.payload_type, t.clock_rate))
        .collect();
    assert_eq!(events, [(98, 16000), (96, 8000)]);
    assert!(!m.rtcp_mux());
    assert_eq!(parse(&sdp.to_string()), sdp);
}

#[test]
fn an_answer_to_our_offer_gives_the_streams_it_agreed() {
    let ours = offer(&local(), &CodecPolicy::default(), origin());
    let phone = parse(
        "v=0\r\no=phone 5 5 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
         m=audio 5000 RTP/AVP 0 18 101\r\na=rtpmap:18 G729/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\n",
    );
    let streams = accept_answer(&ours, &phone).unwrap();
    assert_eq!(
        streams,
        [Negotiated {
            index: 0,
            remote_rtp: "192.0.2.20:5000".parse().unwrap(),
            remote_rtcp: "192.0.2.20:5001".parse().unwrap(),
            rtcp_mux: false,
            codec: Codec::Pcmu,
            payload_type: 0,
            incoming_payload_type: 0,
            telephone_event: Some(101),
            incoming_telephone_event: Some(101),
            ptime: Duration::from_millis(30),
            direction: Direction::SendRecv,
            remote_hold: false,
        }]
    );
}

#[test]
fn an_answer_that_renumbers_sends_on_its_numbers_and_receives_on_ours() {
    // our offer: L16 on a dynamic number and telephone-event on 101; the phone answers with
    // its own numbers for both (RFC 3264 §6.1 only recommends it keep ours)
    let policy = CodecPolicy {
        codecs: vec![Codec::L16(crate::media::SampleRate::WIDE)],
        ..CodecPolicy::default()
    };
    let ours = offer(&local(), &policy, origin());
    let offered = ours.media[0].codecs().next().expect("one codec").0;
    let offered_te = ours.media[0]
        .telephone_events()
        .find(|te| te.clock_rate == 16_000)
        .expect("telephone-event on L16's clock")
        .payload_type;
    let phone = parse(
        "v=0\r\no=phone 5 5 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
         m=audio 5000 RTP/AVP 120 121\r\na=rtpmap:120 L16/16000\r\n\
         a=rtpmap:121 telephone-event/16000\r\n",
    );
    assert!(
        ![offered, offered_te].contains(&120) && ![offered, offered_te].contains(&121),
        "the phone renumbered both"
    );
    let s = &accept_answer(&ours, &phone).unwrap()[0];
    assert_eq!((s.payload_type, s.telephone_event), (120, Some(121)));
    assert_eq!(
        (s.incoming_payload_type, s.incoming_telephone_event),
        (offered, Some(offered_te)),
        "it sends with the numbers of our offer"
    );
}

#[test]
fn answering_our_own_offer_agrees_with_reading_that_answer() {
    for codecs in [vec![Codec::G722], vec![Codec::Pcma, Codec::Pcmu]] {
        let policy = CodecPolicy {
            codecs,
            ..CodecPolicy::default()
        };
        let ours = offer(&local(), &CodecPolicy::default(), origin());
        let phone = LocalEndpoint::new("192.0.2.20".parse().unwrap(), 5000);
        let theirs = answer(&ours, &phone, &policy, Origin::new(9, 9, phone.address)).unwrap();
        let read = accept_answer(&ours, &parse(&theirs.sdp.to_string())).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].codec, theirs.streams[0].codec);
        assert_eq!(read[0].payload_type, theirs.streams[0].payload_type);
        assert_eq!(read[0].telephone_event, Some(101));
        assert!(read[0].rtcp_mux);
        assert_eq!(read[0].remote_rtp, "192.0.2.20:5000".parse().unwrap());
    }
}

#[test]
fn an_answer_that_does_not_match_our_offer_is_refused() {
    let ours = offer(&local(), &CodecPolicy::default(), origin());
    let cases = [
        (
            "",
            NegotiationError::MediaCount {
                offered: 1,
                answered: 0,
            },
        ),
        (
            "m=audio 5000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n",
            NegotiationError::MediaCount {
                offered: 1,
                answered: 2,
            },
        ),
        (
            "m=video 5000 RTP/AVP 0\r\n",
            NegotiationError::Mismatch {
                index: 0,
                what: "media type",
            },
        ),
        (
            "m=audio 5000 RTP/SAVP 0\r\n",
            NegotiationError::Mismatch {
                index: 0,
                what: "protocol",
            },
        ),
        (
            "m=audio 5000 RTP/AVP 18\r\n",
            NegotiationError::NoOfferedCodec { index: 0 },
        ),
        (
            "m=audio 5000 RTP/AVP 97\r\na=rtpmap:97 L16/16000\r\n",
            NegotiationError::NoOfferedCodec { index: 0 },
        ),
        ("m=audio 0 RTP/AVP 0\r\n", NegotiationError::NoCommonCodec),
    ];
    for (media, want) in cases {
        assert_eq!(accept_answer(&ours, &offer_of(media)), Err(want), "{media}");
    }
}

#[test]
fn an_answer_on_hold_says_the_remote_holds_us() {
    let ours = offer(&local(), &CodecPolicy::default(), origin());
    let held = offer_of("m=audio 5000 RTP/AVP 8\r\na=sendonly\r\n");
    let stream = accept_answer(&ours, &held).unwrap().remove(0);
    assert_eq!((stream.codec, stream.telephone_event), (Codec::Pcma, None));
    assert_eq!(stream.direction, Direction::RecvOnly);
    assert!(stream.remote_hold);
}

#[test]
fn a_new_origin_version_follows_the_last() {
    let first = origin();
    let next = first.next_version();
    assert_eq!((next.session_id.as_str(), next.version), ("7", 2));
    let sdp = offer(&local(), &CodecPolicy::default(), next);
    assert!(sdp
        .to_string()
        .starts_with("v=0\r\no=- 7 2 IN IP4 203.0.113.1\r\n"));
}
