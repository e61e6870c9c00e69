//! The administration commands: accounts (and importing them), forwarding, the "record my
//! calls" setting, voicemail and bans. Each works on the data directory of a stopped switch or
//! through the control socket of a running one (`administer`); bans only on a running one.

use std::io::Read;

use switchboard_actors::api::voicemail::{MailboxView, SettingsView};
use switchboard_actors::control;
use switchboard_actors::mailbox::{self, MailboxLimits, Mailboxes};
use switchboard_actors::store::actor as store_actor;
use switchboard_actors::store::admin::accounts::AccountSummary;
use switchboard_actors::store::admin::forwarding::ForwardingSummary;
use switchboard_actors::store::api::{Admin, AdminReply};
use switchboard_actors::store::{Store, StoreError};

use crate::cli::{
    AccountCommand, BansCommand, Common, ForwardCommand, OnOff, PasswordArgs, RecordCommand,
    VoicemailCommand,
};
use crate::{account_import, load_config};

pub(crate) fn account(cmd: AccountCommand) -> Result<(), String> {
    let (common, admin) = match cmd {
        AccountCommand::Add(p) => {
            let password = password(&p)?;
            (
                p.common,
                Admin::AccountAdd {
                    number: p.number,
                    password,
                },
            )
        }
        AccountCommand::Passwd(p) => {
            let password = password(&p)?;
            (
                p.common,
                Admin::AccountPasswd {
                    number: p.number,
                    password,
                },
            )
        }
        AccountCommand::Remove { number, common } => (common, Admin::AccountRemove { number }),
        AccountCommand::List { json, common } => {
            let reply = administer(&common, Admin::AccountList)?;
            if let AdminReply::Accounts { accounts } = reply {
                print_accounts(&accounts, json);
            }
            return Ok(());
        }
        AccountCommand::Import { file, common } => return import(&file, &common),
    };
    let verb = match &admin {
        Admin::AccountAdd { .. } => "added",
        Admin::AccountPasswd { .. } => "password changed for",
        Admin::AccountRemove { .. } => "removed",
        _ => "",
    };
    if let AdminReply::Account { number } = administer(&common, admin)? {
        println!("{verb} {number}");
    }
    Ok(())
}

fn import(file: &std::path::Path, common: &Common) -> Result<(), String> {
    let config = load_config(common)?;
    let store = Store::open(
        &config.data.dir,
        config.store.flush_every_ms,
        config.store.cache_capacity_mb,
    )
    .map_err(|e| match e {
        StoreError::Locked { .. } => format!("{e}: stop the switch to import"),
        e => e.to_string(),
    })?;
    let plan = config.numbering_plan().map_err(|e| e.to_string())?;
    let realm = store.realm(&config.sip.domain).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let done = if file.as_os_str() == "-" {
        account_import::import(&store, &plan, &realm, std::io::stdin().lock(), now)?
    } else {
        let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
        account_import::import(&store, &plan, &realm, std::io::BufReader::new(f), now)?
    };
    println!("added {} (already there: {})", done.added, done.existing);
    Ok(())
}

pub(crate) fn forward(cmd: ForwardCommand) -> Result<(), String> {
    let (common, admin, json) = match cmd {
        ForwardCommand::Show {
            number,
            json,
            common,
        } => (common, Admin::ForwardShow { number }, json),
        ForwardCommand::Set {
            number,
            kind,
            target,
            ring_secs,
            common,
        } => (
            common,
            Admin::ForwardSet {
                number,
                kind,
                target,
                ring_secs,
            },
            false,
        ),
        ForwardCommand::Clear {
            number,
            kind,
            common,
        } => (common, Admin::ForwardClear { number, kind }, false),
    };
    if let AdminReply::Forwarding { number, forwarding } = administer(&common, admin)? {
        print_forwarding(&number, &forwarding, json);
    }
    Ok(())
}

pub(crate) fn record(cmd: RecordCommand) -> Result<(), String> {
    let (common, admin, json) = match cmd {
        RecordCommand::Show {
            number,
            json,
            common,
        } => (common, Admin::RecordShow { number }, json),
        RecordCommand::Set {
            number,
            state,
            common,
        } => {
            let enabled = matches!(state, OnOff::On);
            (common, Admin::RecordSet { number, enabled }, false)
        }
    };
    if let AdminReply::Recording { number, enabled } = administer(&common, admin)? {
        if json {
            let v = serde_json::json!({ "number": number, "enabled": enabled });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        } else {
            println!("{number}\trecording {}", if enabled { "on" } else { "off" });
        }
    }
    Ok(())
}

