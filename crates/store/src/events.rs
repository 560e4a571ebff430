//! The change feed: events appended at the end of each change's transaction,
//! read in `seq` order, pruned in small batches; and the channel between
//! processes (PostgreSQL `LISTEN`/`NOTIFY`).
//!
//! Order (docs/decisions.md, "The change feed"): a change takes its event's
//! number from the org's `event_seqs` row with an `UPDATE`, as its very last
//! statement, and that row stays locked until the change commits. The next
//! change of the org waits for the lock, so numbers are handed out and
//! committed in the same order, a rolled-back change gives its number back,
//! and an org's events are numbered without gaps. Pruning deletes from the
//! bottom of that run and never touches `event_seqs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
use integrations_domain::{OrgId, PipelineId, UserId};
use integrations_ports::{
    Affected, Announcement, AuditEntry, ChangeChannel, ChangeChannels, Event, EventStore, NewEvent,
    StoreError, StoreResult,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::connection::{DbConnection, establish};
use crate::counts::{self, Delta};
use crate::error::{Failure, corrupt};
use crate::rows::timestamp;
use crate::schema::{event_seqs, events};
use crate::url::DatabaseUrl;
use crate::{Connections, DieselStore};

/// The `LISTEN`/`NOTIFY` channel every process of a deployment shares.
pub const CHANNEL: &str = "integrations_events";

/// The end of every change's transaction: adds `delta` to the org's
/// counters, then appends one event per audit entry the change wrote, in
/// that order. Nothing may follow it before the commit (see the module's doc).
///
/// `stamp`, when given, dates the events and history of the change (never
/// earlier than an entry's own time): the time as the change closes, read
/// inside its transaction (see `DieselStore::with_clock`).
pub(crate) fn close(
    conn: &mut DbConnection,
    org: &OrgId,
    delta: Delta,
    entries: &[&AuditEntry],
    stamp: Option<OffsetDateTime>,
) -> Result<(), Failure> {
    let stripe_of = entries
        .first()
        .map(|e| e.id.to_string())
        .unwrap_or_default();
    let mut counted = Some(delta);
    if !matches!(conn, DbConnection::Postgres(_)) {
        counts::add(conn, org, &stripe_of, delta)?;
        counted = None;
    }
    let mut numbered = Vec::with_capacity(entries.len());
    for entry in entries {
        // On PostgreSQL the counters ride along with the first event: one
        // round trip for the whole end of the change.
        let with_counts = counted
            .take()
            .map(|delta| (counts::stripe(&stripe_of), delta));
        let mut event = NewEvent::of(entry);
        if let Some(stamp) = stamp {
            event.at = event.at.max(stamp);
        }
        let seq = append(conn, org, &event, with_counts)?;
        numbered.push((*entry, seq, event.at));
    }
    if let Some(delta) = counted {
        counts::add(conn, org, &stripe_of, delta)?;
    }
    // What shapes a pipeline's configs, numbered like its events (the
    // org's row stays locked until the commit, so nothing comes between).
    crate::history::record(conn, org, &numbered)
}

/// The `seq` an appended event got.
#[derive(QueryableByName)]
struct Numbered {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// The SQL of an event's `pipeline_ids`, as JSON text: a bound value, or the
/// pipelines pinning a template (read in the change's transaction).
fn pipelines_sql(affected: &Affected, postgres: bool) -> &'static str {
    match (affected, postgres) {
        (Affected::PinsOf(_), true) => {
            "COALESCE((SELECT json_agg(a.pipeline_id ORDER BY a.pipeline_id)::text \
             FROM attachments a WHERE a.org_id = $1 AND a.template_id = $9), '[]')"
        }
        (Affected::PinsOf(_), false) => {
            "(SELECT json_group_array(pipeline_id) FROM (SELECT pipeline_id FROM attachments \
             WHERE org_id = ?1 AND template_id = ?9 ORDER BY pipeline_id))"
        }
        (_, true) => "$9",
        (_, false) => "?9",
    }
}

/// The counter upsert of [`counts::add`], as a `WITH` clause of the event's
/// statement (PostgreSQL), with its values bound as `$11` to `$14`.
const COUNTS_CLAUSE: &str = "c AS (INSERT INTO org_counts \
     (org_id, stripe, live_templates, live_pipelines, audit_entries) \
     VALUES ($1, $11, $12, $13, $14) ON CONFLICT (org_id, stripe) DO UPDATE SET \
     live_templates = org_counts.live_templates + EXCLUDED.live_templates, \
     live_pipelines = org_counts.live_pipelines + EXCLUDED.live_pipelines, \
     audit_entries = org_counts.audit_entries + EXCLUDED.audit_entries), ";

/// Appends one event, numbered next in its org, and returns its number; on
/// PostgreSQL, adds `counts` (a stripe and a delta) to the org's counters in
/// the same statement.
fn append(
    conn: &mut DbConnection,
    org: &OrgId,
    event: &NewEvent,
    counts: Option<(i32, Delta)>,
) -> Result<i64, Failure> {
    let ninth = match &event.affected {
        Affected::Nothing => "[]".to_owned(),
        Affected::Pipeline(id) => format!("[\"{id}\"]"),
        Affected::PinsOf(template) => template.to_string(),
        Affected::Pipelines(ids) => {
            serde_json::to_string(ids).map_err(|err| corrupt("event pipeline ids", err))?
        }
    };
    let data = serde_json::to_string(&event.data).map_err(|err| corrupt("event data", err))?;
    macro_rules! bind_event {
        ($query:expr, $seq_bind:expr) => {
            $query
                .bind::<Text, _>(org.as_str())
                .bind::<Text, _>(event.id.to_string())
                .bind::<Text, _>(event.event_type.as_str())
                .bind::<Text, _>(event.resource_type.as_str())
                .bind::<Text, _>(&event.resource_id)
                .bind::<Text, _>(event.actor.as_str())
                .bind::<Timestamp, _>(timestamp(event.at))
                .bind::<Text, _>(&data)
                .bind::<Text, _>(&ninth)
                .bind::<BigInt, _>($seq_bind)
        };
    }
    match conn {
        DbConnection::Postgres(pg) => {
            // One round trip: number and row together.
            let sql = format!(
                "WITH {}s AS (INSERT INTO event_seqs (org_id, last_seq) VALUES ($1, $10) \
                 ON CONFLICT (org_id) DO UPDATE SET last_seq = event_seqs.last_seq + 1 \
                 RETURNING last_seq) \
                 INSERT INTO events (org_id, seq, id, type, resource_type, resource_id, \
                 pipeline_ids, actor, at, data) \
                 SELECT $1, s.last_seq, $2, $3, $4, $5, {}, $6, $7, $8 FROM s RETURNING seq",
                if counts.is_some() { COUNTS_CLAUSE } else { "" },
                pipelines_sql(&event.affected, true)
            );
            let query = bind_event!(diesel::sql_query(sql), 1_i64);
            let numbered: Numbered = match counts {
                Some((stripe, delta)) => query
                    .bind::<Integer, _>(stripe)
                    .bind::<BigInt, _>(delta.templates)
                    .bind::<BigInt, _>(delta.pipelines)
                    .bind::<BigInt, _>(delta.audit)
                    .get_result(pg)?,
                None => query.get_result(pg)?,
            };
            Ok(numbered.seq)
        }
        DbConnection::Sqlite(sqlite) => {
            // In-process: two statements cost nothing, and SQLite has no
            // data-modifying `WITH`.
            let seq: i64 = diesel::insert_into(event_seqs::table)
                .values((
                    event_seqs::org_id.eq(org.as_str()),
                    event_seqs::last_seq.eq(1),
                ))
                .on_conflict(event_seqs::org_id)
                .do_update()
                .set(event_seqs::last_seq.eq(event_seqs::last_seq + 1))
                .returning(event_seqs::last_seq)
                .get_result(sqlite)?;
            let sql = format!(
                "INSERT INTO events (org_id, seq, id, type, resource_type, resource_id, \
                 pipeline_ids, actor, at, data) \
                 VALUES (?1, ?10, ?2, ?3, ?4, ?5, {}, ?6, ?7, ?8)",
                pipelines_sql(&event.affected, false)
            );
            bind_event!(diesel::sql_query(sql), seq).execute(sqlite)?;
            Ok(seq)
        }
    }
}

type Row = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    PrimitiveDateTime,
    String,
);

