//! The audit log: rows written inside each change's transaction, and the query.

use diesel::prelude::*;
use integrations_domain::{OrgId, UserId};
use integrations_ports::{AuditEntry, AuditStore, ListPage, Start, StoreResult, Window};
use serde_json::Value;
use time::PrimitiveDateTime;

use crate::connection::DbConnection;
use crate::error::{Failure, corrupt};
use crate::lookup::{after_key, page_of, rows_to_read, sql_offset};
use crate::rows::timestamp;
use crate::schema::audit_log;
use crate::templates::total;
use crate::{Connections, DieselStore};

fn text(value: Option<&Value>) -> Result<Option<String>, Failure> {
    value
        .map(|v| serde_json::to_string(v).map_err(|err| corrupt("audit value", err)))
        .transpose()
}

/// Writes `entry` (in the caller's transaction). The caller counts it in
/// `org_counts` (`counts::add`) at the end of that transaction.
pub(crate) fn record(conn: &mut DbConnection, entry: &AuditEntry) -> Result<(), Failure> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(entry.id.to_string()),
            audit_log::org_id.eq(entry.org.as_str()),
            audit_log::actor.eq(entry.actor.as_str()),
            audit_log::action.eq(entry.action.as_str()),
            audit_log::resource_type.eq(entry.resource_type.as_str()),
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
        action: action.parse().map_err(|err| corrupt("audit action", err))?,
        resource_type: resource_type
            .parse()
            .map_err(|err| corrupt("audit resource type", err))?,
        resource_id,
        old_value: json(old)?,
        new_value: json(new)?,
        at: at.assume_utc(),
    })
}

impl<C: Connections> AuditStore for DieselStore<C> {
    fn audit_log(
        &self,
        org: &OrgId,
        resource_id: Option<&str>,
        window: Window,
    ) -> StoreResult<ListPage<AuditEntry>> {
        self.with(|conn| {
            let mut rows = audit_log::table
                .filter(audit_log::org_id.eq(org.as_str()))
                .into_boxed();
            let total = if let Some(resource) = resource_id {
                rows = rows.filter(audit_log::resource_id.eq(resource));
                // A filtered total costs as much as its matches (the
                // `audit_log_resource` index).
                let matches: i64 = audit_log::table
                    .filter(audit_log::org_id.eq(org.as_str()))
                    .filter(audit_log::resource_id.eq(resource))
                    .count()
                    .get_result(conn)?;
                total(matches)?
            } else {
                crate::counts::totals(conn, org)?.audit
            };
            rows = match window.start.clone() {
                Start::Offset(offset) => rows.offset(sql_offset(offset)),
                Start::After(key) => after_key!(rows, audit_log::created_at, audit_log::id, key),
            };
            let rows: Vec<Row> = rows
                .order((audit_log::created_at.desc(), audit_log::id.desc()))
                .limit(rows_to_read(window.limit))
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
            let items = rows.into_iter().map(entry).collect::<Result<_, _>>()?;
            Ok(page_of(items, window.limit, total))
        })
    }
}
