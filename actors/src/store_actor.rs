//! The store actor: the single writer of the durable store while the switch runs, on its own
//! thread (a `SyncArbiter`), so no signalling actor ever waits on disk.

use std::sync::Arc;

use actix::{Actor, Handler, Message, SyncContext};
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::{Aor, Feature, NumberingPlan};
use tracing::{info, warn};

use crate::accounts::{self, AccountSummary};
use crate::forwarding;
use crate::metrics::Metrics;
use crate::shared::unix_now;
use crate::store::Store;

pub struct StoreActor {
    store: Store,
    metrics: Arc<Metrics>,
    plan: NumberingPlan,
    realm: String,
    otp_digits: u8,
    reset_valid_secs: u64,
}

impl StoreActor {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        plan: NumberingPlan,
        realm: String,
        accounts: &crate::config::Accounts,
    ) -> Self {
        StoreActor {
            store,
            metrics,
            plan,
            realm,
            otp_digits: accounts.otp_digits,
            reset_valid_secs: accounts.reset_valid_secs,
        }
    }
}

impl Actor for StoreActor {
    type Context = SyncContext<Self>;
}

/// Removes expired bindings.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Sweep;

impl Handler<Sweep> for StoreActor {
    type Result = ();
    fn handle(&mut self, _: Sweep, _: &mut SyncContext<Self>) {
        match self.store.sweep_expired(unix_now()) {
            Ok(n) => {
                self.metrics.registrations.dec_by(n as i64);
            }
            Err(e) => warn!(error = %e, "binding sweep failed"),
        }
    }
}

/// Writes everything to disk.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct Flush;

impl Handler<Flush> for StoreActor {
    type Result = Result<usize, String>;
    fn handle(&mut self, _: Flush, _: &mut SyncContext<Self>) -> Self::Result {
        let r = self.store.flush().map_err(|e| e.to_string());
        if let Ok(n) = &r {
            info!(bytes = n, "store flushed");
        }
        r
    }
}

/// A forwarding feature code dialed by a subscriber; flushed before it is confirmed.
/// Refusals are the status and reason phrase the phone is answered with.
#[derive(Message)]
#[rtype(result = "Result<forwarding::ForwardingSummary, (u16, &'static str)>")]
pub struct ApplyFeature {
    pub aor: Aor,
    pub feature: Feature,
}

impl Handler<ApplyFeature> for StoreActor {
    type Result = Result<forwarding::ForwardingSummary, (u16, &'static str)>;
    fn handle(&mut self, m: ApplyFeature, _: &mut SyncContext<Self>) -> Self::Result {
        use forwarding::ForwardingError as E;
        let r =
            forwarding::apply_feature(&self.store, &m.aor, &m.feature).map_err(|e| match e {
                E::ToSelf => (403, "Cannot Forward To Yourself"),
                E::Target(_) => (484, "Forwarding Target Not Allowed"),
                E::Account(accounts::AccountError::Missing(_)) => (403, "Not A Subscriber"),
                E::NotForwarding => (404, "Not Found"),
                other => {
                    warn!(error = %other, "feature code not applied");
                    (500, "Server Internal Error")
                }
            })?;
        self.store.flush().map_err(|e| {
            warn!(error = %e, "flush after a feature code failed");
            (500, "Server Internal Error")
        })?;
        Ok(r)
    }
}

/// Account administration requested over the control socket of a running switch.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<AdminReply, String>")]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Admin {
    AccountAdd {
        number: String,
        password: String,
    },
    AccountPasswd {
        number: String,
        password: String,
    },
    AccountRemove {
        number: String,
    },
    AccountList,
    ForwardShow {
        number: String,
    },
    ForwardSet {
        number: String,
        kind: forwarding::Kind,
        target: String,
        ring_secs: Option<u16>,
    },
    ForwardClear {
        number: String,
        kind: forwarding::Kind,
    },
    /// Replaces every forwarding setting (HTTP `PUT`).
    ForwardReplace {
        number: String,
        forwarding: forwarding::ForwardingSummary,
    },
    /// Reloads the routing plugins (handled by the control socket, not the store).
    PluginsReload,
}

