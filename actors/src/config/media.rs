//! Configuration of the media plane (`[media]`): where RTP is bound and advertised, the port
//! range, the media threads, when calls are anchored, SRTP, and the media timeouts.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use switchboard_engine::anchor::{Policy, SrtpMode};

use super::error::ConfigError;

/// `[media]`: the switch's RTP relay and frame path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// The IP the RTP sockets bind to.
    pub address: IpAddr,
    /// The IP put in SDP for the relay ports (behind a 1:1 NAT: the public one); unset: the
    /// bind address.
    #[serde(default)]
    pub advertise: Option<IpAddr>,
    /// The IPv6 address RTP sockets bind to for legs whose SDP is `c=IN IP6`. Unset: the
    /// first IPv6 address SIP listens on (`sip.listen`, `sip.listen_also`) when it names
    /// one (not `[::]`), else none (IPv6 legs then get the IPv4 relay; see `Config::load`).
    #[serde(default)]
    pub address_v6: Option<IpAddr>,
    /// The IPv6 address put in SDP for those ports; unset: `address_v6`.
    #[serde(default)]
    pub advertise_v6: Option<IpAddr>,
    /// RTP ports, `"first-last"`: even ports carry RTP, the next odd one RTCP.
    pub ports: String,
    /// Media threads at most; 0 = one per CPU core. Sessions fill the lowest-index thread
    /// that is not busy (`media/placement.rs`).
    pub threads: usize,
    /// `"auto"` (anchor when needed: NAT, transcoding, recording, prompts), `"always"` or
    /// `"never"`.
    pub anchor: String,
    /// An answered call with no RTP from either side this long ends.
    pub timeout_secs: u64,
    /// The same while a side is on hold.
    pub hold_timeout_secs: u64,
    /// Recorded calls start with the recording notice tone to both sides.
    pub record_announcement: bool,
    /// Which legs of an anchored call the switch ends SRTP (SDES) on: `"tls-only"` (legs
    /// whose signalling is TLS, so the keys in their SDP are not in clear), `"any"`, `"off"`.
    #[serde(default = "default_srtp")]
    pub srtp: String,
    /// Once a side's port has latched its source, its socket is connected to it: relayed
    /// packets go out with `send` on the socket's own route (no route lookup per packet) and
    /// the kernel refuses other sources (they are then not counted as `spoofed`). Off: every
    /// packet is sent with `sendto`, and strict source is the session's alone.
    #[serde(default = "default_connect_latched")]
    pub connect_latched: bool,
    /// How the media threads do their IO: `"uring"` (the default: an io_uring per thread,
    /// one `io_uring_enter` per loop turn for all its packets; Linux only, epoll where it
    /// cannot be set up) or `"epoll"` (a system call per packet received and one per packet
    /// sent).
    #[serde(default = "default_io")]
    pub io: String,
    /// The media threads' real-time priority: 0 (the default) leaves them ordinary threads;
    /// 1-99 runs each under `SCHED_FIFO` at that priority, so a packet's arrival preempts
    /// ordinary work on its core (signalling, the store, other tenants): what FreeSWITCH's
    /// `-rp` and Asterisk's `-p` do for their media. With `threads = 0` there are then one
    /// fewer media threads than cores (at least one), so a core is left to the rest. Needs root or `CAP_SYS_NICE` (or an
    /// `RLIMIT_RTPRIO` that allows it); without it the threads stay ordinary and say so once.
    #[serde(default)]
    pub realtime_priority: u8,
}

fn default_io() -> String {
    "uring".to_owned()
}

fn default_connect_latched() -> bool {
    true
}

fn default_srtp() -> String {
    "tls-only".to_owned()
}

impl Media {
    /// The RTP port range (validated: even start, at least one pair).
    pub fn port_range(&self) -> RangeInclusive<u16> {
        parse_ports(&self.ports).unwrap_or(20_000..=29_999)
    }

    /// The address in SDP.
    pub fn advertised(&self) -> IpAddr {
        self.advertise.unwrap_or(self.address)
    }

