//! An SMSC simulator for the `smpp` notifier gateway: SMPP 3.4 over TCP on 127.0.0.1, built on
//! the engine's codec, one thread per connection.
//!
//! It binds transmitters with one system_id and password (ESME_RINVSYSID / ESME_RINVPASWD
//! otherwise), records every submit_sm before answering it, answers enquire_link and unbind,
//! and can be told to refuse the next submits, to hang up on one, to interject a PDU of its own before the next
//! answer, or to close its connections.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use switchboard_engine::smpp::{
    self, BindTransmitterResp, COctet, CommandStatus, DataCoding, Pdu, Sequence, SubmitSmResp, Tlv,
};

/// One submit_sm as the simulator received it.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub source: String,
    pub source_ton_npi: (u8, u8),
    pub destination: String,
    pub destination_ton_npi: (u8, u8),
    pub data_coding: DataCoding,
    /// The text decoded by data_coding (`Err` text when it did not decode).
    pub text: Result<String, String>,
    /// sm_length: 0 when the text came in message_payload.
    pub sm_length: usize,
    pub in_payload: bool,
    /// What the simulator answered.
    pub status: CommandStatus,
}

/// A PDU the simulator sends before answering the next submit_sm.
#[derive(Debug, Clone, Copy)]
pub enum Interject {
    /// enquire_link; the ESME's enquire_link_resp is counted.
    EnquireLink,
    /// A command the ESME does not know (data_sm, 0x103); its generic_nack is recorded.
    UnknownCommand,
}

/// What happened so far.
#[derive(Debug, Default)]
pub struct State {
    pub submits: Vec<Submitted>,
    pub connections: u32,
    /// Binds answered with ESME_ROK.
    pub binds: u32,
    pub unbinds: u32,
    pub enquire_link_resps: u32,
    /// Statuses of the generic_nacks the ESME sent.
    pub nacks: Vec<CommandStatus>,
    /// Replies to an interjected PDU that were not what SMPP asks for.
    pub unexpected: Vec<String>,
    open: Vec<TcpStream>,
    active: u32,
    refuse: VecDeque<CommandStatus>,
    hang_ups: u32,
    interject: VecDeque<Interject>,
    next_message_id: u32,
}

