//! [`AttachmentStore`] for [`DieselStore`].

use diesel::prelude::*;
use integrations_domain::{
    Attachment, AttachmentId, OrgId, PipelineId, Revision, RevisionId, TemplateId,
};
use integrations_ports::{
    AttachmentChanges, AttachmentStore, AuditEntry, Change, NewAttachment, StoreError, StoreResult,
};

use crate::connection::{DbConnection, write};
use crate::counts::Delta;
use crate::error::Failure;
use crate::events::close;
use crate::lookup::on_the_row;
use crate::pipelines::{live_by_id, lock_live_pipeline};
use crate::rows::{AttachmentRow, AttachmentView, RevisionRow, attachment, timestamp};
use crate::schema::{attachments, pipelines, revisions, templates};
use crate::templates::lock_live_template;
use crate::{Connections, DieselStore};

/// Attachments, each with its pipeline, template and pinned revision.
macro_rules! joined {
    () => {
        attachments::table
            .inner_join(pipelines::table)
            .inner_join(templates::table)
            .inner_join(revisions::table.on(revisions::id.eq(attachments::revision_id)))
    };
}

/// The attachments of one live pipeline of the org, each with its template and pinned revision.
macro_rules! of_pipeline {
    ($org:expr, $pipeline:expr) => {
        joined!()
            .filter(attachments::org_id.eq($org.as_str()))
            .filter(attachments::pipeline_id.eq($pipeline.to_string()))
            .filter(pipelines::deleted_at.is_null())
            .order((attachments::created_at.desc(), attachments::id.desc()))
    };
}

macro_rules! view {
    () => {
        (
            AttachmentRow::as_select(),
            templates::name,
            templates::vendor,
            templates::latest_revision,
            revisions::revision_number,
        )
    };
}

fn load_attachment(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
    id: AttachmentId,
) -> Result<Attachment, Failure> {
    // By the primary key; the org, the pipeline and its liveness are checked
    // on the rows found (see the `lookup` module).
    let view: AttachmentView = joined!()
        .filter(attachments::id.eq(id.to_string()))
        .filter(on_the_row(
            attachments::org_id
                .eq(org.as_str())
                .and(attachments::pipeline_id.eq(pipeline.to_string()))
                .and(pipelines::deleted_at.is_null())
                .nullable(),
            false,
        ))
        .select(view!())
        .first(conn)
        .optional()?
        .ok_or(Failure::Store(StoreError::NotFound))?;
    attachment(view)
}

/// Every attachment of a live pipeline of the org, newest first (none when
/// the pipeline is not live).
pub(crate) fn of_live_pipeline(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
) -> Result<Vec<Attachment>, Failure> {
    let views: Vec<AttachmentView> = of_pipeline!(org, pipeline).select(view!()).load(conn)?;
    views.into_iter().map(attachment).collect()
}

/// The pins of `template` on the live pipelines among `pipelines`, with
/// their current revision numbers.
pub(crate) fn pins_of_template(
    conn: &mut DbConnection,
    org: &OrgId,
    template: TemplateId,
    pipelines: &[String],
) -> Result<Vec<Attachment>, Failure> {
    let views: Vec<AttachmentView> = joined!()
        .filter(attachments::org_id.eq(org.as_str()))
        .filter(attachments::template_id.eq(template.to_string()))
        .filter(attachments::pipeline_id.eq_any(pipelines))
        .filter(pipelines::deleted_at.is_null())
        .select(view!())
        .load(conn)?;
    views.into_iter().map(attachment).collect()
}

fn pipeline_is_live(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
) -> Result<(), Failure> {
    let found: i64 = live_by_id!(org, pipeline).count().get_result(conn)?;
    if found == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound.into())
    }
}

/// Checks that `revision` is a revision of `template` in the org.
fn check_revision(
    conn: &mut DbConnection,
    org: &OrgId,
    template: &str,
    revision: RevisionId,
) -> Result<(), Failure> {
    let owner: Option<String> = revisions::table
        .filter(revisions::id.eq(revision.to_string()))
        .filter(on_the_row(
            revisions::org_id.eq(org.as_str()).nullable(),
            false,
        ))
        .select(revisions::template_id)
        .first(conn)
        .optional()?;
    match owner {
        None => Err(StoreError::UnknownReference {
            field: "revision_id",
        }
        .into()),
        Some(owner) if owner != template => Err(StoreError::RevisionOfAnotherTemplate.into()),
        Some(_) => Ok(()),
    }
}

