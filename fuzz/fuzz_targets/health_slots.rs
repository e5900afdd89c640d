//! The health listener's connection table (`health::slots`) under any sequence of accepts,
//! bytes, answers, closes and time passing, checked against a model of its rules: it never
//! holds more than its bound, never evicts a connection being answered or one reading its
//! head within its grace, refuses a newcomer exactly when no slot may be taken and then says
//! when one may be, gives each connection the deadline its phase calls for, and expires
//! exactly the connections whose deadline has come.
//!
//! Input: a byte of table size (1 + that % 8), then two bytes per step: an operation and
//! its argument (which connection, how many bytes or milliseconds: an even argument is
//! half that many, within the grace; an odd one 50 times that many).
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use svid_core::health::slots::{Admission, Id, Limits, Slots};
use svid_core::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Model {
    Silent,
    Head { first: Instant, last: Instant },
    Responding { since: Instant },
    Lingering { since: Instant },
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, steps)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_conns: usize::from(size % 8) + 1,
        ..Limits::default()
    };
    let mut table = Slots::new(limits);
    let mut model: BTreeMap<Id, (Instant, Model)> = BTreeMap::new();
    let mut now = Instant::from_millis(1_000);
    for step in steps.chunks_exact(2) {
        let (op, arg) = (step[0] % 6, step[1]);
        let pick =
            (!model.is_empty()).then(|| *model.keys().nth(usize::from(arg) % model.len()).unwrap());
        match (op, pick) {
            (0, _) => {
                let room = table.next_room(now);
                let free: Vec<Instant> = model
                    .values()
                    .filter_map(|(accepted, phase)| free_from(&limits, *accepted, *phase))
                    .collect();
                if model.len() < limits.max_conns || free.iter().any(|&t| t <= now) {
                    assert_eq!(room, None);
                } else {
                    let earliest = model
                        .values()
                        .map(|(accepted, phase)| {
                            free_from(&limits, *accepted, *phase)
                                .unwrap_or_else(|| deadline(&limits, *accepted, *phase))
                        })
                        .min();
                    assert_eq!(room, earliest);
                    assert!(room.is_some_and(|t| t > now));
                }
                match table.admit(now) {
                    Admission::Admitted { id, evicted } => {
                        assert_eq!(room, None);
                        if let Some(victim) = evicted {
                            let (accepted, phase) = model.remove(&victim).expect("a known victim");
                            assert!(
                                free_from(&limits, accepted, phase).is_some_and(|t| t <= now),
                                "evicted within its grace or while answered"
                            );
                        } else {
                            assert!(model.len() < limits.max_conns);
                        }
                        assert!(model.insert(id, (now, Model::Silent)).is_none());
                    }
                    Admission::Refused => assert!(room.is_some()),
                }
            }
            (1, Some(id)) => {
                table.received(id, now, usize::from(arg % 4));
                let entry = model.get_mut(&id).unwrap();
                if arg % 4 > 0 {
                    match entry.1 {
                        Model::Silent => {
                            entry.1 = Model::Head {
                                first: now,
                                last: now,
                            }
                        }
                        Model::Head { ref mut last, .. } => *last = now,
                        _ => {}
                    }
                }
            }
            (2, Some(id)) => {
                table.answering(id, now);
                model.get_mut(&id).unwrap().1 = Model::Responding { since: now };
            }
            (3, Some(id)) => {
                table.written(id, now);
                model.get_mut(&id).unwrap().1 = Model::Lingering { since: now };
            }
            (4, Some(id)) => {
                table.close(id);
                model.remove(&id);
            }
            (5, _) => {
                let ms = if arg % 2 == 0 {
                    u64::from(arg / 2)
                } else {
                    u64::from(arg) * 50
                };
                now = now + Duration::from_millis(ms);
                let due: Vec<Id> = model
                    .iter()
                    .filter(|(_, (accepted, phase))| deadline(&limits, *accepted, *phase) <= now)
                    .map(|(id, _)| *id)
                    .collect();
                let mut gone = table.expire(now);
                gone.sort();
                assert_eq!(gone, due);
                for id in &gone {
                    model.remove(id);
                }
                assert!(table.next_deadline().is_none_or(|d| d > now));
            }
            _ => {}
        }
        assert_eq!(table.len(), model.len());
        assert!(table.len() <= limits.max_conns);
        for (id, (accepted, phase)) in &model {
            assert_eq!(
                table.deadline(*id),
                Some(deadline(&limits, *accepted, *phase))
            );
        }
    }
});

/// The deadline the rules give a connection accepted at `accepted` and now in `phase`.
fn deadline(limits: &Limits, accepted: Instant, phase: Model) -> Instant {
    match phase {
        Model::Silent => accepted + limits.idle_timeout,
        Model::Head { first, .. } => first + limits.read_header_timeout,
        Model::Responding { since } => since + limits.write_timeout,
        Model::Lingering { since } => since + limits.linger,
    }
}

/// From when a newcomer may take the slot of a connection accepted at `accepted` and now in
/// `phase`; `None` while it is being answered.
fn free_from(limits: &Limits, accepted: Instant, phase: Model) -> Option<Instant> {
    match phase {
        Model::Silent => Some(accepted + limits.grace),
        Model::Head { last, .. } => Some(last + limits.grace),
        Model::Responding { .. } => None,
        Model::Lingering { .. } => Some(accepted),
    }
}
