//! Secret config values at rest: sealed for their place before they are
//! stored, masked in every response, opened only to render.
//!
//! A stored config holds `enc:v2:<version>` where a secret was; the envelope
//! lives in the sealed-values store, bound to (org, revision, field path,
//! version). Carrying a value to a new revision (an echoed `"***"`, a restore)
//! opens it and seals it again for the new revision under the *same* version
//! id, so a diff sees it unchanged; a value entered again gets a new version.
//! Values sealed inline before this existed (`enc:v1:…`) are opened as they
//! are, and carried over under a version derived from them.

use std::collections::{HashMap, HashSet};

use integrations_domain::catalog::Vendor;
use integrations_domain::secrets::{
    self, MASK, SecretPath, SecretVersion, StoredSecret, secret_paths,
};
use integrations_domain::{OrgId, Revision, RevisionId};
use integrations_ports::{Binding, CipherError, REVISION_OWNER, SealedSecret, StoreSession};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, FieldProblem, Problems};

/// A new revision's config, ready to store.
pub(crate) struct PreparedConfig {
    /// The config, each secret replaced by its reference.
    pub config: Map<String, Value>,
    /// The sealed values it references.
    pub sealed: Vec<SealedSecret>,
    /// The secret fields given a new value in this write (not echoed), as
    /// paths (`config.access_token`): what its audit entry lists as changed.
    pub entered: Vec<String>,
}

/// The sealed values of some revisions, by revision and field path.
#[derive(Debug, Default)]
pub(crate) struct Envelopes(HashMap<(RevisionId, String), SealedSecret>);

impl Envelopes {
    pub(crate) fn get(&self, revision: RevisionId, field_path: &str) -> Option<&SealedSecret> {
        self.0.get(&(revision, field_path.to_owned()))
    }
}

/// A stored secret that cannot be opened: which one and why, never its value.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the secret at '{field_path}' of revision {revision}: {problem}")]
pub(crate) struct Unreadable {
    revision: RevisionId,
    field_path: String,
    problem: &'static str,
    #[source]
    source: Option<CipherError>,
}

fn unreadable(
    revision: RevisionId,
    path: &SecretPath,
    problem: &'static str,
    source: Option<CipherError>,
) -> AppError {
    if let Some(CipherError::UnknownKey(kid)) = &source {
        // The log names the revision and the field; the client only the key.
        tracing::error!(
            revision = %revision,
            field_path = %path.pointer(),
            kid = %kid,
            "a stored secret was sealed under a key this process does not have"
        );
        return AppError::KeyUnavailable { kid: kid.clone() };
    }
    AppError::Internal(Box::new(Unreadable {
        revision,
        field_path: path.pointer(),
        problem,
        source,
    }))
}

/// A secret read from a stored config.
struct Opened {
    plaintext: String,
    /// The version it keeps when carried over; `None` for a value kept in
    /// clear from before its field was secret (it gets a new one when sealed).
    version: Option<SecretVersion>,
}

/// Where a stored config comes from: its revision and that revision's envelopes.
pub(crate) struct Source<'a> {
    pub revision: RevisionId,
    pub envelopes: &'a Envelopes,
}

impl App {
    /// The sealed values of `revisions`, in one read.
    pub(crate) fn envelopes(
        store: &dyn StoreSession,
        org: &OrgId,
        revisions: &[RevisionId],
    ) -> Result<Envelopes, AppError> {
        let found = store.revision_secrets(org, revisions)?;
        Ok(Envelopes(
            found
                .into_iter()
                .map(|(revision, secret)| ((revision, secret.field_path.clone()), secret))
                .collect(),
        ))
    }