fn event(row: Row) -> Result<Event, Failure> {
    let (org, seq, id, kind, resource_type, resource_id, pipelines, actor, at, data) = row;
    let pipeline_ids: Vec<String> =
        serde_json::from_str(&pipelines).map_err(|err| corrupt("event pipeline ids", err))?;
    Ok(Event {
        id: id.parse().map_err(|err| corrupt("event id", err))?,
        seq: u64::try_from(seq).map_err(|err| corrupt("event seq", err))?,
        org: OrgId::parse(&org).map_err(|err| corrupt("org id", err))?,
        event_type: kind.parse().map_err(|err| corrupt("event type", err))?,
        resource_type: resource_type
            .parse()
            .map_err(|err| corrupt("event resource type", err))?,
        resource_id,
        pipeline_ids: pipeline_ids
            .iter()
            .map(|id| id.parse::<PipelineId>())
            .collect::<Result<_, _>>()
            .map_err(|err| corrupt("event pipeline id", err))?,
        actor: UserId::parse(&actor).map_err(|err| corrupt("actor", err))?,
        at: at.assume_utc(),
        data: serde_json::from_str(&data).map_err(|err| corrupt("event data", err))?,
    })
}

/// A `seq` as the column stores it; beyond it, "after everything".
fn column_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// The newest event number of each of `orgs` that has any.
fn last_seqs(conn: &mut DbConnection, orgs: &[OrgId]) -> Result<Vec<(OrgId, u64)>, Failure> {
    let rows: Vec<(String, i64)> = event_seqs::table
        .filter(event_seqs::org_id.eq_any(orgs.iter().map(OrgId::as_str)))
        .select((event_seqs::org_id, event_seqs::last_seq))
        .load(conn)?;
    rows.into_iter()
        .map(|(org, seq)| {
            Ok((
                OrgId::parse(&org).map_err(|err| corrupt("org id", err))?,
                u64::try_from(seq).map_err(|err| corrupt("event seq", err))?,
            ))
        })
        .collect()
}

