//! `media.realtime_priority`: the media threads run under SCHED_FIFO where the process may
//! (root or CAP_SYS_NICE) and stay ordinary threads where it may not; they relay either way.

use super::*;

/// Scheduling policy (field 41 of /proc/PID/task/TID/stat) of each of this process's threads
/// whose name starts with `media-`.
fn media_thread_policies() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let comm = comm.trim().to_owned();
        if !comm.starts_with("media-") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // fields after the ")" that closes the name start at field 3
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let policy: u32 = rest.split(' ').nth(41 - 3).unwrap().parse().unwrap();
        out.push((comm, policy));
    }
    out.sort();
    out
}

/// Whether a thread of this process may go SCHED_FIFO (tried on a scratch thread).
fn fifo_allowed() -> bool {
    std::thread::spawn(|| {
        let param = libc::sched_param { sched_priority: 1 };
        // SAFETY: the calling (scratch) thread, a valid sched_param
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
    })
    .join()
    .unwrap()
}

#[actix_rt::test]
async fn media_threads_run_under_sched_fifo_when_asked_and_still_relay() {
    let metrics = Arc::new(Metrics::new());
    let mut m = media("41660-41663");
    m.threads = 2;
    m.realtime_priority = 7;
    let plane = MediaPlane::start(&m, metrics.clone()).unwrap();
    let owner = Owner::default().start();
    let (s, caller, callee) = call(
        &plane,
        owner.recipient(),
        (Codec::Pcmu, 0),
        (Codec::Pcmu, 0),
    )
    .await;
    let mut talker = Talker::new(Codec::Pcmu, 0, 440.0);
    for _ in 0..10 {
        talker.send(&caller, s.local(Side::Caller).unwrap().rtp);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        receive_all(&callee, Duration::from_millis(100)).len(),
        10,
        "relayed under either policy"
    );
    // a burst: a busy real-time thread waits for batches (or 0.5 ms), and still relays all
    for _ in 0..200 {
        talker.send(&caller, s.local(Side::Caller).unwrap().rtp);
    }
    assert_eq!(
        receive_all(&callee, Duration::from_millis(100)).len(),
        200,
        "a burst relayed whole"
    );

    // no other test of this binary asks for real-time threads, so every SCHED_FIFO media
    // thread of the process is one of this plane's two
    let policies = media_thread_policies();
    let fifo = policies
        .iter()
        .filter(|(_, p)| *p == libc::SCHED_FIFO as u32)
        .count();
    let want = if fifo_allowed() { 2 } else { 0 };
    assert_eq!(fifo, want, "media threads under SCHED_FIFO: {policies:?}");
    drop(s);
    plane.stop();
}
