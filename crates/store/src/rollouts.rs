//! [`RolloutStore`] for [`DieselStore`].
//!
//! An apply is one transaction: the template's row is locked first (a new
//! revision cannot slip in between the `If-Match` check and the moves), then
//! the targets' pins of it; the application decides on the pins as they are
//! under those locks; then the audit entries, the moves, the rollout and the
//! events are written, events last (see the `events` module).

use std::collections::HashMap;

use diesel::prelude::*;
use integrations_domain::{Attachment, OrgId, PipelineId, RolloutId, TemplateId, UserId};
use integrations_ports::{
    ApplyRollout, ClaimedKey, Decide, FoundPin, ListPage, Respond, Rollout, RolloutPipeline,
    RolloutStatus, RolloutStore, Start, StoreError, StoreResult, Window,
};
use time::PrimitiveDateTime;

use crate::attachments::pins_of_template;
use crate::connection::{DbConnection, write};
use crate::counts::Delta;
use crate::error::{Failure, corrupt};
use crate::events::close;
use crate::lookup::{on_the_row, page_of, rows_to_read, sql_offset};
use crate::rows::timestamp;
use crate::schema::{attachments, pipelines, rollouts, templates};
use crate::templates::lock_live_template;
use crate::{Connections, DieselStore};

type Row = (
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    String,
    PrimitiveDateTime,
    String,
);

macro_rules! columns {
    () => {
        (
            rollouts::id,
            rollouts::org_id,
            rollouts::template_id,
            rollouts::to_revision,
            rollouts::rolled_back_from,
            rollouts::note,
            rollouts::created_by,
            rollouts::created_at,
            rollouts::pipelines,
        )
    };
}

fn rollout(row: Row) -> Result<Rollout, Failure> {
    let (id, _org, template, to_revision, rolled_back_from, note, created_by, created_at, rows) =
        row;
    let pipelines: Vec<RolloutPipeline> =
        serde_json::from_str(&rows).map_err(|err| corrupt("rollout pipelines", err))?;
    Ok(Rollout {
        id: id.parse().map_err(|err| corrupt("rollout id", err))?,
        template_id: template
            .parse()
            .map_err(|err| corrupt("template id", err))?,
        to_revision: to_revision
            .map(u32::try_from)
            .transpose()
            .map_err(|err| corrupt("rollout revision", err))?,
        status: RolloutStatus::Applied,
        note,
        created_by: UserId::parse(&created_by).map_err(|err| corrupt("rollout author", err))?,
        created_at: created_at.assume_utc(),
        rolled_back_from: rolled_back_from
            .map(|id| id.parse::<RolloutId>())
            .transpose()
            .map_err(|err| corrupt("rollout id", err))?,
        pipelines,
    })
}

fn column_revision(number: u32) -> Result<i32, Failure> {
    i32::try_from(number).map_err(|err| corrupt("revision number", err))
}

fn insert(conn: &mut DbConnection, org: &OrgId, rollout: &Rollout) -> Result<(), Failure> {
    let diffs: Vec<Option<&serde_json::Value>> = rollout
        .pipelines
        .iter()
        .map(|row| row.config_diff.as_ref())
        .collect();
    let diffs = serde_json::to_string(&diffs).map_err(|err| corrupt("rollout", err))?;
    let rows: Vec<RolloutPipeline> = rollout
        .pipelines
        .iter()
        .map(|row| RolloutPipeline {
            config_diff: None,
            ..row.clone()
        })
        .collect();
    let pipelines = serde_json::to_string(&rows).map_err(|err| corrupt("rollout", err))?;
    diesel::insert_into(rollouts::table)
        .values((
            rollouts::id.eq(rollout.id.to_string()),
            rollouts::org_id.eq(org.as_str()),
            rollouts::template_id.eq(rollout.template_id.to_string()),
            rollouts::to_revision.eq(rollout.to_revision.map(column_revision).transpose()?),
            rollouts::rolled_back_from.eq(rollout.rolled_back_from.map(|id| id.to_string())),
            rollouts::note.eq(rollout.note.as_deref()),
            rollouts::created_by.eq(rollout.created_by.as_str()),
            rollouts::created_at.eq(timestamp(rollout.created_at)),
            rollouts::pipelines.eq(pipelines),
            rollouts::diffs.eq(diffs),
        ))
        .execute(conn)?;
    Ok(())
}

/// The template's latest revision number (the template is locked and live).
fn latest_revision(
    conn: &mut DbConnection,
    org: &OrgId,
    template: TemplateId,
) -> Result<u32, Failure> {
    let latest: i32 = templates::table
        .filter(templates::id.eq(template.to_string()))
        .filter(templates::org_id.eq(org.as_str()))
        .select(templates::latest_revision)
        .first(conn)?;
    u32::try_from(latest).map_err(|err| corrupt("revision number", err))
}

