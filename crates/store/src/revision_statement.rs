//! Creating a revision on PostgreSQL in one statement: the busiest write of
//! the service, sent as a single data-modifying `WITH` instead of a
//! transaction of six statements.
//!
//! What the statement does is exactly what the general path
//! (`templates::next_revision`, then `events::close`) does, in the same lock
//! order: it moves the template's latest number on (`bumped`, the template's
//! row lock, taken first because every other part reads `bumped`), writes the
//! audit entry, the sealed values and the revision, adds to the org's
//! counters, numbers the event from the org's `event_seqs` row and appends
//! it. One statement is one transaction: either all of it commits or none of
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
//! path). Two round trips fewer than before per create on the network, four
//! fewer statements to parse and plan (docs/performance.md).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamp};
use integrations_domain::{OrgId, Revision, RevisionNumber, TemplateId};
use integrations_ports::{AuditAction, AuditEntry, NewEvent, NewRevision, REVISION_OWNER};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::counts;
use crate::error::{Failure, corrupt};
use crate::rows::{config_text, instant, timestamp};

/// The key both JSON objects get from the statement.
const NUMBER_KEY: &str = "revision_number";

/// The statement. Parameters: `$1` org, `$2` template, `$3` the template's
/// new `updated_at`, `$4` the expected latest number (or null), `$5`–`$10`
/// the audit entry (id, actor, action, resource type, resource id, time),
/// `$11` what follows the number in its new value, `$12` the revision's id, `$13`
/// config, `$14` delivery mode, `$15` change summary, `$16` author, `$17`
/// restored from, `$18` creation time, `$19`–`$22` the sealed values'
/// paths, versions, key ids and ciphertexts, `$23` the counters' stripe,
/// `$24`–`$29` the event (id, type, resource type, resource id, time, what
/// follows the number in its data), `$30` the owner kind of sealed values.
const SQL: &str = "\
WITH bumped AS (
    UPDATE templates SET latest_revision = latest_revision + 1, updated_at = $3
    WHERE id = $2 AND COALESCE(org_id = $1 AND deleted_at IS NULL, FALSE)
      AND ($4::integer IS NULL OR latest_revision = $4)
    RETURNING latest_revision AS n),
audit AS (
    INSERT INTO audit_log (id, org_id, actor, action, resource_type, resource_id,
                           old_value, new_value, created_at)
    SELECT $5, $1, $6, $7, $8, $9, NULL,
           '{\"revision_number\":' || n || $11, $10
    FROM bumped),
sealed AS (
    INSERT INTO sealed_values (org_id, owner_kind, owner_id, field_path, version_id, kid,
                               ciphertext, created_at)
    SELECT $1, $30, $12, s.field_path, s.version_id, s.kid, s.ciphertext, $18
    FROM bumped, unnest($19::text[], $20::text[], $21::text[], $22::text[])
         AS s(field_path, version_id, kid, ciphertext)),
revision AS (
    INSERT INTO revisions (id, template_id, org_id, revision_number, config, delivery_mode,
                           change_summary, created_by, created_at, restored_from)
    SELECT $12, $2, $1, n, $13, $14, $15, $16, $18, $17
    FROM bumped),
counted AS (
    INSERT INTO org_counts (org_id, stripe, live_templates, live_pipelines, audit_entries)
    SELECT $1, $23, 0, 0, 1 FROM bumped
    ON CONFLICT (org_id, stripe) DO UPDATE SET
        audit_entries = org_counts.audit_entries + EXCLUDED.audit_entries),
numbered AS (
    INSERT INTO event_seqs (org_id, last_seq) SELECT $1, 1 FROM bumped
    ON CONFLICT (org_id) DO UPDATE SET last_seq = event_seqs.last_seq + 1
    RETURNING last_seq),
event AS (
    INSERT INTO events (org_id, seq, id, type, resource_type, resource_id, pipeline_ids,
                        actor, at, data)
    SELECT $1, numbered.last_seq, $24, $25, $26, $27,
           COALESCE((SELECT json_agg(a.pipeline_id ORDER BY a.pipeline_id)::text
                     FROM attachments a WHERE a.org_id = $1 AND a.template_id = $2), '[]'),
           $6, $28, '{\"revision_number\":' || bumped.n || $29
    FROM numbered, bumped)
