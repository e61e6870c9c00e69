use super::*;
use crate::core::conference::{Participant, Voice};
use crate::core::scenario::parse;
use crate::core::CallMedia;
use switchboard_engine::media::Codec;

const SMOKE: &str = include_str!("../../../smoke.toml");
const OFFICE: &str = include_str!("../../../office-hour.toml");
const OFFLINE: &str = include_str!("../../../offline-messages.toml");

fn scenario(behaviours_and_phases: &str) -> Scenario {
    let text = format!(
        "name = \"t\"\nseed = 3\n[population]\ncount = 100\nfirst = \"5000\"\n\
         password = \"p\"\nregister_expires_secs = 3600\n{behaviours_and_phases}"
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn take(s: &mut Schedule, n: usize) -> Vec<(Duration, Action)> {
    (0..n).map_while(|_| s.next()).collect()
}

#[test]
fn same_scenario_and_seed_give_the_same_10000_actions_and_another_seed_differs() {
    let sc = parse(OFFICE).unwrap();
    let a = take(&mut Schedule::new(&sc), 10_000);
    let b = take(&mut Schedule::new(&sc), 10_000);
    assert_eq!(a.len(), 10_000);
    assert_eq!(a, b);
    let mut other = sc.clone();
    other.seed += 1;
    assert_ne!(a, take(&mut Schedule::new(&other), 10_000));
}

#[test]
fn offsets_never_decrease_and_stay_inside_the_run() {
    let sc = parse(OFFICE).unwrap();
    let mut s = Schedule::new(&sc);
    let all = take(&mut s, 200_000);
    assert!(
        s.next().is_none(),
        "office hour has fewer than 200,000 actions"
    );
    assert!(all.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(all.last().unwrap().0 < s.duration());
}

#[test]
fn a_steady_minute_at_100_per_second_gives_about_6000() {
    let sc = scenario(
        "[behaviours.message]\nrate = 100\n[[phases]]\nname = \"s\"\nduration_secs = 60\n",
    );
    let mut s = Schedule::new(&sc);
    let n = take(&mut s, 100_000)
        .iter()
        .filter(|(_, a)| a.kind() == Kind::Message)
        .count();
    assert!((5_820..=6_180).contains(&n), "{n} messages");
}

#[test]
fn ramp_to_makes_the_second_half_busier_than_the_first() {
    let sc = scenario(
        "[behaviours.call]\nrate = 10\n[[phases]]\nname = \"up\"\nduration_secs = 60\nfactor = 1\nramp_to = 10\n",
    );
    let all = take(&mut Schedule::new(&sc), 100_000);
    let first = all
        .iter()
        .filter(|(t, _)| *t < Duration::from_secs(30))
        .count();
    let second = all.len() - first;
    // expected 30 × (1 + 5.5)/2 × 10 = 975 against 30 × (5.5 + 10)/2 × 10 = 2325
    assert!(second > 2 * first, "{first} then {second}");
}

#[test]
fn ramp_secs_starts_a_behaviour_from_zero() {
    let sc = scenario("[behaviours.call]\nrate = 100\nramp_secs = 10\n[[phases]]\nname = \"s\"\nduration_secs = 20\n");
    let s = Schedule::new(&sc);
    assert_eq!(s.level_at(Behaviour::Call, Duration::ZERO), 0.0);
    assert!((s.level_at(Behaviour::Call, Duration::from_secs(5)) - 0.5).abs() < 1e-9);
    assert_eq!(s.level_at(Behaviour::Call, Duration::from_secs(15)), 1.0);
}

#[test]
fn phase_durations_sum_to_the_duration_and_phase_at_finds_each() {
    let sc = parse(include_str!("../../../register-storm.toml")).unwrap();
    let s = Schedule::new(&sc);
    let sum: Duration = sc.phases.iter().map(|p| p.duration).sum();
    assert_eq!(s.duration(), sum);
    assert_eq!(s.duration(), Duration::from_secs(90));
    assert_eq!(
        s.phase_at(Duration::from_secs(25))
            .map(|(i, p)| (i, p.name.as_str())),
        Some((1, "5k"))
    );
    assert!(s.phase_at(s.duration()).is_none());
}

#[test]
fn closed_loops_follow_concurrency_and_their_own_stream() {
    let sc = scenario(
        "[behaviours.call]\nconcurrency = 40\n[[phases]]\nname = \"a\"\nduration_secs = 10\n\
         [[phases]]\nname = \"b\"\nduration_secs = 10\nfactor = 0.5\n",
    );
    let mut s = Schedule::new(&sc);
    assert_eq!(s.concurrency_at(Kind::Call, Duration::from_secs(1)), 40);
    assert_eq!(s.concurrency_at(Kind::Call, Duration::from_secs(15)), 20);
    assert_eq!(s.concurrency_at(Kind::Message, Duration::from_secs(1)), 0);
    let timed = take(&mut s.clone(), 1000);
    assert!(
        timed.iter().all(|(_, a)| a.kind() == Kind::Register),
        "only refreshes are timed"
    );
    let mut t = Schedule::new(&sc);
    let a: Vec<_> = (0..100).filter_map(|_| s.next_closed(Kind::Call)).collect();
    let _ = t.next();
    let b: Vec<_> = (0..100).filter_map(|_| t.next_closed(Kind::Call)).collect();
    assert_eq!(a.len(), 100);
    assert_eq!(a, b);
    assert!(t.next_closed(Kind::Message).is_none());
}

#[test]
fn calls_and_messages_pick_valid_users() {
    let sc = parse(OFFICE).unwrap();
    let online = sc.population.online_users();
    let steady_end = Duration::from_secs(300 + 1800);
    let mut offline_messages = 0;
    for (t, a) in take(&mut Schedule::new(&sc), 50_000) {
        match a {
            Action::Call { caller, callee, .. } if t < steady_end => {
                assert_ne!(caller, callee);
                assert!(caller < online && callee < online);
            }
            Action::Message {
                from,
                to,
                online: on,
            } if t < steady_end => {
                assert!(from < online && from != to);
                assert_eq!(on, to < online);
                offline_messages += usize::from(!on);
            }
            Action::Subscribe {
                watcher,
                presentity,
                ..
            } => assert_ne!(watcher, presentity),
            _ => {}
        }
    }
    assert!(offline_messages > 0);
}

#[test]
fn smoke_does_every_behaviour_at_least_once() {
    let sc = parse(SMOKE).unwrap();
    let mut s = Schedule::new(&sc);
    assert_eq!(s.initial().len(), 18, "the 18 online users register first");
    let all = take(&mut s, 10_000);
    let has = |f: &dyn Fn(&Action) -> bool| all.iter().any(|(_, a)| f(a));
    assert!(has(&|a| matches!(
        a,
        Action::Call {
            plan: CallPlan::Answer { .. },
            rtp: Some(CallMedia::Direct),
            ..
        }
    )));
    assert!(has(&|a| matches!(
        a,
        Action::Call {
            plan: CallPlan::Busy { .. },
            ..
        }
    )));
    assert!(has(&|a| matches!(a, Action::Message { online: true, .. })));
    assert!(has(&|a| matches!(a, Action::Message { online: false, .. })));
    assert!(has(&|a| matches!(a, Action::Subscribe { .. })));
    assert!(has(&|a| matches!(a, Action::Publish { .. })));
    assert!(has(&|a| matches!(a, Action::RoomPost { .. })));
    // the two offline users register in "deliver"
    for user in [18, 19] {
        let at = all
            .iter()
            .find(|(_, a)| *a == Action::Register { user, device: 0 });
        assert!(
            at.is_some_and(|(t, _)| *t >= Duration::from_secs(3)),
            "user {user}"
        );
    }
}

#[test]
fn offline_users_register_in_their_phase_after_the_messages() {
    let sc = parse(OFFLINE).unwrap();
    let all = take(&mut Schedule::new(&sc), 100_000);
    let deliver = Duration::from_secs(60);
    let offline = |u: User| sc.population.is_offline(u);
    assert!(all
        .iter()
        .filter(|(_, a)| a.kind() == Kind::Message)
        .all(|(t, a)| {
            *t < deliver && matches!(a, Action::Message { to, online: false, .. } if offline(*to))
        }));
    let registers: Vec<_> = all
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Register { user, .. } if offline(*user) => Some((*t, *user)),
            _ => None,
        })
        .collect();
    assert_eq!(
        registers.len(),
        200,
        "each offline user once; no refresh within the hour"
    );
    assert!(registers
        .iter()
        .all(|(t, _)| *t >= deliver && *t <= deliver + Duration::from_secs(10)));
}

#[test]
fn refreshes_are_spread_evenly_over_the_refresh_interval() {
    let sc = scenario("[behaviours.register]\n[[phases]]\nname = \"s\"\nduration_secs = 3600\n");
    let all = take(&mut Schedule::new(&sc), 10_000);
    // 100 devices, refresh every 1,800 s: one every 18 s, each device twice in the hour
    assert_eq!(all.len(), 199);
    assert_eq!(
        all[0],
        (
            Duration::from_secs(18),
            Action::Register { user: 0, device: 0 }
        )
    );
    assert_eq!(all[100].1, Action::Register { user: 0, device: 0 });
}

#[test]
fn anchored_calls_schedules_20_answered_nat_calls_with_audio_in_4_seconds() {
    let sc = parse(include_str!("../../../anchored-calls.toml")).unwrap();
    let all = take(&mut Schedule::new(&sc), 10_000);
    let nat = Some(CallMedia::Nat(CallMedia::DEFAULT_NAT_ADDRESS));
    let calls: Vec<_> = all
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Call { plan, rtp, .. } => Some((*t, *plan, *rtp)),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 20, "the file says its seed gives 20 calls");
    for (t, plan, rtp) in calls {
        assert!(t < Duration::from_secs(4));
        assert!(matches!(plan, CallPlan::Answer { hold, .. } if hold == Duration::from_secs(5)));
        assert_eq!(rtp, nat);
    }
}

