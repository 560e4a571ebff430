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
        Some(WeakSecret::TooShort(5))
    );
    // Long enough, but a handful of characters repeated: guessable.
    for (weak, distinct) in [
        (b"a".repeat(64), 1),
        (b"password".repeat(4), 7),
        (b"test-secret-test-secret-test-secret-0123".to_vec(), 10),
        (b"0123456789abcde0123456789abcde01".to_vec(), 15),
    ] {
        assert_eq!(
            JwtVerifier::new(&weak, None, None).err(),
            Some(WeakSecret::TooUniform(distinct)),
            "{}",
            String::from_utf8_lossy(&weak)
        );
    }
    // Exactly 32 bytes with exactly 16 distinct values is enough.
    assert!(JwtVerifier::new(SECRET, None, None).is_ok());
    let message = WeakSecret::TooUniform(7).to_string();
    assert!(
        message.contains("at least 16 distinct byte values (got 7)"),
        "{message}"
    );
}

#[test]
fn a_token_may_not_live_longer_than_the_maximum() {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let day = 24 * 60 * 60;
    assert_eq!(verifier().max_ttl(), DEFAULT_MAX_TTL);
    let a_day = forge(&hs256(), &claims(&json!({ "exp": now + day })), SECRET);
    assert!(verifier().verify(&a_day).is_ok(), "exactly the maximum");
    let longer = forge(&hs256(), &claims(&json!({ "exp": now + day + 1 })), SECRET);
    assert_eq!(
        verifier().verify(&longer),
        Err(AuthError::Invalid(
            "the token lives longer than 86400 s (exp - iat); ask for a shorter one".into()
        ))
    );
    // Back-dating `iat` does not help: the lifetime is `exp - iat`.
    let backdated = forge(
        &hs256(),
        &claims(&json!({ "iat": now - day, "exp": now + 60 })),
        SECRET,
    );
    assert!(matches!(
        verifier().verify(&backdated),
        Err(AuthError::Invalid(_))
    ));
    // The maximum is configurable.
    let strict = verifier().with_max_ttl(Duration::from_secs(300));
    assert!(matches!(
        strict.verify(&token(Role::Viewer)),
        Err(AuthError::Invalid(_))
    ));
    let short = strict
        .mint(
            &caller(Role::Viewer),
            Duration::from_secs(300),
            OffsetDateTime::now_utc(),
        )
        .expect("signed");
    assert!(strict.verify(&short).is_ok());
}

#[test]
fn a_token_without_iat_is_refused() {
    // Without `iat` the lifetime cannot be bounded: such tokens are refused.
    let forged = forge(&hs256(), &claims(&json!({ "iat": null })), SECRET);
    assert!(matches!(
        verifier().verify(&forged),
        Err(AuthError::Invalid(_))
    ));
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

#[test]
fn the_audience_may_be_a_string_or_an_array() {
    let strict = JwtVerifier::new(SECRET, None, Some("integrations".into())).expect("valid");
    for (aud, accepted) in [
        (json!("integrations"), true),
        (json!(["integrations"]), true),
        (json!(["billing", "integrations"]), true),
        (json!("billing"), false),
        (json!(["billing", "crm"]), false),
        (json!([]), false),
        (json!(7), false),
    ] {
        let forged = forge(&hs256(), &claims(&json!({ "aud": aud })), SECRET);
        let verified = strict.verify(&forged);
        assert_eq!(verified.is_ok(), accepted, "{aud}: {verified:?}");
        if !accepted {
            assert!(matches!(verified, Err(AuthError::Invalid(_))), "{aud}");
        }
    }
    // Unconfigured, an array audience is ignored like a string one.
    let listed = forge(
        &hs256(),
        &claims(&json!({ "aud": ["billing", "crm"] })),
        SECRET,
    );
    assert!(verifier().verify(&listed).is_ok());
}
