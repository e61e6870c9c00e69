//! A small SIP user agent for end-to-end tests, speaking real SIP over UDP, TCP or TLS on
//! loopback. It reuses the engine's parser, builders and digest code, and keeps just enough
//! dialog state to place, answer, hold, transfer and hang up calls. A call can carry real RTP
//! from a test phone on each end (`media`).

mod calls;
mod media;
mod messaging;
mod presence;
mod register;
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