impl<C: Connections> RolloutStore for DieselStore<C> {
    fn apply_rollout(
        &self,
        org: &OrgId,
        apply: &ApplyRollout,
        decide: &mut Decide<'_>,
        replay: Option<(&ClaimedKey, Respond<'_, Rollout>)>,
    ) -> StoreResult<Rollout> {
        self.with(|conn| {
            write(conn, |conn| {
                if !lock_live_template(conn, org, apply.template_id)? {
                    return Err(StoreError::NotFound.into());
                }
                if let Some(expected) = apply.expected_latest {
                    let latest = latest_revision(conn, org, apply.template_id)?;
                    if latest != expected {
                        return Err(StoreError::StaleRevision { latest }.into());
                    }
                }
                let ids: Vec<String> = apply.pipelines.iter().map(ToString::to_string).collect();
                // Locks the pins: a concurrent re-pin waits for this
                // transaction, or this one waits for it and sees its result.
                diesel::update(
                    attachments::table
                        .filter(attachments::org_id.eq(org.as_str()))
                        .filter(attachments::template_id.eq(apply.template_id.to_string()))
                        .filter(attachments::pipeline_id.eq_any(&ids)),
                )
                .set(attachments::updated_at.eq(attachments::updated_at))
                .execute(conn)?;
                let pins = pins_of_template(conn, org, apply.template_id, &ids)?;
                let versions: HashMap<String, PrimitiveDateTime> = pipelines::table
                    .filter(pipelines::org_id.eq(org.as_str()))
                    .filter(pipelines::id.eq_any(&ids))
                    .filter(pipelines::deleted_at.is_null())
                    .select((pipelines::id, pipelines::updated_at))
                    .load::<(String, PrimitiveDateTime)>(conn)?
                    .into_iter()
                    .collect();
                let mut pins: HashMap<PipelineId, Attachment> =
                    pins.into_iter().map(|pin| (pin.pipeline_id, pin)).collect();
                let found: Vec<FoundPin> = apply
                    .pipelines
                    .iter()
                    .zip(&ids)
                    .map(|(&pipeline_id, id)| FoundPin {
                        pipeline_id,
                        attachment: pins.remove(&pipeline_id),
                        pipeline_updated_at: versions.get(id).map(|at| at.assume_utc()),
                    })
                    .collect();
                let mut decided = decide(found)?;
                for entry in &decided.audit {
                    crate::audit::record(conn, entry)?;
                }
                // Dated as it closes (after the locks above), like its events.
                let stamp = self.stamp();
                if let Some(stamp) = stamp {
                    decided.rollout.created_at = decided.rollout.created_at.max(stamp);
                }
                let at = timestamp(decided.rollout.created_at);
                for (attachment, revision) in &decided.moves {
                    diesel::update(
                        attachments::table.filter(attachments::id.eq(attachment.to_string())),
                    )
                    .set((
                        attachments::revision_id.eq(revision.to_string()),
                        attachments::updated_at.eq(at),
                    ))
                    .execute(conn)?;
                }
                insert(conn, org, &decided.rollout)?;
                if let Some((claimed, respond)) = replay {
                    crate::idempotency::record(conn, claimed, &respond(&decided.rollout))?;
                }
                let entries: Vec<_> = decided.audit.iter().collect();
                let audited = i64::try_from(entries.len()).unwrap_or(i64::MAX);
                close(conn, org, Delta::audited(audited), &entries, stamp)?;
                Ok(decided.rollout)
            })
        })
        .inspect(|_| self.committed(org))
    }

    fn pins_on(
        &self,
        org: &OrgId,
        template: TemplateId,
        pipelines: &[PipelineId],
    ) -> StoreResult<Vec<Attachment>> {
        let ids: Vec<String> = pipelines.iter().map(ToString::to_string).collect();
        self.with(|conn| pins_of_template(conn, org, template, &ids))
    }

    fn rollout(&self, org: &OrgId, id: RolloutId) -> StoreResult<Rollout> {
        self.with(|conn| {
            let (row, diffs): (Row, String) = rollouts::table
                .filter(rollouts::id.eq(id.to_string()))
                .filter(on_the_row(
                    rollouts::org_id.eq(org.as_str()).nullable(),
                    false,
                ))
                .select((columns!(), rollouts::diffs))
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?;
            let mut found = rollout(row)?;
            let diffs: Vec<Option<serde_json::Value>> =
                serde_json::from_str(&diffs).map_err(|err| corrupt("rollout diffs", err))?;
            for (row, diff) in found.pipelines.iter_mut().zip(diffs) {
                row.config_diff = diff;
            }
            Ok(found)
        })
    }

    fn rollouts(
        &self,
        org: &OrgId,
        template: Option<TemplateId>,
        window: Window,
    ) -> StoreResult<ListPage<Rollout>> {
        self.with(|conn| {
            let mut query = rollouts::table
                .filter(rollouts::org_id.eq(org.as_str()))
                .into_boxed();
            let mut count = rollouts::table
                .filter(rollouts::org_id.eq(org.as_str()))
                .into_boxed();
            if let Some(template) = template {
                query = query.filter(rollouts::template_id.eq(template.to_string()));
                count = count.filter(rollouts::template_id.eq(template.to_string()));
            }
            let total: i64 = count.count().get_result(conn)?;
            let query = query
                .order((rollouts::created_at.desc(), rollouts::id.desc()))
                .limit(rows_to_read(window.limit))
                .select(columns!());
            let query = match window.start.clone() {
                Start::Offset(offset) => query.offset(sql_offset(offset)),
                Start::After(key) => {
                    crate::lookup::after_key!(query, rollouts::created_at, rollouts::id, key)
                }
            };
            let rows: Vec<Row> = query.load(conn)?;
            let items = rows.into_iter().map(rollout).collect::<Result<_, _>>()?;
            Ok(page_of(
                items,
                window.limit,
                u64::try_from(total).unwrap_or_default(),
            ))
        })
    }
}
