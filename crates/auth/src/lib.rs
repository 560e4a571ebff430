//! JWT bearer tokens: HS256 only, signed with the shared `JWT_SECRET`; claims
//! `sub`, `org_id`, `role`, `exp`, `iat`, and `iss`/`aud` when configured.
//! [`JwtVerifier`] implements the token port for requests;
//! [`JwtVerifier::mint`] signs tokens for the `integrations token` command and
//! for tests.
//!
//! Hardening (docs/decisions.md, "Tokens, the service role, connections,
//! files and logs"): a token may live at most [`JwtVerifier::max_ttl`]
//! (`exp - iat`, `MAX_TOKEN_TTL`); `iat` is required, so every lifetime is
//! bounded; `aud` may be a string or an array; a secret shorter than
//! [`MIN_SECRET_BYTES`] or with fewer than [`MIN_DISTINCT_SECRET_BYTES`]
//! distinct byte values is refused.

use std::collections::HashSet;
use std::time::Duration;

use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_ports::{AuthError, TokenVerifier, VerifiedToken};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The shortest accepted secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The fewest distinct byte values an accepted secret holds: a secret such as
/// 32 times the same character, or a short word repeated, is refused.
pub const MIN_DISTINCT_SECRET_BYTES: usize = 16;
/// The largest accepted token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// How far clocks may disagree when checking `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = integrations_ports::TOKEN_LEEWAY;
/// The longest lifetime (`exp - iat`) of an accepted token unless configured
/// otherwise (`MAX_TOKEN_TTL`): one day.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a secret cannot sign tokens. The message never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakSecret {
    /// Fewer than [`MIN_SECRET_BYTES`] bytes (the length is given).
    #[error("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {0})")]
    TooShort(usize),
    /// Fewer than [`MIN_DISTINCT_SECRET_BYTES`] distinct byte values (the count is given).
    #[error(
        "JWT_SECRET must hold at least {MIN_DISTINCT_SECRET_BYTES} distinct byte values (got {0}): \
         use a random secret, e.g. `head -c 48 /dev/urandom | base64`"
    )]
    TooUniform(usize),
}

/// Checks a secret's strength: length and variety of its bytes.
///
/// # Errors
/// [`WeakSecret`] says which rule the secret breaks.
pub fn check_secret(secret: &[u8]) -> Result<(), WeakSecret> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(WeakSecret::TooShort(secret.len()));
    }
    let distinct = secret.iter().collect::<HashSet<_>>().len();
    if distinct < MIN_DISTINCT_SECRET_BYTES {
        return Err(WeakSecret::TooUniform(distinct));
    }
    Ok(())
}

/// The claims this service writes.
#[derive(Debug, Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    org_id: &'a str,
    role: &'a str,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// The claims this service reads. `iss` and `aud` are checked by the JWT
/// library from the raw claims (so `aud` may be a string or an array) and are
/// not needed here; any other claim is ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    org_id: String,
    role: String,
    exp: i64,
    iat: i64,
}

/// Verifies (and mints) HS256 tokens with one shared secret.
pub struct JwtVerifier {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    max_ttl: Duration,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("max_ttl", &self.max_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier for `secret`, checking `iss` and `aud` when given, and
    /// accepting tokens that live up to [`DEFAULT_MAX_TTL`] (see
    /// [`Self::with_max_ttl`]).
    ///
    /// # Errors
    /// [`WeakSecret`] when the secret is shorter than [`MIN_SECRET_BYTES`] or
    /// holds fewer than [`MIN_DISTINCT_SECRET_BYTES`] distinct byte values.
    pub fn new(
        secret: &[u8],
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, WeakSecret> {
        check_secret(secret)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "iat", "sub"];
        required.extend(issuer.as_ref().map(|_| "iss"));
        required.extend(audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        match &issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
            issuer,
            audience,
            max_ttl: DEFAULT_MAX_TTL,
        })
    }

    /// The same verifier accepting tokens whose `exp - iat` is at most `max_ttl`.
    #[must_use]
    pub fn with_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// The longest lifetime (`exp - iat`) of an accepted token.
    pub const fn max_ttl(&self) -> Duration {
        self.max_ttl
    }

    /// Signs a token for `caller`, valid for `ttl` from `now`. It does not
    /// check `ttl` against [`Self::max_ttl`]: the command line does, with a
    /// message for the operator (a longer token would be refused).
    ///
    /// # Errors
    /// Only if signing itself fails (it does not for HS256 with a valid key).
    pub fn mint(
        &self,
        caller: &Caller,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now.unix_timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = MintedClaims {
            sub: caller.user.as_str(),
            org_id: caller.org.as_str(),
            role: caller.role.as_str(),
            exp: iat.saturating_add(ttl),
            iat,
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }
}

const CLAIMS_REQUIRED: &str =
    "the claims are malformed: sub, org_id, role (strings), exp and iat (numbers) are required";

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::Invalid(reason.into())
}

impl TokenVerifier for JwtVerifier {
    fn verify_token(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is larger than 8 KiB"));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => invalid("the signature does not match"),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    invalid("only HS256 tokens are accepted")
                }
                ErrorKind::InvalidIssuer => invalid("the issuer is not accepted"),
                ErrorKind::InvalidAudience => invalid("the audience is not accepted"),
                ErrorKind::ImmatureSignature => invalid("the token is not valid yet"),
                ErrorKind::MissingRequiredClaim(claim) => {
                    invalid(format!("the claim '{claim}' is missing"))
                }
                ErrorKind::Json(_) => invalid(CLAIMS_REQUIRED),
                _ => invalid("the token is malformed"),
            })?;
        let claims = data.claims;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(LEEWAY.as_secs()).unwrap_or(0);
        if claims.iat > now.saturating_add(leeway) {
            return Err(invalid("the token is issued in the future"));
        }
        let max_ttl = i64::try_from(self.max_ttl.as_secs()).unwrap_or(i64::MAX);
        if claims.exp.saturating_sub(claims.iat) > max_ttl {
            return Err(invalid(format!(
                "the token lives longer than {max_ttl} s (exp - iat); ask for a shorter one"
            )));
        }
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| invalid("the claim 'exp' is out of range"))?;
        let caller = Caller {
            org: OrgId::parse(&claims.org_id).map_err(|e| invalid(format!("org_id {e}")))?,
            user: UserId::parse(&claims.sub).map_err(|e| invalid(format!("sub {e}")))?,
            role: claims
                .role
                .parse::<Role>()
                .map_err(|e| invalid(e.to_string()))?,
        };
        Ok(VerifiedToken { caller, expires_at })
    }
}

#[cfg(test)]
mod tests;
