//! JWT bearer tokens (SPEC §3): HS256 only, signed with the shared
//! `JWT_SECRET`; claims `sub`, `org_id`, `role`, `exp`, `iat`, and `iss`/`aud`
//! when configured. [`JwtVerifier`] implements the token port for requests;
//! [`JwtVerifier::mint`] signs tokens for the `integrations token` command and
//! for tests.

use std::time::Duration;

use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_ports::{AuthError, TokenVerifier};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The shortest accepted secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The largest accepted token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// How far clocks may disagree when checking `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(30);

/// Why a secret cannot sign tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {0})")]
pub struct WeakSecret(pub usize);

/// The claims this service reads and writes.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    org_id: String,
    role: String,
    exp: i64,
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

/// Verifies (and mints) HS256 tokens with one shared secret.
pub struct JwtVerifier {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier for `secret`, checking `iss` and `aud` when given.
    ///
    /// # Errors
    /// [`WeakSecret`] when the secret is shorter than [`MIN_SECRET_BYTES`].
    pub fn new(
        secret: &[u8],
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, WeakSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(secret.len()));
        }
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
        })
    }

    /// Signs a token for `caller`, valid for `ttl` from `now`.
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
        let claims = Claims {
            sub: caller.user.as_str().to_owned(),
            org_id: caller.org.as_str().to_owned(),
            role: caller.role.as_str().to_owned(),
            exp: iat.saturating_add(ttl),
            iat,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
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
    fn verify(&self, token: &str) -> Result<Caller, AuthError> {
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
        Ok(Caller {
            org: OrgId::parse(&claims.org_id).map_err(|e| invalid(format!("org_id {e}")))?,
            user: UserId::parse(&claims.sub).map_err(|e| invalid(format!("sub {e}")))?,
            role: claims
                .role
                .parse::<Role>()
                .map_err(|e| invalid(e.to_string()))?,
        })
    }
}

#[cfg(test)]
mod tests;
