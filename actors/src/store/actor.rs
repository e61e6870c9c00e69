//! The store actor: the single writer of the durable store while the switch runs, on its own
//! thread (a `SyncArbiter`), so no signalling actor ever waits on disk.

use std::sync::Arc;

use actix::{Actor, Addr, Handler, SyncContext};
use switchboard_engine::numbering::{Aor, NumberingPlan};
use tracing::{info, warn};

use super::admin::accounts;
use super::admin::conferences::{self, ConferenceAdminError};
use super::admin::forwarding;
use super::admin::recording;
use super::api::{
    Admin, AdminReply, ApplyFeature, ConferenceAdmin, Flush, IssueOtp, StoreHandle, Sweep,
};
use super::Store;
use crate::clock::unix_now;
use crate::metrics::Metrics;

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

impl StoreHandle {
    /// The handle of a running store actor.
    pub fn of(addr: Addr<StoreActor>) -> StoreHandle {
        StoreHandle {
            admin: addr.clone().recipient(),
            feature: addr.clone().recipient(),
            otp: addr.clone().recipient(),
            conferences: addr.clone().recipient(),
            flush: addr.clone().recipient(),
            sweep: addr.recipient(),
        }
    }
}

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
    let rec = |r: Result<(Aor, bool), accounts::AccountError>| {
        r.map(|(a, enabled)| AdminReply::Recording {
            number: a.to_string(),
            enabled,
        })
        .map_err(|e| e.to_string())
    };
    let writes = !matches!(
        m,
        Admin::AccountList
            | Admin::ForwardShow { .. }
            | Admin::RecordShow { .. }
            | Admin::PluginsReload
            | Admin::BansList
            | Admin::BanLift { .. }
            | Admin::VoicemailList { .. }
            | Admin::VoicemailSet { .. }
            | Admin::VoicemailPin { .. }
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
        Admin::RecordShow { number } => rec(recording::show(store, plan, &number)),
        Admin::RecordSet { number, enabled } => {
            rec(recording::set(store, plan, &number, enabled, now))
        }
        Admin::PluginsReload => Err("plugins are reloaded by a running switch".to_owned()),
        Admin::BansList | Admin::BanLift { .. } => {
            Err("bans are kept by a running switch (none is running)".to_owned())
        }
        Admin::VoicemailList { .. } | Admin::VoicemailSet { .. } | Admin::VoicemailPin { .. } => {
            Err("voicemail is administered by the mailbox store".to_owned())
        }
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

impl Handler<ConferenceAdmin> for StoreActor {
    type Result = Result<bool, ConferenceAdminError>;
    fn handle(&mut self, m: ConferenceAdmin, _: &mut SyncContext<Self>) -> Self::Result {
        let r = match &m {
            ConferenceAdmin::Create { name, record } => {
                conferences::create(&self.store, name, record).map(|()| true)
            }
            ConferenceAdmin::Replace { name, record } => {
                conferences::replace(&self.store, name, record)
            }
            ConferenceAdmin::Delete { name } => conferences::delete(&self.store, name),
        };
        if let Err(ConferenceAdminError::Store(e)) = &r {
            warn!(error = %e, "conference settings not written");
        }
        r
    }
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
