//! TCP: a listener on the SIP address, connections framed by Content-Length (RFC 3261
//! §18.3), responses on the connection a request came on, connection limits in total and per
//! source, idle timeouts, CRLF keep-alives (RFC 5626 §3.5.1). A banned source's connections
//! are refused at accept and closed at its next message; malformed messages and floods on a
//! connection count against its source (`crate::security`).
//!
//! Each connection has a reader task (frames, checks and dispatches to the owning worker) and
//! a writer task fed by a channel, so any actor can send without locking the socket.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use switchboard_engine::flow::{ConnId, Flow};
use switchboard_engine::security::{RateWindow, Reason};
use switchboard_engine::sip::framing::{next_frame, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::debug;

use super::ingress::{ingest, Ingested, Ingress};
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
}

#[derive(Default)]
struct Table {
    conns: HashMap<ConnId, Conn>,
    by_remote: HashMap<SocketAddr, ConnId>,
    per_source: HashMap<IpAddr, usize>,
}

/// All TCP connections of the switch.
pub struct TcpHub {
    table: Mutex<Table>,
    next: AtomicU64,
    limits: TcpLimits,
    metrics: Arc<Metrics>,
    ingress: Arc<Ingress>,
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
            security,
        })
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
        t.conns.insert(id, Conn { tx, remote });
        t.by_remote.insert(remote, id);
        self.metrics.tcp_connections.set(t.conns.len() as i64);
        Ok((id, rx))
    }

    fn unregister(&self, id: ConnId) {
        let mut t = self.table();
        if let Some(c) = t.conns.remove(&id) {
            if t.by_remote.get(&c.remote) == Some(&id) {
                t.by_remote.remove(&c.remote);
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

    /// Sends on the flow's connection, else on any connection to its address, else opens one.
    pub fn send(self: &Arc<Self>, flow: &Flow, bytes: Bytes) {
        {
            let t = self.table();
            let id = flow
                .conn
                .filter(|c| t.conns.contains_key(c))
                .or_else(|| t.by_remote.get(&flow.remote).copied());
            if let Some(c) = id.and_then(|id| t.conns.get(&id)) {
                let _ = c.tx.send(bytes);
                return;
            }
        }
        self.connect(flow.remote, bytes);
    }

    /// Opens a connection to `remote` and sends `first` once it is up. Later sends queue on
    /// the connection's channel meanwhile.
    fn connect(self: &Arc<Self>, remote: SocketAddr, first: Bytes) {
        let Ok((id, rx)) = self.register(remote) else {
            self.metrics.dropped("tcp connection limit");
            return;
        };
        if let Some(c) = self.table().conns.get(&id) {
            let _ = c.tx.send(first);
        }
        let hub = self.clone();
        actix_rt::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(remote)).await {
                Ok(Ok(stream)) => hub.run(id, remote, stream, rx).await,
                _ => {
                    debug!(%remote, "tcp connect failed");
                    hub.unregister(id);
                }
            }
        });
    }

    /// Takes over an accepted connection (call on the arbiter that should run it).
    pub fn adopt(self: &Arc<Self>, stream: std::net::TcpStream, remote: SocketAddr) {
        let mut bans = self.security.view();
        if self
            .security
            .is_banned(&mut bans, remote.ip(), crate::clock::now())
        {
            self.metrics.dropped("banned");
            return; // dropping the stream closes it
        }
        let (id, rx) = match self.register(remote) {
            Ok(x) => x,
            Err(_) => {
                self.metrics.dropped("tcp connection limit");
                return; // dropping the stream closes it
            }
        };
        let hub = self.clone();
        actix_rt::spawn(async move {
            let _ = stream.set_nonblocking(true);
            match TcpStream::from_std(stream) {
                Ok(s) => hub.run(id, remote, s, rx).await,
                Err(_) => hub.unregister(id),
            }
        });
    }

    async fn run(
        self: Arc<Self>,
        id: ConnId,
        remote: SocketAddr,
        stream: TcpStream,
        mut rx: mpsc::UnboundedReceiver<Bytes>,
    ) {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let writer = actix_rt::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let flow = Flow::tcp(remote, Some(id));
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
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Accepts connections and hands each to a worker arbiter in turn.
pub async fn accept_loop(
    listener: std::net::TcpListener,
    hub: Arc<TcpHub>,
    arbiters: Vec<actix_rt::ArbiterHandle>,
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
            hub.adopt(std_stream, remote);
        });
    }
}
