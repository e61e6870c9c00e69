//! What the store actor takes: flushes and sweeps, account and forwarding administration
//! (the CLI through the control socket, the HTTP API), conference settings (HTTP), feature
//! codes and one-time passwords, each answered once the change is on disk.

use actix::{Message, Recipient};
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::{Aor, Feature};
use switchboard_engine::store::ConferenceRecord;

use super::admin::accounts::AccountSummary;
use super::admin::conferences::ConferenceAdminError;
use super::admin::forwarding;

/// Removes expired bindings.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Sweep;

/// Writes everything to disk.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct Flush;

/// A forwarding feature code dialed by a subscriber; flushed before it is confirmed.
/// Refusals are the status and reason phrase the phone is answered with.
#[derive(Message)]
#[rtype(result = "Result<forwarding::ForwardingSummary, (u16, &'static str)>")]
pub struct ApplyFeature {
    pub aor: Aor,
    pub feature: Feature,
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
    /// Whether a subscriber's calls are recorded.
    RecordShow {
        number: String,
    },
    /// Turns recording of a subscriber's calls on or off.
    RecordSet {
        number: String,
        enabled: bool,
    },
    /// Reloads the routing plugins (handled by the control socket, not the store).
    PluginsReload,
    /// A subscriber's mailbox: its settings and messages (these three are carried out by the
    /// mailbox store, `Mailboxes::administer`, not the store actor).
    VoicemailList {
        number: String,
    },
    /// Turns voicemail on or off for a subscriber.
    VoicemailSet {
        number: String,
        enabled: bool,
    },
    /// Sets a subscriber's mailbox PIN.
    VoicemailPin {
        number: String,
        pin: String,
    },
    /// The sources banned now (these two are carried out by the running switch's
    /// `Security`, through the control socket).
    BansList,
    /// Lifts the ban of a source address.
    BanLift {
        ip: String,
    },
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
    /// A subscriber's "record my calls" setting.
    Recording {
        number: String,
        enabled: bool,
    },
    Plugins {
        report: crate::plugin::PluginReport,
    },
    /// A mailbox's settings after a change.
    VoicemailSettings {
        settings: super::admin::voicemail::SettingsView,
    },
    /// A mailbox: its messages and settings.
    Voicemail {
        mailbox: super::admin::voicemail::MailboxView,
        settings: super::admin::voicemail::SettingsView,
    },
    /// The sources banned now.
    Bans {
        bans: Vec<crate::security::BanInfo>,
    },
    /// A ban just lifted.
    Lifted {
        ban: crate::security::BanInfo,
    },
}

/// A change to a conference's stored settings (HTTP), answered once it is on disk. The
/// answer: `Create` and `Replace`, whether the conference is new; `Delete`, whether it was
/// stored.
#[derive(Message)]
#[rtype(result = "Result<bool, ConferenceAdminError>")]
pub enum ConferenceAdmin {
    /// Makes it; refused (`Exists`) if it is stored already.
    Create {
        name: String,
        record: ConferenceRecord,
    },
    /// Makes it or replaces its settings.
    Replace {
        name: String,
        record: ConferenceRecord,
    },
    /// Forgets its settings.
    Delete { name: String },
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

/// Where store work goes: the recipients of the store actor's messages.
#[derive(Clone)]
pub struct StoreHandle {
    pub admin: Recipient<Admin>,
    pub feature: Recipient<ApplyFeature>,
    pub otp: Recipient<IssueOtp>,
    pub conferences: Recipient<ConferenceAdmin>,
    pub flush: Recipient<Flush>,
    pub sweep: Recipient<Sweep>,
}
