//! The feed's pump: the one thread per process that reads new events from
//! the database and publishes them to the [`Feed`], tells the other
//! processes, and prunes the feed.
//!
//! It learns that an org has new events three ways: this process's commits
//! (the store's commit hook, at once), the other processes' announcements
//! (PostgreSQL `LISTEN`/`NOTIFY` on a connection of its own), and a periodic
//! check of the followed orgs' newest numbers — every few seconds while the
//! channel is up, and often enough to keep the feed fresh while it is down
//! or where there is none.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use integrations_domain::OrgId;
use integrations_ports::{Announcement, ChangeChannel, ChangeChannels, Clock, Store, StoreResult};

use crate::feed::Feed;

/// Events read per query while catching up.
const READ_BATCH: u32 = 500;

/// Events deleted per pruning transaction (one per turn of the pump).
const PRUNE_BATCH: u32 = 500;

/// How long a turn that heard everything lets the feed answer from memory:
/// a pump that stalls for longer (a slow query, a lost thread) stops
/// vouching without having to say so.
const VOUCH: Duration = Duration::from_millis(500);

/// The pump's settings.
#[derive(Debug, Clone)]
pub struct PumpOptions {
    /// How long events are kept.
    pub retention: Duration,
    /// How often the followed orgs are checked while the channel between
    /// processes is up.
    pub slow_check: Duration,
    /// How often they are checked without a channel (SQLite, or PostgreSQL
    /// while the listening connection is down).
    pub fast_check: Duration,
    /// How often pruning runs.
    pub prune_every: Duration,
}

impl Default for PumpOptions {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 86_400),
            slow_check: Duration::from_secs(5),
            fast_check: Duration::from_millis(200),
            prune_every: Duration::from_secs(60),
        }
    }
}

/// The pump; [`FeedPump::run`] it on a thread of its own.
pub struct FeedPump {
    feed: Feed,
    store: Arc<dyn Store>,
    channels: Arc<dyn ChangeChannels>,
    clock: Arc<dyn Clock>,
    options: PumpOptions,
    channel: Option<Box<dyn ChangeChannel>>,
    /// Whether the database offers a channel at all (PostgreSQL).
    shared: bool,
    last_check: Option<Instant>,
    last_prune: Option<Instant>,
    last_reconnect: Option<Instant>,
}

impl std::fmt::Debug for FeedPump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedPump")
            .field("options", &self.options)
            .field("channel", &self.channel.is_some())
            .finish_non_exhaustive()
    }
}

impl FeedPump {
    /// A pump for `feed`, reading from `store`.
    pub fn new(
        feed: Feed,
        store: Arc<dyn Store>,
        channels: Arc<dyn ChangeChannels>,
        clock: Arc<dyn Clock>,
        options: PumpOptions,
    ) -> Self {
        Self {
            feed,
            store,
            channels,
            clock,
            options,
            channel: None,
            shared: true,
            last_check: None,
            last_prune: None,
            last_reconnect: None,
        }
    }

    /// Runs until the feed closes.
    pub fn run(mut self) {
        while !self.feed.closing() {
            self.step();
        }
    }

    /// One turn: connect if need be, gather what changed, read and publish
    /// it, announce this process's commits, check and prune when due.
    pub fn step(&mut self) {
        self.connect();
        let mut touched: HashSet<OrgId> = HashSet::new();
        let local = match &mut self.channel {
            Some(channel) => {
                match channel.receive(Duration::from_millis(5)) {
                    Ok(heard) => touched.extend(self.behind(&heard)),
                    Err(err) => {
                        tracing::warn!(error = %err, "the listening connection was lost; reconnecting");
                        self.lose_channel();
                    }
                }
                self.feed.take_hints(Duration::ZERO)
            }
            None => self.feed.take_hints(self.until_check()),
        };
        touched.extend(local.iter().cloned());
        let mut ok = true;
        let mut announce = Vec::new();
        for org in &touched {
            match self.catch_up(org) {
                // An org this process does not follow has new events all
                // the same: "look" (the highest number) is enough.
                Ok(seq) if local.contains(org) => {
                    self.feed.clean(org);
                    announce.push(Announcement {
                        org: org.clone(),
                        seq: seq.unwrap_or(u64::MAX),
                    });
                }
                Ok(_) => {}
                Err(()) => ok = false,
            }
        }
        if !announce.is_empty()
            && let Some(channel) = &mut self.channel
            && let Err(err) = channel.announce(&announce)
        {
            tracing::warn!(error = %err, "cannot announce changes; reconnecting");
            self.lose_channel();
        }
        if self.check_due() {
            ok &= self.check();
        }
        if !ok {
            self.feed.lapse();
        } else if self.channel.is_some() || !self.shared {
            // Heard everything (or there is no one else to hear): good
            // until the next turn is overdue.
            self.feed.vouch_for(VOUCH);
        }
        self.prune_if_due();
    }

    /// Drops a broken channel: until a check has run without it, the feed
    /// cannot vouch for other processes' changes.
    fn lose_channel(&mut self) {
        self.channel = None;
        self.feed.stats().channel_up.store(false, Ordering::Relaxed);
        self.feed.lapse();
        self.last_check = None;
    }