fn conference_actions(s: &mut Schedule) -> Vec<(Duration, Participant)> {
    take(s, 100_000)
        .into_iter()
        .filter_map(|(t, a)| match a {
            Action::Conference(p) => Some((t, p)),
            _ => None,
        })
        .collect()
}

#[test]
fn conference_participants_join_spread_over_join_secs_rooms_side_by_side_and_stay_to_the_end() {
    let sc = scenario(
        "[behaviours.conferences]\nrooms = 4\nparticipants = 5\ntalkers = 2\njoin_secs = 2\n\
         probe = true\n[[phases]]\nname = \"t\"\nduration_secs = 10\n",
    );
    let joins = conference_actions(&mut Schedule::new(&sc));
    assert_eq!(joins.len(), 20, "each participant once: they stay");
    for (k, (t, p)) in joins.iter().enumerate() {
        assert_eq!(*t, Duration::from_millis(100 * k as u64), "{k}");
        assert_eq!((p.room, p.index), (k as u32 % 4, k as u32 / 4), "{k}");
        assert_eq!(p.user, p.room * 5 + p.index);
        assert_eq!(
            p.hold,
            Duration::from_secs(10) - *t,
            "to the end of the run"
        );
        let voice = match p.index {
            0 | 1 => Voice::Talker(p.index),
            4 => Voice::Probe,
            _ => Voice::Silent,
        };
        assert_eq!(p.voice, voice);
        assert!(p.probe && p.talkers == 2);
    }
}

