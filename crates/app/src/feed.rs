//! The process's view of the change feed: what each org's newest event is,
//! a short memory of the recent ones, and the requests waiting for one.
//!
//! A waiting request is a future parked on an org's [`watch`] channel: it
//! holds no database connection and no thread. The [`crate::FeedPump`] (one
//! thread per process) learns of new events — from this process's own
//! commits at once, from other processes through the database's channel,
//! and from a slow periodic check — reads them once, and publishes them
//! here, which wakes the waiters of that org; each looks at what was
//! published and goes back to sleep unless an event concerns it.
//!
//! The feed also remembers the last ETag served for each pipeline config and
//! the org's number it was read at, so that a poll naming that ETag is
//! answered without the database while the feed is *fresh* (it would have
//! heard of a change by now).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use integrations_domain::{OrgId, PipelineId};
use integrations_ports::{Event, EventType, OnCommit};
use tokio::sync::watch;

/// How many recent events an org's feed remembers for its waiters. A waiter
/// that falls further behind is woken to look in the database.
const RECENT: usize = 1_024;

/// The most pipeline ETags remembered; past it the memory starts over.
const MAX_REMEMBERED: usize = 200_000;

/// What a waiter needs to know of an event.
#[derive(Debug, Clone)]
pub struct Note {
    /// Its number.
    pub seq: u64,
    /// Its type.
    pub event_type: EventType,
    /// The pipelines it may alter.
    pub pipeline_ids: Arc<[PipelineId]>,
}

impl From<&Event> for Note {
    fn from(event: &Event) -> Self {
        Self {
            seq: event.seq,
            event_type: event.event_type,
            pipeline_ids: event.pipeline_ids.iter().copied().collect(),
        }
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// An event the waiter wanted committed (or the feed lost track and the
    /// waiter should look in the database).
    Changed,
    /// The process is shutting down: answer now.
    Closing,
}

/// One org's feed.
#[derive(Debug)]
struct OrgFeed {
    /// The newest number published.
    latest: watch::Sender<u64>,
    /// The last [`RECENT`] published, oldest first.
    recent: Mutex<Recent>,
}

/// The events an org's feed remembers: every one numbered above `since`.
#[derive(Debug)]
struct Recent {
    since: u64,
    notes: VecDeque<Note>,
}

/// A pipeline config's ETag as last served, and the org's number it was
/// read at.
type Remembered = (String, u64);

/// The key of a remembered ETag: the org, the pipeline, and whether secrets
/// were shown (the ETag differs between the two views).
type ConfigKey = (OrgId, PipelineId, bool);

/// The counters `/metrics` shows.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Requests waiting now (long polls, config watches, streams).
    pub waiting: AtomicI64,
    /// Whether the channel between processes is up (always false on SQLite).
    pub channel_up: AtomicBool,
    /// Milliseconds between an event's time and its publication here, for
    /// the last event published.
    pub lag_ms: AtomicU64,
    /// Events published since start.
    pub published: AtomicU64,
    /// Events pruned by this process since start.
    pub pruned: AtomicU64,
    /// Pruning runs that failed since start.
    pub prune_failures: AtomicU64,
    /// Unix time of the last pruning run that succeeded (0: none yet).
    pub last_prune: AtomicI64,
    /// Config polls answered 304 from memory.
    pub answered_from_memory: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    orgs: Mutex<HashMap<OrgId, Arc<OrgFeed>>>,
    /// Orgs with a local commit the pump has not read yet.
    hinted: Mutex<HashSet<OrgId>>,
    /// Orgs with a local commit not yet published: no ETag of theirs is
    /// answered from memory meanwhile.
    dirty: Mutex<HashSet<OrgId>>,
    wake_pump: Condvar,
    closing: watch::Sender<bool>,
    /// Until when (nanoseconds after `born`) the pump vouches that every
    /// change up to a moment ago was published (see [`Feed::fresh`]); a
    /// pump that stops vouching — stalled, slow, gone — lets it lapse.
    fresh_until: AtomicU64,
    born: Instant,
    configs: Mutex<HashMap<ConfigKey, Remembered>>,
    stats: FeedStats,
}

/// The process's change feed; cheap to clone (all clones share it).
#[derive(Debug, Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

/// Locks a mutex, taking the data of one a panicking thread left behind: a
/// feed's maps hold nothing a half-finished update can break.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops the remembered ETags (both views) of every pipeline `events` name.
fn forget_named(configs: &mut HashMap<ConfigKey, Remembered>, org: &OrgId, events: &[Event]) {
    for pipeline in events.iter().flat_map(|e| e.pipeline_ids.iter()) {
        configs.remove(&(org.clone(), *pipeline, false));
        configs.remove(&(org.clone(), *pipeline, true));
    }
}

