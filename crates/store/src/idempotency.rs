//! [`IdempotencyStore`] for [`DieselStore`].

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use integrations_ports::{
    Change, Claim, ClaimedKey, IdempotencyScope, IdempotencyStore, StoreError, StoreResult,
    StoredResponse,
};
use time::OffsetDateTime;

use crate::connection::DbConnection;
use crate::connection::write;
use crate::error::Failure;
use crate::error::corrupt;
use crate::rows::timestamp;
use crate::schema::idempotency_keys as keys;
use crate::{Connections, DieselStore};

macro_rules! this_key {
    ($scope:expr) => {
        keys::table
            .filter(keys::org_id.eq($scope.org.as_str()))
            .filter(keys::user_id.eq($scope.user.as_str()))
            .filter(keys::idempotency_key.eq($scope.key.as_str()))
    };
}

type Row = (
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    time::PrimitiveDateTime,
);

/// Records the response of the request that holds `claimed`, on `conn`:
/// inside a change's transaction, so that the change and its replayable
/// response commit together. Exactly the claimed in-flight row must change;
/// otherwise the claim was taken over (or already settled) and this fails
/// with `ClaimLost`, rolling the change back.
pub(crate) fn record(
    conn: &mut DbConnection,
    claimed: &ClaimedKey,
    response: &StoredResponse,
) -> Result<(), Failure> {
    let updated = diesel::update(
        this_key!(claimed.scope)
            .filter(keys::status.is_null())
            .filter(keys::claim_token.eq(&claimed.token)),
    )
    .set((
        keys::status.eq(i32::from(response.status)),
        keys::response_body.eq(&response.body),
        keys::location.eq(response.location.as_deref()),
    ))
    .execute(conn)?;
    if updated == 1 {
        Ok(())
    } else {
        Err(StoreError::ClaimLost.into())
    }
}

/// Writes what a change records besides itself, once its outcome is known.
pub(crate) fn finish<T>(
    conn: &mut DbConnection,
    change: &Change<'_, T>,
    outcome: &T,
) -> Result<(), Failure> {
    if let Some((claimed, response)) = change.response(outcome) {
        record(conn, claimed, &response)?;
    }
    Ok(())
}

impl<C: Connections> IdempotencyStore for DieselStore<C> {
    fn claim_key(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        now: OffsetDateTime,
        expired_before: OffsetDateTime,
        abandoned_before: OffsetDateTime,
    ) -> StoreResult<Claim> {
        self.with(|conn| {
            write(conn, |conn| {
                // An expired record, or an in-flight one whose request died, no longer counts.
                diesel::delete(
                    this_key!(scope).filter(keys::created_at.lt(timestamp(expired_before))),
                )
                .execute(conn)?;
                diesel::delete(
                    this_key!(scope)
                        .filter(keys::status.is_null())
                        .filter(keys::created_at.lt(timestamp(abandoned_before))),
                )
                .execute(conn)?;
                let token = ulid::Ulid::generate().to_string();
                // A savepoint, so that losing the race leaves the transaction usable (PostgreSQL).
                let inserted = conn.transaction(|conn| {
                    diesel::insert_into(keys::table)
                        .values((
                            keys::org_id.eq(scope.org.as_str()),
                            keys::user_id.eq(scope.user.as_str()),
                            keys::idempotency_key.eq(scope.key.as_str()),
                            keys::fingerprint.eq(fingerprint),
                            keys::created_at.eq(timestamp(now)),
                            keys::claim_token.eq(&token),
                        ))
                        .execute(conn)
                });
                match inserted {
                    Ok(_) => return Ok(Claim::Fresh { token }),
                    Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
                    Err(other) => return Err(other.into()),
                }
                let (stored, status, body, location, _): Row = this_key!(scope)
                    .select((
                        keys::fingerprint,
                        keys::status,
                        keys::response_body,
                        keys::location,
                        keys::created_at,
                    ))
                    .first(conn)?;
                if stored != fingerprint {
                    return Ok(Claim::Mismatch);
                }
                let Some(status) = status else {
                    return Ok(Claim::InFlight);
                };
                Ok(Claim::Done(StoredResponse {
                    status: u16::try_from(status)
                        .map_err(|err| corrupt("idempotent status", err))?,
                    body: body.unwrap_or_default(),
                    location,
                }))
            })
        })
    }

    fn complete_key(&self, claimed: &ClaimedKey, response: &StoredResponse) -> StoreResult<()> {
        // In a transaction, like every change: a call's first statement is
        // then a read or a `BEGIN`, which the session module relies on.
        self.with(|conn| write(conn, |conn| record(conn, claimed, response)))
    }

    fn release_key(&self, claimed: &ClaimedKey) -> StoreResult<()> {
        self.with(|conn| {
            write(conn, |conn| {
                diesel::delete(
                    this_key!(claimed.scope)
                        .filter(keys::status.is_null())
                        .filter(keys::claim_token.eq(&claimed.token)),
                )
                .execute(conn)?;
                Ok(())
            })
        })
    }

    fn purge_keys(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.with(|conn| {
            write(conn, |conn| {
                let purged =
                    diesel::delete(keys::table.filter(keys::created_at.lt(timestamp(before))))
                        .execute(conn)?;
                Ok(u64::try_from(purged).unwrap_or(u64::MAX))
            })
        })
    }
}
