//! [`KeyRotationStore`] for [`DieselStore`]: per-key counts, and re-sealing
//! in batches, each batch one short transaction.

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use integrations_domain::{OrgId, RevisionId};
use integrations_ports::{
    Envelope, KeyCount, KeyRotationStore, LegacyRevision, PIPELINE_OWNER, REVISION_OWNER,
    SealPlace, SealedSecret, StoreResult, StoredSeal,
};
use time::OffsetDateTime;

use crate::connection::{DbConnection, write};
use crate::error::corrupt;
use crate::rows::timestamp;
use crate::schema::{history_sealed_values, revisions, sealed_values, templates};
use crate::{Connections, DieselStore};

/// What a config holding an inline sealed value contains.
const LEGACY_MARK: &str = "%enc:v1:%";

type Row = (String, String, String, String, String, String, String);

/// A copy of a sealed value in the config history.
#[derive(QueryableByName)]
struct CopyRow {
    #[diesel(sql_type = Text)]
    org_id: String,
    #[diesel(sql_type = Text)]
    pipeline_id: String,
    #[diesel(sql_type = Text)]
    field_path: String,
    #[diesel(sql_type = Text)]
    version_id: String,
    #[diesel(sql_type = Text)]
    kid: String,
    #[diesel(sql_type = Text)]
    ciphertext: String,
}

#[derive(QueryableByName)]
struct KidCount {
    #[diesel(sql_type = Text)]
    kid: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Per key id, the config history's copies that are not the very envelope
/// of a live value (those are counted once, as the live value).
fn history_only_counts(
    conn: &mut DbConnection,
    org: Option<&OrgId>,
) -> Result<Vec<(String, i64)>, crate::error::Failure> {
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let sql = format!(
        "SELECT h.kid AS kid, COUNT(*) AS n FROM history_sealed_values h \
         WHERE {} NOT EXISTS (SELECT 1 FROM sealed_values s WHERE s.owner_kind = 'pipeline' \
         AND s.owner_id = h.pipeline_id AND s.field_path = h.field_path \
         AND s.version_id = h.version_id AND s.kid = h.kid) GROUP BY h.kid",
        match (org.is_some(), postgres) {
            (false, _) => "",
            (true, true) => "h.org_id = $1 AND",
            (true, false) => "h.org_id = ?1 AND",
        }
    );
    let query = diesel::sql_query(sql);
    let rows: Vec<KidCount> = match org {
        Some(org) => query.bind::<Text, _>(org.as_str()).load(conn)?,
        None => query.load(conn)?,
    };
    Ok(rows.into_iter().map(|row| (row.kid, row.n)).collect())
}

/// Replaces the envelope of the history's copy of `seal`'s value, if it is
/// still the one read; how many (0 or 1).
fn reseal_copy(
    conn: &mut DbConnection,
    seal: &StoredSeal,
    new: &Envelope,
) -> Result<u64, crate::error::Failure> {
    let updated = diesel::update(
        history_sealed_values::table
            .filter(history_sealed_values::pipeline_id.eq(&seal.place.owner_id))
            .filter(history_sealed_values::field_path.eq(&seal.place.field_path))
            .filter(history_sealed_values::version_id.eq(&seal.version))
            .filter(history_sealed_values::kid.eq(&seal.envelope.kid))
            .filter(history_sealed_values::ciphertext.eq(&seal.envelope.ciphertext)),
    )
    .set((
        history_sealed_values::kid.eq(&new.kid),
        history_sealed_values::ciphertext.eq(&new.ciphertext),
    ))
    .execute(conn)?;
    Ok(u64::try_from(updated).unwrap_or(0))
}

impl<C: Connections> KeyRotationStore for DieselStore<C> {
    fn sealed_counts(&self, org: Option<&OrgId>) -> StoreResult<Vec<KeyCount>> {
        self.with(|conn| {
            let mut query = sealed_values::table
                .group_by(sealed_values::kid)
                .select((sealed_values::kid, count_star()))
                .order_by(sealed_values::kid)
                .into_boxed();
            if let Some(org) = org {
                query = query.filter(sealed_values::org_id.eq(org.as_str().to_owned()));
            }
            let mut rows: Vec<(String, i64)> = query.load(conn)?;
            for (kid, count) in history_only_counts(conn, org)? {
                match rows.iter_mut().find(|(k, _)| *k == kid) {
                    Some((_, n)) => *n += count,
                    None => rows.push((kid, count)),
                }
            }
            rows.sort();
            rows.into_iter()
                .map(|(kid, count)| {
                    Ok(KeyCount {
                        kid,
                        sealed_values: u64::try_from(count)
                            .map_err(|err| corrupt("sealed value count", err))?,
                    })
                })
                .collect()
        })
    }