/// Counts a waiting request for as long as it lives.
struct Waiting<'a>(&'a AtomicI64);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicI64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Feed {
    /// An empty feed, not yet fresh.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                orgs: Mutex::new(HashMap::new()),
                hinted: Mutex::new(HashSet::new()),
                dirty: Mutex::new(HashSet::new()),
                wake_pump: Condvar::new(),
                closing: watch::Sender::new(false),
                fresh_until: AtomicU64::new(0),
                born: Instant::now(),
                configs: Mutex::new(HashMap::new()),
                stats: FeedStats::default(),
            }),
        }
    }

    /// What `/metrics` shows.
    pub fn stats(&self) -> &FeedStats {
        &self.inner.stats
    }

    /// The hook a store calls after each commit: the pump reads that org's
    /// new events at once.
    pub fn on_commit(&self) -> OnCommit {
        let feed = self.clone();
        Arc::new(move |org: &OrgId| feed.hint(org))
    }

    /// Asks the pump to read `org`'s new events.
    pub(crate) fn hint(&self, org: &OrgId) {
        lock(&self.inner.dirty).insert(org.clone());
        if lock(&self.inner.hinted).insert(org.clone()) {
            self.inner.wake_pump.notify_one();
        }
    }

    /// The orgs hinted since the last call, waiting up to `timeout` for one.
    pub(crate) fn take_hints(&self, timeout: Duration) -> Vec<OrgId> {
        let hinted = lock(&self.inner.hinted);
        let (mut hinted, _) = self
            .inner
            .wake_pump
            .wait_timeout_while(hinted, timeout, |h| {
                h.is_empty() && !*self.inner.closing.borrow()
            })
            .unwrap_or_else(PoisonError::into_inner);
        hinted.drain().collect()
    }

    fn org(&self, org: &OrgId) -> Option<Arc<OrgFeed>> {
        lock(&self.inner.orgs).get(org).cloned()
    }

    /// The newest number published for `org`, when the feed follows it.
    pub fn latest(&self, org: &OrgId) -> Option<u64> {
        self.org(org).map(|feed| *feed.latest.borrow())
    }

    /// Starts following `org` from `seq` (its newest number, just read from
    /// the database) unless it is followed already, and asks the pump to
    /// catch up at once (a commit may have slipped in since).
    pub(crate) fn follow(&self, org: &OrgId, seq: u64) {
        let mut orgs = lock(&self.inner.orgs);
        if orgs.contains_key(org) {
            return;
        }
        orgs.insert(
            org.clone(),
            Arc::new(OrgFeed {
                latest: watch::Sender::new(seq),
                recent: Mutex::new(Recent {
                    since: seq,
                    notes: VecDeque::new(),
                }),
            }),
        );
        drop(orgs);
        self.hint(org);
    }

    /// The orgs followed, with the newest number published for each.
    pub(crate) fn followed(&self) -> Vec<(OrgId, u64)> {
        lock(&self.inner.orgs)
            .iter()
            .map(|(org, feed)| (org.clone(), *feed.latest.borrow()))
            .collect()
    }

    /// Publishes `events` of `org` (numbered above its latest, lowest first):
    /// forgets the ETags of the pipelines they alter, then wakes the org's
    /// waiters.
    pub(crate) fn publish(&self, org: &OrgId, events: &[Event], now: time::OffsetDateTime) {
        let (Some(feed), Some(last)) = (self.org(org), events.last()) else {
            return;
        };
        // Under the ETag memory's lock throughout, so that `remember_etag`
        // sees either none of this or all of it.
        let mut configs = lock(&self.inner.configs);
        forget_named(&mut configs, org, events);
        {
            let mut recent = lock(&feed.recent);
            recent.notes.extend(events.iter().map(Note::from));
            let excess = recent.notes.len().saturating_sub(RECENT);
            let dropped = recent.notes.drain(..excess).next_back();
            if let Some(dropped) = dropped {
                recent.since = dropped.seq;
            }
        }
        feed.latest.send_if_modified(|latest| {
            let moved = last.seq > *latest;
            *latest = (*latest).max(last.seq);
            moved
        });
        drop(configs);
        let stats = &self.inner.stats;
        let lag = (now - last.at).whole_milliseconds().max(0);
        stats
            .lag_ms
            .store(u64::try_from(lag).unwrap_or(u64::MAX), Ordering::Relaxed);
        stats
            .published
            .fetch_add(events.len() as u64, Ordering::Relaxed);
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.inner.born.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether the feed can vouch for changes made in any process up to a
    /// moment ago: the pump said so less than its last promise ago.
    pub fn fresh(&self) -> bool {
        self.now_nanos() < self.inner.fresh_until.load(Ordering::Acquire)
    }

    /// The pump vouches for the next `period` (it has published everything
    /// it was told of, and will hear of what comes).
    pub(crate) fn vouch_for(&self, period: Duration) {
        let until = self
            .now_nanos()
            .saturating_add(u64::try_from(period.as_nanos()).unwrap_or(u64::MAX));
        self.inner.fresh_until.fetch_max(until, Ordering::AcqRel);
    }

    /// The pump can no longer vouch: every remembered ETag is forgotten.
    pub(crate) fn lapse(&self) {
        self.inner.fresh_until.store(0, Ordering::Release);
        lock(&self.inner.configs).clear();
    }

    /// `org`'s local commits so far are published.
    pub(crate) fn clean(&self, org: &OrgId) {
        if !lock(&self.inner.hinted).contains(org) {
            lock(&self.inner.dirty).remove(org);
        }
    }

    /// Forgets the remembered ETags of the pipelines `events` name: a reader
    /// that has seen those events must not get an older ETag from memory,
    /// even before the pump has published them.
    pub(crate) fn forget(&self, org: &OrgId, events: &[Event]) {
        forget_named(&mut lock(&self.inner.configs), org, events);
    }

    /// The ETag last served for a pipeline's config, if the feed is fresh
    /// and no event since has named the pipeline.
    pub(crate) fn remembered_etag(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        clear: bool,
    ) -> Option<String> {
        if !self.fresh() || lock(&self.inner.dirty).contains(org) {
            return None;
        }
        lock(&self.inner.configs)
            .get(&(org.clone(), pipeline, clear))
            .map(|(etag, _)| etag.clone())
    }

    /// Remembers the ETag of a pipeline's config, read from the database
    /// after the org's feed stood at `as_of` — unless an event was published
    /// since (it may have changed the config after the read).
    pub(crate) fn remember_etag(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        clear: bool,
        etag: &str,
        as_of: u64,
    ) {
        if !self.fresh() {
            return;
        }
        let mut configs = lock(&self.inner.configs);
        if configs.len() >= MAX_REMEMBERED {
            configs.clear();
        }
        // Under the lock `publish` holds while it publishes.
        if self.latest(org) == Some(as_of) {
            configs.insert((org.clone(), pipeline, clear), (etag.to_owned(), as_of));
        }
    }

    /// Waits until `org` has an event numbered above `after` that `wanted`
    /// accepts, or the process starts shutting down. The org must be
    /// followed (a use case that reads its events or a pipeline config
    /// starts following it); a wait on one that is not ends at once.
    /// Time limits are the caller's (drop the future).
    pub async fn wait(&self, org: &OrgId, after: u64, wanted: impl Fn(&Note) -> bool) -> Woken {
        let Some(feed) = self.org(org) else {
            return Woken::Changed;
        };
        let _waiting = Waiting::new(&self.inner.stats.waiting);
        let mut latest = feed.latest.subscribe();
        let mut closing = self.inner.closing.subscribe();
        let mut cursor = after;
        loop {
            if *closing.borrow_and_update() {
                return Woken::Closing;
            }
            let newest = *latest.borrow_and_update();
            if newest > cursor {
                let recent = lock(&feed.recent);
                // Behind what is remembered: look in the database.
                if cursor < recent.since {
                    return Woken::Changed;
                }
                if recent.notes.iter().any(|n| n.seq > cursor && wanted(n)) {
                    return Woken::Changed;
                }
                cursor = newest;
            }
            let changed = std::pin::pin!(latest.changed());
            let closed = std::pin::pin!(closing.changed());
            match select(changed, closed).await {
                Either::Left((Ok(()), _)) | Either::Right((Ok(()), _)) => {}
                // The feed went away: nothing more will come.
                Either::Left((Err(_), _)) | Either::Right((Err(_), _)) => return Woken::Closing,
            }
        }
    }

    /// Answers every waiting request and ends every stream: the process is
    /// shutting down.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
        self.inner.wake_pump.notify_all();
    }

    /// Whether [`Feed::close`] was called.
    pub fn closing(&self) -> bool {
        *self.inner.closing.borrow()
    }
}
