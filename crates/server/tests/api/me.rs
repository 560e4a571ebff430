//! `GET /v1/admin/me`: whom the token speaks for, for every role.

use integrations_domain::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{SECRET, TestApp};

const ME: &str = "/v1/admin/me";

fn every_role_sees_its_token(app: &TestApp) {
    for role in [
        Role::Owner,
        Role::Admin,
        Role::Editor,
        Role::Viewer,
        Role::Service,
    ] {
        let token = app.token_for("org_b", "user_42", role);
        let body = app.get(ME, &token).expect(200).body;
        assert_eq!(body["org_id"], json!("org_b"), "{body}");
        assert_eq!(body["sub"], json!("user_42"), "{body}");
        assert_eq!(body["role"], json!(role.as_str()), "{body}");
        let fields: Vec<&String> = body.as_object().expect("an object").keys().collect();
        assert_eq!(fields.len(), 4, "{body}");
        // The test tokens live ten minutes.
        let exp = OffsetDateTime::parse(body["exp"].as_str().expect("a string"), &Rfc3339)
            .expect("RFC 3339");
        let left = exp - OffsetDateTime::now_utc();
        assert!(
            left > time::Duration::minutes(9) && left <= time::Duration::minutes(10),
            "{body}"
        );
        assert!(body["exp"].as_str().expect("text").ends_with('Z'), "{body}");
    }
}

fn exp_is_the_tokens_own(app: &TestApp) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = now + 3_000;
    let claims =
        json!({ "sub": "user_1", "org_id": "org_a", "role": "viewer", "iat": now, "exp": exp });
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("signed");
    let body = app.get(ME, &token).expect(200).body;
    let expected = OffsetDateTime::from_unix_timestamp(exp)
        .expect("valid")
        .format(&Rfc3339)
        .expect("formatted");
    assert_eq!(body["exp"], json!(expected));
}

fn without_a_valid_token_it_is_401(app: &TestApp) {
    let reply = app.call("GET", ME, None, None);
    assert_eq!((reply.status, reply.code()), (401, "MISSING_TOKEN"));
    let reply = app.get(ME, "not-a-token");
    assert_eq!((reply.status, reply.code()), (401, "INVALID_TOKEN"));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({ "sub": "user_1", "org_id": "org_a", "role": "viewer", "iat": now - 900, "exp": now - 300 });
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("signed");
    let reply = app.get(ME, &expired);
    assert_eq!((reply.status, reply.code()), (401, "EXPIRED_TOKEN"));
    assert!(
        reply
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Bearer")
    );
    // Another method: 405.
    let reply = app.call("POST", ME, Some(&app.owner()), Some(&json!({})));
    assert_eq!(reply.status, 405);
}

crate::api_tests!(
    every_role_sees_its_token,
    exp_is_the_tokens_own,
    without_a_valid_token_it_is_401,
);
