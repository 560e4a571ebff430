//! Creating a revision on PostgreSQL in one statement: the busiest write of
//! the service, sent as a single data-modifying `WITH` instead of a
//! transaction of six statements.
//!
//! What the statement does is exactly what the general path
//! (`templates::next_revision`, then `events::close`) does, in the same lock
//! order. It moves the template's latest number on (`bumped`: the template's
//! row lock, taken first because every other part reads `bumped`), writes the
//! audit entry, the sealed values and the revision, numbers the event from
//! the org's `event_seqs` row and appends it, and adds to the org's counters
//! (`counted` reads `numbered`, so the counter row is locked after the
//! event's number, as `events::close` does). PostgreSQL runs the parts of a
//! `WITH` in an order of its own choosing; these dependencies are what fix
//! the order of the locks. One statement is one transaction: either all of it commits or none of
//! it, and when the template was not bumped (deleted, another org, or
//! `expected_latest` out of date) every part selects from an empty `bumped`
//! and writes nothing, so no event number is used up.
//!
//! The new number is known only inside the statement, and both the audit
//! entry and the event's data carry it: their JSON objects are sent without
//! it, and the statement writes `{"revision_number":N` followed by the rest
//! of each (a text splice, cheaper than parsing 3 KB of JSON in the
//! database).
//!
//! Used when nothing else has to join the transaction: no idempotency
//! record to settle (a request with an `Idempotency-Key` takes the general
//! path). The statement is prepared once per connection ([`Statement`]), so
//! PostgreSQL does not parse and plan it per request: that, more than the
//! round trips saved, is what made creating a revision faster
//! (docs/performance.md, "Creating a revision in one prepared statement").

use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamp};
use integrations_domain::{OrgId, RevisionNumber, TemplateId};
use integrations_ports::{AuditAction, AuditEntry, NewEvent, NewRevision, REVISION_OWNER};
use serde_json::{Map, Value};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::counts;
use crate::error::{Failure, corrupt};
use crate::rows::{config_text, timestamp};

/// The key both JSON objects get from the statement.
const NUMBER_KEY: &str = "revision_number";

/// The statement after its `input` (see [`Statement`]): every value is bound
/// once, as a column of `input`.
const SQL: &str = "
bumped AS (
    UPDATE templates t SET latest_revision = t.latest_revision + 1,
                           updated_at = input.created_at
    FROM input
    WHERE t.id = input.template_id
      AND COALESCE(t.org_id = input.org_id AND t.deleted_at IS NULL, FALSE)
      AND (input.expected_latest IS NULL OR t.latest_revision = input.expected_latest)
    RETURNING t.latest_revision AS n),
audit AS (
    INSERT INTO audit_log (id, org_id, actor, action, resource_type, resource_id,
                           old_value, new_value, created_at)
    SELECT i.audit_id, i.org_id, i.actor, i.action, i.audit_resource_type,
           i.audit_resource_id, NULL, '{\"revision_number\":' || b.n || i.audit_rest,
           i.audit_at
    FROM bumped b, input i),
sealed AS (
    INSERT INTO sealed_values (org_id, owner_kind, owner_id, field_path, version_id, kid,
                               ciphertext, created_at)
    SELECT i.org_id, i.owner_kind, i.revision_id, s.field_path, s.version_id, s.kid,
           s.ciphertext, i.created_at
    FROM bumped, input i,
         unnest(i.secret_paths, i.secret_versions, i.secret_kids, i.secret_ciphertexts)
         AS s(field_path, version_id, kid, ciphertext)),
revision AS (
    INSERT INTO revisions (id, template_id, org_id, revision_number, config, delivery_mode,
                           change_summary, created_by, created_at, restored_from)
    SELECT i.revision_id, i.template_id, i.org_id, b.n, i.config, i.delivery_mode,
           i.change_summary, i.created_by, i.created_at, i.restored_from
    FROM bumped b, input i),
numbered AS (
    INSERT INTO event_seqs (org_id, last_seq) SELECT i.org_id, 1 FROM bumped, input i
    ON CONFLICT (org_id) DO UPDATE SET last_seq = event_seqs.last_seq + 1
    RETURNING last_seq),
