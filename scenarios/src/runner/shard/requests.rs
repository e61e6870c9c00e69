//! The requests a shard's devices send outside calls: REGISTER (a device's Call-ID, CSeq,
//! identity, To and Contact kept between refreshes), MESSAGE, PUBLISH, room posts.

use std::time::Instant;

use super::{Device, Flow, Shard};
use crate::core::agent::{self, Identity, Out, Request, RequestSpec};
use crate::core::{Kind, User};

impl Shard {
    pub(super) fn register(
        &mut self,
        now: Instant,
        user: User,
        device: u32,
        expires: u32,
        record: bool,
        out: &mut Vec<Out>,
    ) -> Option<(Box<str>, Flow)> {
        let d = match self.devices.entry((user, device)) {
            std::collections::hash_map::Entry::Occupied(d) => d.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let seed = self.e.token(12);
                let id = self.people.identity(user, device);
                v.insert(Device {
                    call_id: format!("lr-{user}-{device}-{seed}"),
                    cseq: 0,
                    to: format!("<{}>", id.aor(&self.ep)),
                    contact: id.contact(&self.ep),
                    id,
                })
            }
        };
        d.cseq += 1;
        let mut num = [0u8; 20];
        let spec = RequestSpec {
            kind: Kind::Register,
            method: "REGISTER",
            uri: self.register_uri.clone(),
            to: d.to.clone(),
            call_id: d.call_id.clone(),
            cseq: d.cseq,
            headers: vec![
                ("Contact".into(), d.contact.clone()),
                (
                    "Expires".into(),
                    agent::decimal(u64::from(expires), &mut num).into(),
                ),
            ],
            body: None,
            message_id: None,
        };
        let id = d.id.clone();
        self.request_as(now, spec, id, Some((user, device)), record, out)
    }

    pub(super) fn request(
        &mut self,
        now: Instant,
        spec: RequestSpec,
        user: User,
        device: Option<(User, u32)>,
        record: bool,
        out: &mut Vec<Out>,
    ) -> Option<(Box<str>, Flow)> {
        let id = self.identity(user, device.map_or(0, |d| d.1));
        self.request_as(now, spec, id, device, record, out)
    }

    pub(super) fn request_as(
        &mut self,
        now: Instant,
        spec: RequestSpec,
        id: Identity,
        device: Option<(User, u32)>,
        record: bool,
        out: &mut Vec<Out>,
    ) -> Option<(Box<str>, Flow)> {
        let r = Box::new(Request::start(
            now,
            spec,
            id,
            self.ep.clone(),
            &mut self.e,
            out,
        ));
        Some((r.call_id().into(), Flow::Request { r, device, record }))
    }
}
