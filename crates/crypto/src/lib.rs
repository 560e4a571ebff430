//! Secrets at rest: AES-256-GCM under `ENCRYPTION_KEY`.
//!
//! A value is sealed for its place: the associated data authenticates the
//! org, the owning row, the field path and the version id
//! ([`integrations_ports::Binding`]), so an envelope copied to another row or
//! field fails to open. An envelope is a key id and the text
//! `base64url(nonce ‖ ciphertext ‖ tag)`; the sealed-values table keeps the
//! two in columns of their own, so re-sealing under another key rewrites only
//! that table.
//!
//! The key id is the first 8 hex digits of the key's SHA-256, so a value says
//! which key sealed it. Every seal uses a fresh random 96-bit nonce.
//!
//! Values sealed before associated data existed were stored inline in the
//! config as `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, with no
//! associated data; [`SecretCipher::open_legacy`] still opens them.

use aes_gcm::aead::Payload;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use integrations_ports::{Binding, CipherError, Envelope, SecretCipher};
use sha2::{Digest, Sha256};

const LEGACY_PREFIX: &str = "enc:v1:";
const NONCE_BYTES: usize = 12;
/// Starts the associated data of every bound value: a format version, so the
/// encoding below can change one day without ambiguity.
const BINDING_TAG: &[u8] = b"integrations/sealed-value/v2";

/// The associated data of a place: the tag, then each part as a 4-byte
/// big-endian length and its bytes, so no two places encode alike.
fn associated_data(place: &Binding<'_>) -> Vec<u8> {
    let parts = [
        place.org,
        place.owner_kind,
        place.owner_id,
        place.field_path,
        place.version,
    ];
    let mut data =
        Vec::with_capacity(BINDING_TAG.len() + parts.iter().map(|p| 4 + p.len()).sum::<usize>());
    data.extend_from_slice(BINDING_TAG);
    for part in parts {
        // A part longer than 4 GiB cannot reach here (requests are capped at 1 MiB).
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(part.as_bytes());
    }
    data
}

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

impl AesGcmCipher {
    /// Decrypts `nonce ‖ ciphertext ‖ tag` (base64url) with `aad`.
    fn decrypt(&self, kid: &str, payload: &str, aad: &[u8]) -> Result<String, CipherError> {
        if kid != self.key_id {
            return Err(CipherError::UnknownKey(kid.chars().take(32).collect()));
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
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CipherError::Tampered)?;
        String::from_utf8(plaintext).map_err(|_| CipherError::Malformed)
    }
}