impl<C: Connections> AttachmentStore for DieselStore<C> {
    fn attach(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        new: NewAttachment,
        change: Change<'_, Attachment>,
    ) -> StoreResult<Attachment> {
        self.with(|conn| {
            write(conn, |conn| {
                crate::audit::record(conn, &change.audit)?;
                // The pipeline's lock serialises its attaches (and SQLite's
                // write transaction all of them): the count below cannot go
                // stale before this transaction commits.
                lock_live_pipeline(conn, org, pipeline)?;
                let attached: i64 = attachments::table
                    .filter(attachments::pipeline_id.eq(pipeline.to_string()))
                    .count()
                    .get_result(conn)?;
                if attached >= i64::from(new.max_per_pipeline) {
                    return Err(StoreError::LimitReached {
                        limit: new.max_per_pipeline,
                    }
                    .into());
                }
                if !lock_live_template(conn, org, new.template_id)? {
                    return Err(StoreError::UnknownReference {
                        field: "integration_id",
                    }
                    .into());
                }
                check_revision(conn, org, &new.template_id.to_string(), new.revision_id)?;
                let row = AttachmentRow {
                    id: new.id.to_string(),
                    org_id: org.as_str().to_owned(),
                    pipeline_id: pipeline.to_string(),
                    template_id: new.template_id.to_string(),
                    revision_id: new.revision_id.to_string(),
                    enabled: new.enabled,
                    created_at: timestamp(new.created_at),
                    updated_at: timestamp(new.created_at),
                };
                diesel::insert_into(attachments::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(|err| {
                        Failure::from(err).unique_means(|| StoreError::AlreadyAttached)
                    })?;
                let attached = load_attachment(conn, org, pipeline, new.id)?;
                crate::idempotency::finish(conn, &change, &attached)?;
                close(conn, org, Delta::audited(1), &[&change.audit], self.stamp())?;
                Ok(attached)
            })
        })
        .inspect(|_| self.committed(org))
    }

    fn attachment(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        id: AttachmentId,
    ) -> StoreResult<Attachment> {
        self.with(|conn| load_attachment(conn, org, pipeline, id))
    }

    fn attachments(&self, org: &OrgId, pipeline: PipelineId) -> StoreResult<Vec<Attachment>> {
        self.with(|conn| {
            pipeline_is_live(conn, org, pipeline)?;
            of_live_pipeline(conn, org, pipeline)
        })
    }

    fn attached_revisions(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
    ) -> StoreResult<Vec<(Attachment, Revision)>> {
        self.with(|conn| {
            pipeline_is_live(conn, org, pipeline)?;
            let rows: Vec<(AttachmentRow, String, String, i32, i32, RevisionRow)> =
                of_pipeline!(org, pipeline)
                    .select((
                        AttachmentRow::as_select(),
                        templates::name,
                        templates::vendor,
                        templates::latest_revision,
                        revisions::revision_number,
                        RevisionRow::as_select(),
                    ))
                    .load(conn)?;
            rows.into_iter()
                .map(|(row, name, vendor, latest, number, revision)| {
                    Ok((
                        attachment((row, name, vendor, latest, number))?,
                        revision.into_domain()?,
                    ))
                })
                .collect()
        })
    }

    fn update_attachment(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        id: AttachmentId,
        changes: AttachmentChanges,
        audit: AuditEntry,
    ) -> StoreResult<Attachment> {
        self.with(|conn| {
            write(conn, |conn| {
                crate::audit::record(conn, &audit)?;
                let current = load_attachment(conn, org, pipeline, id)?;
                let this = || attachments::table.filter(attachments::id.eq(id.to_string()));
                if let Some(revision) = changes.revision_id {
                    check_revision(conn, org, &current.template_id.to_string(), revision)?;
                    diesel::update(this())
                        .set(attachments::revision_id.eq(revision.to_string()))
                        .execute(conn)?;
                }
                if let Some(enabled) = changes.enabled {
                    diesel::update(this())
                        .set(attachments::enabled.eq(enabled))
                        .execute(conn)?;
                }
                diesel::update(this())
                    .set(attachments::updated_at.eq(timestamp(changes.updated_at)))
                    .execute(conn)?;
                let updated = load_attachment(conn, org, pipeline, id)?;
                close(conn, org, Delta::audited(1), &[&audit], self.stamp())?;
                Ok(updated)
            })
        })
        .inspect(|_| self.committed(org))
    }

    fn detach(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        id: AttachmentId,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        self.with(|conn| {
            write(conn, |conn| {
                crate::audit::record(conn, &audit)?;
                lock_live_pipeline(conn, org, pipeline)?;
                let removed = diesel::delete(
                    attachments::table
                        .filter(attachments::id.eq(id.to_string()))
                        .filter(on_the_row(
                            attachments::pipeline_id
                                .eq(pipeline.to_string())
                                .and(attachments::org_id.eq(org.as_str()))
                                .nullable(),
                            false,
                        )),
                )
                .execute(conn)?;
                if removed == 1 {
                    close(conn, org, Delta::audited(1), &[&audit], self.stamp())
                } else {
                    Err(StoreError::NotFound.into())
                }
            })
        })
        .inspect(|()| self.committed(org))
    }
}
