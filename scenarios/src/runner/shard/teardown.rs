//! The end of a shard's run: every binding its devices made is removed.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;

use super::Shard;
use crate::core::agent::RequestSpec;
use crate::core::{Kind, User};

impl Shard {
    /// Removes every binding of the users this shard registered (`Contact: *`, Expires 0),
    /// so the server holds no contacts of a run that ended: a later run's calls and messages
    /// would otherwise fork to them. Waits up to two seconds for the answers.
    pub(super) async fn unregister_all(&mut self, socket: &UdpSocket, buf: &mut [u8]) {
        let mut users: Vec<User> = self.devices.keys().map(|(u, _)| *u).collect();
        users.sort_unstable();
        users.dedup();
        let now = Instant::now();
        let mut out = std::mem::take(&mut self.out);
        let mut waiting = Vec::new();
        for user in users {
            let Some(d) = self.devices.get_mut(&(user, 0)) else {
                continue;
            };
            d.cseq += 1;
            let (call_id, cseq) = (d.call_id.clone(), d.cseq);
            let id = self.identity(user, 0);
            let spec = RequestSpec {
                kind: Kind::Register,
                method: "REGISTER",
                uri: format!("sip:{}", self.ep.server),
                to: format!("<{}>", id.aor(&self.ep)),
                call_id,
                cseq,
                headers: vec![
                    ("Contact".into(), "*".into()),
                    ("Expires".into(), "0".into()),
                ],
                body: None,
                message_id: None,
            };
            if let Some((cid, flow)) =
                self.request(now, spec, user, Some((user, 0)), false, &mut out)
            {
                self.apply(now, &cid, false, &mut out);
                waiting.push(cid.clone());
                self.keep(cid, flow, now);
            }
        }
        self.out = out;
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        // the first flow not known to be done yet (each answer is checked once: a scan of
        // every flow per answer would cost the square of the registrations)
        let mut first = 0;
        loop {
            while first < waiting.len() && !self.flows.contains_key(&waiting[first]) {
                first += 1;
            }
            if first == waiting.len() {
                break;
            }
            tokio::select! {
                r = socket.recv_from(buf) => {
                    if let Ok((n, _)) = r {
                        self.on_datagram(Bytes::copy_from_slice(&buf[..n]));
                        while let Ok((n, _)) = socket.try_recv_from(buf) {
                            self.on_datagram(Bytes::copy_from_slice(&buf[..n]));
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(50)) => self.fire_timers(),
                _ = tokio::time::sleep_until(until) => break,
            }
        }
    }
}
