//! The audit log: rows written inside each change's transaction, and the query.

use diesel::prelude::*;
use integrations_domain::{OrgId, Page, Paged, UserId};
use integrations_ports::{AuditEntry, AuditStore, StoreResult};
use serde_json::Value;
use time::PrimitiveDateTime;

use crate::DieselStore;
use crate::connection::DbConnection;
use crate::error::{Failure, corrupt};
use crate::rows::timestamp;
use crate::schema::audit_log;
use crate::templates::{total, window};

fn text(value: Option<&Value>) -> Result<Option<String>, Failure> {
    value
        .map(|v| serde_json::to_string(v).map_err(|err| corrupt("audit value", err)))
        .transpose()
}

/// Writes `entry` (in the caller's transaction).
pub(crate) fn record(conn: &mut DbConnection, entry: &AuditEntry) -> Result<(), Failure> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(entry.id.to_string()),
            audit_log::org_id.eq(entry.org.as_str()),
            audit_log::actor.eq(entry.actor.as_str()),
            audit_log::action.eq(&entry.action),
            audit_log::resource_type.eq(&entry.resource_type),
            audit_log::resource_id.eq(&entry.resource_id),
            audit_log::old_value.eq(text(entry.old_value.as_ref())?),
            audit_log::new_value.eq(text(entry.new_value.as_ref())?),
            audit_log::created_at.eq(timestamp(entry.at)),
        ))
        .execute(conn)?;
    Ok(())
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    PrimitiveDateTime,
);

fn entry(row: Row) -> Result<AuditEntry, Failure> {
    let (id, org, actor, action, resource_type, resource_id, old, new, at) = row;
    let json = |raw: Option<String>| {
        raw.map(|r| serde_json::from_str(&r).map_err(|err| corrupt("audit value", err)))
            .transpose()
    };
    Ok(AuditEntry {
        id: id.parse().map_err(|err| corrupt("audit id", err))?,
        org: OrgId::parse(&org).map_err(|err| corrupt("org id", err))?,
        actor: UserId::parse(&actor).map_err(|err| corrupt("actor", err))?,
        action,
        resource_type,
        resource_id,
        old_value: json(old)?,
        new_value: json(new)?,
        at: at.assume_utc(),
    })
}

impl AuditStore for DieselStore {
    fn audit_log(
        &self,
        org: &OrgId,
        resource_id: Option<&str>,
        page: Page,
    ) -> StoreResult<Paged<AuditEntry>> {
        let (limit, offset) = window(page);
        self.with(|conn| {
            let mut count = audit_log::table
                .filter(audit_log::org_id.eq(org.as_str()))
                .into_boxed();
            let mut rows = audit_log::table
                .filter(audit_log::org_id.eq(org.as_str()))
                .into_boxed();
            if let Some(resource) = resource_id {
                count = count.filter(audit_log::resource_id.eq(resource));
                rows = rows.filter(audit_log::resource_id.eq(resource));
            }
            let total_rows: i64 = count.count().get_result(conn)?;
            let rows: Vec<Row> = rows
                .order((audit_log::created_at.desc(), audit_log::id.desc()))
                .limit(limit)
                .offset(offset)
                .select((
                    audit_log::id,
                    audit_log::org_id,
                    audit_log::actor,
                    audit_log::action,
                    audit_log::resource_type,
                    audit_log::resource_id,
                    audit_log::old_value,
                    audit_log::new_value,
                    audit_log::created_at,
                ))
                .load(conn)?;
            Ok(Paged {
                items: rows.into_iter().map(entry).collect::<Result<_, _>>()?,
                total: total(total_rows)?,
            })
        })
    }
}
