//! The media threads' real-time scheduling (`media.realtime_priority`).
//!
//! A media thread under `SCHED_FIFO` runs as soon as a packet wakes it, ahead of every
//! ordinary thread on its core, so the delay a relayed packet picks up while the machine is
//! busy is the relay's own work rather than a wait behind other threads. The kernel still
//! keeps 5 % of each second for ordinary threads (`sched_rt_runtime_us`), and a media thread
//! blocks in its wait whenever it has nothing to do.

/// Puts the calling thread under `SCHED_FIFO` at `priority` (1-99).
#[cfg(target_os = "linux")]
pub(super) fn set_fifo(priority: u8) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn set_fifo(_priority: u8) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The calling thread's scheduling policy is `SCHED_FIFO` (for tests).
#[cfg(all(test, target_os = "linux"))]
pub(super) fn is_fifo() -> bool {
    // SAFETY: pid 0 is the calling thread
    unsafe { libc::sched_getscheduler(0) == libc::SCHED_FIFO }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_goes_fifo_when_allowed_and_says_why_not_otherwise() {
        let (result, fifo) = std::thread::spawn(|| {
            let r = set_fifo(1);
            (r, is_fifo())
        })
        .join()
        .unwrap();
        match result {
            Ok(()) => assert!(fifo, "set_fifo succeeded but the policy is not SCHED_FIFO"),
            Err(e) => {
                assert!(!fifo);
                assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
            }
        }
        // a priority out of the kernel's range is refused, whatever the privileges
        let out_of_range = std::thread::spawn(|| set_fifo(100)).join().unwrap();
        assert!(out_of_range.is_err());
    }
}
