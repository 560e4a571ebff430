//! The keys that seal secrets at rest: what each seals, and key rotation
//! (re-sealing every stored value under the key that seals new ones).

use integrations_domain::secrets::{self, StoredSecret};
use integrations_domain::{Action, Caller, RevisionId};
use integrations_ports::{KeyCount, LegacyRevision, REVISION_OWNER, SealPlace, StoredSeal};

use crate::revisions::vendor_of_key;
use crate::{App, AppError, authorize};

/// One key id: whether this process holds it, whether it seals new values,
/// and how many stored values it seals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// The key id.
    pub kid: String,
    /// Whether it seals new values (the first configured key).
    pub active: bool,
    /// Whether this process holds the key. A key id in use that no
    /// configured key has means values that cannot be opened.
    pub configured: bool,
    /// How many stored values it seals.
    pub sealed_values: u64,
}

/// The most unopenable values a [`RekeyReport`] describes one by one.
pub const MAX_REPORTED_FAILURES: usize = 100;

/// A stored value a rotation could not open, by place and key id (never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unopenable {
    /// Its org.
    pub org: String,
    /// Where it sits.
    pub place: SealPlace,
    /// The key id it carries.
    pub kid: String,
    /// Why it did not open.
    pub reason: String,
}

/// The values a rotation could not open: all counted, the first few kept.
#[derive(Debug, Default)]
struct Failures {
    count: u64,
    listed: Vec<Unopenable>,
}

