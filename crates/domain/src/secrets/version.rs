//! What a secret position of a *stored* config holds, and the version id that
//! names one entered value across the revisions that carry it.

use std::fmt;

use serde_json::Value;
use ulid::Ulid;

use super::is_reference;

/// The prefix of a reference to a sealed value kept in the sealed-values
/// store: `enc:v2:<version id>`. The envelope (key id and ciphertext) is kept
/// apart, bound to its place, so that re-sealing it never touches the config.
pub const SEALED_PREFIX: &str = "enc:v2:";

/// The prefix of a value sealed inline, before values were bound to their
/// place: `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. Such values
/// are only read, never written.
pub const LEGACY_PREFIX: &str = "enc:v1:";

/// Base64url characters of a legacy value's 96-bit nonce.
const LEGACY_NONCE_CHARS: usize = 16;

/// The longest version id.
const MAX_VERSION_LEN: usize = 64;

/// The id of one entered secret value. A new one is drawn whenever a client
/// enters a value; it is kept when the value is carried over (an echoed
/// `"***"`, a restore, a re-seal under another key). Diffs compare version
/// ids, never plaintexts or ciphertexts, so they tell *that* a credential was
/// re-entered without revealing whether it is the same text.
///
/// ```
/// use integrations_domain::secrets::SecretVersion;
///
/// let version = SecretVersion::parse("01JF3Q1ZKXW0000000000000AB").unwrap();
/// assert_eq!(version.reference(), "enc:v2:01JF3Q1ZKXW0000000000000AB");
/// assert!(SecretVersion::parse("no spaces").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretVersion(String);

impl SecretVersion {
    /// A new version id (a ULID's text).
    pub fn from_ulid(ulid: Ulid) -> Self {
        Self(ulid.to_string())
    }

    /// Parses a stored version id: 1 to 64 ASCII letters, digits, `-` or `_`.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= MAX_VERSION_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(text.to_owned()))
    }

    /// The version id of a value sealed inline before version ids existed:
    /// `v1-` and the value's nonce. Each seal drew a fresh random nonce, and an
    /// echo or a restore copied the sealed text verbatim, so the nonce names
    /// exactly one entered value — as a version id does — and reveals nothing
    /// about it. `None` when `envelope` is not a well-formed legacy value.
    ///
    /// ```
    /// use integrations_domain::secrets::SecretVersion;
    ///
    /// let version = SecretVersion::of_legacy("enc:v1:1a2b3c4d:AAECAwQFBgcICQoLrest-of-it").unwrap();
    /// assert_eq!(version.as_str(), "v1-AAECAwQFBgcICQoL");
    /// ```
    pub fn of_legacy(envelope: &str) -> Option<Self> {
        let rest = envelope.strip_prefix(LEGACY_PREFIX)?;
        let (_key_id, payload) = rest.split_once(':')?;
        let nonce = payload.get(..LEGACY_NONCE_CHARS)?;
        Self::parse(nonce).map(|nonce| Self(format!("v1-{}", nonce.0)))
    }

    /// The text of the id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a stored config holds in place of the value: `enc:v2:<id>`.
    pub fn reference(&self) -> String {
        format!("{SEALED_PREFIX}{}", self.0)
    }
}

impl fmt::Display for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one secret position of a stored config holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSecret<'a> {
    /// Exactly one `{{pipeline_param.KEY}}` placeholder: a name, not a secret.
    Reference(&'a str),
    /// A reference to a sealed value of the sealed-values store.
    Sealed(SecretVersion),
    /// A value sealed inline before values were bound to their place.
    Legacy {
        /// The sealed text (`enc:v1:…`).
        envelope: &'a str,
        /// Its version id ([`SecretVersion::of_legacy`]), when well formed.
        version: Option<SecretVersion>,
    },
    /// Anything else: a value written in clear before its field became secret
    /// (e.g. a webhook header from before header values were sealed).
    Clear(&'a Value),
}

impl<'a> StoredSecret<'a> {
    /// Classifies a stored value; `None` for null (no secret there).
    ///
    /// ```
    /// use integrations_domain::secrets::StoredSecret;
    /// use serde_json::json;
    ///
    /// let stored = json!("enc:v2:01JF3Q1ZKXW0000000000000AB");
    /// assert!(matches!(StoredSecret::classify(&stored), Some(StoredSecret::Sealed(_))));
    /// assert!(StoredSecret::classify(&json!(null)).is_none());
    /// ```
    pub fn classify(value: &'a Value) -> Option<Self> {
        let text = match value {
            Value::Null => return None,
            Value::String(text) => text,
            other => return Some(Self::Clear(other)),
        };
        if is_reference(value) {
            return Some(Self::Reference(text));
        }
        if let Some(version) = text
            .strip_prefix(SEALED_PREFIX)
            .and_then(SecretVersion::parse)
        {
            return Some(Self::Sealed(version));
        }
        if text.starts_with(LEGACY_PREFIX) {
            return Some(Self::Legacy {
                envelope: text,
                version: SecretVersion::of_legacy(text),
            });
        }
        Some(Self::Clear(value))
    }

    /// The version id of a sealed value (legacy ones included).
    pub fn version(&self) -> Option<&SecretVersion> {
        match self {
            Self::Sealed(version)
            | Self::Legacy {
                version: Some(version),
                ..
            } => Some(version),
            _ => None,
        }
    }
}

/// Whether two stored values of one secret position hold the same entered
/// value, judged by version id — never by plaintext or ciphertext. Values
/// without a version (placeholders, values kept in clear from before their
/// field was secret, malformed ones) compare as written.
pub fn same_version(a: &Value, b: &Value) -> bool {
    match (StoredSecret::classify(a), StoredSecret::classify(b)) {
        (Some(a), Some(b)) => match (a.version(), b.version()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => a == b,
            _ => false,
        },
        (None, None) => true,
        _ => false,
    }
}
