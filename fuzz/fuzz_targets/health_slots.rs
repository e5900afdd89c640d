//! The health listener's connection table (`health::slots`) under any sequence of accepts,
//! bytes, answers, closes and time passing, checked against a model of its rules: it never
//! holds more than its bound, never evicts a connection being answered, refuses a newcomer
//! only when every slot is being answered, gives each connection the deadline its phase
//! calls for, and expires exactly the connections whose deadline has come.
//!
//! Input: a byte of table size (1 + that % 8), then two bytes per step: an operation and
//! its argument (which connection, how many bytes or milliseconds).
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use svid_core::health::slots::{Admission, Id, Limits, Slots};
use svid_core::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Model {
    Silent,
    Head { first: Instant },
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
            (0, _) => match table.admit(now) {
                Admission::Admitted { id, evicted } => {
                    if let Some(victim) = evicted {
                        let (_, phase) = model.remove(&victim).expect("a known victim");
                        assert!(!matches!(phase, Model::Responding { .. }));
                    } else {
                        assert!(model.len() < limits.max_conns);
                    }
                    assert!(model.insert(id, (now, Model::Silent)).is_none());
                }
                Admission::Refused => {
                    assert_eq!(model.len(), limits.max_conns);
                    assert!(
                        model
                            .values()
                            .all(|(_, p)| matches!(p, Model::Responding { .. }))
                    );
                }
            },
            (1, Some(id)) => {
                table.received(id, now, usize::from(arg % 4));
                let entry = model.get_mut(&id).unwrap();
                if entry.1 == Model::Silent && arg % 4 > 0 {
                    entry.1 = Model::Head { first: now };
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
                now = now + Duration::from_millis(u64::from(arg) * 50);
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
        Model::Head { first } => first + limits.read_header_timeout,
        Model::Responding { since } => since + limits.write_timeout,
        Model::Lingering { since } => since + limits.linger,
    }
}