    /// Opens the stored value at `path` of `source`'s config; `None` when it
    /// holds no secret to open (null, a placeholder, a non-string value kept
    /// from before its field was secret).
    fn open_at(
        &self,
        org: &OrgId,
        source: &Source<'_>,
        path: &SecretPath,
        stored: &Value,
    ) -> Result<Option<Opened>, AppError> {
        let revision = source.revision;
        match StoredSecret::classify(stored) {
            None | Some(StoredSecret::Reference(_) | StoredSecret::Clear(_)) => Ok(stored
                .as_str()
                .filter(|_| secrets::holds_secret(stored))
                .map(|text| Opened {
                    plaintext: text.to_owned(),
                    version: None,
                })),
            Some(StoredSecret::Sealed(version)) => {
                let pointer = path.pointer();
                let secret = source.envelopes.get(revision, &pointer).ok_or_else(|| {
                    unreadable(revision, path, "its sealed value is missing", None)
                })?;
                if secret.version != version {
                    return Err(unreadable(
                        revision,
                        path,
                        "its sealed value is of another version",
                        None,
                    ));
                }
                let plaintext = at_place(org, revision, &pointer, &version, |place| {
                    self.cipher.open(&secret.envelope, place)
                })
                .map_err(|err| unreadable(revision, path, "it does not open", Some(err)))?;
                Ok(Some(Opened {
                    plaintext,
                    version: Some(version),
                }))
            }
            Some(StoredSecret::Legacy { envelope, version }) => {
                // Re-sealed for its place by a key rotation: the table has it.
                let pointer = path.pointer();
                let plaintext = match (&version, source.envelopes.get(revision, &pointer)) {
                    (Some(version), Some(secret)) if &secret.version == version => {
                        at_place(org, revision, &pointer, version, |place| {
                            self.cipher.open(&secret.envelope, place)
                        })
                    }
                    _ => self.cipher.open_legacy(envelope),
                }
                .map_err(|err| unreadable(revision, path, "it does not open", Some(err)))?;
                Ok(Some(Opened { plaintext, version }))
            }
        }
    }

    /// Seals `plaintext` for `path` of the new revision `owner`.
    pub(crate) fn seal_at(
        &self,
        org: &OrgId,
        owner: RevisionId,
        path: &SecretPath,
        plaintext: &str,
        version: SecretVersion,
    ) -> Result<(Value, SealedSecret), AppError> {
        let pointer = path.pointer();
        let envelope = at_place(org, owner, &pointer, &version, |place| {
            self.cipher.seal(plaintext, place)
        })
        .map_err(|err| AppError::Internal(Box::new(err)))?;
        Ok((
            Value::String(version.reference()),
            SealedSecret {
                field_path: pointer,
                version,
                envelope,
            },
        ))
    }

