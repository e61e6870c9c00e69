//! The `switchboard` command: run the switch, administer accounts.
//!
//! ```text
//! switchboard serve [--config FILE] [--sip ADDR] [--http ADDR] [--data DIR] [--domain NAME]
//!                   [--auth on|off] [--workers N]
//! switchboard account add <number> --password <pw> [--data DIR] [--config FILE]
//! switchboard account passwd <number> --password <pw>
//! switchboard account remove <number>
//! switchboard account list [--json]
//! ```
//! Flags override the config file, which overrides the embedded defaults. Account commands
//! work on a stopped switch (opening the data directory) and on a running one (through its
//! control socket). Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use switchboard_actors::accounts::{self, AccountSummary};
use switchboard_actors::config::Config;
use switchboard_actors::control;
use switchboard_actors::store::{Store, StoreError};
use switchboard_actors::store_actor::{Admin, AdminReply};

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(a) => serve(a),
        Command::Account(a) => account(a),
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
    };
    let verb = match &admin {
        Admin::AccountAdd { .. } => "added",
        Admin::AccountPasswd { .. } => "password changed for",
        Admin::AccountRemove { .. } => "removed",
        Admin::AccountList => "",
    };
    if let AdminReply::Account { number } = administer(&common, admin)? {
        println!("{verb} {number}");
    }
    Ok(())
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

/// Runs an account operation on the data directory, or through the running switch's control
/// socket when the switch holds the directory.
fn administer(common: &Common, admin: Admin) -> Result<AdminReply, String> {
    let config = load_config(common)?;
    let dir = &config.data.dir;
    match Store::open(dir, config.store.flush_every_ms, 8) {
        Ok(store) => {
            let plan = config.numbering_plan().map_err(|e| e.to_string())?;
            let realm = store.realm(&config.sip.domain).map_err(|e| e.to_string())?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let reply = match admin {
                Admin::AccountAdd { number, password } => {
                    accounts::add(&store, &plan, &realm, &number, &password, now).map(|a| {
                        AdminReply::Account {
                            number: a.to_string(),
                        }
                    })
                }
                Admin::AccountPasswd { number, password } => {
                    accounts::passwd(&store, &plan, &realm, &number, &password).map(|a| {
                        AdminReply::Account {
                            number: a.to_string(),
                        }
                    })
                }
                Admin::AccountRemove { number } => {
                    accounts::remove(&store, &plan, &number).map(|a| AdminReply::Account {
                        number: a.to_string(),
                    })
                }
                Admin::AccountList => {
                    accounts::list(&store).map(|accounts| AdminReply::Accounts { accounts })
                }
            }
            .map_err(|e| e.to_string())?;
            store.flush().map_err(|e| e.to_string())?;
            Ok(reply)
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
        println!("{}\t{}", a.number, a.usernames.join(","));
    }
}
