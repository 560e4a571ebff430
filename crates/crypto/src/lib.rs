//! Secrets at rest: AES-256-GCM under a keyring (`ENCRYPTION_KEYS`, or the
//! one key of `ENCRYPTION_KEY`).
//!
//! A value is sealed for its place: the associated data authenticates the
//! org, the owning row, the field path and the version id
//! ([`integrations_ports::Binding`]), so an envelope copied to another row or
//! field fails to open. An envelope is a key id and the text
//! `base64url(nonce ‖ ciphertext ‖ tag)`; the sealed-values table keeps the
//! two in columns of their own, so re-sealing under another key rewrites only
//! that table.
//!
//! Every envelope names the key that sealed it. A keyring holds one or more
//! keys: the first seals new values, every key opens the values it sealed, so
//! keys can be rotated without downtime (docs/operations.md). A key's id is
//! given with it (`kid:BASE64KEY`) or, when it is not, the first 8 hex digits
//! of the key's SHA-256. Every seal uses a fresh random 96-bit nonce.
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

/// Why a key or a keyring cannot be used. The messages never show key
/// material; they read after the setting's name (`ENCRYPTION_KEY must be base64 …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not standard base64.
    #[error("must be base64 (standard alphabet, with padding)")]
    NotBase64,
    /// Not 32 bytes once decoded.
    #[error("must decode to 32 bytes for AES-256 (got {0})")]
    WrongLength(usize),
    /// A keyring entry (counted from 1) whose key id is outside `[A-Za-z0-9_-]{1,32}`.
    #[error("entry {0}: a key id must be 1 to 32 letters, digits, '_' or '-'")]
    BadKeyId(usize),
    /// A keyring entry (counted from 1) whose key is unusable.
    #[error("entry {0}: {1}")]
    BadEntry(usize, Box<KeyError>),
    /// Two entries with the same key id.
    #[error("names the key id '{0}' twice")]
    DuplicateKeyId(String),
    /// No key at all.
    #[error("holds no key: give at least one")]
    Empty,
}

/// One key of a keyring.
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

/// Seals and opens secret values with a keyring of AES-256 keys: the first
/// key seals, every key opens.
pub struct AesGcmCipher {
    /// Never empty; the first seals.
    keys: Vec<Key>,
}

impl std::fmt::Debug for AesGcmCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesGcmCipher")
            .field("key_ids", &self.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The id a key gets when none is given: the first 8 hex digits of its SHA-256.
fn derived_key_id(key: &[u8]) -> String {
    let digest = Sha256::digest(key);
    format!(
        "{:02x}{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2], digest[3]
    )
}

fn is_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Key {
    fn new(id: Option<&str>, encoded: &str) -> Result<Self, KeyError> {
        let key = STANDARD
            .decode(encoded.trim())
            .map_err(|_| KeyError::NotBase64)?;
        if key.len() != 32 {
            return Err(KeyError::WrongLength(key.len()));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&key).map_err(|_| KeyError::WrongLength(key.len()))?;
        let id = id.map_or_else(|| derived_key_id(&key), str::to_owned);
        Ok(Self { id, cipher })
    }
}

impl AesGcmCipher {
    /// A keyring of one base64-encoded 32-byte key (what `ENCRYPTION_KEY`
    /// holds), with the key id derived from the key.
    ///
    /// # Errors
    /// [`KeyError`] when the text is not base64 or not 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        Ok(Self {
            keys: vec![Key::new(None, encoded)?],
        })
    }

    /// A keyring from `ENCRYPTION_KEYS` text: comma-separated entries, each
    /// `BASE64KEY` or `KID:BASE64KEY`. The first entry seals; every entry
    /// opens. A key without a KID gets the id [`AesGcmCipher::from_base64`]
    /// gives it, so `ENCRYPTION_KEY=OLD` becomes `ENCRYPTION_KEYS=new:NEW,OLD`
    /// without renaming anything already sealed.
    ///
    /// ```
    /// use integrations_crypto::AesGcmCipher;
    /// let old = AesGcmCipher::generate_key();
    /// let new = AesGcmCipher::generate_key();
    /// let ring = AesGcmCipher::from_keyring(&format!("kid_new:{new}, {old}"))?;
    /// let one = AesGcmCipher::from_base64(&old)?;
    /// assert_eq!(ring.ids().collect::<Vec<_>>(), ["kid_new", one.key_id()]);
    /// assert_eq!(ring.key_id(), "kid_new");
    /// # Ok::<(), integrations_crypto::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError`] naming the first bad entry (by position, never by its
    /// text), a duplicate key id, or an empty list.
    pub fn from_keyring(text: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<Key> = Vec::new();
        for (at, entry) in text.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            // The standard base64 alphabet has no ':', so the first one ends the id.
            let key = match entry.split_once(':') {
                Some((id, encoded)) => {
                    let id = id.trim();
                    if !is_key_id(id) {
                        return Err(KeyError::BadKeyId(at + 1));
                    }
                    Key::new(Some(id), encoded)
                }
                None => Key::new(None, entry),
            }
            .map_err(|err| KeyError::BadEntry(at + 1, Box::new(err)))?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(KeyError::DuplicateKeyId(key.id));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    /// A fresh random key, base64-encoded (for the zero-configuration default).
    pub fn generate_key() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(&mut OsRng))
    }

    /// The id of the key that seals new values.
    pub fn key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Every key id the keyring holds, the sealing key first.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> {
        self.keys.iter().map(|key| key.id.as_str())
    }
}

