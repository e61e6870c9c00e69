//! `switchboard media relay`: the media plane alone (no SIP, no store) relaying N G.711 calls
//! on a fixed port layout, so that an RTP generator can measure it against other relays.
//!
//! The layout is the one of the shared relay harness (`relay.c`): call `i` is one media
//! session whose caller side takes RTP on `relay_base + 4i` (RTCP `+1`) and whose callee side
//! takes it on `relay_base + 4i + 2`; the sides are configured towards the generator's legs
//! `peer_base + 4i` and `peer_base + 4i + 2`, PCMU with payload type 0, and latch onto the
//! source of their first packet as in a real call. With `--transcode` the callee side speaks
//! G.722 (still numbered payload type 0, so a generator that sends PCMU on both legs has its
//! callee leg's packets taken and decoded as G.722): every packet of both directions runs the
//! frame path (jitter buffer, decode, resample, encode, one packet per 20 ms tick).
//!
//! It prints its pid and `ready` once every session is set up, runs until SIGTERM or SIGINT,
//! then prints what the sessions counted (packets received, relayed, sent by the frame path,
//! dropped, frames concealed, frame ticks run late) and, on a second line, per media thread
//! its sessions and the highest busy fraction it published (sampled once a second), and
//! exits.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use actix::{Actor, Context, Handler};
use clap::Args;
use switchboard_actors::api::media::MediaNote;
use switchboard_actors::config::Config;
use switchboard_actors::media::{MediaPlane, MediaSession};
use switchboard_actors::metrics::{Metrics, ThreadLabel};
use switchboard_engine::media::session::StreamConfig;
use switchboard_engine::media::{Codec, Side};

#[derive(Args)]
pub struct RelayArgs {
    /// Calls (media sessions) to relay; 0 starts the plane with none (a memory baseline).
    #[arg(long)]
    calls: u16,
    /// The first relay port: call i takes RTP on BASE+4i (caller side) and BASE+4i+2 (callee
    /// side), RTCP on the odd port above each.
    #[arg(long, default_value_t = 20_000)]
    relay_base: u16,
    /// The generator's first port: call i's sides send to PEER+4i and PEER+4i+2 until they
    /// latch.
    #[arg(long, default_value_t = 10_000)]
    peer_base: u16,
    /// The address to bind the relay ports on and to expect the generator at.
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    /// Media threads (0 = one per core, as `media.threads`).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The callee side speaks G.722 (payload type 0): both directions are transcoded.
    #[arg(long)]
    transcode: bool,
    /// Connect each socket to the source its port latched to (`media.connect_latched`);
    /// `false` sends every packet with `sendto`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    connect_latched: bool,
    /// How the media threads do their IO (`media.io`): epoll or uring.
    #[arg(long, default_value = "uring", value_parser = ["epoll", "uring"])]
    io: String,
    /// The media threads' SCHED_FIFO priority (`media.realtime_priority`); 0 = ordinary.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=99))]
    realtime_priority: u8,
}

/// Takes the sessions' notes (latching) and forgets them.
struct Owner;

impl Actor for Owner {
    type Context = Context<Self>;
}

impl Handler<MediaNote> for Owner {
    type Result = ();
    fn handle(&mut self, _: MediaNote, _: &mut Context<Self>) {}
}

