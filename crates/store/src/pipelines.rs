//! [`PipelineStore`] for [`DieselStore`].

use diesel::prelude::*;
use integrations_domain::{
    Attachment, Name, OrgId, Parameters, Pipeline, PipelineId, SecretParameters,
};
use integrations_ports::{
    AuditEntry, Change, ListPage, NewPipeline, PipelineChanges, PipelineFilter, PipelineRef,
    PipelineStore, Start, StoreError, StoreResult, Window,
};
use time::OffsetDateTime;

use crate::connection::{DbConnection, write};
use crate::counts::{self, Delta};
use crate::error::{Failure, corrupt};
use crate::events::close;
use crate::lookup::{
    LIKE_ESCAPE, after_key, contains_pattern, on_the_row, page_of, rows_to_read, sql_offset,
};
use crate::rows::{NewPipelineRow, PipelineRow, timestamp};
use crate::schema::{attachments, pipelines};
use crate::templates::total;
use crate::{Connections, DieselStore};

/// The org's live pipelines (for lists: the `pipelines_live_newest` index).
macro_rules! live {
    ($org:expr) => {
        pipelines::table
            .filter(pipelines::org_id.eq($org.as_str()))
            .filter(pipelines::deleted_at.is_null())
    };
}

/// The org's live pipeline with this id: found by the primary key, the org
/// and liveness checked on the row (see the `lookup` module).
macro_rules! live_by_id {
    ($org:expr, $id:expr) => {
        pipelines::table
            .filter(pipelines::id.eq($id.to_string()))
            .filter(on_the_row(
                pipelines::org_id
                    .eq($org.as_str())
                    .and(pipelines::deleted_at.is_null())
                    .nullable(),
                false,
            ))
    };
}
pub(crate) use live_by_id;

pub(crate) fn pipeline_ref(id: &str, name: &str) -> Result<PipelineRef, Failure> {
    Ok(PipelineRef {
        id: id.parse().map_err(|err| corrupt("pipeline id", err))?,
        name: Name::stored(name).map_err(|err| corrupt("pipeline name", err))?,
    })
}

fn parameters_text(parameters: &Parameters) -> Result<String, Failure> {
    serde_json::to_string(parameters).map_err(|err| corrupt("pipeline parameters", err))
}

fn secret_parameters_text(secret: &SecretParameters) -> Result<String, Failure> {
    serde_json::to_string(secret).map_err(|err| corrupt("pipeline secret parameters", err))
}

fn load_pipeline(
    conn: &mut DbConnection,
    org: &OrgId,
    id: PipelineId,
) -> Result<Pipeline, Failure> {
    live_by_id!(org, id)
        .select(PipelineRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Failure::Store(StoreError::NotFound))?
        .into_domain()
}

/// Takes the pipeline's row lock by a no-op update (see `lock_live_template`).
pub(crate) fn lock_live_pipeline(
    conn: &mut DbConnection,
    org: &OrgId,
    id: PipelineId,
) -> Result<(), Failure> {
    let locked = diesel::update(live_by_id!(org, id))
        .set(pipelines::updated_at.eq(pipelines::updated_at))
        .execute(conn)?;
    if locked == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound.into())
    }
}