/// Deletes up to `batch` events older than `before`, from the bottom of
/// each org's run, and a batch of the config history as old; how many rows
/// went.
fn prune(conn: &mut DbConnection, before: OffsetDateTime, batch: u32) -> Result<u64, Failure> {
    // The oldest events by age, then, per org, from its lowest
    // number up to the highest of those: what is kept stays an
    // unbroken run even where clocks made ages and numbers disagree.
    let old: Vec<(String, i64)> = events::table
        .filter(events::at.lt(timestamp(before)))
        .order(events::at.asc())
        .limit(i64::from(batch))
        .select((events::org_id, events::seq))
        .load(conn)?;
    let mut through: BTreeMap<String, i64> = BTreeMap::new();
    for (org, seq) in old {
        let top = through.entry(org).or_insert(seq);
        *top = (*top).max(seq);
    }
    let mut pruned = 0;
    for (org, top) in through {
        // The kept run is unbroken: from its lowest number, `batch`
        // numbers are `batch` events at most.
        let lowest: Option<i64> = events::table
            .filter(events::org_id.eq(&org))
            .select(diesel::dsl::min(events::seq))
            .first(conn)?;
        let Some(lowest) = lowest else { continue };
        let through = top.min(lowest.saturating_add(i64::from(batch)) - 1);
        pruned += diesel::delete(
            events::table
                .filter(events::org_id.eq(&org))
                .filter(events::seq.le(through)),
        )
        .execute(conn)?;
    }
    // The history of configs goes with the events, in batches of its own.
    let pruned = u64::try_from(pruned).unwrap_or(u64::MAX);
    Ok(pruned.saturating_add(crate::history::prune(conn, before, batch)?))
}

impl<C: Connections> EventStore for DieselStore<C> {
    fn events_after(&self, org: &OrgId, after: u64, limit: u32) -> StoreResult<Vec<Event>> {
        self.with(|conn| {
            let rows: Vec<Row> = events::table
                .filter(events::org_id.eq(org.as_str()))
                .filter(events::seq.gt(column_seq(after)))
                .order(events::seq.asc())
                .limit(i64::from(limit))
                .select((
                    events::org_id,
                    events::seq,
                    events::id,
                    events::event_type,
                    events::resource_type,
                    events::resource_id,
                    events::pipeline_ids,
                    events::actor,
                    events::at,
                    events::data,
                ))
                .load(conn)?;
            rows.into_iter().map(event).collect()
        })
    }

    fn last_seqs(&self, orgs: &[OrgId]) -> StoreResult<Vec<(OrgId, u64)>> {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|conn| last_seqs(conn, orgs))
    }

    fn prune_events(&self, before: OffsetDateTime, batch: u32) -> StoreResult<u64> {
        self.with(|conn| prune(conn, before, batch))
    }
}

/// How often an idle channel checks that its connection still answers.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// How often [`PgChannel::receive`] looks for arrived notifications while
/// it waits.
const POLL: Duration = Duration::from_millis(2);

