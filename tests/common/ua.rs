//! A small SIP user agent for end-to-end tests, speaking real SIP over UDP, TCP or TLS on
//! loopback. It reuses the engine's parser, builders and digest code, and keeps just enough
//! dialog state to place, answer, hold, transfer and hang up calls. A call can carry real RTP
//! from a test phone on each end (`media`).

mod media;
mod presence;
#[allow(unused_imports)]
pub use media::{call_with_media, End, MediaCall};
#[allow(unused_imports)]
pub use presence::{sub_state, Sub};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::builder::{ack_for, cancel_for};
use switchboard_engine::sip::digest::Challenge;
use switchboard_engine::sip::framing::{next_frame, Frame};
use switchboard_engine::sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

pub const SDP: &[u8] = b"v=0\r\no=ua 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
fn at_own_address(sdp: &[u8], ip: std::net::IpAddr) -> Vec<u8> {
    let text = String::from_utf8_lossy(sdp);
    match ip {
        std::net::IpAddr::V4(_) => text.replace("127.0.0.1", &ip.to_string()),
        // RFC 4566 §5.7: IP6 and the address unbracketed
        std::net::IpAddr::V6(_) => text.replace("IP4 127.0.0.1", &format!("IP6 {ip}")),
    }
    .into_bytes()
}

/// A host as a URI writes it (IPv6 in brackets, RFC 5118 §4).
pub fn uri_host(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

pub const SDP_HOLD: &[u8] = b"v=0\r\no=ua 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
}

enum Tx {
    Udp(Arc<UdpSocket>),
    Tcp(mpsc::UnboundedSender<Bytes>),
}

/// A user agent bound to one local address.
pub struct Ua {
    /// The display name of the From of this agent's MESSAGEs (none when empty).
    pub display: String,
    pub user: String,
    pub password: String,
    pub server: SocketAddr,
    pub local: SocketAddr,
    pub proto: Proto,
    tx: Tx,
    rx: mpsc::UnboundedReceiver<Message>,
    backlog: VecDeque<Message>,
    e: Entropy,
    reg_call_id: String,
    reg_cseq: u32,
    nc: u32,
}

/// Dialog state of a call as this agent sees it.
#[derive(Clone, Debug)]
pub struct Call {
    pub call_id: String,
    pub local_uri: String,
    pub local_tag: String,
    pub remote_uri: String,
    pub remote_tag: Option<String>,
    /// Route set, in the order this side uses it.
    pub route: Vec<String>,
    pub remote_target: String,
    pub cseq: u32,
    /// The INVITE this side sent (UAC) or received (UAS).
    pub invite: Message,
}

impl Ua {
    pub async fn new(server: SocketAddr, user: &str, password: &str, proto: Proto) -> Ua {
        Self::bound(
            server,
            SocketAddr::new(server.ip(), 0),
            user,
            password,
            proto,
        )
        .await
    }

    /// An agent (UDP) registered as `user` for ten minutes.
    pub async fn registered(server: SocketAddr, user: &str, password: &str) -> Ua {
        let mut ua = Ua::new(server, user, password, Proto::Udp).await;
        let r = ua.register(600).await;
        assert_eq!(r.status(), Some(200), "{user} registers");
        ua
    }

    /// An agent (UDP) with credentials on a given local address: a phone on another host.
    pub async fn on(server: SocketAddr, local: SocketAddr, user: &str, password: &str) -> Ua {
        Self::bound(server, local, user, password, Proto::Udp).await
    }

    /// An agent on a given local address (UDP): a gateway the switch's config names.
    pub async fn at(server: SocketAddr, local: SocketAddr, user: &str) -> Ua {
        Self::bound(server, local, user, "", Proto::Udp).await
    }

