//! SIP trunks: the PSTN gateways and other providers' switches calls leave through.
//!
//! A trunk has an address, a transport, optional digest credentials for the challenges the
//! far end sends, and rules for writing numbers its way. Trunks sharing a group name form a
//! failover group, tried in the order they were configured: a routing decision names a group
//! (or a single trunk by its own name). No I/O here: the actors resolve names to addresses
//! before they build the `Trunks`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::flow::Transport;
use crate::numbering::NumberFormat;

/// Seconds a trunk may stay silent (no provisional, no final) before the next one is tried.
pub const DEFAULT_NO_RESPONSE_SECS: u64 = 5;

/// One configured trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    pub name: String,
    /// Failover group; a trunk configured without one is a group of its own name.
    pub group: String,
    pub remote: SocketAddr,
    pub transport: Transport,
    /// Digest credentials for the far end's 401/407 challenges.
    pub credentials: Option<TrunkCredentials>,
    /// How E.164 numbers are written for this trunk (digits-only numbers pass unchanged).
    pub format: NumberFormat,
    /// How long the far end may stay silent before the call fails over.
    pub no_response: Duration,
}

#[derive(Clone, PartialEq, Eq)]
pub struct TrunkCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for TrunkCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the password stays out of every log and panic message
        f.debug_struct("TrunkCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Index of a trunk in its `Trunks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrunkId(pub usize);

/// Every configured trunk, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Trunks {
    list: Vec<Trunk>,
}

impl Trunks {
    pub fn new(list: Vec<Trunk>) -> Trunks {
        Trunks { list }
    }

    pub fn get(&self, id: TrunkId) -> &Trunk {
        &self.list[id.0]
    }

    /// The members of a failover group in the order they are tried; a name that is no group
    /// but a trunk's own name is that trunk alone.
    pub fn group(&self, name: &str) -> Vec<TrunkId> {
        let members: Vec<TrunkId> = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, t)| t.group == name)
            .map(|(i, _)| TrunkId(i))
            .collect();
        if !members.is_empty() {
            return members;
        }
        self.list
            .iter()
            .position(|t| t.name == name)
            .map(TrunkId)
            .into_iter()
            .collect()
    }

    /// The trunk a request came from, by its source address.
    pub fn by_source(&self, from: SocketAddr) -> Option<TrunkId> {
        self.list
            .iter()
            .position(|t| t.remote == from)
            .or_else(|| self.list.iter().position(|t| t.remote.ip() == from.ip()))
            .map(TrunkId)
    }

    /// The Request-URI for `number` on trunk `id`: the number written the trunk's way, at the
    /// trunk's address. `number` has passed the decision grammar (`+` and digits only), so
    /// nothing in it needs escaping.
    pub fn request_uri(&self, id: TrunkId, number: &str) -> String {
        let t = self.get(id);
        let user = if number.starts_with('+') {
            t.format.apply(number)
        } else {
            number.to_owned()
        };
        let host = match t.remote {
            SocketAddr::V4(a) => a.to_string(),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        match t.transport {
            Transport::Udp => format!("sip:{user}@{host};user=phone"),
            tr => format!("sip:{user}@{host};user=phone;transport={}", tr.param()),
        }
    }
}

/// Whether a trunk's final answer means "try the next trunk" rather than "this is the
/// callee's answer": no answer at all (408, including our own timeout) or the trunk failing or
/// overloaded (500, 502, 503, 504).
pub fn fails_over(code: u16) -> bool {
    matches!(code, 408 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str, group: &str, addr: &str) -> Trunk {
        Trunk {
            name: name.into(),
            group: group.into(),
            remote: addr.parse().unwrap(),
            transport: Transport::Udp,
            credentials: None,
            format: NumberFormat::default(),
            no_response: Duration::from_secs(DEFAULT_NO_RESPONSE_SECS),
        }
    }

    #[test]
    fn groups_keep_configuration_order_and_a_name_is_a_group_of_one() {
        let t = Trunks::new(vec![
            trunk("gw-a", "pstn", "127.0.0.1:5080"),
            trunk("kt", "kt", "127.0.0.1:5090"),
            trunk("gw-b", "pstn", "127.0.0.1:5081"),
        ]);
        assert_eq!(t.group("pstn"), vec![TrunkId(0), TrunkId(2)]);
        assert_eq!(t.group("gw-b"), vec![TrunkId(2)]);
        assert_eq!(t.group("kt"), vec![TrunkId(1)]);
        assert!(t.group("nope").is_empty());
    }

    #[test]
    fn request_uris_follow_the_trunk_format() {
        let mut a = trunk("gw-a", "pstn", "127.0.0.1:5080");
        a.format = NumberFormat {
            strip_plus: true,
            prefix: "9".into(),
            ..Default::default()
        };
        let mut b = trunk("gw-b", "pstn", "127.0.0.1:5081");
        b.transport = Transport::Tcp;
        let t = Trunks::new(vec![a, b]);
        assert_eq!(
            t.request_uri(TrunkId(0), "+12125551234"),
            "sip:912125551234@127.0.0.1:5080;user=phone"
        );
        assert_eq!(
            t.request_uri(TrunkId(1), "+12125551234"),
            "sip:+12125551234@127.0.0.1:5081;user=phone;transport=tcp"
        );
        assert_eq!(
            t.request_uri(TrunkId(0), "0701234567"),
            "sip:0701234567@127.0.0.1:5080;user=phone",
            "digits the provider format already wrote pass unchanged"
        );
    }

    #[test]
    fn timeouts_and_server_failures_fail_over_but_callee_answers_do_not() {
        for c in [408, 500, 502, 503, 504] {
            assert!(fails_over(c), "{c}");
        }
        for c in [404, 480, 484, 486, 487, 600, 603] {
            assert!(!fails_over(c), "{c}");
        }
    }

    #[test]
    fn sources_find_their_trunk() {
        let t = Trunks::new(vec![
            trunk("gw-a", "pstn", "127.0.0.1:5080"),
            trunk("gw-b", "pstn", "127.0.0.2:5080"),
        ]);
        assert_eq!(
            t.by_source("127.0.0.2:5080".parse().unwrap()),
            Some(TrunkId(1))
        );
        assert_eq!(
            t.by_source("127.0.0.2:40000".parse().unwrap()),
            Some(TrunkId(1))
        );
        assert_eq!(t.by_source("127.0.0.9:5080".parse().unwrap()), None);
    }
}
