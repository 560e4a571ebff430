//! `GET /v1/admin/me`: whom the bearer token speaks for.

use integrations_app::VerifiedToken;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::rfc3339;

/// The caller of `GET /v1/admin/me`, as its token says.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeResponse {
    /// The organisation every request of this token is scoped to.
    #[schema(example = "org_acme")]
    pub org_id: String,
    /// The user (the `sub` claim; recorded as `created_by`).
    #[schema(example = "user_123")]
    pub sub: String,
    /// The role: `owner`, `admin`, `editor`, `viewer` or `service`.
    #[schema(example = "editor", pattern = "^(owner|admin|editor|viewer|service)$")]
    pub role: String,
    /// When the token expires (its `exp` claim), RFC 3339 in UTC.
    #[serde(with = "rfc3339")]
    pub exp: OffsetDateTime,
}

impl From<VerifiedToken> for MeResponse {
    fn from(token: VerifiedToken) -> Self {
        Self {
            org_id: token.caller.org.as_str().to_owned(),
            sub: token.caller.user.as_str().to_owned(),
            role: token.caller.role.as_str().to_owned(),
            exp: token.expires_at,
        }
    }
}
