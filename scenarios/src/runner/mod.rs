//! The load runner behind `switchboard load scenarios/<file>.toml`: it replays a scenario
//! against a SIP server (this switch, or any other) with many simulated user agents in one
//! process on tokio. The I/O half of the crate: files, sockets, clocks and tasks are here,
//! the decisions in `crate::core`.
//!
//! - [`file::read`] reads the scenario (and its CSV) for the core's parser;
//! - the core's `Schedule` says what happens when (same file and seed: same actions);
//! - shards (one per core, or one for a light registrations-and-messages scenario; each a
//!   UDP socket and the devices whose Contact it is) carry the
//!   actions out with the core's agent flows, RTP legs where calls carry audio, and record
//!   every outcome;
//! - the scheduler keeps closed-loop behaviours at their concurrency, progress bars show
//!   each phase with live rate, success ratio and p99, Ctrl-C stops cleanly;
//! - at the end the shards' recorders are merged into the report (terminal table, JSON,
//!   HTML), with the server's CPU and memory when `--server-pid` was given.

mod conference;
pub mod file;
mod media;
mod people;
mod progress;
mod shard;

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket as StdUdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use conference::ProbeClocks;
use people::People;
use shard::{InFlight, Shard, ShardSetup, Work};
use tokio::sync::{mpsc, watch};

use crate::core::report::{self, ConferenceThreshold, Meta, Report, ServerSample, Threshold};
use crate::core::scenario::Scenario;
use crate::core::schedule::Schedule;
use crate::core::stats::Recorder;
use crate::core::{Action, Kind};

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub scenario: PathBuf,
    /// `host:port`; `None`: the scenario's `target`.
    pub target: Option<String>,
    /// Where the JSON report goes (the HTML report goes beside it, `.html`).
    pub report: Option<PathBuf>,
    /// The server's processes (one, or several for a server that forks workers): their CPU
    /// and memory are sampled and summed.
    pub server_pids: Vec<u32>,
    /// Shards (sockets and tasks); `None`: one for a scenario of registrations and messages
    /// up to `ONE_SHARD_RATE` requests a second, else one per core.
    pub shards: Option<usize>,
    /// How long to wait at the end for answers, hang-ups and message deliveries.
    pub drain: Duration,
    pub progress: bool,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Scenario(String),
    #[error("target: {0}")]
    Target(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads the scenario (a bad file is refused here, before anything is sent) and runs it.
pub fn run(opts: LoadOptions) -> Result<Report, LoadError> {
    let sc = file::read(&opts.scenario)
        .map_err(|e| LoadError::Scenario(format!("{}: {e}", opts.scenario.display())))?;
    let target_text = opts
        .target
        .clone()
        .or_else(|| sc.target.clone())
        .ok_or_else(|| LoadError::Target("no --target and no `target` in the scenario".into()))?;
    let target = target_text
        .to_socket_addrs()
        .map_err(|e| LoadError::Target(format!("{target_text}: {e}")))?
        .next()
        .ok_or_else(|| LoadError::Target(format!("{target_text}: no address")))?;
    let shards = opts.shards.unwrap_or_else(|| default_shards(&sc)).max(1);
    // one shard: the scheduler, the shard and its tasks share one thread (no wake-up of
    // another thread per batch of actions); more: a worker thread per shard
    let rt = if shards == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(shards)
            .enable_all()
            .build()?
    };
    rt.block_on(run_async(sc, target, target_text, shards, opts))
}

/// Up to this many requests a second (registrations and messages only) one shard carries a
/// scenario on one thread, for less CPU than two: no wake-up of another thread per batch of
/// actions (benches/README.md, "The runner against SIPp").
const ONE_SHARD_RATE: f64 = 10_000.0;

/// Shards when `--shards` is not given: one for a light signalling-only scenario, else one
/// per core.
fn default_shards(sc: &Scenario) -> usize {
    match sc.signalling_peak_rate() {
        Some(r) if r <= ONE_SHARD_RATE => 1,
        _ => std::thread::available_parallelism().map_or(2, |n| n.get()),
    }
}

/// A shard's socket with large buffers: a burst of answers to thousands of requests arrives
/// at once, and a datagram dropped here would show as the server's latency.
fn shard_socket(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::AsRawFd;
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let size: libc::c_int = 16 << 20;
    // SAFETY: a valid socket and an int option of the right size; past net.core.rmem_max
    // when allowed (root), else the kernel's cap through SO_RCVBUF
    let forced = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    } == 0;
    if !forced {
        let _ = s.set_recv_buffer_size(size as usize);
    }
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// The address this host reaches `target` from (for Via and Contact).
fn local_ip_for(target: SocketAddr) -> std::io::Result<std::net::IpAddr> {
    let any: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let probe = StdUdpSocket::bind(any)?;
    probe.connect(target)?;
    Ok(probe.local_addr()?.ip())
}