#[test]
fn codec_shares_hold_closely_in_every_room() {
    let sc = scenario(
        "[behaviours.conferences]\nrooms = 10\nparticipants = 10\n\
         codecs = { PCMU = 0.7, G722 = 0.3 }\n[[phases]]\nname = \"t\"\nduration_secs = 10\n",
    );
    let joins = conference_actions(&mut Schedule::new(&sc));
    for room in 0..10 {
        let g722 = joins
            .iter()
            .filter(|(_, p)| p.room == room && p.codec == Codec::G722)
            .count();
        assert!(
            (2..=4).contains(&g722),
            "room {room}: {g722} of 10 on G.722"
        );
    }
    let all = joins.iter().filter(|(_, p)| p.codec == Codec::G722).count();
    assert!((28..=32).contains(&all), "{all} of 100");
}

#[test]
fn a_participant_dials_again_after_its_hold_and_not_in_a_phase_without_conferences() {
    let sc = scenario(
        "[behaviours.call]\nrate = 1\n[behaviours.conferences]\nrooms = 1\nparticipants = 2\n\
         join_secs = 0\nhold_ms = [3000, 3000]\n\
         [[phases]]\nname = \"a\"\nduration_secs = 7\n\
         [[phases]]\nname = \"b\"\nduration_secs = 5\nbehaviours = [\"call\"]\n\
         [[phases]]\nname = \"c\"\nduration_secs = 4\n",
    );
    let joins = conference_actions(&mut Schedule::new(&sc));
    let of = |index: u32| -> Vec<(u64, u64)> {
        joins
            .iter()
            .filter(|(_, p)| p.index == index)
            .map(|(t, p)| (t.as_millis() as u64, p.hold.as_millis() as u64))
            .collect()
    };
    // 0 s, 3 s, 6 s (phase a); 9 s falls in phase b, put off to phase c at 12 s; the last
    // one is cut at the end of the run (16 s)
    let expected = vec![
        (0, 3000),
        (3000, 3000),
        (6000, 3000),
        (12_000, 3000),
        (15_000, 1000),
    ];
    assert_eq!(of(0), expected);
    assert_eq!(of(1), expected);
    assert_eq!(
        joins,
        conference_actions(&mut Schedule::new(&sc)),
        "same seed, same joins"
    );
}

