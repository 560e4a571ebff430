//! Secrets at rest (SPEC §10): AES-256-GCM under `ENCRYPTION_KEY`.
//!
//! A sealed value is text, so it fits where the plaintext was in a config:
//!
//! ```text
//! enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>
//! ```
//!
//! The key id is the first 8 hex digits of the key's SHA-256, so a value says
//! which key sealed it and keys can be rotated later (open with the old key,
//! seal with the new one) without guessing. Every seal uses a fresh random
//! 96-bit nonce.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use integrations_ports::{CipherError, SecretCipher};
use sha2::{Digest, Sha256};

const PREFIX: &str = "enc:v1:";
const NONCE_BYTES: usize = 12;

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not standard base64.
    #[error("ENCRYPTION_KEY must be base64 (standard alphabet, with padding)")]
    NotBase64,
    /// Not 32 bytes once decoded.
    #[error("ENCRYPTION_KEY must decode to 32 bytes for AES-256 (got {0})")]
    WrongLength(usize),
}

/// Seals and opens secret values with one AES-256 key.
pub struct AesGcmCipher {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for AesGcmCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesGcmCipher")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AesGcmCipher {
    /// A cipher for a base64-encoded 32-byte key (what `ENCRYPTION_KEY` holds).
    ///
    /// # Errors
    /// [`KeyError`] when the text is not base64 or not 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        let key = STANDARD
            .decode(encoded.trim())
            .map_err(|_| KeyError::NotBase64)?;
        if key.len() != 32 {
            return Err(KeyError::WrongLength(key.len()));
        }
        let digest = Sha256::digest(&key);
        let key_id = format!(
            "{:02x}{:02x}{:02x}{:02x}",
            digest[0], digest[1], digest[2], digest[3]
        );
        let cipher =
            Aes256Gcm::new_from_slice(&key).map_err(|_| KeyError::WrongLength(key.len()))?;
        Ok(Self { cipher, key_id })
    }

    /// A fresh random key, base64-encoded (for the zero-configuration default).
    pub fn generate_key() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(&mut OsRng))
    }

    /// The id every value sealed by this key carries.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl SecretCipher for AesGcmCipher {
    fn seal(&self, plaintext: &str) -> Result<String, CipherError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| CipherError::Seal)?;
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&ciphertext);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(payload)
        ))
    }

    fn open(&self, sealed: &str) -> Result<String, CipherError> {
        let rest = sealed.strip_prefix(PREFIX).ok_or(CipherError::NotSealed)?;
        let (key_id, payload) = rest.split_once(':').ok_or(CipherError::Malformed)?;
        if key_id != self.key_id {
            return Err(CipherError::UnknownKey(key_id.chars().take(16).collect()));
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| CipherError::Malformed)?;
        if payload.len() < NONCE_BYTES {
            return Err(CipherError::Malformed);
        }
        let (nonce, ciphertext) = payload.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CipherError::Malformed)?;
        let plaintext = self
            .cipher
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map_err(|_| CipherError::Tampered)?;
        String::from_utf8(plaintext).map_err(|_| CipherError::Malformed)
    }

    fn is_sealed(&self, value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> AesGcmCipher {
        AesGcmCipher::from_base64(&AesGcmCipher::generate_key()).expect("a valid key")
    }

    #[test]
    fn round_trips_and_never_shows_the_plaintext() {
        let cipher = cipher();
        for secret in ["EAABsb-canary", "", "ünïcødé 🔑", &"x".repeat(10_000)] {
            let sealed = cipher.seal(secret).expect("sealed");
            assert!(sealed.starts_with(&format!("enc:v1:{}:", cipher.key_id())));
            assert!(secret.len() < 4 || !sealed.contains(secret));
            assert!(cipher.is_sealed(&sealed));
            assert_eq!(cipher.open(&sealed).as_deref(), Ok(secret));
        }
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let cipher = cipher();
        assert_ne!(cipher.seal("same").ok(), cipher.seal("same").ok());
    }

    #[test]
    fn tampering_another_key_and_garbage_are_refused() {
        let (a, b) = (cipher(), cipher());
        let sealed = a.seal("secret").expect("sealed");
        assert!(matches!(b.open(&sealed), Err(CipherError::UnknownKey(_))));
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert_eq!(a.open(&tampered), Err(CipherError::Tampered));
        assert_eq!(a.open("plain"), Err(CipherError::NotSealed));
        assert_eq!(
            a.open(&format!("enc:v1:{}:!!", a.key_id())),
            Err(CipherError::Malformed)
        );
        assert_eq!(
            a.open(&format!("enc:v1:{}:AAAA", a.key_id())),
            Err(CipherError::Malformed)
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert_eq!(
            AesGcmCipher::from_base64("not base64!").err(),
            Some(KeyError::NotBase64)
        );
        assert_eq!(
            AesGcmCipher::from_base64(&STANDARD.encode([0_u8; 16])).err(),
            Some(KeyError::WrongLength(16))
        );
        let key = STANDARD.encode([7_u8; 32]);
        let (one, two) = (
            AesGcmCipher::from_base64(&key),
            AesGcmCipher::from_base64(&format!(" {key}\n")),
        );
        assert_eq!(
            one.map(|c| c.key_id().to_owned()).ok(),
            two.map(|c| c.key_id().to_owned()).ok()
        );
    }
}
