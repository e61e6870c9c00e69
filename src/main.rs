//! The `switchboard` command: run the switch, administer accounts.
//!
//! ```text
//! switchboard serve [--config FILE] [--sip ADDR] [--http ADDR] [--data DIR] [--domain NAME]
//!                   [--auth on|off] [--workers N] [--plugins DIR] [--router lua|plain]
//! switchboard account add <number> --password <pw> [--data DIR] [--config FILE]
//! switchboard account passwd <number> --password <pw>
//! switchboard account remove <number>
//! switchboard account list [--json]
//! switchboard account import FILE          number,password lines (- for stdin), stopped switch
//! switchboard forward show <number> [--json]
//! switchboard forward set <number> always|busy|no-answer|unreachable <target> [--ring-secs N]
//! switchboard forward clear <number> always|busy|no-answer|unreachable|all
//! switchboard record show <number> [--json]
//! switchboard record set <number> on|off   record the subscriber's calls (from the next call)
//! switchboard voicemail list <number> [--json]   the mailbox's messages and settings
//! switchboard voicemail set <number> on|off      calls the subscriber misses go to voicemail
//! switchboard voicemail pin <number> <pin>       the PIN for listening from other phones
//! switchboard reload [--data DIR]          reload the routing plugins of a running switch
//! switchboard plugin check FILE [--config FILE]
//! switchboard load scenarios/<file>.toml [--target HOST:PORT] [--report FILE] [--server-pid PID]
//! switchboard media relay --calls N [--relay-base B] [--peer-base G] [--address IP] [--threads T]
//!                         [--transcode]   the media plane alone, for RTP relay benchmarks
//! ```
//! Flags override the config file, which overrides the embedded defaults. Account, forward,
//! record and voicemail commands work on a stopped switch (opening the data directory) and on a
//! running one (through its control socket). Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.

mod account_import;
mod load;
mod media_relay;

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use switchboard_actors::api::voicemail::{MailboxView, SettingsView};
use switchboard_actors::config::Config;
use switchboard_actors::control;
use switchboard_actors::mailbox::{self, MailboxLimits, Mailboxes};
use switchboard_actors::store::actor as store_actor;
use switchboard_actors::store::admin::accounts::AccountSummary;
use switchboard_actors::store::admin::forwarding::{ForwardingSummary, Kind};
use switchboard_actors::store::api::{Admin, AdminReply};
use switchboard_actors::store::{Store, StoreError};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: a telecom switch (SIP registrar and call switch)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switch.
    Serve(ServeArgs),
    /// Administer subscriber accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Show and change subscribers' call forwarding.
    #[command(subcommand)]
    Forward(ForwardCommand),
    /// Show and change whether subscribers' calls are recorded.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Show subscribers' mailboxes, turn voicemail on or off, set mailbox PINs.
    #[command(subcommand)]
    Voicemail(VoicemailCommand),
    /// Reload the routing plugins of the running switch (exit 1 if the new ones are refused).
    Reload {
        #[command(flatten)]
        common: Common,
    },
    /// Routing plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Replay a load-test scenario against a SIP server (this switch or any other).
    Load(load::LoadArgs),
    /// Operator's tools for the media plane.
    #[command(subcommand)]
    Media(MediaCommand),
    /// List and lift the flood bans of the running switch.
    #[command(subcommand)]
    Bans(BansCommand),
}

