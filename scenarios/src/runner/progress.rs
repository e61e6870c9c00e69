//! Progress while a scenario runs: one bar per phase (indicatif), filling as the phase goes,
//! with the live offered and achieved rate, success ratio and p99 of the last five seconds,
//! from the shards' recorders merged once a second.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::core::scenario::Scenario;
use crate::core::stats::Recorder;

/// The bars of a run (hidden when progress is off or stderr is no terminal).
pub struct Bars {
    multi: MultiProgress,
    phases: Vec<(ProgressBar, Duration, Duration)>,
}

impl Bars {
    pub fn new(sc: &Scenario, show: bool) -> Bars {
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let mut start = Duration::ZERO;
        let mut phases = Vec::new();
        for p in &sc.phases {
            let bar = multi.add(ProgressBar::new(p.duration.as_millis() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(p.name.clone());
            phases.push((bar, start, p.duration));
            start += p.duration;
        }
        Bars { multi, phases }
    }

    fn update(&self, t: Duration, live: &str) {
        for (bar, start, len) in &self.phases {
            if t < *start {
                continue;
            }
            let into = (t - *start).min(*len);
            bar.set_position(into.as_millis() as u64);
            if t < *start + *len {
                bar.set_message(live.to_owned());
            } else if !bar.is_finished() {
                bar.finish();
            }
        }
    }

    fn done(&self) {
        for (bar, _, _) in &self.phases {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
        let _ = self.multi.clear();
    }
}

/// Follows the shards' recorders until they all stopped sending.
pub async fn follow(
    mut rx: mpsc::UnboundedReceiver<(usize, Recorder)>,
    bars: Bars,
    start: Instant,
    shards: usize,
) {
    let mut latest: Vec<Option<Recorder>> = vec![None; shards];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last = String::new();
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Some((i, rec)) => {
                    if let Some(slot) = latest.get_mut(i) {
                        *slot = Some(rec);
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                let t = start.elapsed();
                let mut merged = Recorder::new(t.as_secs() as usize + 1);
                for r in latest.iter().flatten() {
                    merged.merge(r);
                }
                let live = merged.live(t, Duration::from_secs(5));
                let msg = format!(
                    "offered {:.0}/s achieved {:.0}/s ok {:.2}% p99 {:.1} ms",
                    live.offered_per_sec,
                    live.achieved_per_sec,
                    live.success_ratio * 100.0,
                    live.p99.as_secs_f64() * 1e3
                );
                bars.update(t, &msg);
                last = msg;
            }
        }
    }
    // the phases that ran to their end show full
    bars.update(start.elapsed(), &last);
    bars.done();
}
