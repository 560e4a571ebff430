//! Key rotation: counting sealed values per key, and re-sealing them under
//! another key in batches while the service keeps serving.
//!
//! Only a value's envelope (key id and ciphertext) ever changes; its place
//! and version stay, so nothing that references it (an immutable revision's
//! config, a pipeline's secret parameters) is rewritten.

use integrations_domain::{OrgId, RevisionId};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::cipher::{Binding, Envelope};
use crate::error::StoreResult;
use crate::sealed::SealedSecret;

/// A revision whose config still holds values sealed inline by the first
/// release (`enc:v1:…`), which a rotation moves into the sealed-values table
/// (the revision itself never changes).
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyRevision {
    /// Its org.
    pub org: OrgId,
    /// The revision.
    pub id: RevisionId,
    /// Its template's catalog vendor key (which fields are secret).
    pub vendor: String,
    /// Its config as stored.
    pub config: Map<String, Value>,
}

/// How many sealed values one key id seals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    /// The key id.
    pub kid: String,
    /// How many sealed values carry it.
    pub sealed_values: u64,
}

/// Where a sealed value sits: its owner and the field path inside it. Sealed
/// values are visited in this order, so it is also a rotation's cursor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SealPlace {
    /// The kind of row that owns the value (`revision`, `pipeline`).
    pub owner_kind: String,
    /// The id of that row.
    pub owner_id: String,
    /// The JSON Pointer of the value inside the row.
    pub field_path: String,
}

/// A stored sealed value with everything its associated data binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSeal {
    /// The owning org.
    pub org: String,
    /// Where it sits.
    pub place: SealPlace,
    /// Its version id.
    pub version: String,
    /// Its current envelope.
    pub envelope: Envelope,
}

impl StoredSeal {
    /// The place the cipher binds the value to.
    pub fn binding(&self) -> Binding<'_> {
        Binding {
            org: &self.org,
            owner_kind: &self.place.owner_kind,
            owner_id: &self.place.owner_id,
            field_path: &self.place.field_path,
            version: &self.version,
        }
    }
}

/// The storage side of key rotation.
pub trait KeyRotationStore {
    /// How many sealed values each key id seals: in `org`, or in the whole
    /// database when `org` is `None`. Ordered by key id; ids with no value
    /// are absent.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn sealed_counts(&self, org: Option<&OrgId>) -> StoreResult<Vec<KeyCount>>;

    /// Up to `limit` sealed values (of every org) not sealed under `kid`,
    /// in place order, strictly after `after`.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn sealed_not_under(
        &self,
        kid: &str,
        after: Option<&SealPlace>,
        limit: usize,
    ) -> StoreResult<Vec<StoredSeal>>;

    /// Replaces envelopes, all in one transaction: each value whose envelope
    /// is still the one read (`seal.envelope`) gets the new one; a value
    /// changed or removed since it was read is left alone (its owner wrote a
    /// new value, sealed under the current key). Returns how many were
    /// replaced.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`; nothing is replaced then.
    fn reseal(&self, changes: &[(StoredSeal, Envelope)]) -> StoreResult<u64>;

    /// Up to `limit` of the config history's copies of sealed values (of
    /// every org) not sealed under `kid`, strictly after `after` in the
    /// order (owner, field path, version). Each is bound like the value it
    /// copies: its place names the pipeline, not the history.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn history_sealed_not_under(
        &self,
        kid: &str,
        after: Option<&StoredSeal>,
        limit: usize,
    ) -> StoreResult<Vec<StoredSeal>>;

    /// [`KeyRotationStore::reseal`] for the history's copies.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`; nothing is replaced then.
    fn reseal_history(&self, changes: &[(StoredSeal, Envelope)]) -> StoreResult<u64>;

    /// Up to `limit` revisions (of every org, deleted templates included)
    /// whose config holds an inline sealed value, by id, strictly after `after`.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn legacy_revisions(
        &self,
        after: Option<RevisionId>,
        limit: usize,
    ) -> StoreResult<Vec<LegacyRevision>>;

    /// Stores sealed values for a revision's inline values, in one
    /// transaction; a place that already has a value keeps it. Returns how
    /// many were added.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn adopt_sealed(
        &self,
        org: &OrgId,
        revision: RevisionId,
        secrets: &[SealedSecret],
        at: OffsetDateTime,
    ) -> StoreResult<u64>;
}
