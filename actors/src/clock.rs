//! Time for the actors: the current instant on actix's clock, wall-clock seconds for what
//! outlives the process, and the one timer an actor re-arms to its machines' earliest deadline.
//!
//! A leaf module: it imports nothing of this crate.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::{Actor, AsyncContext, Context, SpawnHandle};

/// The current instant on the actor clock (tokio's, so paused-clock tests work).
pub fn now() -> Instant {
    actix::clock::Instant::now().into_std()
}

/// Seconds since the Unix epoch (bindings, messages and accounts outlive the process, so they
/// use wall time).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The one timer of an actor whose engine machines say when they next need time
/// (`poll_timeout`): after each handler the actor sets it to the earliest deadline, and it
/// fires once, at that deadline.
///
/// Setting the deadline it already has keeps the armed timer (no cancel and re-spawn per
/// message); `None` disarms it.
#[derive(Default)]
pub struct Timer {
    armed: Option<(Instant, SpawnHandle)>,
}

impl Timer {
    /// Arms the timer for `at`, or disarms it. When it fires, `fire` runs on the actor; `slot`
    /// finds this timer in the actor so it knows it is no longer armed.
    pub fn set<A>(
        &mut self,
        ctx: &mut Context<A>,
        at: Option<Instant>,
        slot: fn(&mut A) -> &mut Timer,
        fire: fn(&mut A, &mut Context<A>),
    ) where
        A: Actor<Context = Context<A>>,
    {
        if let (Some(at), Some((armed, _))) = (at, &self.armed) {
            if *armed == at {
                return;
            }
        }
        if let Some((_, h)) = self.armed.take() {
            ctx.cancel_future(h);
        }
        let Some(at) = at else { return };
        let h = ctx.run_later(at.saturating_duration_since(now()), move |act, ctx| {
            slot(act).armed = None;
            fire(act, ctx);
        });
        self.armed = Some((at, h));
    }

    /// The deadline it is armed for.
    pub fn deadline(&self) -> Option<Instant> {
        self.armed.as_ref().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix::ActorContext;
    use std::time::Duration;

    struct Ticker {
        timer: Timer,
        fired: Vec<Instant>,
        done: Option<tokio::sync::oneshot::Sender<Vec<Instant>>>,
    }

    impl Actor for Ticker {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            let t = now();
            // re-arming for the same deadline keeps one timer; a later one replaces it
            self.timer.set(
                ctx,
                Some(t + Duration::from_millis(50)),
                |a| &mut a.timer,
                Self::fire,
            );
            self.timer.set(
                ctx,
                Some(t + Duration::from_millis(50)),
                |a| &mut a.timer,
                Self::fire,
            );
            self.timer.set(
                ctx,
                Some(t + Duration::from_millis(20)),
                |a| &mut a.timer,
                Self::fire,
            );
            assert_eq!(self.timer.deadline(), Some(t + Duration::from_millis(20)));
        }
    }

    impl Ticker {
        fn fire(&mut self, ctx: &mut Context<Self>) {
            assert!(self.timer.deadline().is_none(), "a fired timer is disarmed");
            self.fired.push(now());
            if self.fired.len() < 2 {
                self.timer.set(
                    ctx,
                    Some(now() + Duration::from_millis(10)),
                    |a| &mut a.timer,
                    Self::fire,
                );
            } else {
                if let Some(d) = self.done.take() {
                    let _ = d.send(self.fired.clone());
                }
                ctx.stop();
            }
        }
    }

    #[actix_rt::test]
    async fn a_timer_fires_once_per_deadline_and_the_latest_setting_wins() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start = now();
        Ticker {
            timer: Timer::default(),
            fired: Vec::new(),
            done: Some(tx),
        }
        .start();
        let fired = rx.await.expect("ticker reports");
        assert_eq!(fired.len(), 2);
        assert!(fired[0] >= start + Duration::from_millis(20));
        assert!(
            fired[0] < start + Duration::from_millis(50),
            "the replaced deadline never fired"
        );
        assert!(fired[1] >= fired[0] + Duration::from_millis(10));
    }
}