counted AS (
    INSERT INTO org_counts (org_id, stripe, live_templates, live_pipelines, audit_entries)
    SELECT i.org_id, i.stripe, 0, 0, 1 FROM numbered, input i
    ON CONFLICT (org_id, stripe) DO UPDATE SET
        audit_entries = org_counts.audit_entries + EXCLUDED.audit_entries),
event AS (
    INSERT INTO events (org_id, seq, id, type, resource_type, resource_id, pipeline_ids,
                        actor, at, data)
    SELECT i.org_id, numbered.last_seq, i.event_id, i.event_type, i.event_resource_type,
           i.revision_id,
           COALESCE((SELECT json_agg(a.pipeline_id ORDER BY a.pipeline_id)::text
                     FROM attachments a
                     WHERE a.org_id = i.org_id AND a.template_id = i.template_id), '[]'),
           i.actor, i.event_at, '{\"revision_number\":' || b.n || i.event_rest
    FROM numbered, bumped b, input i)
SELECT n FROM bumped";

/// The statement with its values. Diesel prepares it once per connection
/// and reuses it (its type is its cache key), so PostgreSQL parses and
/// plans it once per connection, not per request.
struct Statement<'a> {
    org_id: &'a str,
    template_id: String,
    created_at: PrimitiveDateTime,
    expected_latest: Option<i32>,
    audit_id: String,
    actor: &'a str,
    action: &'static str,
    audit_resource_type: &'static str,
    audit_resource_id: &'a str,
    audit_at: PrimitiveDateTime,
    audit_rest: String,
    revision_id: String,
    config: String,
    delivery_mode: &'static str,
    change_summary: Option<&'a str>,
    created_by: &'a str,
    restored_from: Option<i32>,
    owner_kind: &'static str,
    secret_paths: Vec<&'a str>,
    secret_versions: Vec<&'a str>,
    secret_kids: Vec<&'a str>,
    secret_ciphertexts: Vec<&'a str>,
    stripe: i32,
    event_id: String,
    event_type: &'static str,
    event_resource_type: &'static str,
    event_at: PrimitiveDateTime,
    event_rest: String,
}

/// `WITH input AS (SELECT $1 AS a, $2 AS b, …), ` from `name: type = value`
/// lines, binding each value once.
macro_rules! input {
    ($out:ident; $first:literal: $first_type:ty = $first_value:expr;
     $($name:literal: $type:ty = $value:expr;)*) => {
        $out.push_sql("WITH input AS (SELECT ");
        $out.push_bind_param::<$first_type, _>($first_value)?;
        $out.push_sql(concat!(" AS ", $first));
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$type, _>($value)?;
            $out.push_sql(concat!(" AS ", $name));
        )*
        $out.push_sql("),");
    };
}

impl QueryFragment<Pg> for Statement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        input!(out;
            "org_id": Text = &self.org_id;
            "template_id": Text = &self.template_id;
            "created_at": Timestamp = &self.created_at;
            "expected_latest": Nullable<Integer> = &self.expected_latest;
            "audit_id": Text = &self.audit_id;
            "actor": Text = &self.actor;
            "action": Text = &self.action;
            "audit_resource_type": Text = &self.audit_resource_type;
            "audit_resource_id": Text = &self.audit_resource_id;
            "audit_at": Timestamp = &self.audit_at;
            "audit_rest": Text = &self.audit_rest;
            "revision_id": Text = &self.revision_id;
            "config": Text = &self.config;
            "delivery_mode": Text = &self.delivery_mode;
            "change_summary": Nullable<Text> = &self.change_summary;
            "created_by": Text = &self.created_by;
            "restored_from": Nullable<Integer> = &self.restored_from;
            "owner_kind": Text = &self.owner_kind;
            "secret_paths": Array<Text> = &self.secret_paths;
            "secret_versions": Array<Text> = &self.secret_versions;
            "secret_kids": Array<Text> = &self.secret_kids;
            "secret_ciphertexts": Array<Text> = &self.secret_ciphertexts;
            "stripe": Integer = &self.stripe;
            "event_id": Text = &self.event_id;
            "event_type": Text = &self.event_type;
            "event_resource_type": Text = &self.event_resource_type;
            "event_at": Timestamp = &self.event_at;
            "event_rest": Text = &self.event_rest;
        );
        out.push_sql(SQL);
        Ok(())
    }
}

