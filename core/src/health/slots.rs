//! The health listener's connection table, sans-I/O: which connection to evict when a new
//! one arrives and the table is full, which deadline applies to each connection, and how
//! many connections to accept in one round. The daemon (`daemon/src/health.rs`) accepts,
//! reads, writes and closes what this table says; time enters as [`Instant`] arguments.
//!
//! The policy, so that held connections cost the probes nothing (issue 17, point 6):
//! - the listener keeps accepting when the table is full: a new connection takes the slot of
//!   a connection whose response is already out (lingering), or else of the head-reading
//!   connection idle the longest (its last byte, or its accept when it sent none), the one
//!   that sent the fewest bytes among equals. A connection being answered is never evicted;
//! - a head-reading connection keeps its slot for [`Limits::grace`] after its accept and
//!   after each byte. When no slot may be taken, [`Slots::next_room`] says when one may be,
//!   and the listener waits until then: newcomers wait in the kernel's accept queue, where a
//!   probe's request arrives before its accept, instead of each newcomer evicting a
//!   connection accepted a moment before, whose request may be just behind its connect. So a
//!   flood of connections that send nothing takes at most `max_conns` slots per `grace`;
//! - a connection that sent nothing is closed [`Limits::idle_timeout`] after its accept
//!   (5 s: upstream's `ReadHeaderTimeout` in `pkg/health/health.go@v0.11.0`); once the
//!   first byte of its head came, the rest must come within [`Limits::read_header_timeout`]
//!   of that byte (1 s by default, `health_checks.read_header_timeout`), so a client that
//!   trickles bytes holds its slot at most that long;
//! - the response must be written within [`Limits::write_timeout`], then unread input is
//!   drained for at most [`Limits::linger`];
//! - one round accepts at most [`Slots::accept_batch`] connections, after the connections
//!   already held are served, so a flood of connects cannot delay an answer.
//!
//! The table never holds more than [`Limits::max_conns`] connections.

use alloc::vec::Vec;
use core::time::Duration;

use crate::time::Instant;

/// `read_header_timeout` when not configured.
pub const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// The table's bounds; [`Limits::default`] is what the daemon uses but for
/// `read_header_timeout`, which is configurable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections held at once.
    pub max_conns: usize,
    /// From accept to the first byte of the head.
    pub idle_timeout: Duration,
    /// From the first byte of the head to the end of the head.
    pub read_header_timeout: Duration,
    /// From a complete head to the whole response written.
    pub write_timeout: Duration,
    /// After the response, how long unread input is drained before closing.
    pub linger: Duration,
    /// How long a connection reading its head keeps its slot against newcomers, from its
    /// accept and from each byte.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_conns: 16,
            idle_timeout: Duration::from_secs(5),
            read_header_timeout: DEFAULT_READ_HEADER_TIMEOUT,
            write_timeout: Duration::from_secs(5),
            linger: Duration::from_millis(500),
            grace: Duration::from_millis(2),
        }
    }
}

/// A connection of the table; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(u64);

/// What to do with a connection just accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the listener must close what each admission says"
)]
pub enum Admission {
    /// Keep it as `id`; close `evicted` first, if any.
    Admitted {
        /// The new connection.
        id: Id,
        /// The connection whose slot it takes.
        evicted: Option<Id>,
    },
    /// No slot may be taken now ([`Slots::next_room`] said when one may be): close the new
    /// one.
    Refused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading the head: `bytes` so far, the first and the last arrived then.
    Head {
        bytes: usize,
        first: Option<Instant>,
        last: Option<Instant>,
    },
    /// The head is complete (or refused); the response is being written.
    Responding,
    /// The response is out; input is drained until the deadline.
    Lingering,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    id: Id,
    accepted: Instant,
    phase: Phase,
    deadline: Instant,
}

impl Slot {
    /// From when a newcomer may take this slot: at once (its accept, long past) when its
    /// response is out, `grace` after its last byte (or its accept) while its head is read,
    /// and when its deadline closes it while it is answered.
    fn free_from(&self, grace: Duration) -> Instant {
        match self.phase {
            Phase::Lingering => self.accepted,
            Phase::Head { last, .. } => last.unwrap_or(self.accepted) + grace,
            Phase::Responding => self.deadline,
        }
    }

    /// The eviction order: lingering connections first (oldest deadline first), then
    /// head-reading ones idle the longest, fewest bytes first among equals; `None` for a
    /// connection being answered.
    fn eviction_key(&self) -> Option<(u8, Instant, usize, Id)> {
        match self.phase {
            Phase::Lingering => Some((0, self.deadline, 0, self.id)),
            Phase::Head { bytes, last, .. } => {
                Some((1, last.unwrap_or(self.accepted), bytes, self.id))
            }
            Phase::Responding => None,
        }
    }
}

