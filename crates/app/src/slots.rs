//! Caps on heavy work running at once in one process.
//!
//! A rollout preview or apply renders, checks and diffs up to
//! [`MAX_ROLLOUT_PIPELINES`](crate::MAX_ROLLOUT_PIPELINES) pipelines on one
//! pooled connection; a few of them at once would take the pool from every
//! other request. So each takes a [`Slot`] first — never waiting for one:
//! when every slot is taken the request is refused at once
//! ([`AppError::Busy`]) and the client retries.
//!
//! Requests that are *held* — long polls (`wait`), config watches and event
//! streams — cost no connection and no thread while they wait, but each is
//! an open connection and a waiter on the feed for as long as it lasts (an
//! hour-long stream, say). One user (org and `sub`: every token of theirs
//! together) holds at most [`DEFAULT_MAX_HELD_PER_USER`] of them at once
//! per process, or what `MAX_HELD_REQUESTS_PER_USER` says; the next is
//! refused with [`AppError::Busy`]. A [`Held`] place is given back when the
//! request answers or the stream ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use integrations_domain::{Caller, OrgId, UserId};

use crate::App;
use crate::error::AppError;

/// How many rollout previews and applies one process runs at once (see
/// docs/decisions.md, "Rollouts at once").
pub const MAX_ROLLOUTS_AT_ONCE: usize = 2;

/// Seconds a refused rollout is told to wait (`Retry-After`).
pub const ROLLOUT_RETRY_AFTER_SECONDS: u64 = 1;

/// How many requests one user may hold open at once per process, unless
/// configured otherwise (see docs/decisions.md, "Held requests per user").
pub const DEFAULT_MAX_HELD_PER_USER: u32 = 10_000;

/// Seconds a refused held request is told to wait (`Retry-After`): held
/// requests last seconds to minutes, so sooner would rarely find a place.
pub const HELD_RETRY_AFTER_SECONDS: u64 = 5;

/// Whose held requests are counted together.
type UserKey = (OrgId, UserId);

/// The held requests of each user that holds any.
#[derive(Debug)]
pub(crate) struct Holds {
    held: Mutex<HashMap<UserKey, u32>>,
    /// 0: no cap.
    max: u32,
}

/// A place among a user's held requests; given back when dropped.
#[derive(Debug)]
#[must_use = "the place is given back when dropped"]
pub struct Held(Option<(Arc<Holds>, UserKey)>);

impl Holds {
    pub(crate) fn new(max: u32) -> Arc<Self> {
        Arc::new(Self {
            held: Mutex::new(HashMap::new()),
            max,
        })
    }

    /// A place for one more held request of `key`, or `None` when it holds
    /// `max` already.
    fn try_hold(self: &Arc<Self>, key: UserKey) -> Option<Held> {
        if self.max == 0 {
            return Some(Held(None));
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Held(Some((Arc::clone(self), key))))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some((holds, key)) = self.0.take() else {
            return;
        };
        let mut held = holds.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Only users holding something are remembered.
                held.remove(&key);
            }
        }
    }
}

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

    /// Takes a place for one more held request (a long poll, a config
    /// watch, an event stream) of `caller`'s user, counted per org and
    /// `sub` whatever the token; held until the returned [`Held`] is
    /// dropped. The HTTP adapter takes one before a request waits; a test
    /// may hold them all to see a request refused.
    ///
    /// # Errors
    /// [`AppError::Busy`] when the user holds the most allowed already.
    pub fn hold(&self, caller: &Caller) -> Result<Held, AppError> {
        self.holds
            .try_hold((caller.org.clone(), caller.user.clone()))
            .ok_or(AppError::Busy {
                what: "held requests (long polls, config watches and event streams) of this user",
                retry_after_seconds: HELD_RETRY_AFTER_SECONDS,
            })
    }

    /// This application, letting each user hold at most `max` requests
    /// open at once (`MAX_HELD_REQUESTS_PER_USER`); 0 turns the cap off.
    #[must_use]
    pub fn with_max_held_per_user(mut self, max: u32) -> Self {
        self.holds = Holds::new(max);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn held_requests_are_counted_per_user_and_given_back() {
        use integrations_domain::{OrgId, UserId};

        use super::Holds;
        let user = |org: &str, sub: &str| {
            (
                OrgId::parse(org).expect("an org"),
                UserId::parse(sub).expect("a user"),
            )
        };
        let holds = Holds::new(2);
        let a = holds.try_hold(user("org_a", "ada")).expect("one");
        let b = holds.try_hold(user("org_a", "ada")).expect("two");
        assert!(holds.try_hold(user("org_a", "ada")).is_none(), "full");
        // Another user, or the same name in another org, is counted apart.
        let other = holds.try_hold(user("org_a", "bob")).expect("bob");
        let elsewhere = holds.try_hold(user("org_b", "ada")).expect("org_b");
        drop(a);
        let c = holds.try_hold(user("org_a", "ada")).expect("given back");
        drop((b, c, other, elsewhere));
        assert!(
            holds.held.lock().is_ok_and(|held| held.is_empty()),
            "users holding nothing are forgotten"
        );
        // 0: no cap.
        let open = Holds::new(0);
        let many: Vec<_> = (0..100)
            .map(|_| open.try_hold(user("org_a", "ada")))
            .collect();
        assert!(many.iter().all(Option::is_some));
    }

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