SELECT n FROM bumped";

/// The new number, from the statement's only row.
#[derive(QueryableByName)]
struct Bumped {
    #[diesel(sql_type = Integer)]
    n: i32,
}

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
    let (new_value, data) = (after_number(new_value)?, after_number(&event.data)?);
    let expected = match revision.expected_latest.map(i32::try_from) {
        None => None,
        Some(Ok(expected)) => Some(expected),
        // A number beyond what the column holds cannot be the latest: stale.
        Some(Err(_)) => return Ok(Created::NotBumped),
    };
    let column = |pick: fn(&integrations_ports::SealedSecret) -> &str| -> Vec<&str> {
        revision.secrets.iter().map(pick).collect()
    };
    let created_at = timestamp(revision.created_at);
    let revision_id = revision.id.to_string();
    let template_id = template.to_string();
    let bumped: Option<Bumped> = diesel::sql_query(SQL)
        .bind::<Text, _>(org.as_str())
        .bind::<Text, _>(&template_id)
        .bind::<Timestamp, _>(created_at)
        .bind::<Nullable<Integer>, _>(expected)
        .bind::<Text, _>(audit.id.to_string())
        .bind::<Text, _>(audit.actor.as_str())
        .bind::<Text, _>(audit.action.as_str())
        .bind::<Text, _>(audit.resource_type.as_str())
        .bind::<Text, _>(&audit.resource_id)
        .bind::<Timestamp, _>(timestamp(audit.at))
        .bind::<Text, _>(&new_value)
        .bind::<Text, _>(&revision_id)
        .bind::<Text, _>(config_text(&revision.config)?)
        .bind::<Text, _>(revision.delivery_mode.as_str())
        .bind::<Nullable<Text>, _>(revision.change_summary.as_ref().map(|s| s.as_str()))
        .bind::<Text, _>(revision.created_by.as_str())
        .bind::<Nullable<Integer>, _>(
            revision
                .restored_from
                .map(|n| i32::try_from(n.get()))
                .transpose()
                .map_err(|err| corrupt("revision number", err))?,
        )
        .bind::<Timestamp, _>(created_at)
        .bind::<Array<Text>, _>(column(|s| &s.field_path))
        .bind::<Array<Text>, _>(column(|s| s.version.as_str()))
        .bind::<Array<Text>, _>(column(|s| &s.envelope.kid))
        .bind::<Array<Text>, _>(column(|s| &s.envelope.ciphertext))
        .bind::<Integer, _>(counts::stripe(&audit.id.to_string()))
        .bind::<Text, _>(event.id.to_string())
        .bind::<Text, _>(event.event_type.as_str())
        .bind::<Text, _>(event.resource_type.as_str())
        .bind::<Text, _>(&event.resource_id)
        .bind::<Timestamp, _>(timestamp(event.at))
        .bind::<Text, _>(&data)
        .bind::<Text, _>(REVISION_OWNER)
        .get_result(pg)
        .optional()?;
    let Some(Bumped { n }) = bumped else {
        return Ok(Created::NotBumped);
    };
    u32::try_from(n)
        .ok()
        .and_then(RevisionNumber::new)
        .map(Created::Numbered)
        .ok_or_else(|| corrupt("revision number", n))
}

/// The revision `new` became, numbered `number`.
pub(crate) fn created(
    new: NewRevision,
    org: &OrgId,
    template: TemplateId,
    number: RevisionNumber,
) -> Revision {
    Revision {
        id: new.id,
        template_id: template,
        org_id: org.clone(),
        number,
        config: new.config,
        delivery_mode: new.delivery_mode,
        change_summary: new.change_summary,
        created_by: new.created_by,
        // As the column keeps it (microseconds), so a later read is equal.
        created_at: instant(timestamp(new.created_at)),
        restored_from: new.restored_from,
    }
}
