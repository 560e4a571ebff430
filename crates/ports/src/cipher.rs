//! The secret-cipher port: how secret config values are kept at rest.

/// Why a sealed value could not be opened (or a value sealed).
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
    /// Authentication failed: the value or its key id was altered.
    #[error("the sealed value failed authentication")]
    Tampered,
    /// Sealing failed.
    #[error("sealing failed")]
    Seal,
}

/// Seals secret values before they are stored and opens them for the
/// callers allowed to see them. Sealed values are text and name their key.
pub trait SecretCipher: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext`.
    ///
    /// # Errors
    /// `Seal` only if the cipher itself fails.
    fn seal(&self, plaintext: &str) -> Result<String, CipherError>;

    /// Decrypts a value made by [`SecretCipher::seal`].
    ///
    /// # Errors
    /// `NotSealed`, `Malformed`, `UnknownKey` or `Tampered`.
    fn open(&self, sealed: &str) -> Result<String, CipherError>;

    /// Whether `value` is in the sealed format (whatever its key).
    fn is_sealed(&self, value: &str) -> bool;
}