impl SecretCipher for AesGcmCipher {
    fn seal(&self, plaintext: &str, place: &Binding<'_>) -> Result<Envelope, CipherError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(place);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CipherError::Seal)?;
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&ciphertext);
        Ok(Envelope {
            kid: self.key_id.clone(),
            ciphertext: URL_SAFE_NO_PAD.encode(payload),
        })
    }

    fn open(&self, envelope: &Envelope, place: &Binding<'_>) -> Result<String, CipherError> {
        self.decrypt(&envelope.kid, &envelope.ciphertext, &associated_data(place))
    }

    fn open_legacy(&self, sealed: &str) -> Result<String, CipherError> {
        let rest = sealed
            .strip_prefix(LEGACY_PREFIX)
            .ok_or(CipherError::NotSealed)?;
        let (key_id, payload) = rest.split_once(':').ok_or(CipherError::Malformed)?;
        self.decrypt(key_id, payload, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> AesGcmCipher {
        AesGcmCipher::from_base64(&AesGcmCipher::generate_key()).expect("a valid key")
    }

    const PLACE: Binding<'static> = Binding {
        org: "org_a",
        owner_kind: "revision",
        owner_id: "rev_01JF3Q1ZKXW0000000000000AB",
        field_path: "/access_token",
        version: "01JF3Q1ZKXW0000000000000CD",
    };

    #[test]
    fn round_trips_and_never_shows_the_plaintext() {
        let cipher = cipher();
        for secret in ["EAABsb-canary", "", "ünïcødé 🔑", &"x".repeat(10_000)] {
            let sealed = cipher.seal(secret, &PLACE).expect("sealed");
            assert_eq!(sealed.kid, cipher.key_id());
            assert!(secret.len() < 4 || !sealed.ciphertext.contains(secret));
            assert!(!format!("{sealed:?}").contains(&sealed.ciphertext));
            assert_eq!(cipher.open(&sealed, &PLACE).as_deref(), Ok(secret));
        }
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let cipher = cipher();
        assert_ne!(
            cipher.seal("same", &PLACE).ok(),
            cipher.seal("same", &PLACE).ok()
        );
    }

    #[test]
    fn a_value_opens_only_in_its_own_place() {
        let cipher = cipher();
        let sealed = cipher.seal("secret", &PLACE).expect("sealed");
        let elsewhere = [
            Binding {
                org: "org_b",
                ..PLACE
            },
            Binding {
                owner_kind: "pipeline",
                ..PLACE
            },
            Binding {
                owner_id: "rev_01JF3Q1ZKXW0000000000000AC",
                ..PLACE
            },
            Binding {
                field_path: "/refresh_token",
                ..PLACE
            },
            Binding {
                version: "01JF3Q1ZKXW0000000000000CE",
                ..PLACE
            },
            // Parts are length-prefixed: moving a boundary is another place.
            Binding {
                org: "org_ar",
                owner_kind: "evision",
                ..PLACE
            },
        ];
        for place in elsewhere {
            assert_eq!(
                cipher.open(&sealed, &place),
                Err(CipherError::Tampered),
                "{place:?}"
            );
        }
        assert_eq!(cipher.open(&sealed, &PLACE).as_deref(), Ok("secret"));
    }

    #[test]
    fn tampering_another_key_and_garbage_are_refused() {
        let (a, b) = (cipher(), cipher());
        let sealed = a.seal("secret", &PLACE).expect("sealed");
        assert!(matches!(
            b.open(&sealed, &PLACE),
            Err(CipherError::UnknownKey(_))
        ));
        let mut bytes = sealed.ciphertext.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = Envelope {
            ciphertext: String::from_utf8(bytes).expect("ascii"),
            ..sealed.clone()
        };
        assert_eq!(a.open(&tampered, &PLACE), Err(CipherError::Tampered));
        for garbage in ["!!", "AAAA", ""] {
            let envelope = Envelope {
                ciphertext: garbage.into(),
                ..sealed.clone()
            };
            assert_eq!(
                a.open(&envelope, &PLACE),
                Err(CipherError::Malformed),
                "{garbage}"
            );
        }
    }

    /// Sealed by the first release (another implementation of the same format:
    /// AES-256-GCM, no associated data) under the key `[7; 32]`.
    const LEGACY: &str = "enc:v1:4bb06f8e:kS9Gnl7IE9NMX48HOLZbtaR0PNoWL0eNpMAUhvc3YjoxnhuS6JZbSkY";

    #[test]
    fn values_sealed_before_associated_data_still_open() {
        let cipher = AesGcmCipher::from_base64(&STANDARD.encode([7_u8; 32])).expect("a key");
        assert_eq!(cipher.open_legacy(LEGACY).as_deref(), Ok("legacy-secret"));
        // …but only as what they are: with no associated data.
        let (kid, payload) = LEGACY["enc:v1:".len()..]
            .split_once(':')
            .expect("two parts");
        let envelope = Envelope {
            kid: kid.into(),
            ciphertext: payload.into(),
        };
        assert_eq!(cipher.open(&envelope, &PLACE), Err(CipherError::Tampered));
        assert_eq!(cipher.open_legacy("plain"), Err(CipherError::NotSealed));
        assert_eq!(
            cipher.open_legacy(&format!("enc:v1:{}:!!", cipher.key_id())),
            Err(CipherError::Malformed)
        );
        assert_eq!(
            cipher.open_legacy("enc:v1:nocolon"),
            Err(CipherError::Malformed)
        );
        assert!(matches!(
            AesGcmCipher::from_base64(&AesGcmCipher::generate_key())
                .expect("a key")
                .open_legacy(LEGACY),
            Err(CipherError::UnknownKey(kid)) if kid == "4bb06f8e"
        ));
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
