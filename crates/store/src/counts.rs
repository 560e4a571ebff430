//! Per-org counters (`org_counts`): the totals of the unfiltered lists, kept
//! in the transaction of each change, so that reading a total costs the same
//! whatever the org's size.
//!
//! Each org has up to [`STRIPES`] rows; a transaction adds to the one its
//! audit entry's id picks, and a total is the sum of an org's rows. Every
//! write transaction adds to its stripe at its very end, in
//! `events::close` (on PostgreSQL in the same statement as its first event),
//! after all its other row locks, so the counter row is held only until
//! commit and the lock order can never form a cycle.

use diesel::prelude::*;
use integrations_domain::OrgId;

use crate::connection::DbConnection;
use crate::error::{Failure, corrupt};
use crate::schema::org_counts;

/// Rows per org.
pub(crate) const STRIPES: u32 = 16;

/// What one transaction adds to its org's counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delta {
    /// Live templates created (+) or deleted (−).
    pub templates: i64,
    /// Live pipelines created (+) or deleted (−).
    pub pipelines: i64,
    /// Audit entries written.
    pub audit: i64,
}

impl Delta {
    /// A change that wrote `entries` audit entries and nothing else counted.
    pub const fn audited(entries: i64) -> Self {
        Self {
            templates: 0,
            pipelines: 0,
            audit: entries,
        }
    }
}

/// The stripe a transaction adds to: the last character of its audit entry's
/// id, which is random (a ULID's random part), modulo [`STRIPES`].
pub(crate) fn stripe(entry_id: &str) -> i32 {
    let last = entry_id.bytes().last().map_or(0, u32::from);
    // Always below STRIPES (16): fits an i32.
    i32::try_from(last % STRIPES).unwrap_or(0)
}

/// Adds `delta` to the org's counters, on the stripe `entry_id` picks.
/// Call it last in a write transaction (see the module's doc).
pub(crate) fn add(
    conn: &mut DbConnection,
    org: &OrgId,
    entry_id: &str,
    delta: Delta,
) -> Result<(), Failure> {
    // The backends share the upsert syntax, but Diesel's multi-backend
    // connection does not offer it: run it on the concrete connection.
    macro_rules! upsert {
        ($conn:expr) => {
            diesel::insert_into(org_counts::table)
                .values((
                    org_counts::org_id.eq(org.as_str()),
                    org_counts::stripe.eq(stripe(entry_id)),
                    org_counts::live_templates.eq(delta.templates),
                    org_counts::live_pipelines.eq(delta.pipelines),
                    org_counts::audit_entries.eq(delta.audit),
                ))
                .on_conflict((org_counts::org_id, org_counts::stripe))
                .do_update()
                .set((
                    org_counts::live_templates.eq(org_counts::live_templates + delta.templates),
                    org_counts::live_pipelines.eq(org_counts::live_pipelines + delta.pipelines),
                    org_counts::audit_entries.eq(org_counts::audit_entries + delta.audit),
                ))
                .execute($conn)
        };
    }
    match conn {
        DbConnection::Postgres(pg) => upsert!(pg)?,
        DbConnection::Sqlite(sqlite) => upsert!(sqlite)?,
    };
    Ok(())
}

/// The org's totals.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub templates: u64,
    pub pipelines: u64,
    pub audit: u64,
}

/// Reads the org's totals: at most [`STRIPES`] rows, by the primary key.
pub(crate) fn totals(conn: &mut DbConnection, org: &OrgId) -> Result<Totals, Failure> {
    let rows: Vec<(i64, i64, i64)> = org_counts::table
        .filter(org_counts::org_id.eq(org.as_str()))
        .select((
            org_counts::live_templates,
            org_counts::live_pipelines,
            org_counts::audit_entries,
        ))
        .load(conn)?;
    let sum = |pick: fn(&(i64, i64, i64)) -> i64| {
        let total: i64 = rows.iter().map(pick).sum();
        u64::try_from(total).map_err(|err| corrupt("org count", err))
    };
    Ok(Totals {
        templates: sum(|r| r.0)?,
        pipelines: sum(|r| r.1)?,
        audit: sum(|r| r.2)?,
    })
}
