//! What the use cases count, for an adapter's metrics.
//!
//! A count is taken where the thing happens — in the use case, after the
//! store committed the change — so it holds whatever route, retry or
//! adapter led there: an idempotent replay answers from the recorded
//! response without running the use case, and counts nothing.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of what the application did since the process started, shared
/// by every clone of the [`App`](crate::App). Read them with the getters;
/// only the use cases add to them.
#[derive(Debug, Default)]
pub struct Counters {
    revisions_created: AtomicU64,
}

impl Counters {
    /// Revisions created: by "create a revision", by a restore (which is a
    /// new revision copying an old one) and by an install from the catalog
    /// (which creates revision 1). A request that failed or was replayed
    /// created none.
    pub fn revisions_created(&self) -> u64 {
        self.revisions_created.load(Ordering::Relaxed)
    }

    /// Counts one created revision (once its transaction committed).
    pub(crate) fn revision_created(&self) {
        self.revisions_created.fetch_add(1, Ordering::Relaxed);
    }
}
