//! Stream connections, TCP and TLS: a listener on each SIP address (and the TLS listeners of
//! `tls`), connections framed by Content-Length (RFC 3261 §18.3), responses on the connection
//! a request came on, connection limits in total and per source, idle timeouts, CRLF
//! keep-alives (RFC 5626 §3.5.1). A banned source's connections are refused at accept and
//! closed at its next message; malformed messages and floods on a connection count against
//! its source (`crate::security`).
//!
//! Each connection has a reader task (frames, checks and dispatches to the owning worker) and
//! a writer task fed by a channel, so any actor can send without locking the socket. A TLS
//! connection is the same machinery over a rustls stream: the handshake runs first (with a
//! deadline), then reads and writes go through TLS.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use switchboard_engine::flow::{ConnId, Flow, Transport};
use switchboard_engine::security::{RateWindow, Reason};
use switchboard_engine::sip::framing::{next_frame, Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::ingress::{ingest, Ingested, Ingress};
use super::tls::TlsContext;
use crate::metrics::Metrics;
use crate::security::Security;

/// TCP limits from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
    pub max_per_source: usize,
    pub idle_timeout: Duration,
    pub max_message: usize,
}

struct Conn {
    tx: mpsc::UnboundedSender<Bytes>,
    remote: SocketAddr,
    transport: Transport,
}

#[derive(Default)]
struct Table {
    conns: HashMap<ConnId, Conn>,
    /// A TCP and a TLS connection to one address are different flows: a message for TLS
    /// never falls back to plain TCP.
    by_remote: HashMap<(Transport, SocketAddr), ConnId>,
    per_source: HashMap<IpAddr, usize>,
}

/// All stream connections (TCP and TLS) of the switch.
pub struct TcpHub {
    table: Mutex<Table>,
    next: AtomicU64,
    limits: TcpLimits,
    metrics: Arc<Metrics>,
    ingress: Arc<Ingress>,
    /// Certificates and settings for TLS connections; unset: TLS is off.
    tls: std::sync::OnceLock<Arc<TlsContext>>,
    security: Arc<Security>,
}

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    TooMany,
    TooManyFromSource,
}

impl TcpHub {
    pub fn new(
        limits: TcpLimits,
        metrics: Arc<Metrics>,
        ingress: Arc<Ingress>,
        security: Arc<Security>,
    ) -> Arc<TcpHub> {
        Arc::new(TcpHub {
            table: Mutex::new(Table::default()),
            next: AtomicU64::new(1),
            limits,
            metrics,
            ingress,
            tls: std::sync::OnceLock::new(),
            security,
        })
    }

