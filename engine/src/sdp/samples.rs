//! Session descriptions as phones, PBXs, test tools and browsers write them, in the form the
//! writer produces (CRLF, single spaces), so they must read and write back byte for byte.
//! Addresses are from the documentation ranges.

/// Linphone 5: opus and speex first, then G.722, PCMU, PCMA; telephone-event on three clocks
/// with non-101 numbers; ICE candidates for RTP and RTCP; a=rtcp; session-level ICE
/// credentials and vendor attributes.
pub const LINPHONE: &str = "v=0\r\n\
o=alice 3047 1783 IN IP4 192.168.1.20\r\n\
s=Talk\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
a=ice-pwd:3b9ed6a4c6f8f2b1f0b3a5c1\r\n\
a=ice-ufrag:9a7c5f3e\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
a=record:off\r\n\
m=audio 7078 RTP/AVP 96 97 9 0 8 101 98 99\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:98 telephone-event/16000\r\n\
a=rtpmap:99 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=candidate:1 1 UDP 2130706431 192.168.1.20 7078 typ host\r\n\
a=candidate:1 2 UDP 2130706430 192.168.1.20 7079 typ host\r\n\
a=candidate:2 1 UDP 1694498815 203.0.113.5 40112 typ srflx raddr 192.168.1.20 rport 7078\r\n\
a=candidate:2 2 UDP 1694498814 203.0.113.5 40113 typ srflx raddr 192.168.1.20 rport 7079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n";

/// baresip 3: G.722, PCMU, PCMA with rtpmaps, telephone-event 101 for 0-15, a bandwidth
/// line, explicit sendrecv and ptime.
pub const BARESIP: &str = "v=0\r\n\
o=- 1416493271 4072468938 IN IP4 10.0.0.3\r\n\
s=-\r\n\
c=IN IP4 10.0.0.3\r\n\
t=0 0\r\n\
a=tool:baresip 3.10.1\r\n\
m=audio 10614 RTP/AVP 9 0 8 101\r\n\
b=AS:96\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=rtcp-rsize\r\n\
a=ssrc:2943196305 cname:4c1b35e6-9e6a-4b7d-8c2a-1a2b3c4d5e6f\r\n\
a=ptime:20\r\n";

/// An Asterisk-style offer with static payload types and no rtpmap at all (RFC 3551 says
/// what 0, 8 and 3 are), maxptime, and RFC 2833 events missing.
pub const ASTERISK: &str = "v=0\r\n\
o=- 1680000000 1680000000 IN IP4 198.51.100.7\r\n\
s=Asterisk\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 10000 RTP/AVP 8 0 3\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// SIPp's built-in uac scenario.
pub const SIPP: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// A browser's offer: bundled audio and video over DTLS-SRTP with rtcp-mux, trickle ICE
/// (`c=IN IP4 0.0.0.0`, port 9), a 19-digit session id.
pub const WEBRTC: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:EsAw\r\n\
a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:\
2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=msid:stream track-audio\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3735928559 cname:rO0ABXNyABFq\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:EsAw\r\n\
a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:\
2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n\
a=setup:actpass\r\n\
a=mid:1\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n";

/// An IPv6 phone: PCMU and telephone-event, RTCP elsewhere on an explicit address.
pub const IPV6: &str = "v=0\r\n\
o=bob 2890844730 2890844731 IN IP6 2001:db8::10\r\n\
s=-\r\n\
c=IN IP6 2001:db8::10\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtcp:49180 IN IP6 2001:db8::11\r\n\
a=sendrecv\r\n";

/// A video phone: audio and H.264/VP8 video, bandwidth at both levels, a media-level
/// connection for the video.
pub const AUDIO_VIDEO: &str = "v=0\r\n\
o=carol 3724394400 3724394405 IN IP4 198.51.100.20\r\n\
s=-\r\n\
c=IN IP4 198.51.100.20\r\n\
b=AS:2048\r\n\
t=0 0\r\n\
m=audio 4000 RTP/AVP 0 8 101\r\n\
b=AS:64\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
m=video 4002 RTP/AVP 96 97\r\n\
c=IN IP4 198.51.100.21\r\n\
b=AS:1920\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n\
a=rtpmap:97 VP8/90000\r\n\
a=rtcp-fb:96 nack pli\r\n";

/// Every sample, named.
pub const ALL: [(&str, &str); 7] = [
    ("linphone", LINPHONE),
    ("baresip", BARESIP),
    ("asterisk", ASTERISK),
    ("sipp", SIPP),
    ("webrtc", WEBRTC),
    ("ipv6", IPV6),
    ("audio_video", AUDIO_VIDEO),
];
