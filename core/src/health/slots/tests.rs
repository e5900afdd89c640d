//! The table's decisions on a simulated clock.

use super::*;
use alloc::vec;

const T0: Instant = Instant::from_millis(1_000_000);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn small(max_conns: usize) -> Slots {
    Slots::new(Limits {
        max_conns,
        ..Limits::default()
    })
}

fn admit(t: &mut Slots, now: Instant) -> (Id, Option<Id>) {
    match t.admit(now) {
        Admission::Admitted { id, evicted } => (id, evicted),
        Admission::Refused => panic!("refused at {now:?}"),
    }
}

#[test]
fn a_silent_connection_gets_five_seconds_and_a_started_head_one_second_from_its_first_byte() {
    let mut t = Slots::new(Limits::default());
    let (silent, _) = admit(&mut t, T0);
    let (slow, _) = admit(&mut t, T0);
    assert_eq!(t.deadline(silent), Some(T0 + Duration::from_secs(5)));
    t.received(slow, T0 + ms(3000), 1);
    assert_eq!(t.deadline(slow), Some(T0 + ms(4000)));
    // Later bytes do not extend it: a slowloris holds its slot one second at most.
    t.received(slow, T0 + ms(3500), 1);
    t.received(slow, T0 + ms(3999), 1);
    assert_eq!(t.deadline(slow), Some(T0 + ms(4000)));
    assert_eq!(t.next_deadline(), Some(T0 + ms(4000)));
    assert_eq!(t.expire(T0 + ms(3999)), vec![]);
    assert_eq!(t.expire(T0 + ms(4000)), vec![slow]);
    assert_eq!(t.expire(T0 + ms(4999)), vec![]);
    assert_eq!(t.expire(T0 + ms(5000)), vec![silent]);
    assert!(t.is_empty());
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn read_header_timeout_is_configurable() {
    let mut t = Slots::new(Limits {
        read_header_timeout: ms(250),
        ..Limits::default()
    });
    let (c, _) = admit(&mut t, T0);
    t.received(c, T0 + ms(10), 3);
    assert_eq!(t.deadline(c), Some(T0 + ms(260)));
    // Zero bytes (a read of nothing) is not a first byte.
    let (d, _) = admit(&mut t, T0);
    t.received(d, T0 + ms(10), 0);
    assert_eq!(t.deadline(d), Some(T0 + Duration::from_secs(5)));
}

#[test]
fn a_full_table_evicts_the_connection_idle_the_longest() {
    let mut t = small(3);
    let (a, _) = admit(&mut t, T0);
    let (b, _) = admit(&mut t, T0 + ms(10));
    let (c, _) = admit(&mut t, T0 + ms(20));
    // `a` trickles bytes; `b` has been silent since T0 + 10 ms, the longest.
    t.received(a, T0 + ms(30), 1);
    let (d, evicted) = admit(&mut t, T0 + ms(40));
    assert_eq!(evicted, Some(b));
    assert_eq!(t.len(), 3);
    // Then `c` (silent since T0 + 20 ms), then `a` (last byte at T0 + 30 ms), then `d`.
    assert_eq!(admit(&mut t, T0 + ms(50)).1, Some(c));
    assert_eq!(admit(&mut t, T0 + ms(60)).1, Some(a));
    assert_eq!(admit(&mut t, T0 + ms(70)).1, Some(d));
}

#[test]
fn among_equally_idle_connections_the_one_with_fewest_bytes_goes() {
    let mut t = small(2);
    let (a, _) = admit(&mut t, T0);
    let (b, _) = admit(&mut t, T0);
    t.received(a, T0 + ms(5), 10);
    t.received(b, T0 + ms(5), 2);
    assert_eq!(admit(&mut t, T0 + ms(7)).1, Some(b));
}

#[test]
fn a_connection_being_answered_is_never_evicted_and_a_lingering_one_goes_first() {
    let mut t = small(3);
    let (answering, _) = admit(&mut t, T0);
    let (idle, _) = admit(&mut t, T0 + ms(1));
    let (done, _) = admit(&mut t, T0 + ms(2));
    t.received(answering, T0 + ms(3), 40);
    t.answering(answering, T0 + ms(3));
    t.received(done, T0 + ms(3), 40);
    t.answering(done, T0 + ms(3));
    t.written(done, T0 + ms(3));
    assert_eq!(t.deadline(answering), Some(T0 + ms(5003)));
    assert_eq!(t.deadline(done), Some(T0 + ms(503)));
    // The answered one's response is out: it goes before the idle one.
    assert_eq!(admit(&mut t, T0 + ms(4)).1, Some(done));
    assert_eq!(admit(&mut t, T0 + ms(5)).1, Some(idle));
    // Now two idle newcomers and the one being answered: only newcomers are evicted.
    for at in 6..20 {
        let evicted = admit(&mut t, T0 + ms(at)).1;
        assert_ne!(evicted, Some(answering));
        assert!(evicted.is_some());
    }
    assert_eq!(t.deadline(answering), Some(T0 + ms(5003)));
}

#[test]
fn a_table_of_connections_being_answered_refuses_the_newcomer() {
    let mut t = small(2);
    for _ in 0..2 {
        let (id, _) = admit(&mut t, T0);
        t.answering(id, T0);
    }
    assert_eq!(t.next_room(T0 + ms(1)), Some(T0 + ms(5000)));
    assert_eq!(t.admit(T0 + ms(1)), Admission::Refused);
    assert_eq!(t.len(), 2);
}

#[test]
fn a_reading_connection_keeps_its_slot_for_the_grace_after_its_accept_and_each_byte() {
    let mut t = small(2);
    let (a, _) = admit(&mut t, T0);
    assert_eq!(t.next_room(T0), None, "a free slot");
    let (b, _) = admit(&mut t, T0 + ms(1));
    // Full: `a` may be taken 2 ms after its accept, `b` 2 ms after its.
    assert_eq!(t.next_room(T0 + ms(1)), Some(T0 + ms(2)));
    assert_eq!(t.admit(T0 + ms(1)), Admission::Refused);
    assert_eq!(t.len(), 2);
    // A byte of `a` restarts its grace; then `b` is the first to go.
    t.received(a, T0 + ms(2), 1);
    assert_eq!(t.next_room(T0 + ms(2)), Some(T0 + ms(3)));
    assert_eq!(t.next_room(T0 + ms(3)), None);
    let (c, evicted) = admit(&mut t, T0 + ms(3));
    assert_eq!(evicted, Some(b));
    // A response written brings the room forward: lingering connections go at once.
    assert_eq!(t.next_room(T0 + ms(3)), Some(T0 + ms(4)));
    t.answering(c, T0 + ms(3));
    t.written(c, T0 + ms(3));
    assert_eq!(t.next_room(T0 + ms(3)), None);
    assert_eq!(admit(&mut t, T0 + ms(3)).1, Some(c));
}

#[test]
fn a_flood_of_idle_connections_never_evicts_a_probe_that_sent_its_request() {
    // The starvation scenario on the simulated clock: an attacker opens a connection every
    // millisecond and never sends; a probe connects every 100 ms and sends its request
    // within a millisecond of its accept. Every probe is answered, and the table stays at
    // its bound.
    let mut t = Slots::new(Limits::default());
    let mut probe: Option<(Id, Instant)> = None;
    let mut answered = 0;
    for step in 0..10_000u64 {
        let now = T0 + ms(step);
        for id in t.expire(now) {
            assert!(probe.is_none_or(|(p, _)| p != id), "probe expired");
        }
        if step % 100 == 0 {
            let (id, evicted) = admit(&mut t, now);
            assert!(evicted.is_none_or(|e| probe.is_none_or(|(p, _)| p != e)));
            probe = Some((id, now));
        }
        if let Some((id, at)) = probe
            && now == at + ms(1)
        {
            t.received(id, now, 90);
            t.answering(id, now);
            t.written(id, now);
            answered += 1;
            probe = None;
        }
        let (_, evicted) = admit(&mut t, now);
        assert!(evicted.is_none_or(|e| probe.is_none_or(|(p, _)| p != e)));
        assert!(t.len() <= 16);
    }
    assert_eq!(answered, 100);
}

/// The starvation scenario with the kernel's accept queue: `attackers` connections that
/// never send, each put back in the queue as soon as it is evicted (at most `reconnects`
/// each millisecond, as fast as one attacking process reconnects), and from 50 ms on, once
/// the flood is on, a probe every 100 ms whose request arrives `request_after` its connect. One round a millisecond serves the
/// held connections, then accepts from the queue while [`Slots::next_room`] lets it (one
/// table at most). Returns how long each probe took, or the probe evicted before its answer.
fn flood(limits: Limits, request_after: u64) -> Result<Vec<u64>, u64> {
    use alloc::collections::VecDeque;
    #[derive(Clone, Copy, PartialEq)]
    enum Client {
        Attacker,
        Probe { connected: u64 },
    }
    let (attackers, reconnects) = (1_000, 10);
    let mut t = Slots::new(limits);
    let mut queue: VecDeque<Client> = VecDeque::new();
    let mut evicted_attackers = attackers;
    let mut probe: Option<(Id, u64)> = None;
    let mut took = Vec::new();
    for step in 0..10_200u64 {
        let now = T0 + ms(step);
        let back = evicted_attackers.min(reconnects);
        evicted_attackers -= back;
        queue.extend(core::iter::repeat_n(Client::Attacker, back));
        if step % 100 == 50 && step < 10_000 {
            queue.push_back(Client::Probe { connected: step });
        }
        let mut answer = |t: &mut Slots, id: Id, connected: u64| {
            t.received(id, now, 90);
            t.answering(id, now);
            t.written(id, now);
            took.push(step - connected);
        };
        if let Some((id, connected)) = probe
            && step >= connected + request_after
        {
            answer(&mut t, id, connected);
            probe = None;
        }
        for _ in 0..t.accept_batch() {
            if t.next_room(now).is_some() {
                break;
            }
            let Some(client) = queue.pop_front() else {
                break;
            };
            let (id, evicted) = admit(&mut t, now);
            if let Some(e) = evicted {
                match probe {
                    Some((p, connected)) if p == e => return Err(connected),
                    _ => evicted_attackers += 1,
                }
            }
            if let Client::Probe { connected } = client {
                if step >= connected + request_after {
                    answer(&mut t, id, connected);
                } else {
                    probe = Some((id, connected));
                }
            }
            assert!(t.len() <= t.limits().max_conns);
        }
        evicted_attackers += t.expire(now).len();
    }
    Ok(took)
}

#[test]
fn a_flood_of_silent_connections_leaves_a_probe_time_to_send_its_request() {
    // Without the grace, each newcomer takes the slot of one accepted a moment before: a
    // probe whose request comes 3 ms after its connect is evicted before it arrives.
    let no_grace = Limits {
        grace: Duration::ZERO,
        ..Limits::default()
    };
    assert_eq!(flood(no_grace, 3), Err(50));
    // With it, the table takes 16 connections per 2 ms, fewer than arrive, so newcomers
    // wait in the accept queue and a probe's request is in when it is accepted: all 100
    // are answered, well within kubelet's 1 s timeout.
    let took = flood(Limits::default(), 3).expect("no probe evicted");
    assert_eq!(took.len(), 100);
    assert!(took.iter().all(|&ms| (3..200).contains(&ms)), "{took:?}");
}

#[test]
fn a_round_accepts_one_table_at_most() {
    assert_eq!(small(16).accept_batch(), 16);
    let mut t = small(1);
    let (a, _) = admit(&mut t, T0);
    t.close(a);
    assert!(t.is_empty());
    assert_eq!(t.deadline(a), None);
    // A closed id is forgotten: reports about it change nothing.
    t.received(a, T0, 1);
    t.answering(a, T0);
    t.written(a, T0);
    assert!(t.is_empty());
}
