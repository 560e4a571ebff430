//! Reading the change feed (docs/api.md, "Events").

use std::sync::Arc;

use integrations_domain::{Action, Caller, OrgId, PipelineId};
use integrations_ports::{Event, EventType, StoreSession};

use crate::error::AppError;
use crate::feed::{Note, Woken};
use crate::{App, authorize};

/// The most events one answer holds.
pub const MAX_EVENTS: u32 = 1_000;

/// How many events an answer examines at most when filters leave most of
/// them out; its `next` then says how far it got. A held request (`wait`)
/// or a stream's turn counts what all its reads examined against the same
/// bound: past it, it answers (or sends a checkpoint) instead of reading on.
pub const MAX_EXAMINED: u64 = 5_000;

/// How many pipeline ids the events of one answer may list in all, so a
/// page of events about templates pinned by thousands of pipelines stays
/// small; the page ends early instead.
const MAX_PIPELINE_IDS: usize = 100_000;

/// Which events a reader wants.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only these types (empty: all).
    pub types: Vec<EventType>,
    /// Only events listing this pipeline.
    pub pipeline: Option<PipelineId>,
}

impl EventFilter {
    fn is_empty(&self) -> bool {
        self.types.is_empty() && self.pipeline.is_none()
    }

    fn accepts(&self, event_type: EventType, pipelines: &[PipelineId]) -> bool {
        (self.types.is_empty() || self.types.contains(&event_type))
            && self.pipeline.is_none_or(|p| pipelines.contains(&p))
    }

    /// Whether a published event is one this reader wants.
    pub fn wants(&self, note: &Note) -> bool {
        self.accepts(note.event_type, &note.pipeline_ids)
    }
}

/// A request for events.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Events numbered above this; `None`: from the oldest kept.
    pub after: Option<u64>,
    /// At most this many (1 to [`MAX_EVENTS`]).
    pub limit: u32,
    /// Which ones.
    pub filter: Arc<EventFilter>,
}

/// One answer of the feed.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events, lowest number first.
    pub events: Vec<Event>,
    /// Where to continue: the highest number examined, or `after` when
    /// nothing was, or 0 when neither.
    pub next: u64,
    /// How many events this answer read, matching or not.
    pub examined: u64,
    /// The org's newest number when the answer was read.
    pub event_seq: u64,
}

impl App {
    /// A page of the org's events above `query.after`, lowest first.
    ///
    /// # Errors
    /// `Forbidden` (never: every role reads the feed); `CursorExpired` when
    /// events just above `after` were pruned; `Unavailable`.
    pub fn events(&self, caller: &Caller, query: &EventQuery) -> Result<EventPage, AppError> {
        authorize(caller, Action::Read)?;
        let store = self.store.session();
        let event_seq = org_seq(&*store, &caller.org)?;
        self.feed.follow(&caller.org, event_seq);
        let start = query.after.unwrap_or(0);
        let batch = if query.filter.is_empty() {
            query.limit
        } else {
            query.limit.clamp(100, MAX_EVENTS)
        };
        let mut events = Vec::new();
        let mut examined = start;
        let mut read_in_all = 0;
        let mut listed = 0;
        let mut first = true;
        loop {
            let read = store.events_after(&caller.org, examined, batch)?;
            if first && let Some(after) = query.after {
                // The kept events are an unbroken run: a first one above
                // after + 1, or none while the org has newer ones, means
                // what came between was pruned.
                let oldest = read.first().map_or(event_seq + 1, |e| e.seq);
                if after < event_seq && oldest > after + 1 {
                    return Err(AppError::CursorExpired { after, oldest });
                }
            }
            first = false;
            let complete = read.len() < batch as usize;
            // A reader of these events must not then get an older config
            // ETag from this process's memory.
            self.feed.forget(&caller.org, &read);
            for event in read {
                examined = event.seq;
                read_in_all += 1;
                if query.filter.accepts(event.event_type, &event.pipeline_ids) {
                    listed += event.pipeline_ids.len();
                    events.push(event);
                    if events.len() == query.limit as usize || listed >= MAX_PIPELINE_IDS {
                        return Ok(EventPage {
                            events,
                            next: examined,
                            examined: read_in_all,
                            event_seq,
                        });
                    }
                }
            }
            if complete || examined - start >= MAX_EXAMINED {
                break;
            }
        }
        Ok(EventPage {
            events,
            next: examined,
            examined: read_in_all,
            event_seq,
        })
    }

    /// Waits until the org has an event above `after` that `filter` accepts,
    /// or the process is shutting down. Holds no connection and no thread.
    pub async fn wait_for_events(&self, org: &OrgId, after: u64, filter: &EventFilter) -> Woken {
        self.feed.wait(org, after, |note| filter.wants(note)).await
    }

    /// Waits until an event above `after` names the pipeline (its rendered
    /// configs may have changed), or the process is shutting down. Holds
    /// no connection and no thread.
    pub async fn wait_for_config(&self, org: &OrgId, pipeline: &str, after: u64) -> Woken {
        let Ok(pipeline) = pipeline.parse::<PipelineId>() else {
            return Woken::Changed;
        };
        self.feed
            .wait(org, after, |note| note.pipeline_ids.contains(&pipeline))
            .await
    }

    /// The process's change feed.
    pub fn feed(&self) -> &crate::Feed {
        &self.feed
    }
}

/// The org's newest event number (0 before its first).
pub(crate) fn org_seq(store: &dyn StoreSession, org: &OrgId) -> Result<u64, AppError> {
    Ok(store
        .last_seqs(std::slice::from_ref(org))?
        .first()
        .map_or(0, |(_, seq)| *seq))
}