    /// The IPv6 relay: the address bound and the one in SDP, when there is one.
    pub fn v6(&self) -> Option<(IpAddr, IpAddr)> {
        let bind = self.address_v6?;
        Some((bind, self.advertise_v6.unwrap_or(bind)))
    }

    /// Takes the IPv6 address of `sip` (the first of them that is IPv6 and not `[::]`) for
    /// `address_v6` when it is unset: a switch that takes SIP on IPv6 relays IPv6 media too.
    pub(super) fn default_v6(&mut self, sip: &[std::net::SocketAddr]) {
        if self.address_v6.is_none() {
            self.address_v6 = sip
                .iter()
                .map(|a| a.ip())
                .find(|ip| ip.is_ipv6() && !ip.is_unspecified());
        }
    }

    /// When calls are anchored (validated at load).
    pub fn anchor(&self) -> Policy {
        Policy::parse(&self.anchor).unwrap_or(Policy::Auto)
    }

    /// The media threads run on io_uring (`io = "uring"`).
    pub fn uring(&self) -> bool {
        self.io == "uring"
    }

    /// Which legs the switch ends SRTP on (validated at load).
    pub fn srtp(&self) -> SrtpMode {
        SrtpMode::parse(&self.srtp).unwrap_or_default()
    }

    /// Media threads to start (the ones sessions spill onto idle at no cost): `threads`, or
    /// one per core; real-time threads (`realtime_priority`) leave one core to everything
    /// else unless `threads` says otherwise.
    pub fn thread_count(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        if self.realtime_priority > 0 {
            cores.saturating_sub(1).max(1)
        } else {
            cores
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn hold_timeout(&self) -> Duration {
        Duration::from_secs(self.hold_timeout_secs)
    }
}

/// `"first-last"` with `first < last`, both above 1023.
fn parse_ports(s: &str) -> Option<RangeInclusive<u16>> {
    let (a, b) = s.split_once('-')?;
    let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a >= 1024 && a < b).then_some(a..=b)
}

/// Checks the `[media]` values that parse but cannot work.
pub(super) fn validate(m: &Media) -> Result<(), ConfigError> {
    let Some(range) = parse_ports(&m.ports) else {
        return Err(ConfigError::Value {
            key: "media.ports",
            message: format!(
                "{:?} is not \"first-last\" with 1024 <= first < last",
                m.ports
            ),
        });
    };
    // the first RTP port: the first even one
    let first = range.start() + range.start() % 2;
    if first >= *range.end() {
        return Err(ConfigError::Value {
            key: "media.ports",
            message: "must hold at least one even RTP port and the RTCP port after it".into(),
        });
    }
    if Policy::parse(&m.anchor).is_none() {
        return Err(ConfigError::Value {
            key: "media.anchor",
            message: "must be \"auto\", \"always\" or \"never\"".into(),
        });
    }
    if SrtpMode::parse(&m.srtp).is_none() {
        return Err(ConfigError::Value {
            key: "media.srtp",
            message: "must be \"tls-only\", \"any\" or \"off\"".into(),
        });
    }
    if !matches!(m.io.as_str(), "epoll" | "uring") {
        return Err(ConfigError::Value {
            key: "media.io",
            message: "must be \"epoll\" or \"uring\"".into(),
        });
    }
    if m.advertised().is_unspecified() {
        return Err(ConfigError::Value {
            key: "media.advertise",
            message: "must be set to a reachable address when media.address is unspecified".into(),
        });
    }
    if let Some((bind, advertised)) = m.v6() {
        if !bind.is_ipv6() || !advertised.is_ipv6() {
            return Err(ConfigError::Value {
                key: "media.address_v6",
                message: "media.address_v6 and media.advertise_v6 must be IPv6 addresses".into(),
            });
        }
        if advertised.is_unspecified() {
            return Err(ConfigError::Value {
                key: "media.advertise_v6",
                message: "must be set to a reachable address when media.address_v6 is [::]".into(),
            });
        }
    }
    if m.threads > 256 {
        return Err(ConfigError::Value {
            key: "media.threads",
            message: "must be 0 (one per core) to 256".into(),
        });
    }
    if m.realtime_priority > 99 {
        return Err(ConfigError::Value {
            key: "media.realtime_priority",
            message: "must be 0 (off) or a SCHED_FIFO priority from 1 to 99".into(),
        });
    }
    if m.timeout_secs == 0 || m.hold_timeout_secs < m.timeout_secs {
        return Err(ConfigError::Value {
            key: "media.timeout_secs",
            message: "must be at least 1, and hold_timeout_secs at least timeout_secs".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_defaults_load_and_impossible_media_settings_are_refused() {
        let mut c = Config::load(None).unwrap();
        assert_eq!(c.media.address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.media.advertised(), c.media.address);
        assert_eq!(c.media.port_range(), 20_000..=29_999);
        assert_eq!(c.media.anchor(), Policy::Auto);
        assert_eq!(c.media.timeout(), Duration::from_secs(60));
        assert_eq!(c.media.hold_timeout(), Duration::from_secs(3600));
        assert!(!c.media.record_announcement);
        assert_eq!(c.media.srtp(), SrtpMode::TlsOnly);
        c.media.srtp = "sometimes".into();
        assert!(c.validate().unwrap_err().to_string().contains("media.srtp"));
        c.media.srtp = "any".into();
        assert_eq!(c.media.srtp(), SrtpMode::Any);
        assert!(c.media.connect_latched);
        assert!(c.media.uring(), "io_uring by default");
        c.media.io = "kqueue".into();
        assert!(c.validate().unwrap_err().to_string().contains("media.io"));
        c.media.io = "epoll".into();
        assert!(!c.media.uring());
        c.validate().unwrap();
        assert_eq!(
            c.media.realtime_priority, 0,
            "ordinary media threads by default"
        );
        c.media.realtime_priority = 100;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("media.realtime_priority"), "{e}");
        c.media.realtime_priority = 99;
        c.validate().unwrap();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(
            c.media.thread_count(),
            (cores - 1).max(1),
            "a core left to the rest"
        );
        c.media.threads = 3;
        assert_eq!(c.media.thread_count(), 3, "unless threads says");
        c.media.threads = 0;
        c.media.realtime_priority = 0;
        assert_eq!(c.media.thread_count(), cores);

        for bad in ["20000", "30000-20000", "80-1000", "20001-20002", "a-b"] {
            c.media.ports = bad.into();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("media.ports"), "{bad}: {e}");
        }
        c.media.ports = "20001-20004".into();
        c.validate().unwrap();
        c.media.anchor = "sometimes".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("media.anchor"));
        c.media.anchor = "always".into();
        assert_eq!(c.media.anchor(), Policy::Always);
        c.media.address = "0.0.0.0".parse().unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("media.advertise"));
        c.media.advertise = Some("203.0.113.5".parse().unwrap());
        c.validate().unwrap();
        assert_eq!(
            c.media.advertised(),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(c.media.v6(), None, "no IPv6 SIP, no IPv6 media");
        c.media.address_v6 = Some("::".parse().unwrap());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("media.advertise_v6"));
        c.media.advertise_v6 = Some("2001:db8::5".parse().unwrap());
        c.validate().unwrap();
        c.media.advertise_v6 = Some("192.0.2.5".parse().unwrap());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("media.address_v6"));
        c.media.address_v6 = None;
        c.media.advertise_v6 = None;
        c.media.hold_timeout_secs = 10;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("media.timeout_secs"));
    }

    #[test]
    fn ipv6_media_follows_an_ipv6_sip_address_unless_set() {
        let dir = std::env::temp_dir().join(format!("sb-media-v6-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(Some(&file)).unwrap().media.v6()
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            load("[sip]\nlisten_also = [\"[::]:5060\", \"[::1]:5060\"]\n"),
            Some((ip("::1"), ip("::1")))
        );
        assert_eq!(load("[sip]\nlisten_also = [\"[::]:5060\"]\n"), None);
        assert_eq!(
            load(
                "[sip]\nlisten_also = [\"[::1]:5060\"]\n\
                 [media]\naddress_v6 = \"::\"\nadvertise_v6 = \"2001:db8::7\"\n"
            ),
            Some((ip("::"), ip("2001:db8::7")))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
