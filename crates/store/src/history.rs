//! [`HistoryStore`] for [`DieselStore`]: the history of what shapes a
//! pipeline's rendered config, written by [`record`] from the audit entries
//! a change hands to `events::close`, pruned with the events.
//!
//! One row per change of a pipeline's parameters (subject: the pipeline) or
//! of an attachment (subject: the attachment), numbered by the change's
//! event `seq`. The state at `seq` S is, per subject, its row with the
//! highest `seq` at or below S; a row with `live` false ends its subject (a
//! deletion, a detach). Secret parameters are kept as version ids, their
//! sealed values as copies in `history_sealed_values` (written when a value
//! is sealed, see `sealed::insert_pipeline_secrets`).

use std::collections::{BTreeMap, BTreeSet};

use diesel::dsl::max;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use integrations_domain::secrets::SecretVersion;
use integrations_domain::{OrgId, PipelineId, Revision, RevisionId};
use integrations_ports::{
    AuditEntry, Envelope, HistoryAnswer, HistoryStore, PipelineAt, ResourceType, SealedSecret,
    StoreError, StoreResult,
};
use serde_json::Value;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::connection::DbConnection;
use crate::error::{Failure, corrupt};
use crate::rows::{AttachmentRow, PipelineRow, RevisionRow, attachment, timestamp};
use crate::schema::{
    attachments, config_history, events, history_horizons, history_sealed_values, pipelines,
    revisions, templates,
};
use crate::{Connections, DieselStore};

/// One history row to write.
#[derive(Debug, Insertable)]
#[diesel(table_name = config_history)]
struct NewRow {
    org_id: String,
    pipeline_id: String,
    subject: String,
    seq: i64,
    at: PrimitiveDateTime,
    live: bool,
    parameters: Option<String>,
    secret_parameters: Option<String>,
    template_id: Option<String>,
    revision_id: Option<String>,
    enabled: Option<bool>,
    attached_at: Option<PrimitiveDateTime>,
}

impl NewRow {
    /// The row as `json_to_recordset` reads it; the time as PostgreSQL reads
    /// a `timestamp` from text, to the microsecond.
    fn json(&self) -> Result<Value, Failure> {
        let format = time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
        );
        Ok(serde_json::json!({
            "org_id": self.org_id, "pipeline_id": self.pipeline_id, "subject": self.subject,
            "seq": self.seq,
            "at": self.at.format(format).map_err(|err| corrupt("history time", err))?,
            "live": self.live, "parameters": self.parameters,
            "template_id": self.template_id, "revision_id": self.revision_id,
            "enabled": self.enabled,
        }))
    }
}

fn text(value: Option<&Value>, key: &str) -> Option<String> {
    value?.get(key)?.as_str().map(str::to_owned)
}

/// Whether a pipeline update changed what shapes its configs: its plain
/// parameters, its secret keys, or a secret value.
fn parameters_changed(old: Option<&Value>, new: &Value) -> bool {
    let Some(old) = old else { return true };
    old.get("parameters") != new.get("parameters")
        || old.get("secret_parameters") != new.get("secret_parameters")
        || new
            .get("secret_parameters_changed")
            .and_then(Value::as_array)
            .is_some_and(|changed| !changed.is_empty())
}