fn voicemail_calls(s: &mut Schedule) -> Vec<(u64, User, User, u64)> {
    take(s, 100_000)
        .into_iter()
        .filter_map(|(t, a)| match a {
            Action::Voicemail {
                caller,
                mailbox,
                hold,
            } => Some((
                t.as_millis() as u64,
                caller,
                mailbox,
                hold.as_millis() as u64,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn voicemail_callers_start_spread_call_their_own_mailbox_again_and_stop_before_a_cut_call() {
    let sc = scenario(
        "offline_users = 4\n[behaviours.voicemail]\ncallers = 4\njoin_secs = 2\n\
         hold_ms = [3000, 3000]\n[[phases]]\nname = \"t\"\nduration_secs = 14\n",
    );
    let calls = voicemail_calls(&mut Schedule::new(&sc));
    for k in 0..4 {
        let of: Vec<(u64, u64)> = calls
            .iter()
            .filter(|c| c.1 == k)
            .map(|c| {
                assert_eq!(c.2, 96 + k, "caller {k}'s own mailbox, an offline user");
                (c.0, c.3)
            })
            .collect();
        // a call every 3 s + 1 s from 0.5 k s, made only if it ends (with 2 s to settle)
        // within the run's 14 s
        let start = 500 * u64::from(k);
        let expected: Vec<(u64, u64)> = [start, start + 4000, start + 8000]
            .into_iter()
            .filter(|t| t + 3000 + 2000 <= 14_000)
            .map(|t| (t, 3000))
            .collect();
        assert_eq!(of, expected, "caller {k}");
    }
    // third calls at 8, 8.5 and 9 s; 9.5 s would end at 14.5 s
    assert_eq!(calls.len(), 4 + 4 + 3);
    assert_eq!(calls, voicemail_calls(&mut Schedule::new(&sc)));
}

#[test]
fn a_voicemail_call_due_in_a_phase_without_voicemail_waits_for_the_next_with_it() {
    let sc = scenario(
        "offline_users = 1\n[behaviours.call]\nrate = 1\n[behaviours.voicemail]\ncallers = 1\n\
         hold_ms = [2000, 2000]\n\
         [[phases]]\nname = \"a\"\nduration_secs = 4\n\
         [[phases]]\nname = \"b\"\nduration_secs = 5\nbehaviours = [\"call\"]\n\
         [[phases]]\nname = \"c\"\nduration_secs = 4\n",
    );
    let calls = voicemail_calls(&mut Schedule::new(&sc));
    // 0 s and 3 s in phase a; 6 s falls in phase b: at 9 s, the start of c; 12 s would not fit
    let at: Vec<u64> = calls.iter().map(|c| c.0).collect();
    assert_eq!(at, [0, 3000, 9000]);
}