impl AesGcmCipher {
    /// Decrypts `nonce ‖ ciphertext ‖ tag` (base64url) with `aad`.
    fn decrypt(&self, kid: &str, payload: &str, aad: &[u8]) -> Result<String, CipherError> {
        let Some(key) = self.keys.iter().find(|key| key.id == kid) else {
            return Err(CipherError::UnknownKey(kid.chars().take(32).collect()));
        };
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| CipherError::Malformed)?;
        if payload.len() < NONCE_BYTES {
            return Err(CipherError::Malformed);
        }
        let (nonce, ciphertext) = payload.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CipherError::Malformed)?;
        let plaintext = key
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
        let sealing = &self.keys[0];
        let ciphertext = sealing
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
            kid: sealing.id.clone(),
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

    fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|key| key.id.clone()).collect()
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

    #[test]
    fn a_keyring_seals_with_its_first_key_and_opens_with_any() {
        let (old, new) = (AesGcmCipher::generate_key(), AesGcmCipher::generate_key());
        let before = AesGcmCipher::from_base64(&old).expect("a key");
        let sealed_old = before.seal("old secret", &PLACE).expect("sealed");
        let legacy_old = format!("enc:v1:{}:", before.key_id());

        // The new key as a second entry: still sealing with the old one.
        let second = AesGcmCipher::from_keyring(&format!("{old},kid_new:{new}")).expect("a ring");
        assert_eq!(second.key_id(), before.key_id());
        // Then first: new values under the new key, old values still open.
        let ring = AesGcmCipher::from_keyring(&format!(" kid_new:{new} , {old} ")).expect("a ring");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["kid_new", before.key_id()]);
        let sealed_new = ring.seal("new secret", &PLACE).expect("sealed");
        assert_eq!(sealed_new.kid, "kid_new");
        assert_eq!(ring.open(&sealed_old, &PLACE).as_deref(), Ok("old secret"));
        assert_eq!(ring.open(&sealed_new, &PLACE).as_deref(), Ok("new secret"));
        assert!(matches!(
            ring.open_legacy(&format!("{legacy_old}!!")),
            Err(CipherError::Malformed)
        ));

        // The old key dropped: its values are reported by key id, the rest open.
        let dropped = AesGcmCipher::from_keyring(&format!("kid_new:{new}")).expect("a ring");
        assert_eq!(
            dropped.open(&sealed_old, &PLACE),
            Err(CipherError::UnknownKey(before.key_id().to_owned()))
        );
        assert_eq!(
            dropped.open(&sealed_new, &PLACE).as_deref(),
            Ok("new secret")
        );
    }

    #[test]
    fn a_bad_keyring_is_refused_without_showing_a_key() {
        let key = AesGcmCipher::generate_key();
        let cases = [
            (String::new(), KeyError::Empty),
            (" , ".to_owned(), KeyError::Empty),
            (
                format!("a:{key},b:{key}x"),
                KeyError::BadEntry(2, Box::new(KeyError::NotBase64)),
            ),
            (format!("a:{key},bad kid:{key}"), KeyError::BadKeyId(2)),
            (format!(":{key}"), KeyError::BadKeyId(1)),
            (format!("{}:{key}", "k".repeat(33)), KeyError::BadKeyId(1)),
            (
                format!("a:{key},a:{}", AesGcmCipher::generate_key()),
                KeyError::DuplicateKeyId("a".into()),
            ),
            // The same key twice without ids derives the same id twice.
            (
                format!("{key},{key}"),
                KeyError::DuplicateKeyId(
                    AesGcmCipher::from_base64(&key)
                        .expect("a key")
                        .key_id()
                        .to_owned(),
                ),
            ),
            (
                format!("a:{}", STANDARD.encode([1_u8; 31])),
                KeyError::BadEntry(1, Box::new(KeyError::WrongLength(31))),
            ),
        ];
        for (text, expected) in cases {
            let err = AesGcmCipher::from_keyring(&text).expect_err(&text);
            assert_eq!(err, expected, "{text}");
            assert!(!err.to_string().contains(&key), "{err}");
        }
        let debug = format!(
            "{:?}",
            AesGcmCipher::from_keyring(&format!("a:{key}")).expect("a ring")
        );
        assert!(!debug.contains(&key) && debug.contains("\"a\""), "{debug}");
    }
}