    fn sealed_not_under(
        &self,
        kid: &str,
        after: Option<&SealPlace>,
        limit: usize,
    ) -> StoreResult<Vec<StoredSeal>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let mut query = sealed_values::table
                .filter(sealed_values::kid.ne(kid.to_owned()))
                .order_by((
                    sealed_values::owner_kind,
                    sealed_values::owner_id,
                    sealed_values::field_path,
                ))
                .select((
                    sealed_values::org_id,
                    sealed_values::owner_kind,
                    sealed_values::owner_id,
                    sealed_values::field_path,
                    sealed_values::version_id,
                    sealed_values::kid,
                    sealed_values::ciphertext,
                ))
                .limit(limit)
                .into_boxed();
            if let Some(after) = after {
                // (owner_kind, owner_id, field_path) > after, spelled out: the
                // primary key's order, so each batch starts with an index seek.
                let (owner_kind, owner_id, field_path) = (
                    after.owner_kind.clone(),
                    after.owner_id.clone(),
                    after.field_path.clone(),
                );
                query = query.filter(
                    sealed_values::owner_kind
                        .gt(owner_kind.clone())
                        .or(sealed_values::owner_kind.eq(owner_kind).and(
                            sealed_values::owner_id.gt(owner_id.clone()).or(
                                sealed_values::owner_id
                                    .eq(owner_id)
                                    .and(sealed_values::field_path.gt(field_path)),
                            ),
                        )),
                );
            }
            let rows: Vec<Row> = query.load(conn)?;
            Ok(rows
                .into_iter()
                .map(
                    |(org, owner_kind, owner_id, field_path, version, kid, ciphertext)| {
                        StoredSeal {
                            org,
                            place: SealPlace {
                                owner_kind,
                                owner_id,
                                field_path,
                            },
                            version,
                            envelope: Envelope { kid, ciphertext },
                        }
                    },
                )
                .collect())
        })
    }

    fn reseal(&self, changes: &[(StoredSeal, Envelope)]) -> StoreResult<u64> {
        if changes.is_empty() {
            return Ok(0);
        }
        self.with(|conn| {
            write(conn, |conn| {
                let mut replaced = 0_u64;
                for (seal, new) in changes {
                    // Only if the envelope is still the one read: a value its
                    // owner replaced meanwhile is already sealed under the
                    // current key and must not be overwritten.
                    let updated = diesel::update(
                        sealed_values::table
                            .filter(sealed_values::owner_kind.eq(&seal.place.owner_kind))
                            .filter(sealed_values::owner_id.eq(&seal.place.owner_id))
                            .filter(sealed_values::field_path.eq(&seal.place.field_path))
                            .filter(sealed_values::kid.eq(&seal.envelope.kid))
                            .filter(sealed_values::ciphertext.eq(&seal.envelope.ciphertext)),
                    )
                    .set((
                        sealed_values::kid.eq(&new.kid),
                        sealed_values::ciphertext.eq(&new.ciphertext),
                    ))
                    .execute(conn)?;
                    replaced += u64::try_from(updated).unwrap_or(0);
                    if seal.place.owner_kind == PIPELINE_OWNER {
                        // The history's copy of this very value goes with it.
                        reseal_copy(conn, seal, new)?;
                    }
                }
                Ok(replaced)
            })
        })
    }

    fn history_sealed_not_under(
        &self,
        kid: &str,
        after: Option<&StoredSeal>,
        limit: usize,
    ) -> StoreResult<Vec<StoredSeal>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (pipeline, path, version) = after.map_or_else(Default::default, |after| {
            (
                after.place.owner_id.clone(),
                after.place.field_path.clone(),
                after.version.clone(),
            )
        });
        self.with(|conn| {
            let p = |n: u8| {
                if matches!(conn, DbConnection::Postgres(_)) {
                    format!("${n}")
                } else {
                    format!("?{n}")
                }
            };
            // A copy that is the very envelope of a live value is re-sealed
            // with it (see `reseal`): only the others are visited.
            let sql = format!(
                "SELECT h.org_id, h.pipeline_id, h.field_path, h.version_id, h.kid, h.ciphertext \
                 FROM history_sealed_values h WHERE h.kid <> {kid} \
                 AND (h.pipeline_id, h.field_path, h.version_id) > ({p}, {f}, {v}) \
                 AND NOT EXISTS (SELECT 1 FROM sealed_values s WHERE s.owner_kind = 'pipeline' \
                 AND s.owner_id = h.pipeline_id AND s.field_path = h.field_path \
                 AND s.version_id = h.version_id AND s.kid = h.kid \
                 AND s.ciphertext = h.ciphertext) \
                 ORDER BY h.pipeline_id, h.field_path, h.version_id LIMIT {n}",
                kid = p(1),
                p = p(2),
                f = p(3),
                v = p(4),
                n = p(5),
            );
            let rows: Vec<CopyRow> = diesel::sql_query(sql)
                .bind::<Text, _>(kid)
                .bind::<Text, _>(&pipeline)
                .bind::<Text, _>(&path)
                .bind::<Text, _>(&version)
                .bind::<BigInt, _>(limit)
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|row| StoredSeal {
                    org: row.org_id,
                    place: SealPlace {
                        owner_kind: PIPELINE_OWNER.to_owned(),
                        owner_id: row.pipeline_id,
                        field_path: row.field_path,
                    },
                    version: row.version_id,
                    envelope: Envelope {
                        kid: row.kid,
                        ciphertext: row.ciphertext,
                    },
                })
                .collect())
        })
    }

    fn reseal_history(&self, changes: &[(StoredSeal, Envelope)]) -> StoreResult<u64> {
        if changes.is_empty() {
            return Ok(0);
        }
        self.with(|conn| {
            write(conn, |conn| {
                let mut replaced = 0_u64;
                for (seal, new) in changes {
                    replaced += reseal_copy(conn, seal, new)?;
                }
                Ok(replaced)
            })
        })
    }

    fn legacy_revisions(
        &self,
        after: Option<RevisionId>,
        limit: usize,
    ) -> StoreResult<Vec<LegacyRevision>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let mut query = revisions::table
                .inner_join(templates::table)
                .filter(revisions::config.like(LEGACY_MARK))
                .order_by(revisions::id)
                .select((
                    revisions::org_id,
                    revisions::id,
                    templates::vendor,
                    revisions::config,
                ))
                .limit(limit)
                .into_boxed();
            if let Some(after) = after {
                query = query.filter(revisions::id.gt(after.to_string()));
            }
            let rows: Vec<(String, String, String, String)> = query.load(conn)?;
            rows.into_iter()
                .map(|(org, id, vendor, config)| {
                    Ok(LegacyRevision {
                        org: OrgId::parse(&org).map_err(|err| corrupt("revision org", err))?,
                        id: id.parse().map_err(|err| corrupt("revision id", err))?,
                        vendor,
                        config: serde_json::from_str(&config)
                            .map_err(|err| corrupt("revision config", err))?,
                    })
                })
                .collect()
        })
    }

    fn adopt_sealed(
        &self,
        org: &OrgId,
        revision: RevisionId,
        secrets: &[SealedSecret],
        at: OffsetDateTime,
    ) -> StoreResult<u64> {
        if secrets.is_empty() {
            return Ok(0);
        }
        let owner_id = revision.to_string();
        let created_at = timestamp(at);
        self.with(|conn| {
            write(conn, |conn| {
                let mut added = 0_u64;
                for secret in secrets {
                    let row = (
                        sealed_values::org_id.eq(org.as_str()),
                        sealed_values::owner_kind.eq(REVISION_OWNER),
                        sealed_values::owner_id.eq(&owner_id),
                        sealed_values::field_path.eq(&secret.field_path),
                        sealed_values::version_id.eq(secret.version.as_str()),
                        sealed_values::kid.eq(&secret.envelope.kid),
                        sealed_values::ciphertext.eq(&secret.envelope.ciphertext),
                        sealed_values::created_at.eq(created_at),
                    );
                    let insert = diesel::insert_into(sealed_values::table)
                        .values(row)
                        .on_conflict_do_nothing();
                    // Diesel's multi-backend connection has no `ON CONFLICT`: each backend's has.
                    let inserted = match conn {
                        DbConnection::Postgres(pg) => insert.execute(pg)?,
                        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
                    };
                    added += u64::try_from(inserted).unwrap_or(0);
                }
                Ok(added)
            })
        })
    }
}