impl QueryId for Statement<'_> {
    type QueryId = Statement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Statement<'_> {
    type SqlType = Integer;
}

impl RunQueryDsl<PgConnection> for Statement<'_> {}

/// What follows `{"revision_number":N` in `object` as text: its other
/// members, then the closing brace.
fn after_number(object: &Map<String, Value>) -> Result<String, Failure> {
    struct Without<'a>(&'a Map<String, Value>);
    impl serde::Serialize for Without<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.0.iter().filter(|(key, _)| *key != NUMBER_KEY))
        }
    }
    let text =
        serde_json::to_string(&Without(object)).map_err(|err| corrupt("audit value", err))?;
    // `{}` or `{"a":…}`: the members without the opening brace.
    Ok(match text.strip_prefix('{') {
        Some("}") | None => "}".to_owned(),
        Some(members) => format!(",{members}"),
    })
}

/// What [`create`] did.
pub(crate) enum Created {
    /// The revision, with the number it got.
    Numbered(RevisionNumber),
    /// Nothing: the template was not bumped (see `templates::not_bumped`).
    NotBumped,
    /// Nothing: this path does not apply (an audit entry that is not a
    /// revision's, or has no new value to put the number in).
    Elsewhere,
}

/// Creates `revision` as the template's next one, its audit entry `audit`
/// and its event, in one statement. `stamp` dates the event as
/// `events::close` would.
pub(crate) fn create(
    pg: &mut PgConnection,
    org: &OrgId,
    template: TemplateId,
    revision: &NewRevision,
    audit: &AuditEntry,
    stamp: Option<OffsetDateTime>,
) -> Result<Created, Failure> {
    let mut event = NewEvent::of(audit);
    if let Some(stamp) = stamp {
        event.at = event.at.max(stamp);
    }
    let (
        AuditAction::RevisionCreate | AuditAction::RevisionRestore,
        Some(Value::Object(new_value)),
    ) = (audit.action, &audit.new_value)
    else {
        return Ok(Created::Elsewhere);
    };
    let (audit_rest, event_rest) = (after_number(new_value)?, after_number(&event.data)?);
    let expected_latest = match revision.expected_latest.map(i32::try_from) {
        None => None,
        Some(Ok(expected)) => Some(expected),
        // A number beyond what the column holds cannot be the latest: stale.
        Some(Err(_)) => return Ok(Created::NotBumped),
    };
    let column = |pick: fn(&integrations_ports::SealedSecret) -> &str| -> Vec<&str> {
        revision.secrets.iter().map(pick).collect()
    };
    let statement = Statement {
        org_id: org.as_str(),
        template_id: template.to_string(),
        created_at: timestamp(revision.created_at),
        expected_latest,
        audit_id: audit.id.to_string(),
        actor: audit.actor.as_str(),
        action: audit.action.as_str(),
        audit_resource_type: audit.resource_type.as_str(),
        audit_resource_id: &audit.resource_id,
        audit_at: timestamp(audit.at),
        audit_rest,
        revision_id: revision.id.to_string(),
        config: config_text(&revision.config)?,
        delivery_mode: revision.delivery_mode.as_str(),
        change_summary: revision
            .change_summary
            .as_ref()
            .map(integrations_domain::Description::as_str),
        created_by: revision.created_by.as_str(),
        restored_from: revision
            .restored_from
            .map(|n| i32::try_from(n.get()))
            .transpose()
            .map_err(|err| corrupt("revision number", err))?,
        owner_kind: REVISION_OWNER,
        secret_paths: column(|s| &s.field_path),
        secret_versions: column(|s| s.version.as_str()),
        secret_kids: column(|s| &s.envelope.kid),
        secret_ciphertexts: column(|s| &s.envelope.ciphertext),
        stripe: counts::stripe(&audit.id.to_string()),
        event_id: event.id.to_string(),
        event_type: event.event_type.as_str(),
        event_resource_type: event.resource_type.as_str(),
        event_at: timestamp(event.at),
        event_rest,
    };
    let Some(n) = statement.get_result::<i32>(pg).optional()? else {
        return Ok(Created::NotBumped);
    };
    u32::try_from(n)
        .ok()
        .and_then(RevisionNumber::new)
        .map(Created::Numbered)
        .ok_or_else(|| corrupt("revision number", n))
}