/// The history row an audit entry calls for, if it changed what shapes a
/// pipeline's configs: a pipeline created, deleted or given other
/// parameters; an attachment created, changed (any action: its new value
/// holds the pin) or removed. Template and revision changes need none
/// (revisions are immutable; a pin names one).
fn row_of(org: &OrgId, entry: &AuditEntry, seq: i64, at: OffsetDateTime) -> Option<NewRow> {
    let old = entry.old_value.as_ref();
    let new = entry.new_value.as_ref();
    let base = |pipeline_id: String, live: bool| NewRow {
        org_id: org.as_str().to_owned(),
        pipeline_id,
        subject: entry.resource_id.clone(),
        seq,
        at: timestamp(at),
        live,
        parameters: None,
        secret_parameters: None,
        template_id: None,
        revision_id: None,
        enabled: None,
        attached_at: None,
    };
    match entry.resource_type {
        // A rollout's pins each have an attachment entry of their own.
        ResourceType::Template | ResourceType::Rollout => None,
        ResourceType::Pipeline => match new {
            None => Some(base(entry.resource_id.clone(), false)),
            Some(new) if parameters_changed(old, new) => Some(NewRow {
                parameters: Some(
                    new.get("parameters")
                        .map_or_else(|| "{}".to_owned(), Value::to_string),
                ),
                ..base(entry.resource_id.clone(), true)
            }),
            Some(_) => None,
        },
        ResourceType::Attachment => {
            let pipeline = text(new.or(old), "pipeline_id")?;
            Some(match new {
                None => base(pipeline, false),
                Some(_) => NewRow {
                    template_id: text(new, "integration_id"),
                    revision_id: text(new, "revision_id"),
                    enabled: new.and_then(|v| v.get("enabled")).and_then(Value::as_bool),
                    ..base(pipeline, true)
                },
            })
        }
    }
}

/// Records the history rows the entries of one change call for, each with
/// the `seq` of its event (in the change's transaction, after its events).
/// A live pipeline row takes the pipeline's secret parameters (version ids)
/// and a live attachment row its attachment's creation time from the rows
/// the change left. One statement on PostgreSQL; none when no entry shapes
/// a config.
pub(crate) fn record(
    conn: &mut DbConnection,
    org: &OrgId,
    entries: &[(&AuditEntry, i64, OffsetDateTime)],
) -> Result<(), Failure> {
    let mut rows: Vec<NewRow> = entries
        .iter()
        .filter_map(|(entry, seq, at)| row_of(org, entry, *seq, *at))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Postgres(pg) => {
            let json = rows
                .iter()
                .map(NewRow::json)
                .collect::<Result<Vec<_>, _>>()
                .map(|rows| Value::Array(rows).to_string())?;
            diesel::sql_query(
                "INSERT INTO config_history (org_id, pipeline_id, subject, seq, at, live, \
                 parameters, secret_parameters, template_id, revision_id, enabled, attached_at) \
                 SELECT r.org_id, r.pipeline_id, r.subject, r.seq, r.at::timestamp, r.live, \
                 CASE WHEN r.live AND r.parameters IS NOT NULL THEN p.parameters END, \
                 CASE WHEN r.live AND r.parameters IS NOT NULL THEN p.secret_parameters END, \
                 CASE WHEN r.live AND r.revision_id IS NOT NULL THEN a.template_id END, \
                 CASE WHEN r.live AND r.revision_id IS NOT NULL THEN a.revision_id END, \
                 CASE WHEN r.live AND r.revision_id IS NOT NULL THEN a.enabled END, \
                 CASE WHEN r.live AND r.revision_id IS NOT NULL THEN a.created_at END \
                 FROM json_to_recordset($1::json) AS r(org_id text, pipeline_id text, \
                 subject text, seq bigint, at text, live boolean, parameters text, \
                 template_id text, revision_id text, enabled boolean) \
                 LEFT JOIN pipelines p ON p.id = r.subject \
                 LEFT JOIN attachments a ON a.id = r.subject",
            )
            .bind::<Text, _>(json)
            .execute(pg)?;
        }
        DbConnection::Sqlite(sqlite) => {
            // In-process: a read per row costs nothing.
            for row in &mut rows {
                if !row.live {
                    continue;
                }
                if row.parameters.is_some() {
                    let found: Option<(String, String)> = pipelines::table
                        .filter(pipelines::id.eq(&row.subject))
                        .select((pipelines::parameters, pipelines::secret_parameters))
                        .first(sqlite)
                        .optional()?;
                    if let Some((parameters, secret)) = found {
                        row.parameters = Some(parameters);
                        row.secret_parameters = Some(secret);
                    }
                } else {
                    let found: Option<(String, String, bool, PrimitiveDateTime)> =
                        attachments::table
                            .filter(attachments::id.eq(&row.subject))
                            .select((
                                attachments::template_id,
                                attachments::revision_id,
                                attachments::enabled,
                                attachments::created_at,
                            ))
                            .first(sqlite)
                            .optional()?;
                    if let Some((template, revision, enabled, attached_at)) = found {
                        row.template_id = Some(template);
                        row.revision_id = Some(revision);
                        row.enabled = Some(enabled);
                        row.attached_at = Some(attached_at);
                    }
                }
            }
            diesel::insert_into(config_history::table)
                .values(&rows)
                .execute(sqlite)?;
        }
    }
    Ok(())
}

