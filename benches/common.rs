//! Messages shared by the benches: what a phone sends on a typical call.

#![allow(dead_code)]

pub const INVITE: &str = "INVITE sip:+82111234567@switchboard.example;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:+82111234567@switchboard.example;user=phone>\r\n\
From: \"Kim Minsu\" <sip:+82101234567@switchboard.example>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:+82101234567@192.0.2.10:5062;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Supported: replaces, timer\r\n\
User-Agent: Example Phone 4.2.1\r\n\
Proxy-Authorization: Digest username=\"+82101234567\", realm=\"switchboard.example\", nonce=\"AAAAAGsEk1JGhDtvrsOR8rbZwvo\", uri=\"sip:+82111234567@switchboard.example;user=phone\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 229\r\n\
\r\n\
v=0\r\n\
o=phone 53655765 2353687637 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

pub const REGISTER: &str = "REGISTER sip:switchboard.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:+82101234567@switchboard.example>\r\n\
From: <sip:+82101234567@switchboard.example>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:+82101234567@192.0.2.10:5062>\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n";