impl<C: Connections> PipelineStore for DieselStore<C> {
    fn create_pipeline(
        &self,
        pipeline: NewPipeline,
        change: Change<'_, Pipeline>,
    ) -> StoreResult<Pipeline> {
        self.with(|conn| {
            let row = NewPipelineRow {
                id: pipeline.id.to_string(),
                org_id: pipeline.org_id.as_str().to_owned(),
                name: pipeline.name.as_str().to_owned(),
                name_key: pipeline.name.unique_key(),
                description: pipeline.description.as_ref().map(|d| d.as_str().to_owned()),
                parameters: parameters_text(&pipeline.parameters)?,
                secret_parameters: secret_parameters_text(&pipeline.secret_parameters)?,
                created_at: timestamp(pipeline.created_at),
                updated_at: timestamp(pipeline.created_at),
            };
            write(conn, |conn| {
                crate::audit::record(conn, &change.audit)?;
                diesel::insert_into(pipelines::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(|err| Failure::from(err).unique_means(|| StoreError::NameTaken))?;
                crate::sealed::insert_pipeline_secrets(
                    conn,
                    &pipeline.org_id,
                    pipeline.id,
                    row.created_at,
                    &pipeline.secrets,
                )?;
                let created = load_pipeline(conn, &pipeline.org_id, pipeline.id)?;
                crate::idempotency::finish(conn, &change, &created)?;
                let counted = Delta {
                    pipelines: 1,
                    ..Delta::audited(1)
                };
                close(conn, &pipeline.org_id, counted, &[&change.audit])?;
                Ok(created)
            })
        })
        .inspect(|_| self.committed(&pipeline.org_id))
    }

    fn pipeline(&self, org: &OrgId, id: PipelineId) -> StoreResult<Pipeline> {
        self.with(|conn| load_pipeline(conn, org, id))
    }

    fn find_pipelines(
        &self,
        org: &OrgId,
        filter: &PipelineFilter,
        window: Window,
    ) -> StoreResult<ListPage<Pipeline>> {
        // The filter, on the org's live rows (the same expression for the
        // page and the count).
        macro_rules! matching {
            () => {{
                let mut query = live!(org).into_boxed();
                if let Some(name) = &filter.name {
                    query = query.filter(
                        pipelines::name_key
                            .like(contains_pattern(name.folded()))
                            .escape(LIKE_ESCAPE),
                    );
                }
                query
            }};
        }
        self.with(|conn| {
            let total = if filter.is_empty() {
                counts::totals(conn, org)?.pipelines
            } else {
                total(matching!().count().get_result::<i64>(conn)?)?
            };
            let query = matching!()
                .order((pipelines::created_at.desc(), pipelines::id.desc()))
                .limit(rows_to_read(window.limit))
                .select(PipelineRow::as_select());
            let query = match window.start.clone() {
                Start::Offset(offset) => query.offset(sql_offset(offset)),
                Start::After(key) => after_key!(query, pipelines::created_at, pipelines::id, key),
            };
            let items = query
                .load(conn)?
                .into_iter()
                .map(PipelineRow::into_domain)
                .collect::<Result<_, _>>()?;
            Ok(page_of(items, window.limit, total))
        })
    }

    fn update_pipeline(
        &self,
        org: &OrgId,
        id: PipelineId,
        changes: PipelineChanges,
        audit: AuditEntry,
    ) -> StoreResult<Pipeline> {
        self.with(|conn| {
            let parameters = changes
                .parameters
                .as_ref()
                .map(parameters_text)
                .transpose()?;
            let secret_parameters = changes
                .secret_parameters
                .as_ref()
                .map(|(secret, _)| secret_parameters_text(secret))
                .transpose()?;
            write(conn, |conn| {
                crate::audit::record(conn, &audit)?;
                let this = || pipelines::table.filter(pipelines::id.eq(id.to_string()));
                let updated = diesel::update(live_by_id!(org, id))
                    .set(pipelines::updated_at.eq(timestamp(changes.updated_at)))
                    .execute(conn)?;
                if updated == 0 {
                    return Err(StoreError::NotFound.into());
                }
                if let Some(name) = &changes.name {
                    diesel::update(this())
                        .set((
                            pipelines::name.eq(name.as_str()),
                            pipelines::name_key.eq(name.unique_key()),
                        ))
                        .execute(conn)
                        .map_err(|err| Failure::from(err).unique_means(|| StoreError::NameTaken))?;
                }
                if let Some(description) = &changes.description {
                    diesel::update(this())
                        .set(
                            pipelines::description.eq(description
                                .as_ref()
                                .map(integrations_domain::Description::as_str)),
                        )
                        .execute(conn)?;
                }
                if let Some(parameters) = &parameters {
                    diesel::update(this())
                        .set(pipelines::parameters.eq(parameters))
                        .execute(conn)?;
                }
                if let (Some(text), Some((secret, sealed))) =
                    (&secret_parameters, &changes.secret_parameters)
                {
                    diesel::update(this())
                        .set(pipelines::secret_parameters.eq(text))
                        .execute(conn)?;
                    // The values of keys kept with their version stay; the
                    // rest go, and the new versions' values come in.
                    let keep: Vec<(String, String)> = secret
                        .iter()
                        .map(|(key, version)| {
                            (
                                integrations_ports::secret_parameter_path(key),
                                version.as_str().to_owned(),
                            )
                        })
                        .collect();
                    crate::sealed::drop_pipeline_secrets_except(conn, org, id, &keep)?;
                    crate::sealed::insert_pipeline_secrets(
                        conn,
                        org,
                        id,
                        timestamp(changes.updated_at),
                        sealed,
                    )?;
                }
                let updated = load_pipeline(conn, org, id)?;
                close(conn, org, Delta::audited(1), &[&audit])?;
                Ok(updated)
            })
        })
        .inspect(|_| self.committed(org))
    }

    fn delete_pipeline(
        &self,
        org: &OrgId,
        id: PipelineId,
        at: OffsetDateTime,
        audit: AuditEntry,
        detached: &dyn Fn(&Attachment) -> AuditEntry,
    ) -> StoreResult<()> {
        self.with(|conn| {
            write(conn, |conn| {
                crate::audit::record(conn, &audit)?;
                // Read while the pipeline is still live (the row lock taken
                // here keeps attaches out until commit), then delete.
                lock_live_pipeline(conn, org, id)?;
                let mut entries = vec![audit.clone()];
                for removed in crate::attachments::of_live_pipeline(conn, org, id)? {
                    let entry = detached(&removed);
                    crate::audit::record(conn, &entry)?;
                    entries.push(entry);
                }
                let deleted = diesel::update(live_by_id!(org, id))
                    .set(pipelines::deleted_at.eq(Some(timestamp(at))))
                    .execute(conn)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound.into());
                }
                diesel::delete(
                    attachments::table.filter(attachments::pipeline_id.eq(id.to_string())),
                )
                .execute(conn)?;
                // A deleted pipeline's credentials are of no further use: gone with it.
                crate::sealed::drop_pipeline_secrets_except(conn, org, id, &[])?;
                let counted = Delta {
                    pipelines: -1,
                    ..Delta::audited(i64::try_from(entries.len()).unwrap_or(i64::MAX))
                };
                // The detaches first, then the pipeline's own event.
                entries.rotate_left(1);
                close(conn, org, counted, &entries.iter().collect::<Vec<_>>())
            })
        })
        .inspect(|()| self.committed(org))
    }
}