/// What an administrative operation produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AdminReply {
    Account {
        number: String,
    },
    Accounts {
        accounts: Vec<AccountSummary>,
    },
    Forwarding {
        number: String,
        forwarding: forwarding::ForwardingSummary,
    },
    Plugins {
        report: crate::plugin::PluginReport,
    },
}

/// Carries out an administrative operation on the store: the one implementation behind the
/// CLI on a stopped switch and the control socket of a running one. Changes are flushed
/// before it returns: administrative changes are rare and must survive a crash.
pub fn administer(
    store: &Store,
    plan: &NumberingPlan,
    realm: &str,
    m: Admin,
    now: u64,
) -> Result<AdminReply, String> {
    let account = |r: Result<Aor, accounts::AccountError>| {
        r.map(|a| AdminReply::Account {
            number: a.to_string(),
        })
        .map_err(|e| e.to_string())
    };
    let fwd = |r: Result<(Aor, forwarding::ForwardingSummary), forwarding::ForwardingError>| {
        r.map(|(a, f)| AdminReply::Forwarding {
            number: a.to_string(),
            forwarding: f,
        })
        .map_err(|e| e.to_string())
    };
    let writes = !matches!(
        m,
        Admin::AccountList | Admin::ForwardShow { .. } | Admin::PluginsReload
    );
    let res = match m {
        Admin::AccountAdd { number, password } => {
            account(accounts::add(store, plan, realm, &number, &password, now))
        }
        Admin::AccountPasswd { number, password } => {
            account(accounts::passwd(store, plan, realm, &number, &password))
        }
        Admin::AccountRemove { number } => account(accounts::remove(store, plan, &number)),
        Admin::AccountList => accounts::list(store)
            .map(|accounts| AdminReply::Accounts { accounts })
            .map_err(|e| e.to_string()),
        Admin::ForwardShow { number } => fwd(forwarding::show(store, plan, &number)),
        Admin::ForwardSet {
            number,
            kind,
            target,
            ring_secs,
        } => fwd(forwarding::set(
            store, plan, &number, kind, &target, ring_secs,
        )),
        Admin::ForwardClear { number, kind } => fwd(forwarding::clear(store, plan, &number, kind)),
        Admin::ForwardReplace { number, forwarding } => {
            fwd(forwarding::replace(store, plan, &number, &forwarding))
        }
        Admin::PluginsReload => Err("plugins are reloaded by a running switch".to_owned()),
    }?;
    if writes {
        store.flush().map_err(|e| e.to_string())?;
    }
    Ok(res)
}

impl Handler<Admin> for StoreActor {
    type Result = Result<AdminReply, String>;
    fn handle(&mut self, m: Admin, _: &mut SyncContext<Self>) -> Self::Result {
        administer(&self.store, &self.plan, &self.realm, m, unix_now())
    }
}

/// Issues a one-time password for `aor` and returns it, once it is on disk: for `SignIn`
/// only to a dynamic account nobody claimed yet, for `Reset` to any account. `None`: no
/// password was issued (no such account, or its owner set a password of their own).
#[derive(Message)]
#[rtype(result = "Option<String>")]
pub struct IssueOtp {
    pub aor: Aor,
    pub purpose: switchboard_engine::store::OtpPurpose,
}

impl Handler<IssueOtp> for StoreActor {
    type Result = Option<String>;
    fn handle(&mut self, m: IssueOtp, _: &mut SyncContext<Self>) -> Self::Result {
        let r = accounts::issue_otp(
            &self.store,
            &self.plan,
            &self.realm,
            &m.aor,
            m.purpose,
            self.otp_digits,
            self.reset_valid_secs,
            unix_now(),
        );
        match r {
            Ok(code) => code,
            Err(e) => {
                warn!(error = %e, "one-time password not issued");
                None
            }
        }
    }
}