/// A running simulator; stops and closes its connections when dropped.
pub struct Smsc {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

struct Account {
    system_id: String,
    password: String,
}

impl Smsc {
    /// Listens on 127.0.0.1 on a free port for binds with this system_id and password.
    pub fn start(system_id: &str, password: &str) -> Smsc {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let account = Arc::new(Account {
            system_id: system_id.into(),
            password: password.into(),
        });
        let (st, sp) = (state.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                {
                    let mut s = st.lock().unwrap();
                    s.connections += 1;
                    s.active += 1;
                    s.open.push(conn.try_clone().unwrap());
                }
                let (st, account) = (st.clone(), account.clone());
                std::thread::spawn(move || {
                    let mut conn = conn;
                    serve(&mut conn, &st, &account);
                    // the clone in `open` keeps the socket; shutdown closes it for the peer
                    let _ = conn.shutdown(Shutdown::Both);
                    st.lock().unwrap().active -= 1;
                });
            }
        });
        Smsc {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `host:port` for `NotifySmpp::address`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn submits(&self) -> Vec<Submitted> {
        self.state().submits.clone()
    }

    /// The next `n` submit_sm are answered with `status`.
    pub fn refuse_next(&self, n: usize, status: CommandStatus) {
        self.state().refuse.extend(std::iter::repeat_n(status, n));
    }

    /// The next submit_sm is read and not answered: the connection is closed instead (and the
    /// submit not recorded), as an SMSC crashing mid-request would.
    pub fn hang_up_on_next_submit(&self) {
        self.state().hang_ups += 1;
    }

    /// Sends `what` before answering the next submit_sm, and waits for the ESME's reply to it.
    pub fn interject_before_next_answer(&self, what: Interject) {
        self.state().interject.push_back(what);
    }

    /// Closes every open connection, as an SMSC restarting would, and waits until their
    /// threads have ended.
    pub fn close_connections(&self) {
        for c in self.state().open.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        assert!(
            super::eventually(Duration::from_secs(5), || self.state().active == 0),
            "connection threads did not end"
        );
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.state().open.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // wakes the accept loop so it sees `stop`
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// One connection until the peer closes it or unbinds.
fn serve(conn: &mut TcpStream, state: &Mutex<State>, account: &Account) {
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut bound = false;
    while let Some(frame) = read_frame(conn) {
        let (header, pdu) = match smpp::decode(&frame) {
            Ok(d) => d,
            Err(e) => {
                if let Ok(h) = smpp::decode_header(&frame) {
                    send(conn, &Pdu::GenericNack(e.command_status()), h.sequence);
                }
                continue;
            }
        };
        let seq = header.sequence;
        match pdu {
            Pdu::BindTransmitter(b) => {
                let status = if b.system_id.as_str() != account.system_id {
                    CommandStatus::ESME_RINVSYSID
                } else if b.password.as_str() != account.password {
                    CommandStatus::ESME_RINVPASWD
                } else if bound {
                    CommandStatus::ESME_RALYBND
                } else {
                    bound = true;
                    state.lock().unwrap().binds += 1;
                    CommandStatus::OK
                };
                let resp = BindTransmitterResp {
                    status,
                    system_id: COctet::new("SIMSMSC").unwrap(),
                    tlvs: vec![Tlv::new(Tlv::SC_INTERFACE_VERSION, vec![0x34]).unwrap()],
                };
                send(conn, &Pdu::BindTransmitterResp(resp), seq);
            }
            Pdu::SubmitSm(_) if !bound => {
                let resp = SubmitSmResp {
                    status: CommandStatus::ESME_RINVBNDSTS,
                    message_id: COctet::default(),
                };
                send(conn, &Pdu::SubmitSmResp(resp), seq);
            }
            Pdu::SubmitSm(sm) => {
                {
                    let mut s = state.lock().unwrap();
                    if s.hang_ups > 0 {
                        s.hang_ups -= 1;
                        return;
                    }
                }
                let interject = state.lock().unwrap().interject.pop_front();
                if let Some(what) = interject {
                    if !interjected(conn, state, what) {
                        return;
                    }
                }
                let (status, message_id) = {
                    let mut s = state.lock().unwrap();
                    let status = s.refuse.pop_front().unwrap_or(CommandStatus::OK);
                    s.next_message_id += 1;
                    s.submits.push(Submitted {
                        source: sm.source.addr.as_str().into(),
                        source_ton_npi: (sm.source.ton.0, sm.source.npi.0),
                        destination: sm.destination.addr.as_str().into(),
                        destination_ton_npi: (sm.destination.ton.0, sm.destination.npi.0),
                        data_coding: sm.data_coding,
                        text: sm.text().map_err(|e| e.to_string()),
                        sm_length: sm.short_message.as_bytes().len(),
                        in_payload: sm.tlv(Tlv::MESSAGE_PAYLOAD).is_some(),
                        status,
                    });
                    (status, format!("sim-{}", s.next_message_id))
                };
                let message_id = if status.is_ok() {
                    COctet::new(&message_id).unwrap()
                } else {
                    COctet::default()
                };
                send(
                    conn,
                    &Pdu::SubmitSmResp(SubmitSmResp { status, message_id }),
                    seq,
                );
            }
            Pdu::EnquireLink => send(conn, &Pdu::EnquireLinkResp(CommandStatus::OK), seq),
            Pdu::Unbind => {
                state.lock().unwrap().unbinds += 1;
                send(conn, &Pdu::UnbindResp(CommandStatus::OK), seq);
                return;
            }
            Pdu::EnquireLinkResp(_) => state.lock().unwrap().enquire_link_resps += 1,
            Pdu::GenericNack(s) => state.lock().unwrap().nacks.push(s),
            Pdu::BindTransmitterResp(_) | Pdu::SubmitSmResp(_) | Pdu::UnbindResp(_) => {}
        }
    }
}

/// Sends `what` and reads the ESME's reply to it; false when the connection ended.
fn interjected(conn: &mut TcpStream, state: &Mutex<State>, what: Interject) -> bool {
    const SEQ: Sequence = Sequence(0x7000_0001);
    let mut bytes = smpp::encode(&Pdu::EnquireLink, SEQ);
    if let Interject::UnknownCommand = what {
        bytes[4..8].copy_from_slice(&0x0000_0103u32.to_be_bytes());
    }
    if conn.write_all(&bytes).is_err() {
        return false;
    }
    let Some(frame) = read_frame(conn) else {
        return false;
    };
    match smpp::decode(&frame) {
        Ok((h, Pdu::EnquireLinkResp(_))) if h.sequence == SEQ => {
            state.lock().unwrap().enquire_link_resps += 1;
        }
        Ok((h, Pdu::GenericNack(s))) if h.sequence == SEQ => state.lock().unwrap().nacks.push(s),
        other => {
            let seen = format!("{what:?} answered with {other:?}");
            state.lock().unwrap().unexpected.push(seen);
        }
    }
    true
}

fn send(conn: &mut TcpStream, pdu: &Pdu, seq: Sequence) {
    // the peer may be gone already; its next read or connect tells the test
    let _ = conn.write_all(&smpp::encode(pdu, seq));
}

/// One PDU, or `None` once the connection ended or cannot be framed.
fn read_frame(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    conn.read_exact(&mut head).ok()?;
    let len = smpp::frame_len(&head).ok()??;
    let mut frame = vec![0u8; len];
    frame[..4].copy_from_slice(&head);
    conn.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}