/// Copies of sealed values of a pipeline's secret parameters, kept for its
/// history (in the caller's transaction; a copy already kept stays).
pub(crate) fn keep_secrets(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
    created_at: PrimitiveDateTime,
    secrets: &[SealedSecret],
) -> Result<(), Failure> {
    if secrets.is_empty() {
        return Ok(());
    }
    let pipeline = pipeline.to_string();
    let rows: Vec<_> = secrets
        .iter()
        .map(|secret| {
            (
                history_sealed_values::org_id.eq(org.as_str()),
                history_sealed_values::pipeline_id.eq(&pipeline),
                history_sealed_values::field_path.eq(&secret.field_path),
                history_sealed_values::version_id.eq(secret.version.as_str()),
                history_sealed_values::kid.eq(&secret.envelope.kid),
                history_sealed_values::ciphertext.eq(&secret.envelope.ciphertext),
                history_sealed_values::created_at.eq(created_at),
            )
        })
        .collect();
    let insert = diesel::insert_into(history_sealed_values::table)
        .values(&rows)
        .on_conflict_do_nothing();
    // Diesel's multi-backend connection has no multi-row `INSERT`: each backend's has.
    match conn {
        DbConnection::Postgres(pg) => insert.execute(pg)?,
        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };
    Ok(())
}

