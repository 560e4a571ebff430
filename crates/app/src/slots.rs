//! Caps on heavy work running at once in one process.
//!
//! A rollout preview or apply renders, checks and diffs up to
//! [`MAX_ROLLOUT_PIPELINES`](crate::MAX_ROLLOUT_PIPELINES) pipelines on one
//! pooled connection; a few of them at once would take the pool from every
//! other request. So each takes a [`Slot`] first — never waiting for one:
//! when every slot is taken the request is refused at once
//! ([`AppError::Busy`]) and the client retries.

use std::sync::{Arc, Mutex, PoisonError};

use crate::App;
use crate::error::AppError;

/// How many rollout previews and applies one process runs at once (see
/// docs/decisions.md, "Rollouts at once").
pub const MAX_ROLLOUTS_AT_ONCE: usize = 2;

/// Seconds a refused rollout is told to wait (`Retry-After`).
pub const ROLLOUT_RETRY_AFTER_SECONDS: u64 = 1;

/// A counting semaphore that never waits.
#[derive(Debug)]
pub(crate) struct Slots {
    taken: Mutex<usize>,
    max: usize,
}

/// A slot taken from a cap; it is given back when dropped.
#[derive(Debug)]
#[must_use = "the slot is given back when dropped"]
pub struct Slot(Arc<Slots>);

impl Slots {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            taken: Mutex::new(0),
            max,
        })
    }

    /// A slot, or `None` when all `max` are taken.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if *taken >= self.max {
            return None;
        }
        *taken += 1;
        Some(Slot(Arc::clone(self)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.0.taken.lock().unwrap_or_else(PoisonError::into_inner);
        *taken = taken.saturating_sub(1);
    }
}

impl App {
    /// Takes one of the process's [`MAX_ROLLOUTS_AT_ONCE`] slots for a
    /// rollout preview or apply, held until the returned [`Slot`] is dropped.
    /// The rollout use cases take one themselves; a test may hold them all
    /// to see a rollout refused.
    ///
    /// # Errors
    /// [`AppError::Busy`] when every slot is taken.
    pub fn rollout_slot(&self) -> Result<Slot, AppError> {
        self.rollout_slots.try_take().ok_or(AppError::Busy {
            what: "rollout previews and applies",
            retry_after_seconds: ROLLOUT_RETRY_AFTER_SECONDS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn a_full_cap_refuses_and_a_dropped_slot_is_given_back() {
        let slots = Slots::new(2);
        let first = slots.try_take().expect("one");
        let second = slots.try_take().expect("two");
        assert!(slots.try_take().is_none(), "the cap is 2");
        drop(first);
        let third = slots.try_take().expect("given back");
        assert!(slots.try_take().is_none());
        drop((second, third));
        assert!(slots.try_take().is_some());
    }
}
