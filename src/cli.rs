//! The command line: the commands, their arguments and their help text (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use switchboard_actors::store::admin::forwarding::Kind;

use crate::{load, media_relay};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: a telecom switch (SIP registrar and call switch)"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum BansCommand {
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
pub(crate) enum MediaCommand {
    /// Run the media plane alone (no SIP, no store) relaying N G.711 calls on a fixed port
    /// layout, to measure it against other relays with an RTP generator; until SIGTERM.
    Relay(media_relay::RelayArgs),
}

#[derive(Subcommand)]
pub(crate) enum PluginCommand {
    /// Compile a plugin and run its tests table, as a reload would (the numbering plan comes
    /// from the configuration).
    Check {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RouterArg {
    Lua,
    Plain,
}

#[derive(Subcommand)]
pub(crate) enum ForwardCommand {
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
pub(crate) enum RecordCommand {
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
pub(crate) enum VoicemailCommand {
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
pub(crate) struct Common {
    /// Configuration file (TOML) over the embedded defaults.
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (sled store).
    #[arg(long, global = true)]
    pub(crate) data: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// SIP address for UDP and TCP.
    #[arg(long)]
    pub(crate) sip: Option<SocketAddr>,
    /// HTTP address for /healthz and /metrics.
    #[arg(long)]
    pub(crate) http: Option<SocketAddr>,
    /// SIP domain served (and realm of a new data directory).
    #[arg(long)]
    pub(crate) domain: Option<String>,
    /// Digest authentication; `off` is for lab benchmarks only.
    #[arg(long, value_enum)]
    pub(crate) auth: Option<OnOff>,
    /// Signalling workers (default: one per CPU core).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Directory of the routing plugins (default ./plugins; none there: the embedded default).
    #[arg(long)]
    pub(crate) plugins: Option<PathBuf>,
    /// `plain`: the built-in routing without the Lua interpreter.
    #[arg(long, value_enum)]
    pub(crate) router: Option<RouterArg>,
}

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
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
pub(crate) struct PasswordArgs {
    /// The number (any common spelling) or name.
    pub(crate) number: String,
    /// The password (or use --password-stdin).
    #[arg(long, required_unless_present = "password_stdin")]
    pub(crate) password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub(crate) password_stdin: bool,
    #[command(flatten)]
    pub(crate) common: Common,
}