    /// Readies a new revision's config for storage: validates it against the
    /// vendor's fields, carries over the value of every secret sent as
    /// `"***"` from the template's latest revision (`previous` is asked only
    /// when there is one), and seals every secret for revision `owner`.
    /// Returns the config to store (secrets replaced by references), the
    /// sealed values it references, and the secret fields given a new value
    /// (not echoed), as paths (`config.access_token`). Problems are recorded
    /// in `problems`; when there are any, nothing is sealed.
    #[expect(
        clippy::too_many_arguments,
        reason = "the unit of work, the owner and the config's context, each used once"
    )]
    pub(crate) fn prepare_config(
        &self,
        store: &dyn StoreSession,
        org: &OrgId,
        vendor: &Vendor,
        owner: RevisionId,
        mut config: Map<String, Value>,
        previous: impl FnOnce() -> Result<Option<Revision>, AppError>,
        problems: &mut Problems,
    ) -> Result<PreparedConfig, AppError> {
        if let Err(found) =
            integrations_domain::validate_config(vendor, &Value::Object(config.clone()))
        {
            let more = found.more();
            for found in found {
                problems.push(FieldProblem::new(
                    found.path.to_string(),
                    found.problem.code(),
                    found.to_string(),
                ));
            }
            if more > 0 {
                problems.push(FieldProblem::truncated("config", more));
            }
        }
        let paths = secret_paths(vendor, &config);
        let mut echoed = HashSet::new();
        let mut from = None;
        if paths
            .iter()
            .any(|p| p.get(&config).and_then(Value::as_str) == Some(MASK))
        {
            let previous = previous()?;
            match secrets::keep_echoed(vendor, &mut config, previous.as_ref().map(|r| &r.config)) {
                Ok(kept) => echoed = kept.into_iter().collect(),
                Err(found) => {
                    for found in found {
                        problems.push(FieldProblem::new(
                            found.path.to_string(),
                            found.problem.code(),
                            found.to_string(),
                        ));
                    }
                }
            }
            from = previous;
        }
        if !problems.is_empty() {
            return Ok(PreparedConfig {
                config,
                sealed: Vec::new(),
                entered: Vec::new(),
            });
        }
        let envelopes = match &from {
            Some(previous) if !echoed.is_empty() => Self::envelopes(store, org, &[previous.id])?,
            _ => Envelopes::default(),
        };
        let mut sealed = Vec::new();
        let mut entered = Vec::new();
        for path in paths {
            let Some(value) = path.get_mut(&mut config) else {
                continue;
            };
            let carried = match (&from, echoed.contains(&path)) {
                (Some(previous), true) => {
                    let source = Source {
                        revision: previous.id,
                        envelopes: &envelopes,
                    };
                    self.open_at(org, &source, &path, value)?
                }
                _ => None,
            };
            let (plaintext, version) = match carried {
                Some(opened) => (opened.plaintext, opened.version),
                None if !secrets::holds_secret(value) => continue,
                None => {
                    let Some(text) = value.as_str() else {
                        // Only a value kept from before its field was secret can be another type.
                        problems.push(FieldProblem::new(
                            path.json_path().to_string(),
                            "invalid_type",
                            format!("{} must be a string", path.json_path()),
                        ));
                        continue;
                    };
                    entered.push(path.json_path().to_string());
                    (text.to_owned(), None)
                }
            };
            let version = version.unwrap_or_else(|| SecretVersion::from_ulid(self.ids.ulid()));
            let (reference, secret) = self.seal_at(org, owner, &path, &plaintext, version)?;
            *value = reference;
            sealed.push(secret);
        }
        Ok(PreparedConfig {
            config,
            sealed,
            entered,
        })
    }

    /// Copies a stored config to the new revision `owner` (a restore): every
    /// secret is sealed again for its new place under the version it had.
    pub(crate) fn carry_config(
        &self,
        store: &dyn StoreSession,
        org: &OrgId,
        vendor: &Vendor,
        source: &Revision,
        owner: RevisionId,
    ) -> Result<(Map<String, Value>, Vec<SealedSecret>), AppError> {
        let mut config = source.config.clone();
        let envelopes = Self::envelopes(store, org, &[source.id])?;
        let from = Source {
            revision: source.id,
            envelopes: &envelopes,
        };
        let mut sealed = Vec::new();
        for path in secret_paths(vendor, &config) {
            let Some(value) = path.get_mut(&mut config) else {
                continue;
            };
            let Some(opened) = self.open_at(org, &from, &path, value)? else {
                continue;
            };
            let version = opened
                .version
                .unwrap_or_else(|| SecretVersion::from_ulid(self.ids.ulid()));
            let (reference, secret) =
                self.seal_at(org, owner, &path, &opened.plaintext, version)?;
            *value = reference;
            sealed.push(secret);
        }
        Ok((config, sealed))
    }

    /// A revision's config with its secrets opened, their sealed values read
    /// through `store`.
    ///
    /// # Errors
    /// As [`App::open_secrets`]; `Unavailable` when the database is.
    pub(crate) fn opened_config(
        &self,
        store: &dyn StoreSession,
        org: &OrgId,
        vendor: &Vendor,
        revision: RevisionId,
        config: Map<String, Value>,
    ) -> Result<Map<String, Value>, AppError> {
        let envelopes = Self::envelopes(store, org, &[revision])?;
        self.open_secrets(org, vendor, revision, config, &envelopes)
    }

    /// `config` (of revision `revision`) with every secret opened in place.
    pub(crate) fn open_secrets(
        &self,
        org: &OrgId,
        vendor: &Vendor,
        revision: RevisionId,
        mut config: Map<String, Value>,
        envelopes: &Envelopes,
    ) -> Result<Map<String, Value>, AppError> {
        let source = Source {
            revision,
            envelopes,
        };
        for path in secret_paths(vendor, &config) {
            let Some(value) = path.get_mut(&mut config) else {
                continue;
            };
            if let Some(opened) = self.open_at(org, &source, &path, value)? {
                *value = Value::String(opened.plaintext);
            }
        }
        Ok(config)
    }
}

/// Runs `work` with the place of the value at `field_path` of revision `owner`.
fn at_place<T>(
    org: &OrgId,
    owner: RevisionId,
    field_path: &str,
    version: &SecretVersion,
    work: impl FnOnce(&Binding<'_>) -> T,
) -> T {
    let owner_id = owner.to_string();
    work(&Binding {
        org: org.as_str(),
        owner_kind: REVISION_OWNER,
        owner_id: &owner_id,
        field_path,
        version: version.as_str(),
    })
}
