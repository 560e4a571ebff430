//! The token-verification port.

use integrations_domain::Caller;
use time::OffsetDateTime;

/// Why a request is not authenticated. Every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token was sent.
    #[error("a bearer token is required")]
    Missing,
    /// The token is malformed, badly signed, uses another algorithm, is too
    /// large, or lacks a valid claim; the text says which, without secrets.
    #[error("the bearer token is invalid: {0}")]
    Invalid(String),
    /// The token's `exp` has passed (beyond the allowed leeway).
    #[error("the bearer token has expired")]
    Expired,
}

/// How far clocks may disagree when a token's times are checked: a token is
/// accepted until its `exp` plus this.
pub const TOKEN_LEEWAY: std::time::Duration = std::time::Duration::from_secs(30);

/// A token that passed verification: whom it speaks for, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The caller it speaks for.
    pub caller: Caller,
    /// Its expiry (the `exp` claim); the token is refused after it (beyond
    /// a small leeway).
    pub expires_at: OffsetDateTime,
}

/// Turns a bearer token into the caller it speaks for.
pub trait TokenVerifier: Send + Sync + std::fmt::Debug {
    /// Verifies the token's signature, algorithm, expiry and claims, and
    /// tells whom it speaks for and until when.
    ///
    /// # Errors
    /// `Invalid` for anything wrong with the token itself; `Expired` once its
    /// `exp` has passed. (`Missing` is for callers that found no token at all.)
    fn verify_token(&self, token: &str) -> Result<VerifiedToken, AuthError>;

    /// [`TokenVerifier::verify_token`], for the caller alone.
    ///
    /// # Errors
    /// As [`TokenVerifier::verify_token`].
    fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        self.verify_token(token).map(|verified| verified.caller)
    }
}
