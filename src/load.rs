//! `switchboard load`: replays a scenario file against a SIP server and reports.
//!
//! Exit status: 0 when every threshold held, 1 when one did not (or the run could not
//! reach the target), 2 for a bad scenario file or bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use switchboard_load::{self as load, LoadError, LoadOptions};

#[derive(Args)]
pub struct LoadArgs {
    /// The scenario file (scenarios/*.toml).
    scenario: PathBuf,
    /// The server, host:port (default: the scenario's `target`).
    #[arg(long)]
    target: Option<String>,
    /// Write the JSON report here, and the HTML report beside it (.html).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Sample the server's CPU and memory for CPU per operation: its pid, or several
    /// (comma-separated or repeated) for a server that forks workers; they are summed.
    #[arg(long = "server-pid", value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Sockets and tasks to spread the simulated devices over (default: one per core; one,
    /// on one thread, for registrations and messages up to 10,000 requests a second).
    #[arg(long)]
    shards: Option<usize>,
    /// Seconds to wait at the end for answers, hang-ups and message deliveries.
    #[arg(long, default_value_t = 10)]
    drain_secs: u64,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn load(a: LoadArgs) -> ExitCode {
    let opts = LoadOptions {
        scenario: a.scenario,
        target: a.target,
        report: a.report,
        server_pids: a.server_pid,
        shards: a.shards,
        drain: Duration::from_secs(a.drain_secs),
        progress: !a.quiet,
    };
    match load::run(opts) {
        Ok(report) => {
            println!("{}", report.summary_table());
            if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e @ LoadError::Scenario(_)) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}