    /// Opens the channel when there is none (at most once a second).
    fn connect(&mut self) {
        if self.channel.is_some() || !self.shared {
            return;
        }
        if self
            .last_reconnect
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_reconnect = Some(Instant::now());
        match self.channels.open_channel() {
            Ok(Some(channel)) => {
                tracing::info!("listening for changes made by other processes");
                self.channel = Some(channel);
                self.feed.stats().channel_up.store(true, Ordering::Relaxed);
                // Whatever was announced while deaf: the next check finds it.
                self.last_check = None;
            }
            Ok(None) => self.shared = false,
            Err(err) => {
                tracing::warn!(error = %err, "cannot open the listening connection; checking periodically");
            }
        }
    }

    /// The announced orgs this process follows and has not caught up with.
    fn behind(&self, heard: &[Announcement]) -> Vec<OrgId> {
        heard
            .iter()
            .filter(|a| {
                self.feed
                    .latest(&a.org)
                    .is_some_and(|latest| latest < a.seq)
            })
            .map(|a| a.org.clone())
            .collect()
    }

    fn check_every(&self) -> Duration {
        if self.channel.is_some() {
            self.options.slow_check
        } else {
            self.options.fast_check
        }
    }

    fn until_check(&self) -> Duration {
        self.last_check.map_or(Duration::ZERO, |at| {
            self.check_every().saturating_sub(at.elapsed())
        })
    }

    fn check_due(&self) -> bool {
        self.until_check().is_zero()
    }

    /// Reads and publishes `org`'s events above what the feed has; the newest
    /// number published, if any. `Err` when the database did not answer.
    fn catch_up(&self, org: &OrgId) -> Result<Option<u64>, ()> {
        let Some(mut latest) = self.feed.latest(org) else {
            return Ok(None);
        };
        let mut published = None;
        loop {
            let events = match self.store.events_after(org, latest, READ_BATCH) {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(org = %org, error = %err, "cannot read new events");
                    return Err(());
                }
            };
            let Some(last) = events.last() else {
                return Ok(published);
            };
            latest = last.seq;
            published = Some(latest);
            self.feed.publish(org, &events, self.clock.now());
            if events.len() < READ_BATCH as usize {
                return Ok(published);
            }
        }
    }

    /// Compares the followed orgs' newest numbers with the database's and
    /// catches up where behind. Afterwards the feed is fresh if everything
    /// answered and the channel is up (or there is none to wait for).
    fn check(&mut self) -> bool {
        self.last_check = Some(Instant::now());
        let followed = self.feed.followed();
        let mut ok = true;
        for chunk in followed.chunks(500) {
            let orgs: Vec<OrgId> = chunk.iter().map(|(org, _)| org.clone()).collect();
            match self.last_seqs(&orgs) {
                Ok(newest) => {
                    for (org, seq) in newest {
                        if self.feed.latest(&org).is_some_and(|latest| latest < seq) {
                            ok &= self.catch_up(&org).is_ok();
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot check the feed");
                    ok = false;
                }
            }
        }
        // Without a channel, a check every `fast_check` is what vouches for
        // the other processes' changes, until the next one is overdue.
        if ok {
            self.feed.vouch_for(self.check_every() + VOUCH);
        }
        ok
    }

    /// `work` over the listening connection while there is one (a process
    /// that only waits keeps no pooled connection open), else `fallback`
    /// through the pool; a channel that fails is dropped first.
    fn over_channel<T>(
        &mut self,
        work: impl FnOnce(&mut dyn ChangeChannel) -> StoreResult<T>,
        fallback: impl FnOnce(&dyn Store) -> StoreResult<T>,
    ) -> StoreResult<T> {
        if let Some(channel) = &mut self.channel {
            match work(channel.as_mut()) {
                Ok(done) => return Ok(done),
                Err(err) => {
                    tracing::warn!(error = %err, "the listening connection was lost; reconnecting");
                    self.lose_channel();
                }
            }
        }
        fallback(&*self.store)
    }

    /// The followed orgs' newest numbers.
    fn last_seqs(&mut self, orgs: &[OrgId]) -> StoreResult<Vec<(OrgId, u64)>> {
        self.over_channel(
            |channel| channel.last_seqs(orgs),
            |store| store.last_seqs(orgs),
        )
    }

    /// One batch of pruning.
    fn prune(&mut self, before: time::OffsetDateTime) -> StoreResult<u64> {
        self.over_channel(
            |channel| channel.prune_events(before, PRUNE_BATCH),
            |store| store.prune_events(before, PRUNE_BATCH),
        )
    }

    /// Deletes one small batch of expired events when pruning is due, and
    /// keeps it due while batches come back full: publishing goes on
    /// between batches, however large the backlog.
    fn prune_if_due(&mut self) {
        if self
            .last_prune
            .is_some_and(|at| at.elapsed() < self.options.prune_every)
        {
            return;
        }
        let retention =
            time::Duration::try_from(self.options.retention).unwrap_or(time::Duration::MAX);
        let before = self.clock.now() - retention;
        let pruned = self.prune(before);
        let stats = self.feed.stats();
        match pruned {
            Ok(pruned) if pruned > 0 => {
                stats.pruned.fetch_add(pruned, Ordering::Relaxed);
                // Due again at the next turn.
            }
            Ok(_) => {
                self.last_prune = Some(Instant::now());
                stats
                    .last_prune
                    .store(self.clock.now().unix_timestamp(), Ordering::Relaxed);
            }
            Err(err) => {
                self.last_prune = Some(Instant::now());
                tracing::warn!(error = %err, "cannot prune the feed");
                stats.prune_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