pub fn relay(a: RelayArgs) -> ExitCode {
    match check(&a).and_then(|()| {
        actix_rt::System::new()
            .block_on(run(a))
            .map_err(|e| e.to_string())
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The port layout fits: even bases above 1023, every port below 65536.
fn check(a: &RelayArgs) -> Result<(), String> {
    for (name, base) in [("--relay-base", a.relay_base), ("--peer-base", a.peer_base)] {
        if base < 1024 || base % 2 != 0 {
            return Err(format!("{name} must be even and at least 1024"));
        }
        if u32::from(base) + 4 * u32::from(a.calls.max(1)) > 65_536 {
            return Err(format!("{name} {base} + 4 x {} ports pass 65535", a.calls));
        }
    }
    Ok(())
}

/// The port a side of call `i` takes (or is sent to) from `base`.
fn port(base: u16, call: u16, side: Side) -> u16 {
    base + 4 * call + if side == Side::Caller { 0 } else { 2 }
}

async fn run(a: RelayArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut media = Config::load(None)?.media;
    media.address = a.address;
    media.advertise = None;
    media.threads = a.threads;
    media.connect_latched = a.connect_latched;
    media.io = a.io.clone();
    media.realtime_priority = a.realtime_priority;
    // exactly the pairs of the layout: the allocator hands them out in order, round the range
    let last = u32::from(a.relay_base) + 4 * u32::from(a.calls.max(1)) - 1;
    media.ports = format!("{}-{last}", a.relay_base);
    let metrics = Arc::new(Metrics::new());
    let plane = MediaPlane::start(&media, metrics.clone())?;
    let owner = Owner.start();
    let mut sessions = Vec::with_capacity(usize::from(a.calls));
    for call in 0..a.calls {
        let s = plane.open(&[Side::Caller, Side::Callee], owner.clone().recipient())?;
        for side in [Side::Caller, Side::Callee] {
            let want = port(a.relay_base, call, side);
            let got = s.local(side).map(|l| l.rtp.port());
            if got != Some(want) {
                return Err(format!("call {call}: port {want} is not free (got {got:?})").into());
            }
            s.configure(
                side,
                stream(a.address, port(a.peer_base, call, side), a.transcode, side),
            );
        }
        s.activate();
        sessions.push(s);
    }
    println!("pid {}", std::process::id());
    println!(
        "ready: {} {} calls on {}:{}-{}, {} media threads, connect_latched {}, io {}, realtime_priority {}",
        a.calls,
        if a.transcode {
            "transcoded PCMU <-> G.722"
        } else {
            "relayed PCMU"
        },
        a.address,
        a.relay_base,
        last,
        media.thread_count(),
        media.connect_latched,
        media.io,
        media.realtime_priority
    );
    let threads = media.thread_count();
    let mut busiest = vec![0.0f64; threads];
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let signal = wait_for_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            r = &mut signal => { r?; break; }
            _ = tick.tick() => {
                for (t, b) in busiest.iter_mut().enumerate() {
                    *b = b.max(thread_gauges(&metrics, t).1);
                }
            }
        }
    }
    let totals = totals(&sessions).await;
    print_totals(&totals, &metrics, &busiest);
    drop(sessions);
    plane.stop();
    Ok(())
}

fn stream(ip: IpAddr, peer: u16, transcode: bool, side: Side) -> StreamConfig {
    let codec = if transcode && side == Side::Callee {
        Codec::G722
    } else {
        Codec::Pcmu
    };
    StreamConfig {
        remote: SocketAddr::new(ip, peer),
        remote_rtcp: SocketAddr::new(ip, peer + 1),
        rtcp_mux: false,
        codec,
        payload_type: 0,
        incoming_payload_type: 0,
        telephone_event: None,
        incoming_telephone_event: None,
        sends: true,
        receives: true,
        srtp: None,
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// What every session counted, summed over both sides.
#[derive(Default, Debug)]
struct Totals {
    sessions: u64,
    rx: u64,
    relayed: u64,
    tx: u64,
    concealed: u64,
    dropped: u64,
}

async fn totals(sessions: &[MediaSession]) -> Totals {
    let mut t = Totals::default();
    for s in sessions {
        let Ok(stats) = s.stats().await else { continue };
        t.sessions += 1;
        for side in stats.sides.iter().flatten() {
            t.rx += side.rx_packets;
            t.relayed += side.relayed;
            t.tx += side.tx_packets;
            t.concealed += side.concealed;
            t.dropped += side.spoofed + side.invalid + side.inactive;
        }
    }
    t
}

/// Media thread `t`'s sessions and busy fraction, as last published.
fn thread_gauges(m: &Metrics, t: usize) -> (i64, f64) {
    let label = ThreadLabel { thread: t as u32 };
    (
        m.media_thread_sessions.get_or_create(&label).get(),
        m.media_thread_busy.get_or_create(&label).get(),
    )
}

fn print_totals(t: &Totals, m: &Metrics, busiest: &[f64]) {
    println!(
        "sessions {} received {} relayed {} sent {} dropped {} concealed {} ticks {} late_ticks {}",
        t.sessions,
        t.rx,
        t.relayed,
        t.tx,
        t.dropped,
        t.concealed,
        m.media_ticks.get(),
        m.media_late_ticks.get(),
    );
    let mut threads = format!("threads {}", busiest.len());
    for (i, b) in busiest.iter().enumerate() {
        threads += &format!(
            " t{i}_sessions {} t{i}_busy_max {b:.3}",
            thread_gauges(m, i).0
        );
    }
    println!("{threads}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_i_takes_the_ports_of_the_relay_c_layout() {
        assert_eq!(port(20_000, 0, Side::Caller), 20_000);
        assert_eq!(port(20_000, 0, Side::Callee), 20_002);
        assert_eq!(port(20_000, 7, Side::Caller), 20_028);
        assert_eq!(port(10_000, 7, Side::Callee), 10_030);
    }

    #[test]
    fn a_layout_past_port_65535_or_on_an_odd_base_is_refused() {
        let args = |calls, relay_base| RelayArgs {
            calls,
            relay_base,
            peer_base: 10_000,
            address: "127.0.0.1".parse().unwrap(),
            threads: 1,
            transcode: false,
            connect_latched: true,
            io: "epoll".into(),
            realtime_priority: 0,
        };
        assert!(check(&args(2_000, 20_000)).is_ok());
        assert!(check(&args(0, 20_000)).is_ok());
        assert!(check(&args(11_384, 20_000)).is_ok(), "ends at 65535");
        assert!(check(&args(11_385, 20_000)).is_err());
        assert!(check(&args(10, 20_001)).is_err());
        assert!(check(&args(10, 1_000)).is_err());
    }
}