/// The connection table.
#[derive(Debug)]
pub struct Slots {
    limits: Limits,
    slots: Vec<Slot>,
    next: u64,
}

impl Slots {
    /// An empty table with these bounds.
    pub fn new(limits: Limits) -> Self {
        Slots {
            limits,
            slots: Vec::with_capacity(limits.max_conns),
            next: 0,
        }
    }

    /// The table's bounds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Connections held now.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// How many connections one round may accept: one table's worth.
    pub fn accept_batch(&self) -> usize {
        self.limits.max_conns
    }

    /// `None` when a connection accepted at `now` gets a slot (a free one, or one it may
    /// take); otherwise the earliest instant one may be taken, which a response written in
    /// the meantime brings forward (at or before `now` only while a connection being
    /// answered is past its deadline, until [`Slots::expire`] closes it). The listener
    /// accepts only while this is `None`.
    #[must_use]
    pub fn next_room(&self, now: Instant) -> Option<Instant> {
        self.room(now).err()
    }

    /// Where a connection accepted at `now` goes: `Ok(None)` a free slot, `Ok(Some(i))`
    /// the slot `i` it takes (see the module doc for which), or `Err` when one may be taken.
    fn room(&self, now: Instant) -> Result<Option<usize>, Instant> {
        if self.slots.len() < self.limits.max_conns {
            return Ok(None);
        }
        let grace = self.limits.grace;
        let victim = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.free_from(grace) <= now)
            .filter_map(|(i, s)| s.eviction_key().map(|k| (k, i)))
            .min();
        match victim {
            Some((_, i)) => Ok(Some(i)),
            None => Err(self
                .slots
                .iter()
                .map(|s| s.free_from(grace))
                .min()
                .unwrap_or(now)),
        }
    }

    /// A connection was accepted at `now`: gives it a slot, evicting one if the table is
    /// full, or refuses it when [`Slots::next_room`] is not `None`.
    pub fn admit(&mut self, now: Instant) -> Admission {
        let evicted = match self.room(now) {
            Ok(victim) => victim.map(|i| self.slots.swap_remove(i).id),
            Err(_) => return Admission::Refused,
        };
        let id = Id(self.next);
        self.next += 1;
        self.slots.push(Slot {
            id,
            accepted: now,
            phase: Phase::Head {
                bytes: 0,
                first: None,
                last: None,
            },
            deadline: now + self.limits.idle_timeout,
        });
        Admission::Admitted { id, evicted }
    }

    fn slot(&mut self, id: Id) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }

    /// `n` bytes of `id`'s head arrived at `now`. The first byte starts the
    /// `read_header_timeout`; later bytes do not extend it.
    pub fn received(&mut self, id: Id, now: Instant, n: usize) {
        let header_timeout = self.limits.read_header_timeout;
        if let Some(s) = self.slot(id)
            && let Phase::Head { bytes, first, last } = &mut s.phase
            && n > 0
        {
            *bytes = bytes.saturating_add(n);
            *last = Some(now);
            if first.is_none() {
                *first = Some(now);
                s.deadline = now + header_timeout;
            }
        }
    }

    /// `id`'s head is complete (or refused) at `now`: its response is being written, and
    /// it can no longer be evicted.
    pub fn answering(&mut self, id: Id, now: Instant) {
        let timeout = self.limits.write_timeout;
        if let Some(s) = self.slot(id) {
            s.phase = Phase::Responding;
            s.deadline = now + timeout;
        }
    }

    /// `id`'s response is fully written at `now`: input is drained until the linger ends.
    pub fn written(&mut self, id: Id, now: Instant) {
        let linger = self.limits.linger;
        if let Some(s) = self.slot(id) {
            s.phase = Phase::Lingering;
            s.deadline = now + linger;
        }
    }

    /// `id` was closed (by its peer, or on an error).
    pub fn close(&mut self, id: Id) {
        self.slots.retain(|s| s.id != id);
    }

    /// When `id` is closed unless it moves on.
    pub fn deadline(&self, id: Id) -> Option<Instant> {
        self.slots.iter().find(|s| s.id == id).map(|s| s.deadline)
    }

    /// The earliest deadline of the table.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots.iter().map(|s| s.deadline).min()
    }

    /// Removes the connections whose deadline is at or before `now` and returns them, to be
    /// closed.
    pub fn expire(&mut self, now: Instant) -> Vec<Id> {
        let mut gone = Vec::new();
        self.slots.retain(|s| {
            let keep = s.deadline > now;
            if !keep {
                gone.push(s.id);
            }
            keep
        });
        gone
    }
}

#[cfg(test)]
mod tests;
