use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn verifier() -> JwtVerifier {
    JwtVerifier::new(SECRET, None, None).expect("a strong secret")
}

fn caller(role: Role) -> Caller {
    Caller {
        org: OrgId::parse("org_xyz").expect("valid"),
        user: UserId::parse("user_123").expect("valid"),
        role,
    }
}

fn token(role: Role) -> String {
    verifier()
        .mint(
            &caller(role),
            Duration::from_secs(900),
            OffsetDateTime::now_utc(),
        )
        .expect("signed")
}

/// A token with arbitrary header and claims, signed HS256 with `secret`.
fn forge(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let signing_input = format!("{}.{}", encode(header), encode(claims));
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .expect("signed");
    format!("{signing_input}.{signature}")
}

fn claims(overrides: &Value) -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = json!({ "sub": "user_123", "org_id": "org_xyz", "role": "editor", "iat": now, "exp": now + 600 });
    if let (Some(base), Some(changes)) = (claims.as_object_mut(), overrides.as_object()) {
        for (k, v) in changes {
            if v.is_null() {
                base.remove(k);
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    claims
}

fn hs256() -> Value {
    json!({ "alg": "HS256", "typ": "JWT" })
}

#[test]
fn minted_tokens_verify_for_every_role() {
    for role in Role::ALL {
        assert_eq!(verifier().verify(&token(role)), Ok(caller(role)));
    }
}

#[test]
fn rejects_weak_secrets() {
    assert_eq!(
        JwtVerifier::new(b"short", None, None).err(),
        Some(WeakSecret(5))
    );
}

#[test]
fn rejects_alg_none_and_other_algorithms() {
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT" }).to_string()),
        URL_SAFE_NO_PAD.encode(claims(&json!({})).to_string())
    );
    assert!(matches!(
        verifier().verify(&unsigned),
        Err(AuthError::Invalid(_))
    ));
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(&json!({})),
        &EncodingKey::from_secret(SECRET),
    )
    .expect("signed");
    assert_eq!(
        verifier().verify(&hs512),
        Err(AuthError::Invalid("only HS256 tokens are accepted".into()))
    );
}

#[test]
fn rejects_tampering_and_other_secrets() {
    let good = token(Role::Viewer);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims(&json!({ "role": "owner" })).to_string());
    let tampered = parts.join(".");
    assert_eq!(
        verifier().verify(&tampered),
        Err(AuthError::Invalid("the signature does not match".into()))
    );
    let other = forge(
        &hs256(),
        &claims(&json!({})),
        b"another-secret-another-secret-123",
    );
    assert!(matches!(
        verifier().verify(&other),
        Err(AuthError::Invalid(_))
    ));
    for garbage in ["", "abc", "a.b.c", "Bearer x"] {
        assert!(
            matches!(verifier().verify(garbage), Err(AuthError::Invalid(_))),
            "{garbage}"
        );
    }
}

#[test]
fn expiry_has_a_small_leeway_only() {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let just_expired = forge(&hs256(), &claims(&json!({ "exp": now - 10 })), SECRET);
    assert!(
        verifier().verify(&just_expired).is_ok(),
        "within the leeway"
    );
    let expired = forge(&hs256(), &claims(&json!({ "exp": now - 120 })), SECRET);
    assert_eq!(verifier().verify(&expired), Err(AuthError::Expired));
    let future = forge(
        &hs256(),
        &claims(&json!({ "iat": now + 3600, "exp": now + 7200 })),
        SECRET,
    );
    assert!(matches!(
        verifier().verify(&future),
        Err(AuthError::Invalid(_))
    ));
}

#[test]
fn claims_are_required_and_checked() {
    for (change, expected) in [
        (json!({ "exp": null }), CLAIMS_REQUIRED),
        (json!({ "sub": null }), CLAIMS_REQUIRED),
        (json!({ "org_id": null }), CLAIMS_REQUIRED),
        (json!({ "role": 7 }), CLAIMS_REQUIRED),
        (
            json!({ "role": "root" }),
            "unknown role 'root': expected owner, admin, editor, viewer or service",
        ),
        (json!({ "org_id": "" }), "org_id must not be empty"),
    ] {
        let forged = forge(&hs256(), &claims(&change), SECRET);
        assert_eq!(
            verifier().verify(&forged),
            Err(AuthError::Invalid(expected.into())),
            "{change}"
        );
    }
}

#[test]
fn oversized_tokens_are_rejected_before_decoding() {
    let huge = forge(
        &hs256(),
        &claims(&json!({ "pad": "x".repeat(9_000) })),
        SECRET,
    );
    assert_eq!(
        verifier().verify(&huge),
        Err(AuthError::Invalid("the token is larger than 8 KiB".into()))
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let strict =
        JwtVerifier::new(SECRET, Some("idp".into()), Some("integrations".into())).expect("valid");
    let minted = strict
        .mint(
            &caller(Role::Admin),
            Duration::from_secs(60),
            OffsetDateTime::now_utc(),
        )
        .expect("signed");
    assert!(strict.verify(&minted).is_ok());
    let wrong_iss = forge(
        &hs256(),
        &claims(&json!({ "iss": "evil", "aud": "integrations" })),
        SECRET,
    );
    assert!(matches!(
        strict.verify(&wrong_iss),
        Err(AuthError::Invalid(_))
    ));
    let no_aud = forge(&hs256(), &claims(&json!({ "iss": "idp" })), SECRET);
    assert!(matches!(strict.verify(&no_aud), Err(AuthError::Invalid(_))));
    // Unconfigured, iss and aud are ignored.
    assert!(verifier().verify(&wrong_iss).is_ok());
}