    /// Turns TLS on: accepted TLS connections and connections opened for TLS flows use it.
    pub fn set_tls(&self, tls: Arc<TlsContext>) {
        let _ = self.tls.set(tls);
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.table().conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn register(
        &self,
        remote: SocketAddr,
        transport: Transport,
    ) -> Result<(ConnId, mpsc::UnboundedReceiver<Bytes>), Refused> {
        let mut t = self.table();
        if t.conns.len() >= self.limits.max_connections {
            return Err(Refused::TooMany);
        }
        let n = t.per_source.entry(remote.ip()).or_insert(0);
        if *n >= self.limits.max_per_source {
            return Err(Refused::TooManyFromSource);
        }
        *n += 1;
        let id = ConnId(self.next.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mpsc::unbounded_channel();
        t.conns.insert(
            id,
            Conn {
                tx,
                remote,
                transport,
            },
        );
        t.by_remote.insert((transport, remote), id);
        self.metrics.tcp_connections.set(t.conns.len() as i64);
        Ok((id, rx))
    }

    fn unregister(&self, id: ConnId) {
        let mut t = self.table();
        if let Some(c) = t.conns.remove(&id) {
            let key = (c.transport, c.remote);
            if t.by_remote.get(&key) == Some(&id) {
                t.by_remote.remove(&key);
            }
            if let Some(n) = t.per_source.get_mut(&c.remote.ip()) {
                *n -= 1;
                if *n == 0 {
                    t.per_source.remove(&c.remote.ip());
                }
            }
        }
        self.metrics.tcp_connections.set(t.conns.len() as i64);
    }

    /// Sends on the flow's connection, else on any connection of its transport to its
    /// address, else opens one (a TLS one for a TLS flow, RFC 3261 §26.2).
    pub fn send(self: &Arc<Self>, flow: &Flow, bytes: Bytes) {
        {
            let t = self.table();
            let id = flow
                .conn
                .filter(|c| {
                    t.conns
                        .get(c)
                        .is_some_and(|c| c.transport == flow.transport)
                })
                .or_else(|| t.by_remote.get(&(flow.transport, flow.remote)).copied());
            if let Some(c) = id.and_then(|id| t.conns.get(&id)) {
                let _ = c.tx.send(bytes);
                return;
            }
        }
        self.connect(flow.remote, flow.transport, bytes);
    }

    /// Opens a connection to `remote` and sends `first` once it is up. Later sends queue on
    /// the connection's channel meanwhile.
    fn connect(self: &Arc<Self>, remote: SocketAddr, transport: Transport, first: Bytes) {
        let tls = match transport {
            Transport::Tls => match self.tls.get() {
                Some(t) => Some(t.clone()),
                None => {
                    self.metrics.dropped("tls is off");
                    return;
                }
            },
            _ => None,
        };
        let Ok((id, rx)) = self.register(remote, transport) else {
            self.metrics.dropped("tcp connection limit");
            return;
        };
        if let Some(c) = self.table().conns.get(&id) {
            let _ = c.tx.send(first);
        }
        let hub = self.clone();
        actix_rt::spawn(async move {
            let deadline = Duration::from_secs(10);
            let stream = match tokio::time::timeout(deadline, TcpStream::connect(remote)).await {
                Ok(Ok(stream)) => stream,
                _ => {
                    debug!(%remote, "tcp connect failed");
                    hub.unregister(id);
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            match tls {
                None => {
                    let (rd, wr) = stream.into_split();
                    hub.run(id, remote, Transport::Tcp, rd, wr, rx).await
                }
                Some(tls) => {
                    let connect = tls.connector().connect(tls.server_name(remote), stream);
                    match tokio::time::timeout(deadline, connect).await {
                        Ok(Ok(s)) => {
                            let (rd, wr) = tokio::io::split(s);
                            hub.run(id, remote, Transport::Tls, rd, wr, rx).await
                        }
                        Ok(Err(e)) => {
                            warn!(%remote, error = %e, "tls connection refused by us or the peer");
                            hub.metrics.dropped("tls handshake failed");
                            hub.unregister(id);
                        }
                        Err(_) => {
                            debug!(%remote, "tls handshake timed out");
                            hub.unregister(id);
                        }
                    }
                }
            }
        });
    }

    /// Takes over an accepted connection (call on the arbiter that should run it); for TLS
    /// the handshake comes first. A banned source's connection is closed at once.
    pub fn adopt(
        self: &Arc<Self>,
        stream: std::net::TcpStream,
        remote: SocketAddr,
        transport: Transport,
    ) {
        let mut bans = self.security.view();
        if self
            .security
            .is_banned(&mut bans, remote.ip(), crate::clock::now())
        {
            self.metrics.dropped("banned");
            return; // dropping the stream closes it
        }
        let tls = match transport {
            Transport::Tls => match self.tls.get() {
                Some(t) => Some(t.clone()),
                None => return,
            },
            _ => None,
        };
        let (id, rx) = match self.register(remote, transport) {
            Ok(x) => x,
            Err(_) => {
                self.metrics.dropped("tcp connection limit");
                return; // dropping the stream closes it
            }
        };
        let hub = self.clone();
        actix_rt::spawn(async move {
            let _ = stream.set_nonblocking(true);
            let Ok(s) = TcpStream::from_std(stream) else {
                hub.unregister(id);
                return;
            };
            let _ = s.set_nodelay(true);
            let Some(tls) = tls else {
                let (rd, wr) = s.into_split();
                return hub.run(id, remote, Transport::Tcp, rd, wr, rx).await;
            };
            let accept = tls.acceptor().accept(s);
            match tokio::time::timeout(tls.handshake_timeout(), accept).await {
                Ok(Ok(s)) => {
                    hub.metrics.tls_handshakes.inc();
                    let (rd, wr) = tokio::io::split(s);
                    hub.run(id, remote, Transport::Tls, rd, wr, rx).await
                }
                Ok(Err(e)) => {
                    // a client that does not trust us, or speaks TLS 1.1: its problem, ours
                    // to count
                    debug!(%remote, error = %e, "tls handshake failed");
                    hub.metrics.dropped("tls handshake failed");
                    hub.unregister(id);
                }
                Err(_) => {
                    debug!(%remote, "tls handshake timed out");
                    hub.metrics.dropped("tls handshake timeout");
                    hub.unregister(id);
                }
            }
        });
    }

    async fn run<R, W>(
        self: Arc<Self>,
        id: ConnId,
        remote: SocketAddr,
        transport: Transport,
        mut rd: R,
        mut wr: W,
        mut rx: mpsc::UnboundedReceiver<Bytes>,
    ) where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + 'static,
    {
        let writer = actix_rt::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let flow = Flow {
            transport,
            remote,
            conn: Some(id),
        };
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut bans = self.security.view();
        let (pike_max, pike_window) = self.security.pike();
        let mut pike = RateWindow::new(crate::clock::now());
        'read: loop {
            let n =
                match tokio::time::timeout(self.limits.idle_timeout, rd.read_buf(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Err(_) => {
                        debug!(%remote, "tcp idle timeout");
                        break;
                    }
                    Ok(Ok(n)) => n,
                };
            let _ = n;
            loop {
                match next_frame(&buf, self.limits.max_message) {
                    Ok(Frame::Incomplete) => break,
                    Ok(Frame::KeepAlive { len, ping }) => {
                        buf.advance(len);
                        if ping {
                            self.reply(id, Bytes::from_static(b"\r\n"));
                        }
                    }
                    Ok(Frame::Message { skip, len }) => {
                        let t = crate::clock::now();
                        if self.security.is_banned(&mut bans, remote.ip(), t) {
                            self.metrics.dropped("banned");
                            break 'read;
                        }
                        if pike_max > 0 {
                            if let Some(n) = pike.handle_request(t, pike_max, pike_window) {
                                self.security.flood(remote.ip(), n);
                            }
                        }
                        buf.advance(skip);
                        let bytes = buf.split_to(len).freeze();
                        match ingest(bytes) {
                            Ingested::Message(m) => self.ingress.dispatch(m, flow),
                            Ingested::Reply(r) => {
                                self.security.failure(remote.ip(), Reason::Malformed);
                                self.metrics.sent(&r);
                                self.reply(id, r);
                            }
                            Ingested::Dropped(why) => {
                                if why == "unparseable" {
                                    self.security.failure(remote.ip(), Reason::Malformed);
                                }
                                self.metrics.dropped(why)
                            }
                        }
                    }
                    Err(e) => {
                        debug!(%remote, error = %e, "closing tcp connection");
                        self.security.failure(remote.ip(), Reason::Malformed);
                        self.metrics.dropped("tcp framing error");
                        break 'read;
                    }
                }
            }
        }
        self.unregister(id);
        writer.abort();
    }

    fn reply(&self, id: ConnId, bytes: Bytes) {
        if let Some(c) = self.table().conns.get(&id) {
            let _ = c.tx.send(bytes);
        }
    }
}

/// Binds the TCP listener (done before any arbiter starts, so a port in use is reported at once).
pub fn bind_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Accepts connections and hands each to a worker arbiter in turn (`transport` is TCP, or TLS
/// for a TLS listener).
pub async fn accept_loop(
    listener: std::net::TcpListener,
    hub: Arc<TcpHub>,
    arbiters: Vec<actix_rt::ArbiterHandle>,
    transport: Transport,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut next = 0usize;
    loop {
        let Ok((stream, remote)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // move the socket to a worker arbiter: tokio sockets belong to the runtime that
        // registered them, so it crosses as a std socket
        let Ok(std_stream) = stream.into_std() else {
            continue;
        };
        let hub = hub.clone();
        let arb = &arbiters[next % arbiters.len().max(1)];
        next = next.wrapping_add(1);
        arb.spawn(async move {
            hub.adopt(std_stream, remote, transport);
        });
    }
}
