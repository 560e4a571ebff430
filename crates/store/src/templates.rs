//! [`TemplateStore`] for [`DieselStore`].

use diesel::prelude::*;
use integrations_domain::{
    Attachment, OrgId, Revision, RevisionId, RevisionNumber, Template, TemplateId,
};
use integrations_ports::{
    AuditEntry, Change, ListPage, MAX_PIPELINES_NAMED, NewRevision, NewTemplate, PipelineRef,
    Start, StoreError, StoreResult, TemplateChanges, TemplateFilter, TemplateStore, Window,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::connection::{DbConnection, write};
use crate::counts::{self, Delta};
use crate::error::{Failure, corrupt};
use crate::events::close;
use crate::idempotency::finish;
use crate::lookup::{
    LIKE_ESCAPE, after_key, contains_pattern, on_the_row, page_of, rows_to_read, sql_offset,
};
use crate::rows::{
    AttachmentRow, NewTemplateRow, RevisionRow, TemplateRow, attachment, config_text, count,
    instant, timestamp, to_i32,
};
use crate::schema::{attachments, pipelines, revisions, templates};
use crate::{Connections, DieselStore};

/// The org's live templates (for lists: the `templates_live_newest` index).
macro_rules! live {
    ($org:expr) => {
        templates::table
            .filter(templates::org_id.eq($org.as_str()))
            .filter(templates::deleted_at.is_null())
    };
}

/// The org's live template with this id: found by the primary key, the org
/// and liveness checked on the row (see the `lookup` module).
macro_rules! live_by_id {
    ($org:expr, $id:expr) => {
        templates::table
            .filter(templates::id.eq($id.to_string()))
            .filter(on_the_row(
                templates::org_id
                    .eq($org.as_str())
                    .and(templates::deleted_at.is_null())
                    .nullable(),
                false,
            ))
    };
}

pub(crate) fn total(count: i64) -> Result<u64, Failure> {
    u64::try_from(count).map_err(|err| corrupt("row count", err))
}

fn load_template(
    conn: &mut DbConnection,
    org: &OrgId,
    id: TemplateId,
) -> Result<Template, Failure> {
    live_by_id!(org, id)
        .select(TemplateRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Failure::Store(StoreError::NotFound))?
        .into_domain()
}

/// Locks the live template and checks its version (`updated_at`) when the
/// caller gave one: `NotFound`, or `PreconditionFailed` when it moved on.
fn check_version(
    conn: &mut DbConnection,
    org: &OrgId,
    id: TemplateId,
    expected: Option<OffsetDateTime>,
) -> Result<(), Failure> {
    let Some(expected) = expected else {
        return Ok(());
    };
    if !lock_live_template(conn, org, id)? {
        return Err(StoreError::NotFound.into());
    }
    let current: PrimitiveDateTime = templates::table
        .filter(templates::id.eq(id.to_string()))
        .select(templates::updated_at)
        .first(conn)?;
    if current == timestamp(expected) {
        Ok(())
    } else {
        Err(StoreError::PreconditionFailed.into())
    }
}

/// Takes the template's row lock (PostgreSQL; SQLite's write transaction holds
/// the whole database) by a no-op update, so that the rest of the transaction
/// sees the template as it stays until commit.
pub(crate) fn lock_live_template(
    conn: &mut DbConnection,
    org: &OrgId,
    id: TemplateId,
) -> Result<bool, Failure> {
    let locked = diesel::update(live_by_id!(org, id))
        .set(templates::updated_at.eq(templates::updated_at))
        .execute(conn)?;
    Ok(locked == 1)
}

fn insert_revision(
    conn: &mut DbConnection,
    org: &OrgId,
    template: TemplateId,
    number: i32,
    revision: &NewRevision,
) -> Result<Revision, Failure> {
    crate::sealed::insert_revision_secrets(
        conn,
        org,
        revision.id,
        timestamp(revision.created_at),
        &revision.secrets,
    )?;
    let row = RevisionRow {
        id: revision.id.to_string(),
        template_id: template.to_string(),
        org_id: org.as_str().to_owned(),
        revision_number: number,
        config: config_text(&revision.config)?,
        delivery_mode: revision.delivery_mode.as_str().to_owned(),
        change_summary: revision
            .change_summary
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        created_by: revision.created_by.as_str().to_owned(),
        created_at: timestamp(revision.created_at),
        restored_from: revision
            .restored_from
            .map(|n| to_i32(n.get()))
            .transpose()?,
    };
    diesel::insert_into(revisions::table)
        .values(&row)
        .execute(conn)?;
    row.into_domain()
}

/// A new revision's audit entry as recorded: with the number that only the
/// store knows.
fn numbered(audit: &AuditEntry, number: u32) -> AuditEntry {
    let mut audit = audit.clone();
    if let Some(serde_json::Value::Object(new)) = &mut audit.new_value {
        new.insert("revision_number".into(), number.into());
    }
    audit
}

fn next_revision(
    conn: &mut DbConnection,
    org: &OrgId,
    template: TemplateId,
    revision: &NewRevision,
    audit: Option<&AuditEntry>,
) -> Result<Revision, Failure> {
    let Some(number) = bump_latest(conn, org, template, revision)? else {
        return Err(not_bumped(conn, org, template)?);
    };
    if let Some(audit) = audit {
        crate::audit::record(conn, &numbered(audit, count(number)?))?;
    }
    insert_revision(conn, org, template, number, revision)
}

/// Why a template's latest number was not moved on, from its row (a rare
/// path, one more read): stale, or not found.
fn not_bumped(
    conn: &mut DbConnection,
    org: &OrgId,
    template: TemplateId,
) -> Result<Failure, Failure> {
    let latest: Option<i32> = live_by_id!(org, template)
        .select(templates::latest_revision)
        .first(conn)
        .optional()?;
    Ok(match latest {
        Some(latest) => StoreError::StaleRevision {
            latest: count(latest)?,
        },
        None => StoreError::NotFound,
    }
    .into())
}

/// Moves the live template's latest revision number on by one (when it is
/// `expected_latest`, if that is set) and its `updated_at` to the
/// revision's, in one statement that returns the new number (`UPDATE …
/// RETURNING`, on both backends); `None` when no row was changed.
fn bump_latest(
    conn: &mut DbConnection,
    org: &OrgId,
    template: TemplateId,
    revision: &NewRevision,
) -> Result<Option<i32>, Failure> {
    let expected = match revision.expected_latest.map(i32::try_from) {
        None => None,
        Some(Ok(expected)) => Some(expected),
        // A number beyond what the column holds cannot be the latest: stale.
        Some(Err(_)) => return Ok(None),
    };
    let bump = (
        templates::latest_revision.eq(templates::latest_revision + 1),
        templates::updated_at.eq(timestamp(revision.created_at)),
    );
    // Diesel's multi-backend connection does not offer RETURNING: run it on
    // the concrete connection (the statement is the same on both).
    macro_rules! bump {
        ($conn:expr) => {
            match expected {
                None => diesel::update(live_by_id!(org, template))
                    .set(bump)
                    .returning(templates::latest_revision)
                    .get_result::<i32>($conn)
                    .optional(),
                Some(expected) => diesel::update(
                    live_by_id!(org, template).filter(templates::latest_revision.eq(expected)),
                )
                .set(bump)
                .returning(templates::latest_revision)
                .get_result::<i32>($conn)
                .optional(),
            }
        };
    }
    Ok(match conn {
        DbConnection::Postgres(pg) => bump!(pg)?,
        DbConnection::Sqlite(sqlite) => bump!(sqlite)?,
    })
}

/// Pipeline ids per statement when naming the pipelines that pin a template.
const PIPELINES_PER_QUERY: usize = 500;

/// What creating a template adds to the org's counters.
const CREATED: Delta = Delta {
    templates: 1,
    pipelines: 0,
    audit: 1,
};

/// Inserts a template row and its audit entry (in the caller's transaction).
fn insert_template(
    conn: &mut DbConnection,
    template: &NewTemplate,
    audit: &AuditEntry,
) -> Result<Template, Failure> {
    let (org, id) = (template.org_id.clone(), template.id);
    let row = NewTemplateRow {
        id: template.id.to_string(),
        org_id: template.org_id.as_str().to_owned(),
        name: template.name.as_str().to_owned(),
        name_key: template.name.unique_key(),
        vendor: template.vendor.clone(),
        description: template.description.as_ref().map(|d| d.as_str().to_owned()),
        catalog_vendor_key: template.catalog_vendor_key.clone(),
        catalog_variant_key: template.catalog_variant_key.clone(),
        latest_revision: 0,
        created_at: timestamp(template.created_at),
        updated_at: timestamp(template.created_at),
    };
    crate::audit::record(conn, audit)?;
    diesel::insert_into(templates::table)
        .values(&row)
        .execute(conn)
        .map_err(|err| Failure::from(err).unique_means(|| StoreError::NameTaken))?;
    load_template(conn, &org, id)
}

impl<C: Connections> TemplateStore for DieselStore<C> {
    fn create_template(
        &self,
        template: NewTemplate,
        change: Change<'_, Template>,
    ) -> StoreResult<Template> {
        self.with(|conn| {
            write(conn, |conn| {
                let created = insert_template(conn, &template, &change.audit)?;
                finish(conn, &change, &created)?;
                close(
                    conn,
                    &created.org_id,
                    CREATED,
                    &[&change.audit],
                    self.stamp(),
                )?;
                Ok(created)
            })
        })
        .inspect(|_| self.committed(&template.org_id))
    }

    fn install(
        &self,
        template: NewTemplate,
        first_revision: NewRevision,
        change: Change<'_, (Template, Revision)>,
    ) -> StoreResult<(Template, Revision)> {
        let (org, id) = (template.org_id.clone(), template.id);
        self.with(|conn| {
            write(conn, |conn| {
                insert_template(conn, &template, &change.audit)?;
                let revision = next_revision(conn, &org, id, &first_revision, None)?;
                let installed = (load_template(conn, &org, id)?, revision);
                finish(conn, &change, &installed)?;
                close(conn, &org, CREATED, &[&change.audit], self.stamp())?;
                Ok(installed)
            })
        })
        .inspect(|_| self.committed(&org))
    }

    fn template(&self, org: &OrgId, id: TemplateId) -> StoreResult<Template> {
        self.with(|conn| load_template(conn, org, id))
    }

    fn find_templates(
        &self,
        org: &OrgId,
        filter: &TemplateFilter,
        window: Window,
    ) -> StoreResult<ListPage<Template>> {
        // The filter, on the org's live rows (the same expression for the
        // page and the count).
        macro_rules! matching {
            () => {{
                let mut query = live!(org).into_boxed();
                if let Some(name) = &filter.name {
                    query = query.filter(
                        templates::name_key
                            .like(contains_pattern(name.folded()))
                            .escape(LIKE_ESCAPE),
                    );
                }
                if let Some(vendor) = &filter.vendor {
                    query = query.filter(templates::vendor.eq(vendor.clone()));
                }
                query
            }};
        }
        self.with(|conn| {
            let total = if filter.is_empty() {
                counts::totals(conn, org)?.templates
            } else {
                total(matching!().count().get_result::<i64>(conn)?)?
            };
            let query = matching!()
                .order((templates::created_at.desc(), templates::id.desc()))
                .limit(rows_to_read(window.limit))
                .select(TemplateRow::as_select());
            let query = match window.start.clone() {
                Start::Offset(offset) => query.offset(sql_offset(offset)),
                Start::After(key) => after_key!(query, templates::created_at, templates::id, key),
            };
            let items = query
                .load(conn)?
                .into_iter()
                .map(TemplateRow::into_domain)
                .collect::<Result<_, _>>()?;
            Ok(page_of(items, window.limit, total))
        })
    }

    fn update_template(
        &self,
        org: &OrgId,
        id: TemplateId,
        changes: TemplateChanges,
        audit: AuditEntry,
    ) -> StoreResult<Template> {
        self.with(|conn| {
            write(conn, |conn| {
                crate::audit::record(conn, &audit)?;
                check_version(conn, org, id, changes.expected_updated_at)?;
                let target = live_by_id!(org, id);
                let updated_at = templates::updated_at.eq(timestamp(changes.updated_at));
                let updated = diesel::update(target).set(updated_at).execute(conn)?;
                if updated == 0 {
                    return Err(StoreError::NotFound.into());
                }
                if let Some(name) = &changes.name {
                    diesel::update(templates::table.filter(templates::id.eq(id.to_string())))
                        .set((
                            templates::name.eq(name.as_str()),
                            templates::name_key.eq(name.unique_key()),
                        ))
                        .execute(conn)
                        .map_err(|err| Failure::from(err).unique_means(|| StoreError::NameTaken))?;
                }
                if let Some(description) = &changes.description {
                    diesel::update(templates::table.filter(templates::id.eq(id.to_string())))
                        .set(
                            templates::description.eq(description
                                .as_ref()
                                .map(integrations_domain::Description::as_str)),
                        )
                        .execute(conn)?;
                }
                let updated = load_template(conn, org, id)?;
                close(conn, org, Delta::audited(1), &[&audit], self.stamp())?;
                Ok(updated)
            })
        })
        .inspect(|_| self.committed(org))
    }

    fn delete_template(
        &self,
        org: &OrgId,
        id: TemplateId,
        at: OffsetDateTime,
        expected_updated_at: Option<OffsetDateTime>,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        self.with(|conn| {
            write(conn, |conn| {
                crate::audit::record(conn, &audit)?;
                check_version(conn, org, id, expected_updated_at)?;
                let deleted = diesel::update(live_by_id!(org, id))
                    .set(templates::deleted_at.eq(Some(timestamp(at))))
                    .execute(conn)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound.into());
                }
                // The pins by the template's index, then their pipelines by
                // key, a chunk at a time: a join could hash every pipeline of
                // every org. It costs as much as the template's pins.
                let pinned_by: Vec<String> = attachments::table
                    .filter(attachments::template_id.eq(id.to_string()))
                    .select(attachments::pipeline_id)
                    .load(conn)?;
                let mut users: Vec<(String, String, String)> = Vec::new();
                for chunk in pinned_by.chunks(PIPELINES_PER_QUERY) {
                    let found: Vec<(String, String, String)> = pipelines::table
                        .filter(pipelines::id.eq_any(chunk))
                        .filter(on_the_row(
                            pipelines::deleted_at.is_null().nullable(),
                            false,
                        ))
                        .select((pipelines::name_key, pipelines::id, pipelines::name))
                        .load(conn)?;
                    users.extend(found);
                }
                if users.is_empty() {
                    let deleted = Delta {
                        templates: -1,
                        ..Delta::audited(1)
                    };
                    return close(conn, org, deleted, &[&audit], self.stamp());
                }
                // By name, then id.
                users.sort_unstable();
                let more = users.len().saturating_sub(MAX_PIPELINES_NAMED);
                users.truncate(MAX_PIPELINES_NAMED);
                let pipelines = users
                    .into_iter()
                    .map(|(_, id, name)| crate::pipelines::pipeline_ref(&id, &name))
                    .collect::<Result<_, _>>()?;
                // Returning an error rolls the soft delete back.
                Err(StoreError::TemplateInUse { pipelines, more }.into())
            })
        })
        .inspect(|()| self.committed(org))
    }

    fn create_revision(
        &self,
        org: &OrgId,
        template: TemplateId,
        revision: NewRevision,
        change: Change<'_, Revision>,
    ) -> StoreResult<Revision> {
        use crate::revision_statement::{Created, create};
        /// How the revision was written.
        enum Written {
            /// In one statement, which numbered it.
            Statement(RevisionNumber),
            /// In a transaction of several, which returned it.
            Transaction(Revision),
        }
        let written = self.with(|conn| {
            // Without an idempotency record to settle, PostgreSQL takes the
            // whole change as one statement (see `revision_statement`).
            if let (DbConnection::Postgres(pg), None) = (&mut *conn, &change.replay) {
                match create(pg, org, template, &revision, &change.audit, self.stamp())? {
                    Created::Numbered(number) => return Ok(Written::Statement(number)),
                    Created::NotBumped => return Err(not_bumped(conn, org, template)?),
                    Created::Elsewhere => {}
                }
            }
            write(conn, |conn| {
                let revision = next_revision(conn, org, template, &revision, Some(&change.audit))?;
                finish(conn, &change, &revision)?;
                let recorded = numbered(&change.audit, revision.number.get());
                close(conn, org, Delta::audited(1), &[&recorded], self.stamp())?;
                Ok(Written::Transaction(revision))
            })
        })?;
        self.committed(org);
        Ok(match written {
            Written::Statement(number) => {
                let mut created = revision.numbered(org, template, number);
                // As the column keeps it (microseconds), so a later read is equal.
                created.created_at = instant(timestamp(created.created_at));
                created
            }
            Written::Transaction(revision) => revision,
        })
    }

    fn revision(
        &self,
        org: &OrgId,
        template: TemplateId,
        number: RevisionNumber,
    ) -> StoreResult<Revision> {
        self.with(|conn| {
            // By the key (template_id, revision_number); the template's org
            // and liveness are checked on its row, found by its key.
            revisions::table
                .inner_join(templates::table)
                .filter(revisions::template_id.eq(template.to_string()))
                .filter(revisions::revision_number.eq(to_i32(number.get())?))
                .filter(on_the_row(
                    templates::org_id
                        .eq(org.as_str())
                        .and(templates::deleted_at.is_null())
                        .nullable(),
                    false,
                ))
                .select(RevisionRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?
                .into_domain()
        })
    }

    fn template_revision_by_id(
        &self,
        org: &OrgId,
        template: TemplateId,
        id: RevisionId,
    ) -> StoreResult<Revision> {
        self.with(|conn| {
            revisions::table
                .inner_join(templates::table)
                .filter(revisions::id.eq(id.to_string()))
                .filter(on_the_row(
                    revisions::template_id
                        .eq(template.to_string())
                        .and(templates::org_id.eq(org.as_str()))
                        .and(templates::deleted_at.is_null())
                        .nullable(),
                    false,
                ))
                .select(RevisionRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?
                .into_domain()
        })
    }

    fn revisions(
        &self,
        org: &OrgId,
        template: TemplateId,
        window: Window<u32>,
    ) -> StoreResult<ListPage<Revision>> {
        self.with(|conn| {
            let latest: i32 = live_by_id!(org, template)
                .select(templates::latest_revision)
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?;
            let query = revisions::table
                .filter(revisions::template_id.eq(template.to_string()))
                .order(revisions::revision_number.desc())
                .limit(rows_to_read(window.limit))
                .select(RevisionRow::as_select())
                .into_boxed();
            let query = match window.start.clone() {
                Start::Offset(offset) => query.offset(sql_offset(offset)),
                // Numbers beyond the column's range are all "after" it.
                Start::After(number) => query.filter(
                    revisions::revision_number.lt(i32::try_from(number).unwrap_or(i32::MAX)),
                ),
            };
            let items = query
                .load(conn)?
                .into_iter()
                .map(RevisionRow::into_domain)
                .collect::<Result<_, _>>()?;
            Ok(page_of(items, window.limit, u64::from(count(latest)?)))
        })
    }

    fn template_pins(
        &self,
        org: &OrgId,
        template: TemplateId,
        window: Window,
    ) -> StoreResult<ListPage<(PipelineRef, Attachment)>> {
        self.with(|conn| {
            load_template(conn, org, template)?;
            let pins = || {
                attachments::table
                    .inner_join(pipelines::table)
                    .inner_join(templates::table)
                    .inner_join(revisions::table.on(revisions::id.eq(attachments::revision_id)))
                    .filter(attachments::org_id.eq(org.as_str()))
                    .filter(attachments::template_id.eq(template.to_string()))
                    .filter(pipelines::deleted_at.is_null())
            };
            // Deleting a pipeline deletes its attachments in the same
            // transaction: every attachment's pipeline is live, so the total
            // needs no join (it costs as much as the template's pins).
            let total_rows: i64 = attachments::table
                .filter(attachments::org_id.eq(org.as_str()))
                .filter(attachments::template_id.eq(template.to_string()))
                .count()
                .get_result(conn)?;
            let query = pins()
                .order((attachments::created_at.desc(), attachments::id.desc()))
                .limit(rows_to_read(window.limit))
                .select((
                    AttachmentRow::as_select(),
                    templates::name,
                    templates::vendor,
                    templates::latest_revision,
                    revisions::revision_number,
                    pipelines::name,
                ))
                .into_boxed();
            let query = match window.start.clone() {
                Start::Offset(offset) => query.offset(sql_offset(offset)),
                Start::After(key) => {
                    after_key!(query, attachments::created_at, attachments::id, key)
                }
            };
            let rows: Vec<(AttachmentRow, String, String, i32, i32, String)> = query.load(conn)?;
            let items = rows
                .into_iter()
                .map(|(row, name, vendor, latest, number, pipeline_name)| {
                    let attachment = attachment((row, name, vendor, latest, number))?;
                    let pipeline = crate::pipelines::pipeline_ref(
                        &attachment.pipeline_id.to_string(),
                        &pipeline_name,
                    )?;
                    Ok((pipeline, attachment))
                })
                .collect::<Result<_, Failure>>()?;
            Ok(page_of(items, window.limit, total(total_rows)?))
        })
    }

    fn revisions_below(
        &self,
        org: &OrgId,
        template: TemplateId,
        below: u32,
        limit: u32,
    ) -> StoreResult<Vec<Revision>> {
        // Numbers beyond the column's range are all "below" it: start at the top.
        let below = i32::try_from(below).unwrap_or(i32::MAX);
        let limit = i64::from(limit);
        self.with(|conn| {
            revisions::table
                .filter(revisions::org_id.eq(org.as_str()))
                .filter(revisions::template_id.eq(template.to_string()))
                .filter(revisions::revision_number.lt(below))
                .order(revisions::revision_number.desc())
                .limit(limit)
                .select(RevisionRow::as_select())
                .load(conn)?
                .into_iter()
                .map(RevisionRow::into_domain)
                .collect()
        })
    }

    fn latest_revision(&self, org: &OrgId, template: TemplateId) -> StoreResult<Option<Revision>> {
        self.with(|conn| {
            let latest: i32 = live_by_id!(org, template)
                .select(templates::latest_revision)
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?;
            revisions::table
                .filter(revisions::template_id.eq(template.to_string()))
                .filter(revisions::revision_number.eq(latest))
                .select(RevisionRow::as_select())
                .first(conn)
                .optional()?
                .map(RevisionRow::into_domain)
                .transpose()
        })
    }
}
