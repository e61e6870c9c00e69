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
//! switchboard media relay --calls N [--relay-base B] [--peer-base G] [--address IP] [--threads T] [--realtime-priority P]
//!                         [--transcode]   the media plane alone, for RTP relay benchmarks
//! ```
//! Flags override the config file, which overrides the embedded defaults. Account, forward,
//! record and voicemail commands work on a stopped switch (opening the data directory) and on a
//! running one (through its control socket). Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.

mod account_import;
mod admin;
mod cli;
mod load;
mod media_relay;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use switchboard_actors::config::Config;
use switchboard_actors::control;
use switchboard_actors::store::api::{Admin, AdminReply};

use admin::{account, bans, forward, record, voicemail};
use cli::{Cli, Command, Common, MediaCommand, OnOff, PluginCommand, RouterArg, ServeArgs};

/// mimalloc instead of glibc's malloc: the signalling path allocates per message (parse
/// index, builders), and glibc's malloc/free were a sixth of the CPU per REGISTER. It is
/// linked as the process's `malloc` (the crate's `override` feature) and Rust allocates
/// through the system allocator, that is through it: the compiler then knows the allocation
/// functions by name and turns an allocation followed by zeroing into one `calloc`, which
/// leaves fresh pages untouched. Through `#[global_allocator] MiMalloc` it could not, and
/// sled's 40 unused metrics histograms (512 KiB of zeroes each, made when the store opens)
/// were written page by page: 20 MiB resident in an idle switch.
extern crate mimalloc;

/// mimalloc's option number for the delay before freed memory goes back to the OS
/// (`mi_option_purge_delay` in mimalloc.h, the same in v2 and v3).
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
        // unless MIMALLOC_PURGE_DELAY says otherwise (to measure what the delay keeps)
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            mi_option_set(MI_OPTION_PURGE_DELAY, 1000);
        }
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
