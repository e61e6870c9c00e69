//! `[[trunks]]`: the SIP trunks calls leave through, built into the engine's `Trunks`.
//!
//! ```toml
//! [[trunks]]
//! name = "gw-a"              # letters, digits, - and _
//! group = "pstn"             # failover group (default: the name); members tried in file order
//! address = "127.0.0.1:5080" # host:port; names are resolved once, at start
//! transport = "udp"          # or "tcp"
//! username = "switchboard"   # digest credentials for the gateway's challenges (optional)
//! password = "secret"
//! strip_plus = true          # how E.164 numbers are written: without "+",
//! national = false           # or as national digits,
//! prefix = "9"               # behind these digits
//! no_response_secs = 5       # silence before the next trunk is tried
//! ```

use std::net::ToSocketAddrs;
use std::time::Duration;

use serde::Deserialize;
use switchboard_engine::flow::Transport;
use switchboard_engine::numbering::{is_trunk_name, NumberFormat};
use switchboard_engine::trunk::{Trunk, TrunkCredentials, Trunks, DEFAULT_NO_RESPONSE_SECS};

use super::error::ConfigError;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    pub name: String,
    #[serde(default)]
    pub group: Option<String>,
    pub address: String,
    #[serde(default = "udp")]
    pub transport: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub national: bool,
    #[serde(default)]
    pub strip_plus: bool,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub no_response_secs: Option<u64>,
}

impl std::fmt::Debug for TrunkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the password
        f.debug_struct("TrunkConfig")
            .field("name", &self.name)
            .field("group", &self.group)
            .field("address", &self.address)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

fn udp() -> String {
    "udp".into()
}

/// The configured trunks; names, addresses and credentials checked.
pub fn build(trunks: &[TrunkConfig]) -> Result<Trunks, ConfigError> {
    let mut list = Vec::with_capacity(trunks.len());
    for t in trunks {
        let bad = |key: &'static str, message: String| ConfigError::Value {
            key,
            message: format!("trunk {:?}: {message}", t.name),
        };
        if !is_trunk_name(&t.name) {
            return Err(bad(
                "trunks.name",
                "letters, digits, - and _ (at most 32)".into(),
            ));
        }
        if list.iter().any(|x: &Trunk| x.name == t.name) {
            return Err(bad("trunks.name", "configured twice".into()));
        }
        let group = t.group.clone().unwrap_or_else(|| t.name.clone());
        if !is_trunk_name(&group) {
            return Err(bad(
                "trunks.group",
                "letters, digits, - and _ (at most 32)".into(),
            ));
        }
        let transport = Transport::parse(&t.transport)
            .ok_or_else(|| bad("trunks.transport", "\"udp\" or \"tcp\"".into()))?;
        let remote = t
            .address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                bad(
                    "trunks.address",
                    format!("{:?} is not a reachable host:port", t.address),
                )
            })?;
        let credentials = match (&t.username, &t.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some(TrunkCredentials {
                username: u.clone(),
                password: p.clone(),
            }),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "trunks.username",
                    "username and password go together".into(),
                ))
            }
        };
        if !t.prefix.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("trunks.prefix", "digits only".into()));
        }
        let secs = t.no_response_secs.unwrap_or(DEFAULT_NO_RESPONSE_SECS);
        if !(1..=60).contains(&secs) {
            return Err(bad("trunks.no_response_secs", "1 to 60".into()));
        }
        list.push(Trunk {
            name: t.name.clone(),
            group,
            remote,
            transport,
            credentials,
            format: NumberFormat {
                national: t.national,
                strip_plus: t.strip_plus,
                prefix: t.prefix.clone(),
            },
            no_response: Duration::from_secs(secs),
        });
    }
    Ok(Trunks::new(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use switchboard_engine::trunk::TrunkId;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("sb-config-trunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(format!("t{}.toml", text.len()));
        std::fs::write(&f, text).unwrap();
        Config::load(Some(&f))
    }

    #[test]
    fn trunks_are_read_in_order_with_their_groups() {
        let c = load(
            "[[trunks]]\nname = \"gw-a\"\ngroup = \"pstn\"\naddress = \"127.0.0.1:5080\"\n\
             username = \"sb\"\npassword = \"pw\"\nstrip_plus = true\n\
             [[trunks]]\nname = \"gw-b\"\ngroup = \"pstn\"\naddress = \"localhost:5081\"\ntransport = \"tcp\"\n\
             no_response_secs = 2\n",
        )
        .unwrap();
        let t = c.trunks().unwrap();
        assert_eq!(t.group("pstn"), vec![TrunkId(0), TrunkId(1)]);
        let a = t.get(TrunkId(0));
        assert_eq!(a.credentials.as_ref().unwrap().username, "sb");
        assert!(a.format.strip_plus);
        let b = t.get(TrunkId(1));
        assert_eq!(b.transport, Transport::Tcp);
        assert_eq!(b.no_response, Duration::from_secs(2));
        assert!(b.remote.ip().is_loopback());
        assert!(
            !format!("{:?}", c.trunks).contains("pw"),
            "no password in Debug"
        );
    }

    #[test]
    fn bad_trunks_name_the_key() {
        for (text, key) in [
            ("[[trunks]]\nname = \"g w\"\naddress = \"127.0.0.1:5080\"\n", "trunks.name"),
            ("[[trunks]]\nname = \"gw\"\naddress = \"nowhere\"\n", "trunks.address"),
            (
                "[[trunks]]\nname = \"gw\"\naddress = \"127.0.0.1:5080\"\ntransport = \"sctp\"\n",
                "trunks.transport",
            ),
            (
                "[[trunks]]\nname = \"gw\"\naddress = \"127.0.0.1:5080\"\nusername = \"x\"\n",
                "trunks.username",
            ),
            (
                "[[trunks]]\nname = \"gw\"\naddress = \"127.0.0.1:5080\"\n[[trunks]]\nname = \"gw\"\naddress = \"127.0.0.1:5081\"\n",
                "trunks.name",
            ),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