impl Failures {
    fn add(&mut self, failure: Unopenable) {
        self.count += 1;
        if self.listed.len() < MAX_REPORTED_FAILURES {
            self.listed.push(failure);
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyReport {
    /// The key values were re-sealed under.
    pub active: String,
    /// Per key id, before the rotation (whole database).
    pub before: Vec<KeyStatus>,
    /// Per key id, after it.
    pub after: Vec<KeyStatus>,
    /// How many values sealed inline by the first release were moved into
    /// the sealed-values table (sealed under the active key on the way).
    pub adopted: u64,
    /// How many values were re-sealed.
    pub resealed: u64,
    /// How many values could not be opened (and so stay as they were).
    pub failed: u64,
    /// The first [`MAX_REPORTED_FAILURES`] of them.
    pub failures: Vec<Unopenable>,
}

impl App {
    /// The configured keys and the key ids in use in the caller's org, with
    /// how many of the org's values each seals. Admin or above.
    ///
    /// # Errors
    /// `Forbidden`; `Unavailable`.
    pub fn keys(&self, caller: &Caller) -> Result<Vec<KeyStatus>, AppError> {
        authorize(caller, Action::Administer)?;
        let counts = self.store.sealed_counts(Some(&caller.org))?;
        Ok(self.key_statuses(counts))
    }

    /// [`App::keys`] over the whole database, for an operator (no caller:
    /// this is the command line's view).
    ///
    /// # Errors
    /// `Unavailable`.
    pub fn all_keys(&self) -> Result<Vec<KeyStatus>, AppError> {
        let counts = self.store.sealed_counts(None)?;
        Ok(self.key_statuses(counts))
    }

    /// The configured keys first (the sealing one leading), then the key ids
    /// in use that no configured key has, each with its count.
    fn key_statuses(&self, counts: Vec<KeyCount>) -> Vec<KeyStatus> {
        let configured = self.cipher.key_ids();
        let count_of = |kid: &str| {
            counts
                .iter()
                .find(|count| count.kid == kid)
                .map_or(0, |count| count.sealed_values)
        };
        let mut statuses: Vec<KeyStatus> = configured
            .iter()
            .enumerate()
            .map(|(at, kid)| KeyStatus {
                kid: kid.clone(),
                active: at == 0,
                configured: true,
                sealed_values: count_of(kid),
            })
            .collect();
        statuses.extend(
            counts
                .into_iter()
                .filter(|count| !configured.contains(&count.kid))
                .map(|count| KeyStatus {
                    kid: count.kid,
                    active: false,
                    configured: false,
                    sealed_values: count.sealed_values,
                }),
        );
        statuses
    }

    /// Re-seals every stored sealed value that the active key did not seal,
    /// `batch` values per transaction, while the service keeps serving. A
    /// value keeps its place and version, so no revision or pipeline row
    /// changes; a value its owner replaced meanwhile is left alone (it is
    /// already sealed under the active key). Safe to stop at any moment and
    /// to run again: a run only ever visits values not yet under the active
    /// key. `progress` is told the running total after each batch.
    ///
    /// # Errors
    /// `Unavailable`, `Internal` (sealing failed). Values that do not open
    /// are not errors: they are counted in the report and left as they are.
    pub fn rekey(
        &self,
        batch: usize,
        mut progress: impl FnMut(u64),
    ) -> Result<RekeyReport, AppError> {
        let batch = batch.max(1);
        let active = self
            .cipher
            .key_ids()
            .into_iter()
            .next()
            .ok_or_else(|| AppError::Internal("the keyring holds no key".into()))?;
        let before = self.all_keys()?;
        let mut failures = Failures::default();
        let adopted = self.adopt_legacy(batch, &mut failures)?;
        let mut resealed = 0_u64;
        let mut after: Option<SealPlace> = None;
        loop {
            let found = self
                .store
                .sealed_not_under(&active, after.as_ref(), batch)?;
            let Some(last) = found.last() else { break };
            after = Some(last.place.clone());
            let mut changes = Vec::with_capacity(found.len());
            for seal in found {
                match self.reseal(&seal) {
                    Ok(envelope) => changes.push((seal, envelope)),
                    Err(reason) => failures.add(Unopenable {
                        kid: seal.envelope.kid.clone(),
                        org: seal.org,
                        place: seal.place,
                        reason,
                    }),
                }
            }
            resealed += self.store.reseal(&changes)?;
            progress(resealed);
            fault::pause_after_batch();
        }
        // The config history's copies (a live value's copy went with it).
        let mut after: Option<StoredSeal> = None;
        loop {
            let found = self
                .store
                .history_sealed_not_under(&active, after.as_ref(), batch)?;
            let Some(last) = found.last() else { break };
            after = Some(last.clone());
            let mut changes = Vec::with_capacity(found.len());
            for seal in found {
                match self.reseal(&seal) {
                    Ok(envelope) => changes.push((seal, envelope)),
                    Err(reason) => failures.add(Unopenable {
                        kid: seal.envelope.kid.clone(),
                        org: seal.org,
                        place: seal.place,
                        reason,
                    }),
                }
            }
            resealed += self.store.reseal_history(&changes)?;
            progress(resealed);
        }
        Ok(RekeyReport {
            active,
            before,
            after: self.all_keys()?,
            adopted,
            resealed,
            failed: failures.count,
            failures: failures.listed,
        })
    }

    /// Moves every value sealed inline in a revision's config by the first
    /// release (`enc:v1:…`, no associated data) into the sealed-values table,
    /// sealed for its place under the active key. Reading prefers that row
    /// (matched by the version id the inline text gives), so the revision
    /// row never changes. Values already moved are skipped; ones that do not
    /// open are reported.
    fn adopt_legacy(&self, batch: usize, failures: &mut Failures) -> Result<u64, AppError> {
        let mut adopted = 0_u64;
        let mut after: Option<RevisionId> = None;
        loop {
            let found = self.store.legacy_revisions(after, batch)?;
            let Some(last) = found.last() else { break };
            after = Some(last.id);
            for revision in found {
                adopted += self.adopt_revision(&revision, failures)?;
            }
        }
        Ok(adopted)
    }

    fn adopt_revision(
        &self,
        revision: &LegacyRevision,
        failures: &mut Failures,
    ) -> Result<u64, AppError> {
        // A vendor this build does not know has no secret fields to find.
        let Ok(vendor) = vendor_of_key(&revision.vendor) else {
            return Ok(0);
        };
        let moved = Self::envelopes(&*self.store, &revision.org, &[revision.id])?;
        let mut seals = Vec::new();
        for path in secrets::secret_paths(vendor, &revision.config) {
            let Some(StoredSecret::Legacy {
                envelope,
                version: Some(version),
            }) = path.get(&revision.config).and_then(StoredSecret::classify)
            else {
                continue;
            };
            let pointer = path.pointer();
            if moved
                .get(revision.id, &pointer)
                .is_some_and(|secret| secret.version == version)
            {
                continue;
            }
            match self.cipher.open_legacy(envelope) {
                Ok(plaintext) => {
                    let (_, sealed) =
                        self.seal_at(&revision.org, revision.id, &path, &plaintext, version)?;
                    seals.push(sealed);
                }
                Err(err) => failures.add(Unopenable {
                    org: revision.org.as_str().to_owned(),
                    place: SealPlace {
                        owner_kind: REVISION_OWNER.to_owned(),
                        owner_id: revision.id.to_string(),
                        field_path: pointer,
                    },
                    kid: envelope
                        .split(':')
                        .nth(2)
                        .unwrap_or_default()
                        .chars()
                        .take(32)
                        .collect(),
                    reason: err.to_string(),
                }),
            }
        }
        Ok(self
            .store
            .adopt_sealed(&revision.org, revision.id, &seals, self.clock.now())?)
    }

    /// A value's new envelope under the active key, or why it does not open.
    fn reseal(&self, seal: &StoredSeal) -> Result<integrations_ports::Envelope, String> {
        let place = seal.binding();
        let plaintext = self
            .cipher
            .open(&seal.envelope, &place)
            .map_err(|err| err.to_string())?;
        self.cipher
            .seal(&plaintext, &place)
            .map_err(|err| err.to_string())
    }
}

/// A test-only fault: with `INTEGRATIONS_FAULT_REKEY_BATCH_PAUSE_MS` set, a
/// debug build sleeps that long after each committed batch of a rotation, so
/// a test can kill the process between two batches. Release builds have no
/// such hook.
mod fault {
    #[cfg(debug_assertions)]
    pub(super) fn pause_after_batch() {
        if let Some(ms) = std::env::var("INTEGRATIONS_FAULT_REKEY_BATCH_PAUSE_MS")
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
        {
            tracing::warn!(pause_ms = ms, "fault injection: pausing after a batch");
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }

    #[cfg(not(debug_assertions))]
    pub(super) fn pause_after_batch() {}
}
