//! The secret-cipher port: how secret values are kept at rest.
//!
//! A value is sealed *for its place*: the org, the row that owns it (a
//! revision), the field path inside that row and the value's version id are
//! authenticated with it (AES-GCM associated data in the adapter), so an
//! envelope copied to another row or field does not open. Envelopes name the
//! key that sealed them, so several keys can be held and values re-sealed
//! under a new one without touching the row that owns them.

/// Why a value could not be sealed or opened. No variant carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The value is not in the sealed format at all.
    #[error("the value is not sealed")]
    NotSealed,
    /// The sealed format is broken.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Sealed with a key this service does not hold (by key id).
    #[error("the value was sealed with an unknown key '{0}'")]
    UnknownKey(String),
    /// Authentication failed: the envelope was altered, or it does not belong
    /// to the place it was opened for (copied from another row or field).
    #[error("the sealed value failed authentication (altered, or not sealed for this place)")]
    Tampered,
    /// Sealing failed.
    #[error("sealing failed")]
    Seal,
}

/// The place a sealed value belongs to: what it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The owning org.
    pub org: &'a str,
    /// The kind of row that owns the value (`revision`).
    pub owner_kind: &'a str,
    /// The id of that row (`rev_…`).
    pub owner_id: &'a str,
    /// The JSON Pointer of the value inside the row (`/headers/X-Api-Key`).
    pub field_path: &'a str,
    /// The value's version id.
    pub version: &'a str,
}

/// A sealed value: the id of the key that sealed it and the ciphertext
/// (nonce, ciphertext and tag, as text). It says nothing about its place.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The key id.
    pub kid: String,
    /// The sealed bytes, as text.
    pub ciphertext: String,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Seals secret values before they are stored and opens them for the
/// callers allowed to see them.
pub trait SecretCipher: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext` for `place`, under the key that seals new values.
    ///
    /// # Errors
    /// `Seal` only if the cipher itself fails.
    fn seal(&self, plaintext: &str, place: &Binding<'_>) -> Result<Envelope, CipherError>;

    /// Decrypts an envelope made by [`SecretCipher::seal`] for the same place.
    ///
    /// # Errors
    /// `UnknownKey` when no held key has the envelope's key id; `Malformed`;
    /// `Tampered` when the envelope was altered or sealed for another place.
    fn open(&self, envelope: &Envelope, place: &Binding<'_>) -> Result<String, CipherError>;

    /// Decrypts a value sealed inline before values were bound to their place
    /// (`enc:v1:<key id>:<base64url>`). Such values are read, never written.
    ///
    /// # Errors
    /// `NotSealed`, `Malformed`, `UnknownKey` or `Tampered`.
    fn open_legacy(&self, sealed: &str) -> Result<String, CipherError>;

    /// The ids of the keys held, the one that seals new values first.
    fn key_ids(&self) -> Vec<String>;
}