#[derive(Subcommand)]
enum BansCommand {
    /// The sources banned now, one a line: address, reason, count, window, seconds left.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Lift the ban of a source address (exit 1 if it is not banned).
    Lift {
        ip: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Run the media plane alone (no SIP, no store) relaying N G.711 calls on a fixed port
    /// layout, to measure it against other relays with an RTP generator; until SIGTERM.
    Relay(media_relay::RelayArgs),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Compile a plugin and run its tests table, as a reload would (the numbering plan comes
    /// from the configuration).
    Check {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RouterArg {
    Lua,
    Plain,
}

#[derive(Subcommand)]
enum ForwardCommand {
    /// Show a subscriber's forwarding.
    Show {
        number: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Forward calls: always, when busy, when not answered, or when no phone is registered.
    Set {
        number: String,
        /// always, busy, no-answer or unreachable.
        kind: Kind,
        /// Where calls go: a number in any spelling, a name or an address.
        target: String,
        /// Seconds the phones ring before no-answer forwarding (5 to 300, default 20).
        #[arg(long)]
        ring_secs: Option<u16>,
        #[command(flatten)]
        common: Common,
    },
    /// Stop forwarding of one kind, or all.
    Clear {
        number: String,
        /// always, busy, no-answer, unreachable or all.
        kind: Kind,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum RecordCommand {
    /// Show whether a subscriber's calls are recorded.
    Show {
        number: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Record a subscriber's calls (on) or stop (off), from the next call on.
    Set {
        number: String,
        #[arg(value_enum)]
        state: OnOff,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum VoicemailCommand {
    /// Show a subscriber's mailbox: settings, then one message a line (oldest first).
    List {
        number: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Send the calls a subscriber does not take to their mailbox (on, the default) or not.
    Set {
        number: String,
        #[arg(value_enum)]
        state: OnOff,
        #[command(flatten)]
        common: Common,
    },
    /// Set the PIN a subscriber keys to listen from another phone (4 to 16 digits).
    Pin {
        number: String,
        pin: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct Common {
    /// Configuration file (TOML) over the embedded defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (sled store).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// SIP address for UDP and TCP.
    #[arg(long)]
    sip: Option<SocketAddr>,
    /// HTTP address for /healthz and /metrics.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// SIP domain served (and realm of a new data directory).
    #[arg(long)]
    domain: Option<String>,
    /// Digest authentication; `off` is for lab benchmarks only.
    #[arg(long, value_enum)]
    auth: Option<OnOff>,
    /// Signalling workers (default: one per CPU core).
    #[arg(long)]
    workers: Option<usize>,
    /// Directory of the routing plugins (default ./plugins; none there: the embedded default).
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// `plain`: the built-in routing without the Lua interpreter.
    #[arg(long, value_enum)]
    router: Option<RouterArg>,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add a subscriber.
    Add(PasswordArgs),
    /// Change a subscriber's password.
    Passwd(PasswordArgs),
    /// Remove a subscriber and its registrations.
    Remove {
        number: String,
        #[command(flatten)]
        common: Common,
    },
    /// List subscribers.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Add many subscribers from `number,password` lines (`-`: standard input), flushed once;
    /// the switch must be stopped.
    Import {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct PasswordArgs {
    /// The number (any common spelling) or name.
    number: String,
    /// The password (or use --password-stdin).
    #[arg(long, required_unless_present = "password_stdin")]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    common: Common,
}

/// mimalloc instead of the system allocator: the signalling path allocates per message
/// (parse index, builders), and glibc's malloc/free were a sixth of the CPU per REGISTER.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option number for the delay before freed memory goes back to the OS
/// (`mi_option_purge_delay` in mimalloc.h, v2).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Under load the switch frees and reallocates memory at a high rate. With transparent huge
/// pages, every page mimalloc returned to the OS and touched again is zeroed 2 MiB at a time
/// by the kernel (a fifth of the CPU at 8,000 stored messages/s), so the process takes no
/// huge pages, and mimalloc keeps freed memory a second before returning it. Measured with
/// the Kamailio harness's msg_offline test: 67 -> 56 us of CPU per message.
fn tune_memory() {
    // SAFETY: prctl with constant arguments only changes this process's THP policy;
    // mi_option_set writes one of mimalloc's option slots, which it reads when it purges.
    unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        mi_option_set(MI_OPTION_PURGE_DELAY, 1000);
    }
}

fn main() -> ExitCode {
    tune_memory();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // colours only for a person at a terminal: a log file or a journal gets plain lines, and
    // the per-call line costs no escape sequences to write
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Load(a) => return load::load(a),
        Command::Media(MediaCommand::Relay(a)) => return media_relay::relay(a),
        Command::Serve(a) => serve(a),
        Command::Account(a) => account(a),
        Command::Forward(f) => forward(f),
        Command::Record(r) => record(r),
        Command::Voicemail(v) => voicemail(v),
        Command::Reload { common } => reload(&common),
        Command::Bans(b) => bans(b),
        Command::Plugin(PluginCommand::Check { file, common }) => plugin_check(&file, &common),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(common: &Common) -> Result<Config, String> {
    let mut config = Config::load(common.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(d) = &common.data {
        config.data.dir = d.clone();
    }
    Ok(config)
}

fn serve(a: ServeArgs) -> Result<(), String> {
    let mut config = load_config(&a.common)?;
    if let Some(s) = a.sip {
        config.sip.listen = s;
    }
    if let Some(h) = a.http {
        config.http.listen = h;
    }
    if let Some(d) = a.domain {
        config.sip.domain = d;
    }
    if let Some(auth) = a.auth {
        config.auth.enabled = matches!(auth, OnOff::On);
    }
    if let Some(w) = a.workers {
        config.sip.workers = w;
    }
    if let Some(p) = a.plugins {
        config.plugins.dir = p;
    }
    if let Some(r) = a.router {
        config.plugins.router = match r {
            RouterArg::Lua => "lua".into(),
            RouterArg::Plain => "plain".into(),
        };
    }
    config.validate().map_err(|e| e.to_string())?;
    switchboard_actors::run(config).map_err(|e| e.to_string())
}

fn account(cmd: AccountCommand) -> Result<(), String> {
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

fn forward(cmd: ForwardCommand) -> Result<(), String> {
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

fn record(cmd: RecordCommand) -> Result<(), String> {
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

fn voicemail(cmd: VoicemailCommand) -> Result<(), String> {
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

fn reload(common: &Common) -> Result<(), String> {
    let config = load_config(common)?;
    let path = control::socket_path(&config.data.dir);
    match control::request(&path, &Admin::PluginsReload)? {
        AdminReply::Plugins { report } => {
            println!(
                "routing plugins version {} ({}): {} ({} tests passed)",
                report.version,
                report.digest,
                report.files.join(", "),
                report.tests
            );
            Ok(())
        }
        _ => Err("unexpected answer".into()),
    }
}

/// `switchboard bans ...`: through the running switch's control socket (bans live in it).
fn bans(cmd: BansCommand) -> Result<(), String> {
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

fn plugin_check(file: &std::path::Path, common: &Common) -> Result<(), String> {
    let config = load_config(common)?;
    let plan = config.numbering_plan().map_err(|e| e.to_string())?;
    let local = std::sync::Arc::new(switchboard_engine::proxy::Local::listening(
        &config.sip.addresses(),
        config.sip.domain.clone(),
    ));
    let report =
        switchboard_actors::plugin::check_file(file, &plan, &local, config.plugin_limits())
            .map_err(|e| e.to_string())?;
    println!(
        "{}: compiles, {} tests passed",
        report.files.join(", "),
        report.tests
    );
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
