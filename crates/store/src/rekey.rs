//! [`KeyRotationStore`] for [`DieselStore`]: per-key counts, and re-sealing
//! in batches, each batch one short transaction.

use diesel::dsl::count_star;
use diesel::prelude::*;
use integrations_domain::OrgId;
use integrations_ports::{
    Envelope, KeyCount, KeyRotationStore, SealPlace, StoreResult, StoredSeal,
};

use crate::DieselStore;
use crate::connection::write;
use crate::error::corrupt;
use crate::schema::sealed_values;

type Row = (String, String, String, String, String, String, String);

impl KeyRotationStore for DieselStore {
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
            let rows: Vec<(String, i64)> = query.load(conn)?;
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
                }
                Ok(replaced)
            })
        })
    }
}