async fn run_async(
    sc: Scenario,
    target: SocketAddr,
    target_text: String,
    n: usize,
    opts: LoadOptions,
) -> Result<Report, LoadError> {
    let domain = sc
        .domain_for(Some(&target_text))
        .unwrap_or("localhost")
        .to_owned();
    let duration = sc.duration();
    let people = Arc::new(People::new(sc.population.clone()));
    let in_flight: Arc<InFlight> = Arc::new(std::array::from_fn(|_| AtomicU64::new(0)));
    let rooms = sc.behaviours.conferences.as_ref().map_or(0, |c| c.rooms);
    let probes = Arc::new(ProbeClocks::new(rooms));
    let outstanding = Arc::new(AtomicI64::new(0));
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let ip = local_ip_for(target)?;
    let seconds = duration.as_secs() as usize + 1;
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cpu_at_start = self_cpu_secs();

    // set-up (registrations before the first phase, room joins): not in the figures
    let epoch = Instant::now();
    let mut senders = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let socket = shard_socket(SocketAddr::new(ip, 0))?;
        let shard = Shard::new(ShardSetup {
            index: i,
            socket,
            target,
            domain: domain.clone(),
            people: people.clone(),
            epoch,
            // the actions come from the scenario's seed; Call-IDs, tags and branches must be
            // new in every run (a server still holds the last run's transactions)
            seed: rand::random::<u64>() ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            seconds,
            register_expires: sc.population.register_expires.as_secs() as u32,
            in_flight: in_flight.clone(),
            probes: probes.clone(),
            outstanding: outstanding.clone(),
            progress: progress_tx.clone(),
        })?;
        let (tx, rx) = mpsc::channel(65_536);
        senders.push(tx);
        tasks.push(tokio::spawn(shard.run(rx, opts.drain, stop_rx.clone())));
    }
    drop(progress_tx);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = stop_tx.send(true);
            }
        });
    }
    let sampler = (!opts.server_pids.is_empty())
        .then(|| tokio::spawn(sample_server(opts.server_pids.clone(), stop_rx.clone())));
    let mut schedule = Schedule::new(&sc);
    let shard_of = |user: u32| user as usize % n;
    // registrations first, at most `register_first_rate` a second (200 at a time), then
    // every room's members join
    let initial = schedule.initial();
    let batch_gap = Duration::from_secs_f64(200.0 / f64::from(sc.population.register_first_rate));
    for (k, a) in initial.into_iter().enumerate() {
        if *stop_rx.borrow() {
            break;
        }
        let s = shard_of(origin(&a));
        in_flight[Kind::ALL.iter().position(|x| *x == a.kind()).unwrap_or(0)]
            .fetch_add(1, Ordering::Relaxed);
        let _ = senders[s].send(Work::Setup(a)).await;
        if k % 200 == 199 {
            tokio::time::sleep(batch_gap).await;
        }
    }
    wait_idle(&in_flight, Duration::from_secs(30), &stop_rx).await;
    if let Some(r) = &sc.behaviours.room {
        for room in 0..r.rooms {
            for m in sc.room_members(room) {
                let _ = senders[shard_of(m)]
                    .send(Work::Join { room, member: m })
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // the phases
    let run_start = Instant::now();
    for s in &senders {
        let _ = s.send(Work::Start(run_start)).await;
    }
    let bars = progress::Bars::new(&sc, opts.progress);
    let progress_task = tokio::spawn(progress::follow(progress_rx, bars, run_start, n));
    let mut pending = schedule.next();
    let mut stopped_early = false;
    // the actions due at one wake-up, by shard: one message (and one wake-up) per shard
    let mut due: Vec<Vec<Action>> = (0..n).map(|_| Vec::new()).collect();
    loop {
        if *stop_rx.borrow() {
            stopped_early = true;
            break;
        }
        let t = run_start.elapsed();
        if t >= duration {
            break;
        }
        for kind in Kind::ALL {
            let want = u64::from(schedule.concurrency_at(kind, t));
            let i = Kind::ALL.iter().position(|x| *x == kind).unwrap_or(0);
            while in_flight[i].load(Ordering::Relaxed) < want {
                let Some(a) = schedule.next_closed(kind) else {
                    break;
                };
                in_flight[i].fetch_add(1, Ordering::Relaxed);
                due[shard_of(origin(&a))].push(a);
            }
        }
        while let Some((at, _)) = &pending {
            if *at > t + Duration::from_millis(1) {
                break;
            }
            if let Some((_, a)) = pending.take() {
                let i = Kind::ALL.iter().position(|x| *x == a.kind()).unwrap_or(0);
                in_flight[i].fetch_add(1, Ordering::Relaxed);
                due[shard_of(origin(&a))].push(a);
            }
            pending = schedule.next();
        }
        for (s, batch) in senders.iter().zip(due.iter_mut()) {
            match batch.len() {
                0 => {}
                1 => {
                    let _ = s.send(Work::Run(batch.remove(0))).await;
                }
                _ => {
                    let _ = s.send(Work::Runs(std::mem::take(batch))).await;
                }
            }
        }
        let next = pending
            .as_ref()
            .map_or(Duration::from_millis(10), |(at, _)| at.saturating_sub(t))
            .min(Duration::from_millis(10));
        tokio::time::sleep(next).await;
    }
    let ran = run_start.elapsed().min(duration);
    drop(senders);
    let mut merged = Recorder::new(seconds);
    for t in tasks {
        if let Ok(r) = t.await {
            merged.merge(&r);
        }
    }
    let _ = stop_tx.send(true);
    let _ = progress_task.await;
    let server = match sampler {
        Some(h) => h.await.ok().map(|samples| {
            // SAFETY: sysconf with a valid name has no preconditions
            let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            (opts.server_pids[0], samples, ticks)
        }),
        None => None,
    };
    let meta = Meta {
        scenario: sc.name.clone(),
        seed: sc.seed,
        target: target_text,
        started_unix,
        duration: ran,
        stopped_early,
        runner_cpu_secs: self_cpu_secs() - cpu_at_start,
        server,
    };
    let report = report::build(&merged, meta, &thresholds(&sc));
    if let Some(path) = &opts.report {
        std::fs::write(path, report.to_json())?;
        std::fs::write(path.with_extension("html"), report.to_html())?;
    }
    Ok(report)
}

/// The user whose device starts an action (its shard carries it out).
fn origin(a: &Action) -> u32 {
    match a {
        Action::Register { user, .. }
        | Action::Unregister { user, .. }
        | Action::Publish { user, .. } => *user,
        Action::Call { caller, .. } => *caller,
        Action::Message { from, .. } => *from,
        Action::Subscribe { watcher, .. } => *watcher,
        Action::RoomPost { member, .. } => *member,
        Action::Conference(p) => p.user,
        Action::Voicemail { caller, .. } => *caller,
    }
}

/// Waits until nothing is in flight (or `limit`).
async fn wait_idle(in_flight: &InFlight, limit: Duration, stop: &watch::Receiver<bool>) {
    let until = Instant::now() + limit;
    while Instant::now() < until && !*stop.borrow() {
        if in_flight.iter().all(|c| c.load(Ordering::Relaxed) == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The scenario's pass/fail limits as the report checks them.
fn thresholds(sc: &Scenario) -> Vec<Threshold> {
    let t = &sc.thresholds;
    let mut out = Vec::new();
    if let Some(r) = t.success_ratio {
        out.push(Threshold::SuccessRatio(r));
    }
    for (kind, p) in &t.latency {
        for (pct, max) in [(50.0, p.p50), (95.0, p.p95), (99.0, p.p99)] {
            if let Some(max) = max {
                out.push(Threshold::Latency {
                    kind: *kind,
                    percentile: pct,
                    max,
                });
            }
        }
    }
    let messages = sc.behaviours.message.is_some();
    if let Some(n) = t.lost_messages.or(messages.then_some(0)) {
        out.push(Threshold::LostMessages(n));
    }
    if let Some(r) = t.rtp_loss_ratio {
        out.push(Threshold::RtpLossRatio(r));
    }
    if let Some(r) = t.rtp_late_ratio {
        out.push(Threshold::RtpLateRatio(r));
    }
    if let Some(r) = t.rtp_anchored_ratio {
        out.push(Threshold::RtpAnchoredRatio(r));
    }
    let conference = [
        t.conference_join_ratio.map(ConferenceThreshold::JoinRatio),
        t.conference_loss_ratio.map(ConferenceThreshold::LossRatio),
        t.conference_late_ratio.map(ConferenceThreshold::LateRatio),
        t.conference_heard_ratio
            .map(ConferenceThreshold::HeardRatio),
        t.conference_self_heard.map(ConferenceThreshold::SelfHeard),
        t.conference_delay_p99.map(ConferenceThreshold::DelayP99),
    ];
    out.extend(conference.into_iter().flatten().map(Threshold::Conference));
    out
}

/// This process's CPU time (user + system), seconds.
fn self_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct we own
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Samples the server's CPU and memory (summed over its processes) once a second until the
/// run stops.
async fn sample_server(pids: Vec<u32>, mut stop: watch::Receiver<bool>) -> Vec<ServerSample> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let (mut ticks, mut rss, mut seen) = (0, 0, 0);
                for pid in &pids {
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
                    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok();
                    if let (Some(t), Some(r)) = (
                        stat.as_deref().and_then(report::parse_proc_stat),
                        status.as_deref().and_then(report::parse_proc_status_rss),
                    ) {
                        ticks += t;
                        rss += r;
                        seen += 1;
                    }
                }
                if seen > 0 {
                    out.push(ServerSample { at: start.elapsed(), cpu_ticks: ticks, rss_kib: rss });
                }
            }
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    out
}
