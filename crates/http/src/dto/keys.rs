//! `GET /v1/admin/keys`: the encryption keys and what each seals.

use integrations_app::KeyStatus;
use serde::Serialize;
use utoipa::ToSchema;

/// One encryption key id, as `GET /v1/admin/keys` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyResponse {
    /// The key id every value it seals carries.
    pub kid: String,
    /// Whether it seals new values (the first configured key).
    pub active: bool,
    /// Whether the server holds this key. `false` for a key id that stored
    /// values carry but no configured key has: those values cannot be opened.
    pub configured: bool,
    /// How many of the org's stored secrets it seals.
    pub sealed_values: u64,
}

impl From<KeyStatus> for KeyResponse {
    fn from(key: KeyStatus) -> Self {
        Self {
            kid: key.kid,
            active: key.active,
            configured: key.configured,
            sealed_values: key.sealed_values,
        }
    }
}

/// `GET /v1/admin/keys`: the configured keys (the active one first), then any
/// other key id the org's stored secrets carry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeysResponse {
    pub keys: Vec<KeyResponse>,
}

impl From<Vec<KeyStatus>> for KeysResponse {
    fn from(keys: Vec<KeyStatus>) -> Self {
        Self {
            keys: keys.into_iter().map(Into::into).collect(),
        }
    }
}