#[derive(QueryableByName)]
struct Kept {
    #[diesel(sql_type = Text)]
    org_id: String,
    #[diesel(sql_type = Text)]
    pipeline_id: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// Prunes one batch of history older than `before`, keeping per subject its
/// newest row at or before it (so every instant from `before` on still
/// resolves), and forgetting subjects that ended before it (a pipeline
/// deleted, an attachment removed). Each org it prunes records `before` as
/// the instant its history is complete from, before anything goes. Then
/// drops the sealed copies no kept row references. Returns how many rows
/// went.
pub(crate) fn prune(
    conn: &mut DbConnection,
    before: OffsetDateTime,
    batch: u32,
) -> Result<u64, Failure> {
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let placeholder = |n: u8| {
        if postgres {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    };
    // Subjects with an older row than their newest before the cutoff, and
    // subjects that ended before it: all of their old rows go at once.
    let sql = format!(
        "SELECT org_id, pipeline_id, subject, MAX(seq) AS seq FROM config_history \
         WHERE at < {t} GROUP BY org_id, pipeline_id, subject HAVING COUNT(*) > 1 \
         UNION ALL SELECT org_id, pipeline_id, subject, seq FROM config_history \
         WHERE at < {t} AND live = {f} LIMIT {n}",
        t = placeholder(1),
        n = placeholder(2),
        f = if postgres { "FALSE" } else { "0" },
    );
    let found: Vec<Kept> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(timestamp(before))
        .bind::<BigInt, _>(i64::from(batch))
        .load(conn)?;
    if found.is_empty() {
        return Ok(0);
    }
    let orgs: BTreeSet<&str> = found.iter().map(|k| k.org_id.as_str()).collect();
    for org in orgs {
        complete_from(conn, org, timestamp(before))?;
    }
    let mut pruned = 0_usize;
    let mut touched = BTreeSet::new();
    for kept in &found {
        let subject = config_history::table
            .filter(config_history::pipeline_id.eq(&kept.pipeline_id))
            .filter(config_history::subject.eq(&kept.subject));
        // A row that ends its subject goes with everything before it; a
        // live one stays, and what it supersedes goes.
        let ended: bool = subject
            .filter(config_history::seq.eq(kept.seq))
            .select(diesel::dsl::not(config_history::live))
            .first(conn)
            .optional()?
            .unwrap_or(false);
        pruned += if ended {
            diesel::delete(subject.filter(config_history::seq.le(kept.seq))).execute(conn)?
        } else {
            diesel::delete(subject.filter(config_history::seq.lt(kept.seq))).execute(conn)?
        };
        touched.insert(kept.pipeline_id.clone());
    }
    for pipeline in touched {
        drop_unreferenced_secrets(conn, &pipeline)?;
    }
    Ok(u64::try_from(pruned).unwrap_or(u64::MAX))
}

/// Moves the org's horizon up to `from` (never down).
fn complete_from(
    conn: &mut DbConnection,
    org: &str,
    from: PrimitiveDateTime,
) -> Result<(), Failure> {
    let current: Option<PrimitiveDateTime> = history_horizons::table
        .find(org)
        .select(history_horizons::complete_from)
        .first(conn)
        .optional()?;
    match current {
        Some(current) if current >= from => {}
        Some(_) => {
            diesel::update(history_horizons::table.find(org))
                .set(history_horizons::complete_from.eq(from))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(history_horizons::table)
                .values((
                    history_horizons::org_id.eq(org),
                    history_horizons::complete_from.eq(from),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Drops the sealed copies of a pipeline that no kept row references.
fn drop_unreferenced_secrets(conn: &mut DbConnection, pipeline: &str) -> Result<(), Failure> {
    let referenced: Vec<Option<String>> = config_history::table
        .filter(config_history::pipeline_id.eq(pipeline))
        .filter(config_history::secret_parameters.is_not_null())
        .select(config_history::secret_parameters)
        .load(conn)?;
    let copies: Vec<String> = history_sealed_values::table
        .filter(history_sealed_values::pipeline_id.eq(pipeline))
        .select(history_sealed_values::version_id)
        .load(conn)?;
    // Version ids are ULIDs: one named in a row's text is referenced.
    let unused: Vec<String> = copies
        .into_iter()
        .filter(|version| {
            !referenced
                .iter()
                .flatten()
                .any(|t| t.contains(version.as_str()))
        })
        .collect();
    if !unused.is_empty() {
        diesel::delete(
            history_sealed_values::table
                .filter(history_sealed_values::pipeline_id.eq(pipeline))
                .filter(history_sealed_values::version_id.eq_any(unused)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// A `seq` as the API shows it.
fn shown_seq(seq: i64) -> Result<u64, Failure> {
    u64::try_from(seq).map_err(|err| corrupt("history seq", err))
}

type HistoryRow = (
    String,
    i64,
    PrimitiveDateTime,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<PrimitiveDateTime>,
);

/// The answer for a pipeline with no history rows: unknown, unless it is a
/// pipeline of the org whose whole history was pruned — it ended before the
/// horizon, so older instants have `expired` and later ones are after its
/// deletion.
fn without_history(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    expired: Option<HistoryAnswer>,
) -> Result<HistoryAnswer, Failure> {
    let existed: i64 = pipelines::table
        .filter(pipelines::id.eq(id))
        .filter(pipelines::org_id.eq(org.as_str()))
        .count()
        .get_result(conn)?;
    Ok(match (existed, expired) {
        (0, _) => HistoryAnswer::Unknown,
        (_, Some(expired)) => expired,
        (_, None) => HistoryAnswer::NotThen,
    })
}

fn pipeline_at(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
    at: OffsetDateTime,
) -> Result<HistoryAnswer, Failure> {
    let id = pipeline.to_string();
    let of_pipeline = || {
        config_history::table
            .filter(config_history::pipeline_id.eq(id.clone()))
            .filter(config_history::org_id.eq(org.as_str()))
    };
    let known: Option<i64> = of_pipeline()
        .select(config_history::seq)
        .first(conn)
        .optional()?;
    let horizon: Option<PrimitiveDateTime> = history_horizons::table
        .find(org.as_str())
        .select(history_horizons::complete_from)
        .first(conn)
        .optional()?;
    let expired = horizon
        .filter(|horizon| timestamp(at) < *horizon)
        .map(|horizon| HistoryAnswer::Expired {
            complete_from: horizon.assume_utc(),
        });
    if known.is_none() {
        return without_history(conn, org, &id, expired);
    }
    if let Some(expired) = expired {
        return Ok(expired);
    }
    // The instant, as the last change recorded by then: events and history
    // rows (history outlives the events it was written with).
    let by_events: Option<i64> = events::table
        .filter(events::org_id.eq(org.as_str()))
        .filter(events::at.le(timestamp(at)))
        .select(max(events::seq))
        .first(conn)?;
    let by_history: Option<i64> = config_history::table
        .filter(config_history::org_id.eq(org.as_str()))
        .filter(config_history::at.le(timestamp(at)))
        .select(max(config_history::seq))
        .first(conn)?;
    let Some(seq) = by_events.max(by_history) else {
        return Ok(HistoryAnswer::NotThen);
    };
    // Each subject's newest row at or below it.
    let newest: Vec<(String, Option<i64>)> = of_pipeline()
        .filter(config_history::seq.le(seq))
        .group_by(config_history::subject)
        .select((config_history::subject, max(config_history::seq)))
        .load(conn)?;
    let wanted: BTreeMap<String, i64> = newest
        .into_iter()
        .filter_map(|(subject, seq)| Some((subject, seq?)))
        .collect();
    let seqs: BTreeSet<i64> = wanted.values().copied().collect();
    let rows: Vec<HistoryRow> = of_pipeline()
        .filter(config_history::seq.eq_any(seqs))
        .select((
            config_history::subject,
            config_history::seq,
            config_history::at,
            config_history::live,
            config_history::parameters,
            config_history::secret_parameters,
            config_history::template_id,
            config_history::revision_id,
            config_history::enabled,
            config_history::attached_at,
        ))
        .load(conn)?;
    let rows: Vec<HistoryRow> = rows
        .into_iter()
        .filter(|row| wanted.get(&row.0) == Some(&row.1) && row.3)
        .collect();
    let Some(own) = rows.iter().find(|row| row.0 == id) else {
        return Ok(HistoryAnswer::NotThen);
    };
    // The pipeline's row (kept when it is deleted), with the parameters it had.
    let mut then = pipelines::table
        .filter(pipelines::id.eq(&id))
        .filter(pipelines::org_id.eq(org.as_str()))
        .select(PipelineRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| corrupt("history pipeline", &id))?
        .into_domain()?;
    then.parameters = serde_json::from_str(own.4.as_deref().unwrap_or("{}"))
        .map_err(|err| corrupt("history parameters", err))?;
    then.secret_parameters = serde_json::from_str(own.5.as_deref().unwrap_or("{}"))
        .map_err(|err| corrupt("history secret parameters", err))?;
    let parameters_seq = shown_seq(own.1)?;
    let pins: Vec<&HistoryRow> = rows.iter().filter(|row| row.0 != id).collect();
    let attachments = pins_of(conn, org, &id, &pins)?;
    Ok(HistoryAnswer::Found(Box::new(PipelineAt {
        seq: shown_seq(seq)?,
        pipeline: then,
        parameters_seq,
        attachments,
    })))
}

/// The attachments of `pipeline` that history `pins` describe, with what
/// they show of their template and revision and the `seq` of each one's
/// last change; newest first, as the live list.
fn pins_of(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: &str,
    pins: &[&HistoryRow],
) -> Result<Vec<(integrations_domain::Attachment, u64)>, Failure> {
    // The pins, with what they show of their template and revision.
    let template_ids: BTreeSet<String> = pins.iter().filter_map(|r| r.6.clone()).collect();
    let revision_ids: BTreeSet<String> = pins.iter().filter_map(|r| r.7.clone()).collect();
    let shown: BTreeMap<String, (String, String, i32)> = templates::table
        .filter(templates::id.eq_any(template_ids))
        .filter(templates::org_id.eq(org.as_str()))
        .select((
            templates::id,
            templates::name,
            templates::vendor,
            templates::latest_revision,
        ))
        .load::<(String, String, String, i32)>(conn)?
        .into_iter()
        .map(|(id, name, vendor, latest)| (id, (name, vendor, latest)))
        .collect();
    let numbers: BTreeMap<String, i32> = revisions::table
        .filter(revisions::id.eq_any(revision_ids))
        .filter(revisions::org_id.eq(org.as_str()))
        .select((revisions::id, revisions::revision_number))
        .load::<(String, i32)>(conn)?
        .into_iter()
        .collect();
    let mut attachments = Vec::with_capacity(pins.len());
    for pin in pins {
        let (subject, seq, changed, _, _, _, template, revision, enabled, attached) = pin;
        let (Some(template), Some(revision)) = (template, revision) else {
            return Err(corrupt("history pin", subject));
        };
        let (name, vendor, latest) = shown
            .get(template)
            .cloned()
            .ok_or_else(|| corrupt("history template", template))?;
        let number = *numbers
            .get(revision)
            .ok_or_else(|| corrupt("history revision", revision))?;
        let row = AttachmentRow {
            id: subject.clone(),
            org_id: org.as_str().to_owned(),
            pipeline_id: pipeline.to_owned(),
            template_id: template.clone(),
            revision_id: revision.clone(),
            enabled: enabled.unwrap_or(true),
            created_at: attached.unwrap_or(*changed),
            updated_at: *changed,
        };
        attachments.push((
            attachment((row, name, vendor, latest, number))?,
            shown_seq(*seq)?,
        ));
    }
    // Newest first, as the live list.
    attachments.sort_by_key(|(a, _)| std::cmp::Reverse((a.created_at, a.id)));
    Ok(attachments)
}

impl<C: Connections> HistoryStore for DieselStore<C> {
    fn pipeline_at(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        at: OffsetDateTime,
    ) -> StoreResult<HistoryAnswer> {
        self.with(|conn| pipeline_at(conn, org, pipeline, at))
    }

    fn revision_by_id(&self, org: &OrgId, revision: RevisionId) -> StoreResult<Revision> {
        self.with(|conn| {
            revisions::table
                .filter(revisions::id.eq(revision.to_string()))
                .filter(revisions::org_id.eq(org.as_str()))
                .select(RevisionRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?
                .into_domain()
        })
    }

    fn history_secrets(&self, org: &OrgId, pipeline: PipelineId) -> StoreResult<Vec<SealedSecret>> {
        self.with(|conn| {
            let rows: Vec<(String, String, String, String)> = history_sealed_values::table
                .filter(history_sealed_values::org_id.eq(org.as_str()))
                .filter(history_sealed_values::pipeline_id.eq(pipeline.to_string()))
                .select((
                    history_sealed_values::field_path,
                    history_sealed_values::version_id,
                    history_sealed_values::kid,
                    history_sealed_values::ciphertext,
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(field_path, version, kid, ciphertext)| {
                    Ok(SealedSecret {
                        version: SecretVersion::parse(&version)
                            .ok_or_else(|| corrupt("sealed value version", &version))?,
                        field_path,
                        envelope: Envelope { kid, ciphertext },
                    })
                })
                .collect()
        })
    }
}