/// A `LISTEN`ing PostgreSQL connection of its own, outside the pool.
struct PgChannel {
    /// Always the PostgreSQL variant; kept whole so that the store's
    /// queries run on it.
    conn: DbConnection,
    last_statement: Instant,
}

impl std::fmt::Debug for PgChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgChannel").finish_non_exhaustive()
    }
}

fn lost(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("the listening connection: {err}").into())
}

impl ChangeChannel for PgChannel {
    fn receive(&mut self, timeout: Duration) -> StoreResult<Vec<Announcement>> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut arrived = Vec::new();
            let DbConnection::Postgres(conn) = &mut self.conn else {
                return Ok(Vec::new());
            };
            for notification in conn.notifications_iter() {
                let notification = notification.map_err(lost)?;
                arrived.extend(parse_payload(&notification.payload));
            }
            if !arrived.is_empty() {
                return Ok(arrived);
            }
            if self.last_statement.elapsed() >= KEEPALIVE {
                // `PQconsumeInput` notices a closed socket, not a silent one.
                diesel::sql_query("SELECT 1")
                    .execute(&mut self.conn)
                    .map_err(lost)?;
                self.last_statement = Instant::now();
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    fn announce(&mut self, changes: &[Announcement]) -> StoreResult<()> {
        // A payload is limited to 8,000 bytes: several notifications if need be.
        let mut payload = String::new();
        let send = |payload: &mut String, conn: &mut DbConnection| {
            if payload.is_empty() {
                return Ok(());
            }
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(payload.as_str())
                .execute(conn)
                .map_err(lost)?;
            payload.clear();
            Ok::<(), StoreError>(())
        };
        for change in changes {
            let line = format!("{} {}\n", change.org, change.seq);
            if payload.len() + line.len() > 7_900 {
                send(&mut payload, &mut self.conn)?;
            }
            payload.push_str(&line);
        }
        send(&mut payload, &mut self.conn)?;
        self.last_statement = Instant::now();
        Ok(())
    }

    fn last_seqs(&mut self, orgs: &[OrgId]) -> StoreResult<Vec<(OrgId, u64)>> {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        let newest = last_seqs(&mut self.conn, orgs).map_err(|err| lost(err.into_store()))?;
        self.last_statement = Instant::now();
        Ok(newest)
    }

    fn prune_events(&mut self, before: OffsetDateTime, batch: u32) -> StoreResult<u64> {
        let pruned = prune(&mut self.conn, before, batch).map_err(|err| lost(err.into_store()))?;
        self.last_statement = Instant::now();
        Ok(pruned)
    }
}

/// The announcements of one notification: `org seq` lines; a line that does
/// not parse is ignored (it cannot come from this service).
fn parse_payload(payload: &str) -> Vec<Announcement> {
    payload
        .lines()
        .filter_map(|line| {
            let (org, seq) = line.split_once(' ')?;
            Some(Announcement {
                org: OrgId::parse(org).ok()?,
                seq: seq.parse().ok()?,
            })
        })
        .collect()
}

/// Opens channels on the database at a URL.
#[derive(Debug, Clone)]
pub struct Channels {
    url: DatabaseUrl,
}

impl Channels {
    /// Channels on the database at `url`.
    pub fn new(url: &DatabaseUrl) -> Self {
        Self { url: url.clone() }
    }
}

impl ChangeChannels for Channels {
    fn open_channel(&self) -> StoreResult<Option<Box<dyn ChangeChannel>>> {
        if self.url.is_sqlite() {
            return Ok(None);
        }
        let mut conn = establish(&self.url).map_err(lost)?;
        if !matches!(conn, DbConnection::Postgres(_)) {
            return Ok(None);
        }
        // Announcements are hints (a periodic check backs them up): they
        // need not wait for the disk, and this session never holds a
        // statement for long.
        conn.batch_execute(&format!(
            "SET synchronous_commit = off; SET statement_timeout = '2s'; \
             SET application_name = 'integrations-listener'; LISTEN {CHANNEL};"
        ))
        .map_err(lost)?;
        Ok(Some(Box::new(PgChannel {
            conn,
            last_statement: Instant::now(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_carries_one_announcement_per_line_and_ignores_the_rest() {
        let parsed = parse_payload("acme 12\nglobex 3\nnot a line\nx\n");
        assert_eq!(
            parsed,
            vec![
                Announcement {
                    org: OrgId::parse("acme").unwrap(),
                    seq: 12
                },
                Announcement {
                    org: OrgId::parse("globex").unwrap(),
                    seq: 3
                },
            ]
        );
    }
}
