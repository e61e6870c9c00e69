//! The store actor: the single writer of the durable store while the switch runs, on its own
//! thread (a `SyncArbiter`), so no signalling actor ever waits on disk.

use std::sync::Arc;

use actix::{Actor, Handler, Message, SyncContext};
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::NumberingPlan;
use tracing::{info, warn};

use crate::accounts::{self, AccountSummary};
use crate::metrics::Metrics;
use crate::shared::unix_now;
use crate::store::Store;

pub struct StoreActor {
    store: Store,
    metrics: Arc<Metrics>,
    plan: NumberingPlan,
    realm: String,
}

impl StoreActor {
    pub fn new(store: Store, metrics: Arc<Metrics>, plan: NumberingPlan, realm: String) -> Self {
        StoreActor {
            store,
            metrics,
            plan,
            realm,
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

/// Account administration requested over the control socket of a running switch.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<AdminReply, String>")]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Admin {
    AccountAdd { number: String, password: String },
    AccountPasswd { number: String, password: String },
    AccountRemove { number: String },
    AccountList,
}

/// What an administrative operation produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AdminReply {
    Account { number: String },
    Accounts { accounts: Vec<AccountSummary> },
}

impl Handler<Admin> for StoreActor {
    type Result = Result<AdminReply, String>;
    fn handle(&mut self, m: Admin, _: &mut SyncContext<Self>) -> Self::Result {
        let (s, p, r) = (&self.store, &self.plan, self.realm.as_str());
        let res = match m {
            Admin::AccountAdd { number, password } => {
                accounts::add(s, p, r, &number, &password, unix_now()).map(|a| a.to_string())
            }
            Admin::AccountPasswd { number, password } => {
                accounts::passwd(s, p, r, &number, &password).map(|a| a.to_string())
            }
            Admin::AccountRemove { number } => {
                accounts::remove(s, p, &number).map(|a| a.to_string())
            }
            Admin::AccountList => {
                return accounts::list(s)
                    .map(|accounts| AdminReply::Accounts { accounts })
                    .map_err(|e| e.to_string())
            }
        };
        let res = res
            .map(|number| AdminReply::Account { number })
            .map_err(|e| e.to_string());
        // administrative changes are rare and must survive a crash: write them through
        if res.is_ok() {
            self.store.flush().map_err(|e| e.to_string())?;
        }
        res
    }
}
