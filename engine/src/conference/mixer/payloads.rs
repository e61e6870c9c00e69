//! The payloads of a tick (steps 6 and 7 of `Mixer::tick`): one shared payload per format for
//! everyone outside the mix, and a private N-1 payload per talker.
//!
//! A wideband room encodes G.722 twice a tick at least when a G.722 phone talks: the format's
//! shared payload and that talker's own mix. The two encoders are independent, so the shared
//! one waits for the first G.722 talker and the two are encoded side by side
//! (`G722Encoder::encode_pair`: the same octets, about two chains of work for the time of
//! one and a half).

use super::{saturate, Bus, Group, Heard, MixerStats, Slot};
use crate::media::codec::{Encoder, G722Encoder};

pub(super) fn encode(
    slots: &mut [Option<Slot>],
    groups: &mut [Group],
    buses: &[Bus],
    talkers: &[usize],
    scratch: &mut [i16],
    stats: &mut MixerStats,
) {
    // 6. one shared payload per format for everyone outside the mix (a G.722 one may wait
    // for step 7)
    for group in groups.iter_mut() {
        group.len = 0;
    }
    let mut waiting: Option<usize> = None;
    for slot in slots.iter_mut().flatten() {
        if slot.mixed {
            continue;
        }
        slot.heard = Heard::Shared;
        let group = &mut groups[slot.group];
        if group.len == 0 && waiting != Some(slot.group) {
            stats.shared_encodes += 1;
            if waiting.is_none() && matches!(group.encoder, Encoder::G722(_)) {
                waiting = Some(slot.group);
                continue;
            }
            group.len = group
                .encoder
                .encode(&buses[group.bus].mix, &mut group.payload);
        }
    }

    // 7. a private N-1 payload per talker
    for &t in talkers {
        let Some(slot) = slots[t].as_mut() else {
            continue;
        };
        let sum = &buses[slot.bus].sum;
        let n = slot.frame.len();
        for ((o, &s), &own) in scratch[..n].iter_mut().zip(sum).zip(&slot.frame) {
            *o = saturate(s - i32::from(own));
        }
        slot.heard = Heard::Private;
        stats.private_encodes += 1;
        if let (Some(g), Encoder::G722(mine)) = (waiting, &mut slot.encoder) {
            let group = &mut groups[g];
            if let Encoder::G722(shared) = &mut group.encoder {
                let (len, own) = G722Encoder::encode_pair(
                    shared,
                    &buses[group.bus].mix,
                    &mut group.payload,
                    mine,
                    &scratch[..n],
                    &mut slot.payload,
                );
                (group.len, slot.payload_len) = (len, own);
                waiting = None;
                continue;
            }
        }
        slot.payload_len = slot.encoder.encode(&scratch[..n], &mut slot.payload);
    }

    // a shared G.722 payload no talker's encode went with
    if let Some(g) = waiting {
        let group = &mut groups[g];
        group.len = group
            .encoder
            .encode(&buses[group.bus].mix, &mut group.payload);
    }
}