pub(crate) fn voicemail(cmd: VoicemailCommand) -> Result<(), String> {
    let (common, admin, json) = match cmd {
        VoicemailCommand::List {
            number,
            json,
            common,
        } => (common, Admin::VoicemailList { number }, json),
        VoicemailCommand::Set {
            number,
            state,
            common,
        } => {
            let enabled = matches!(state, OnOff::On);
            (common, Admin::VoicemailSet { number, enabled }, false)
        }
        VoicemailCommand::Pin {
            number,
            pin,
            common,
        } => (common, Admin::VoicemailPin { number, pin }, false),
    };
    match administer(&common, admin)? {
        AdminReply::VoicemailSettings { settings } => println!("{}", settings_line(&settings)),
        AdminReply::Voicemail { mailbox, settings } if json => {
            let v = serde_json::json!({ "mailbox": mailbox, "settings": settings });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        AdminReply::Voicemail { mailbox, settings } => print_mailbox(&mailbox, &settings),
        _ => return Err("unexpected answer".into()),
    }
    Ok(())
}

fn settings_line(s: &SettingsView) -> String {
    let on = if s.enabled { "on" } else { "off" };
    let pin = match (s.pin_set, s.pin_locked) {
        (false, _) => "no pin",
        (true, false) => "pin set",
        (true, true) => "pin locked (too many wrong pins)",
    };
    format!("{}\tvoicemail {on}\t{pin}", s.number)
}

fn print_mailbox(m: &MailboxView, s: &SettingsView) {
    println!("{}\t{} new, {} saved", settings_line(s), m.new, m.saved);
    for msg in &m.messages {
        println!(
            "{}\t{}\t{}\t{:.1} s\t{}",
            msg.id,
            msg.received,
            msg.caller.display,
            msg.duration_ms as f64 / 1000.0,
            msg.folder
        );
    }
}

/// `switchboard bans ...`: through the running switch's control socket (bans live in it).
pub(crate) fn bans(cmd: BansCommand) -> Result<(), String> {
    let (common, admin, json) = match cmd {
        BansCommand::List { json, common } => (common, Admin::BansList, json),
        BansCommand::Lift { ip, common } => (common, Admin::BanLift { ip }, false),
    };
    let config = load_config(&common)?;
    let path = control::socket_path(&config.data.dir);
    match control::request(&path, &admin)? {
        AdminReply::Bans { bans } if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&bans).unwrap_or_default()
            );
        }
        AdminReply::Bans { bans } => {
            for b in bans {
                println!(
                    "{}\t{}\tcount={}\twindow={}s\tleft={}s",
                    b.ip, b.reason, b.count, b.window_secs, b.remaining_secs
                );
            }
        }
        AdminReply::Lifted { ban } => println!("lifted {} ({})", ban.ip, ban.reason),
        _ => return Err("unexpected answer".into()),
    }
    Ok(())
}

fn print_forwarding(number: &str, f: &ForwardingSummary, json: bool) {
    if json {
        let v = serde_json::json!({ "number": number, "forwarding": f });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("{number}");
    println!("always\t{}", show(&f.always));
    println!("busy\t{}", show(&f.busy));
    match f.ring_secs {
        Some(s) => println!("no-answer\t{} after {s} s", show(&f.no_answer)),
        None => println!("no-answer\t-"),
    }
    println!("unreachable\t{}", show(&f.unreachable));
}

fn password(p: &PasswordArgs) -> Result<String, String> {
    if p.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading password: {e}"))?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_owned());
    }
    p.password
        .clone()
        .ok_or_else(|| "a password is required".to_owned())
}

/// Runs an administrative operation on the data directory, or through the running switch's
/// control socket when the switch holds the directory.
fn administer(common: &Common, admin: Admin) -> Result<AdminReply, String> {
    let config = load_config(common)?;
    let dir = &config.data.dir;
    match Store::open(dir, config.store.flush_every_ms, 8) {
        Ok(store) => {
            let plan = config.numbering_plan().map_err(|e| e.to_string())?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if matches!(
                admin,
                Admin::VoicemailList { .. }
                    | Admin::VoicemailSet { .. }
                    | Admin::VoicemailPin { .. }
            ) {
                // the mailbox store, which first repairs what a crash left (as a start does)
                let (mailboxes, _) = Mailboxes::open(
                    store,
                    mailbox::dir_in(dir),
                    MailboxLimits::of(&config.voicemail),
                    &config.sip.domain,
                )
                .map_err(|e| e.to_string())?;
                return mailboxes.administer(&plan, admin, now);
            }
            let realm = store.realm(&config.sip.domain).map_err(|e| e.to_string())?;
            store_actor::administer(&store, &plan, &realm, admin, now)
        }
        Err(StoreError::Locked { .. }) => control::request(&control::socket_path(dir), &admin),
        Err(e) => Err(e.to_string()),
    }
}

fn print_accounts(accounts: &[AccountSummary], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(accounts).unwrap_or_default()
        );
        return;
    }
    for a in accounts {
        // a dynamic account has no password of its own yet (its owner signs in by SMS)
        let names = if a.dynamic {
            "(dynamic)".to_owned()
        } else {
            a.usernames.join(",")
        };
        println!("{}\t{}", a.number, names);
    }
}