    /// An agent on a TLS connection to `tls` (the switch's TLS address; `server` stays its
    /// SIP address, which Request-URIs name), trusting what `client` trusts. Fails when the
    /// handshake does.
    pub async fn tls(
        server: SocketAddr,
        tls: SocketAddr,
        user: &str,
        password: &str,
        client: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Ua> {
        let (txq, rx) = mpsc::unbounded_channel();
        let sock = if tls.is_ipv6() {
            tokio::net::TcpSocket::new_v6()?
        } else {
            tokio::net::TcpSocket::new_v4()?
        };
        let from = if tls.is_ipv6() { tls.ip() } else { server.ip() };
        sock.bind(SocketAddr::new(from, 0))?;
        let stream: TcpStream = sock.connect(tls).await?;
        let local = stream.local_addr()?;
        let name = rustls::pki_types::ServerName::from(tls.ip());
        let stream = tokio_rustls::TlsConnector::from(client)
            .connect(name, stream)
            .await?;
        let (rd, wr) = tokio::io::split(stream);
        let tx = stream_tx(rd, wr, txq);
        Ok(Self::with_tx(
            server,
            local,
            user,
            password,
            Proto::Tls,
            tx,
            rx,
        ))
    }

    fn with_tx(
        server: SocketAddr,
        local: SocketAddr,
        user: &str,
        password: &str,
        proto: Proto,
        tx: Tx,
        rx: mpsc::UnboundedReceiver<Message>,
    ) -> Ua {
        let mut e = Entropy::seeded(rand::random());
        let reg_call_id = format!("reg-{}", e.token(12));
        Ua {
            display: String::new(),
            user: user.to_owned(),
            password: password.to_owned(),
            server,
            local,
            proto,
            tx,
            rx,
            backlog: VecDeque::new(),
            e,
            reg_call_id,
            reg_cseq: 0,
            nc: 0,
        }
    }

    async fn bound(
        server: SocketAddr,
        local_addr: SocketAddr,
        user: &str,
        password: &str,
        proto: Proto,
    ) -> Ua {
        let (txq, rx) = mpsc::unbounded_channel();
        let (tx, local) = match proto {
            Proto::Udp => {
                let s = Arc::new(UdpSocket::bind(local_addr).await.unwrap());
                let local = s.local_addr().unwrap();
                let r = s.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65535];
                    while let Ok((n, _)) = r.recv_from(&mut buf).await {
                        if let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..n])) {
                            if txq.send(m).is_err() {
                                break;
                            }
                        }
                    }
                });
                (Tx::Udp(s), local)
            }
            Proto::Tcp => {
                let sock = if server.is_ipv6() {
                    tokio::net::TcpSocket::new_v6().unwrap()
                } else {
                    tokio::net::TcpSocket::new_v4().unwrap()
                };
                sock.bind(SocketAddr::new(server.ip(), 0)).unwrap();
                let stream: TcpStream = sock.connect(server).await.unwrap();
                let local = stream.local_addr().unwrap();
                let (rd, wr) = stream.into_split();
                (stream_tx(rd, wr, txq), local)
            }
            Proto::Tls => panic!("TLS agents are made with Ua::tls"),
        };
        Self::with_tx(server, local, user, password, proto, tx, rx)
    }

    pub fn transport(&self) -> &'static str {
        match self.proto {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
        }
    }

    /// This agent's Contact URI.
    pub fn contact(&self) -> String {
        match self.proto {
            Proto::Udp => format!("sip:{}@{}", self.user, self.local),
            Proto::Tcp => format!("sip:{}@{};transport=tcp", self.user, self.local),
            Proto::Tls => format!("sip:{}@{};transport=tls", self.user, self.local),
        }
    }

    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.user, uri_host(self.server.ip()))
    }

    pub fn token(&mut self) -> String {
        self.e.token(10)
    }

    pub fn send(&self, b: Bytes) {
        match &self.tx {
            Tx::Udp(s) => {
                // a fresh socket is not known writable until the reactor has seen it
                if s.try_send_to(&b, self.server).is_err() {
                    let (s, to) = (s.clone(), self.server);
                    tokio::spawn(async move {
                        let _ = s.send_to(&b, to).await;
                    });
                }
            }
            Tx::Tcp(t) => {
                let _ = t.send(b);
            }
        }
    }

    fn via(&mut self) -> String {
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.transport(),
            self.local,
            self.e.token(14)
        )
    }

    /// Next message matching `pred` within `wait`; others stay queued for later calls.
    pub async fn recv_where(
        &mut self,
        wait: Duration,
        pred: impl Fn(&Message) -> bool,
    ) -> Option<Message> {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) if pred(&m) => return Some(m),
                Ok(Some(m)) => self.backlog.push_back(m),
                _ => return None,
            }
        }
    }

    /// The next request with `method`.
    pub async fn expect_request(&mut self, method: Method) -> Message {
        self.recv_where(Duration::from_secs(5), |m| m.method() == Some(method))
            .await
            .unwrap_or_else(|| panic!("{}: no {method} arrived", self.user))
    }

    /// Whether a request with `method` arrives within `wait`.
    pub async fn maybe_request(&mut self, method: Method, wait: Duration) -> Option<Message> {
        self.recv_where(wait, |m| m.method() == Some(method)).await
    }

    /// The next final response for (call_id, cseq method); provisional ones are skipped.
    pub async fn final_response(&mut self, call_id: &str, method: &str) -> Message {
        let (c, me) = (call_id.to_owned(), method.to_owned());
        self.recv_where(Duration::from_secs(40), move |m| {
            m.status().is_some_and(|s| s >= 200)
                && m.call_id() == Some(c.as_str())
                && m.cseq().is_some_and(|x| x.method_str == me)
        })
        .await
        .unwrap_or_else(|| panic!("no final response to {method} {call_id}"))
    }

    /// The next response with `code` for this call.
    pub async fn response(&mut self, call_id: &str, code: u16) -> Option<Message> {
        let c = call_id.to_owned();
        self.recv_where(Duration::from_secs(5), move |m| {
            m.status() == Some(code) && m.call_id() == Some(c.as_str())
        })
        .await
    }

    /// Registers this agent's contact for `expires` seconds, answering a challenge.
    pub async fn register(&mut self, expires: u32) -> Message {
        let contact = format!("<{}>", self.contact());
        self.register_contact(&contact, Some(expires)).await
    }

    /// REGISTER with an explicit Contact value (`*`, several, with params) and Expires.
    pub async fn register_contact(&mut self, contact: &str, expires: Option<u32>) -> Message {
        let mut auth: Option<String> = None;
        for _ in 0..3 {
            self.reg_cseq += 1;
            let uri = format!("sip:{}", self.server);
            let via = self.via();
            let mut b = RequestBuilder::new("REGISTER", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header("From", &format!("<{}>;tag={}", self.aor(), self.e.token(8)))
                .header("To", &format!("<{}>", self.aor()))
                .header("Call-ID", &self.reg_call_id.clone())
                .header("CSeq", &format!("{} REGISTER", self.reg_cseq));
            if !contact.is_empty() {
                b = b.header("Contact", contact);
            }
            if let Some(e) = expires {
                b = b.header("Expires", &e.to_string());
            }
            if let Some(a) = &auth {
                b = b.header("Authorization", a);
            }
            self.send(b.build(None));
            let cid = self.reg_call_id.clone();
            let resp = self.final_response(&cid, "REGISTER").await;
            if resp.status() != Some(401)
                || auth
                    .as_ref()
                    .is_some_and(|_| !is_stale(&resp, HeaderName::WwwAuthenticate))
            {
                return resp;
            }
            auth =
                Some(self.answer_challenge(&resp, HeaderName::WwwAuthenticate, "REGISTER", &uri));
        }
        panic!("registration kept being challenged");
    }

    /// Credentials for the first challenge of `header` in `resp`, for our user and password.
    pub fn answer_challenge(
        &mut self,
        resp: &Message,
        header: HeaderName,
        method: &str,
        uri: &str,
    ) -> String {
        let v = resp.header(header).expect("challenge present");
        let ch = Challenge::parse(v).unwrap();
        self.nc += 1;
        let cnonce = self.e.token(12);
        ch.answer(
            method,
            uri,
            &self.user.clone(),
            &self.password.clone(),
            &cnonce,
            self.nc,
        )
    }

    /// Starts a call to `target_user` (Request-URI user part) and returns it once the INVITE
    /// went out; a 407 is answered with credentials automatically.
    pub async fn invite(&mut self, target_user: &str) -> Call {
        // an agent without a password talks to a switch without authentication
        let expect_challenge = !self.password.is_empty();
        let sdp = self.sdp();
        self.invite_with(target_user, &sdp, expect_challenge).await
    }

    /// `SDP` naming this agent's own address: a phone the switch leaves to send media
    /// directly (`SDP` names 127.0.0.1, elsewhere than where the agent signals from, which
    /// looks like NAT and gets the call anchored).
    pub fn sdp(&self) -> Vec<u8> {
        at_own_address(SDP, self.local.ip())
    }

    /// `SDP_HOLD` naming this agent's own address.
    pub fn sdp_hold(&self) -> Vec<u8> {
        at_own_address(SDP_HOLD, self.local.ip())
    }

    pub async fn invite_with(&mut self, target_user: &str, sdp: &[u8], answer_407: bool) -> Call {
        let uri = format!("sip:{}@{}", target_user, self.server);
        self.invite_uri(&uri, sdp, answer_407).await
    }

    /// Starts a call to a Request-URI of any scheme (`sips:` for one that must stay on TLS).
    pub async fn invite_uri(&mut self, uri: &str, sdp: &[u8], answer_407: bool) -> Call {
        let uri = uri.to_owned();
        let call_id = format!("call-{}", self.e.token(16));
        let local_tag = self.e.token(8);
        let mut call = Call {
            call_id: call_id.clone(),
            local_uri: self.aor(),
            local_tag,
            remote_uri: uri.clone(),
            remote_tag: None,
            route: Vec::new(),
            remote_target: uri.clone(),
            cseq: 1,
            invite: Message::parse(Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\n\r\n")).unwrap(),
        };
        let mut auth: Option<String> = None;
        loop {
            let via = self.via();
            let mut b = RequestBuilder::new("INVITE", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header(
                    "From",
                    &format!("<{}>;tag={}", call.local_uri, call.local_tag),
                )
                .header("To", &format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", &format!("{} INVITE", call.cseq))
                .header("Contact", &format!("<{}>", self.contact()));
            if let Some(a) = &auth {
                b = b.header("Proxy-Authorization", a);
            }
            let bytes = b.build(Some(("application/sdp", sdp)));
            call.invite = Message::parse(bytes.clone()).unwrap();
            self.send(bytes);
            if !answer_407 || auth.is_some() {
                return call;
            }
            // wait for either a 407 (answer it) or any other response (leave it queued)
            let cid = call_id.clone();
            let first = self
                .recv_where(Duration::from_secs(5), move |m| {
                    m.call_id() == Some(cid.as_str()) && m.status().is_some_and(|s| s > 100)
                })
                .await
                .expect("a response to INVITE");
            if first.status() != Some(407) {
                self.backlog.push_front(first);
                return call;
            }
            self.send(ack_for(&call.invite, &first));
            auth =
                Some(self.answer_challenge(&first, HeaderName::ProxyAuthenticate, "INVITE", &uri));
            call.cseq += 1;
        }
    }

    /// Waits for the INVITE's final response; on 2xx records the dialog and sends the ACK.
    pub async fn invite_outcome(&mut self, call: &mut Call) -> Message {
        let resp = self.final_response(&call.call_id.clone(), "INVITE").await;
        if resp.status().is_some_and(|s| (200..300).contains(&s)) {
            call.remote_tag = resp.to_tag().map(str::to_owned);
            call.route = resp
                .record_routes()
                .map(|r| format!("<{}>", r.uri()))
                .collect();
            call.route.reverse();
            if let Some(c) = resp.contacts().next() {
                call.remote_target = c.uri().as_str().to_owned();
            }
            let ack = self.in_dialog_request(call, "ACK", None, false);
            self.send(ack);
        }
        resp
    }

    /// Sends CANCEL for the call's pending INVITE.
    pub fn cancel(&self, call: &Call) {
        self.send(cancel_for(&call.invite));
    }

    /// Builds a request inside the dialog (ACK keeps the INVITE's CSeq number).
    pub fn in_dialog_request(
        &mut self,
        call: &mut Call,
        method: &str,
        body: Option<(&str, &[u8])>,
        extra_cseq: bool,
    ) -> Bytes {
        if method != "ACK" && extra_cseq {
            call.cseq += 1;
        }
        let seq = if method == "ACK" {
            call.invite.cseq().map_or(call.cseq, |c| c.seq)
        } else {
            call.cseq
        };
        let via = self.via();
        let mut b = RequestBuilder::new(method, &call.remote_target.clone())
            .header("Via", &via)
            .header("Max-Forwards", "70")
            .header(
                "From",
                &format!("<{}>;tag={}", call.local_uri, call.local_tag),
            )
            .header(
                "To",
                &match &call.remote_tag {
                    Some(t) => format!("<{}>;tag={t}", call.remote_uri),
                    None => format!("<{}>", call.remote_uri),
                },
            )
            .header("Call-ID", &call.call_id)
            .header("CSeq", &format!("{seq} {method}"))
            .header("Contact", &format!("<{}>", self.contact()));
        for r in &call.route {
            b = b.header("Route", r);
        }
        b.build(body)
    }

    /// Sends a request in the dialog and returns its final response.
    pub async fn request_in_dialog(
        &mut self,
        call: &mut Call,
        method: &str,
        body: Option<(&str, &[u8])>,
    ) -> Message {
        let req = self.in_dialog_request(call, method, body, true);
        self.send(req);
        let cid = call.call_id.clone();
        self.final_response(&cid, method).await
    }

    /// Answers a received INVITE with 180 then 200 (SDP); returns the UAS view of the dialog.
    /// The ACK is left for the caller to wait for.
    pub async fn accept(&mut self, invite: &Message) -> Call {
        let tag = self.e.token(8);
        self.reply_tagged(invite, 180, &tag, None);
        // an IPv6 agent answers with its own address (c=IN IP6)
        let sdp = match self.local {
            SocketAddr::V6(_) => at_own_address(SDP, self.local.ip()),
            SocketAddr::V4(_) => SDP.to_vec(),
        };
        self.reply_tagged(invite, 200, &tag, Some(("application/sdp", &sdp)));
        self.uas_call(invite, &tag)
    }

    /// UAS dialog state for a received dialog-creating request answered with `tag`.
    pub fn uas_call(&self, invite: &Message, tag: &str) -> Call {
        Call {
            call_id: invite.call_id().unwrap().to_owned(),
            local_uri: invite.to().unwrap().uri().as_str().to_owned(),
            local_tag: tag.to_owned(),
            remote_uri: invite.from().unwrap().uri().as_str().to_owned(),
            remote_tag: invite.from_tag().map(str::to_owned),
            route: invite
                .record_routes()
                .map(|r| format!("<{}>", r.uri()))
                .collect(),
            remote_target: invite.contacts().next().unwrap().uri().as_str().to_owned(),
            cseq: 100,
            invite: invite.clone(),
        }
    }

    /// Sends a MESSAGE to `to` (a user part at the switch) with `from` (a URI; `None`: this
    /// agent's own address, answering the switch's challenge with our password) and returns
    /// the final answer.
    pub async fn message(
        &mut self,
        to: &str,
        from: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Message {
        let uri = format!("sip:{to}@{}", self.server);
        let call_id = format!("msg-{}", self.token());
        let from = from.map_or_else(|| self.aor(), str::to_owned);
        let mut auth: Option<String> = None;
        for cseq in 1..=2u32 {
            let via = self.via();
            let tag = self.token();
            let mut b = RequestBuilder::new("MESSAGE", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header("From", &format!("{}<{from}>;tag={tag}", self.shown()))
                .header("To", &format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", &format!("{cseq} MESSAGE"));
            if let Some(a) = &auth {
                b = b.header("Proxy-Authorization", a);
            }
            self.send(b.build(Some((content_type, body))));
            let resp = self.final_response(&call_id, "MESSAGE").await;
            if resp.status() != Some(407) || auth.is_some() {
                return resp;
            }
            auth =
                Some(self.answer_challenge(&resp, HeaderName::ProxyAuthenticate, "MESSAGE", &uri));
        }
        unreachable!()
    }

    fn shown(&self) -> String {
        if self.display.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", self.display)
        }
    }

    /// A plain-text MESSAGE from this agent's own address.
    pub async fn text(&mut self, to: &str, text: &str) -> Message {
        self.message(to, None, "text/plain;charset=UTF-8", text.as_bytes())
            .await
    }

    /// Sends a response with a fresh To tag.
    pub fn reply(&mut self, req: &Message, code: u16) {
        let tag = self.e.token(8);
        self.reply_tagged(req, code, &tag, None);
    }

    pub fn reply_tagged(&self, req: &Message, code: u16, tag: &str, body: Option<(&str, &[u8])>) {
        let contact = format!("<{}>", self.contact());
        let mut b = ResponseBuilder::new(req, code, switchboard_engine::sip::reason_phrase(code))
            .to_tag(tag);
        if (101..300).contains(&code) {
            b = b.record_route().header("Contact", &contact);
        }
        if let Some((t, body)) = body {
            b = b.body(t, body);
        }
        self.send(b.build());
    }
}

fn is_stale(resp: &Message, header: HeaderName) -> bool {
    resp.header(header)
        .and_then(|v| Challenge::parse(v).ok())
        .is_some_and(|c| c.stale)
}

/// The sending half of a stream connection (TCP or TLS) and a reader task that frames what
/// arrives (RFC 3261 §18.3) and queues the messages.
fn stream_tx<R, W>(mut rd: R, mut wr: W, txq: mpsc::UnboundedSender<Message>) -> Tx
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(b) = wrx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(65536);
        loop {
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            while let Ok(f) = next_frame(&buf, 65535) {
                match f {
                    Frame::Incomplete => break,
                    Frame::KeepAlive { len, .. } => buf.advance(len),
                    Frame::Message { skip, len } => {
                        buf.advance(skip);
                        let b = buf.split_to(len).freeze();
                        if let Ok(m) = Message::parse(b) {
                            let _ = txq.send(m);
                        }
                    }
                }
            }
        }
    });
    Tx::Tcp(wtx)
}
