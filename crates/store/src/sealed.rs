//! [`SealedValueStore`] for [`DieselStore`]: sealed values in a table of their
//! own, written with the revision that owns them.

use diesel::prelude::*;
use integrations_domain::secrets::SecretVersion;
use integrations_domain::{OrgId, PipelineId, RevisionId};
use integrations_ports::{
    Envelope, PIPELINE_OWNER, REVISION_OWNER, SealedSecret, SealedValueStore, StoreResult,
};
use time::PrimitiveDateTime;

use crate::connection::DbConnection;
use crate::error::{Failure, corrupt};
use crate::schema::sealed_values;
use crate::{Connections, DieselStore};

/// Ids per `IN (…)` list: well under every backend's bound-parameter limit.
const IDS_PER_QUERY: usize = 500;

/// Rows per `INSERT`: 8 bound parameters each, well under every backend's limit.
const ROWS_PER_INSERT: usize = 500;

#[derive(Insertable)]
#[diesel(table_name = sealed_values)]
struct NewSealedRow<'a> {
    org_id: &'a str,
    owner_kind: &'a str,
    owner_id: &'a str,
    field_path: &'a str,
    version_id: &'a str,
    kid: &'a str,
    ciphertext: &'a str,
    created_at: PrimitiveDateTime,
}

/// Writes the sealed values of a new revision (in the caller's transaction),
/// in one multi-row `INSERT` per [`ROWS_PER_INSERT`] values.
pub(crate) fn insert_revision_secrets(
    conn: &mut DbConnection,
    org: &OrgId,
    revision: RevisionId,
    created_at: PrimitiveDateTime,
    secrets: &[SealedSecret],
) -> Result<(), Failure> {
    insert_secrets(
        conn,
        org,
        (REVISION_OWNER, &revision.to_string()),
        created_at,
        secrets,
    )
}

/// Writes sealed values of a pipeline's secret parameters, and their copies
/// for the pipeline's history (in the caller's transaction).
pub(crate) fn insert_pipeline_secrets(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
    created_at: PrimitiveDateTime,
    secrets: &[SealedSecret],
) -> Result<(), Failure> {
    insert_secrets(
        conn,
        org,
        (PIPELINE_OWNER, &pipeline.to_string()),
        created_at,
        secrets,
    )?;
    // The history renders past configs with these values too.
    crate::history::keep_secrets(conn, org, pipeline, created_at, secrets)
}

/// Drops the sealed values of a pipeline's secret parameters that `keep`
/// does not name by field path and version (in the caller's transaction).
pub(crate) fn drop_pipeline_secrets_except(
    conn: &mut DbConnection,
    org: &OrgId,
    pipeline: PipelineId,
    keep: &[(String, String)],
) -> Result<(), Failure> {
    let owner_id = pipeline.to_string();
    let stored: Vec<(String, String)> = sealed_values::table
        .filter(sealed_values::org_id.eq(org.as_str()))
        .filter(sealed_values::owner_kind.eq(PIPELINE_OWNER))
        .filter(sealed_values::owner_id.eq(&owner_id))
        .select((sealed_values::field_path, sealed_values::version_id))
        .load(conn)?;
    for (field_path, version) in stored {
        if keep.contains(&(field_path.clone(), version)) {
            continue;
        }
        diesel::delete(
            sealed_values::table
                .filter(sealed_values::owner_kind.eq(PIPELINE_OWNER))
                .filter(sealed_values::owner_id.eq(&owner_id))
                .filter(sealed_values::field_path.eq(&field_path)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Writes sealed values owned by `(owner_kind, owner_id)`, in one multi-row
/// `INSERT` per [`ROWS_PER_INSERT`] values.
fn insert_secrets(
    conn: &mut DbConnection,
    org: &OrgId,
    (owner_kind, owner_id): (&str, &str),
    created_at: PrimitiveDateTime,
    secrets: &[SealedSecret],
) -> Result<(), Failure> {
    for chunk in secrets.chunks(ROWS_PER_INSERT) {
        let rows: Vec<NewSealedRow<'_>> = chunk
            .iter()
            .map(|secret| NewSealedRow {
                org_id: org.as_str(),
                owner_kind,
                owner_id,
                field_path: &secret.field_path,
                version_id: secret.version.as_str(),
                kid: &secret.envelope.kid,
                ciphertext: &secret.envelope.ciphertext,
                created_at,
            })
            .collect();
        // Diesel's multi-backend connection has no multi-row `INSERT`: each backend's has.
        let insert = diesel::insert_into(sealed_values::table).values(&rows);
        match conn {
            DbConnection::Postgres(pg) => insert.execute(pg)?,
            DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
        };
    }
    Ok(())
}

type Row = (String, String, String, String, String);

fn secret(
    (owner_id, field_path, version, kid, ciphertext): Row,
) -> Result<(RevisionId, SealedSecret), Failure> {
    Ok((
        owner_id
            .parse()
            .map_err(|err| corrupt("sealed value owner", err))?,
        SealedSecret {
            field_path,
            version: SecretVersion::parse(&version)
                .ok_or_else(|| corrupt("sealed value version", &version))?,
            envelope: Envelope { kid, ciphertext },
        },
    ))
}

impl<C: Connections> SealedValueStore for DieselStore<C> {
    fn revision_secrets(
        &self,
        org: &OrgId,
        revisions: &[RevisionId],
    ) -> StoreResult<Vec<(RevisionId, SealedSecret)>> {
        if revisions.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|conn| {
            let mut found = Vec::new();
            for chunk in revisions.chunks(IDS_PER_QUERY) {
                let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                let rows: Vec<Row> = sealed_values::table
                    .filter(sealed_values::org_id.eq(org.as_str()))
                    .filter(sealed_values::owner_kind.eq(REVISION_OWNER))
                    .filter(sealed_values::owner_id.eq_any(ids))
                    .select((
                        sealed_values::owner_id,
                        sealed_values::field_path,
                        sealed_values::version_id,
                        sealed_values::kid,
                        sealed_values::ciphertext,
                    ))
                    .load(conn)?;
                for row in rows {
                    found.push(secret(row)?);
                }
            }
            Ok(found)
        })
    }

    fn pipeline_secrets(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
    ) -> StoreResult<Vec<SealedSecret>> {
        let owner_id = pipeline.to_string();
        self.with(|conn| {
            let rows: Vec<Row> = sealed_values::table
                .filter(sealed_values::org_id.eq(org.as_str()))
                .filter(sealed_values::owner_kind.eq(PIPELINE_OWNER))
                .filter(sealed_values::owner_id.eq(&owner_id))
                .select((
                    sealed_values::owner_id,
                    sealed_values::field_path,
                    sealed_values::version_id,
                    sealed_values::kid,
                    sealed_values::ciphertext,
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(_, field_path, version, kid, ciphertext)| {
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
