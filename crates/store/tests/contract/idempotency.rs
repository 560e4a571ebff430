use std::time::Duration;

use integrations_domain::{OrgId, UserId};
use integrations_ports::{Claim, IdempotencyScope, IdempotencyStore, StoredResponse};
use integrations_testing::TestDb;

use crate::support::{org, store, tick};

fn scope(org_id: &OrgId, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        org: org_id.clone(),
        user: UserId::parse("user_123").expect("valid"),
        key: key.to_owned(),
    }
}

const DAY: Duration = Duration::from_secs(86_400);
const MINUTE: Duration = Duration::from_secs(60);

pub fn idempotency_keys_are_claimed_once_then_replayed(db: &TestDb) {
    let store = store(db);
    let key = scope(&org("org_a"), "k1");
    let now = tick();
    let claim = |fingerprint: &str, at| {
        store
            .claim_key(&key, fingerprint, at, at - DAY, at - MINUTE)
            .expect("claimed")
    };
    assert_eq!(claim("f1", now), Claim::Fresh);
    assert_eq!(claim("f1", now), Claim::InFlight);
    assert_eq!(claim("f2", now), Claim::Mismatch);
    let response = StoredResponse {
        status: 201,
        body: "{\"id\":1}".into(),
        location: Some("/x/1".into()),
    };
    store.complete_key(&key, &response).expect("completed");
    assert_eq!(claim("f1", now), Claim::Done(response.clone()));
    assert_eq!(claim("f2", now), Claim::Mismatch);
    // Another org's or user's identical key is independent.
    assert_eq!(
        store
            .claim_key(
                &scope(&org("org_b"), "k1"),
                "f1",
                now,
                now - DAY,
                now - MINUTE
            )
            .expect("claimed"),
        Claim::Fresh
    );
    // After the retention period the key is fresh again.
    assert_eq!(claim("f2", now + DAY + MINUTE), Claim::Fresh);
}

pub fn abandoned_and_released_claims_can_be_retried(db: &TestDb) {
    let store = store(db);
    let key = scope(&org("org_a"), "k2");
    let now = tick();
    let claim = |at| {
        store
            .claim_key(&key, "f", at, at - DAY, at - MINUTE)
            .expect("claimed")
    };
    assert_eq!(claim(now), Claim::Fresh);
    assert_eq!(claim(now + Duration::from_secs(30)), Claim::InFlight);
    // A request in flight for longer than the abandon limit died: take it over.
    assert_eq!(claim(now + 2 * MINUTE), Claim::Fresh);
    store.release_key(&key).expect("released");
    assert_eq!(
        claim(now + 2 * MINUTE),
        Claim::Fresh,
        "a released claim is fresh again"
    );
    // Purging removes what is older than the cut-off only.
    let other = scope(&org("org_a"), "k3");
    store
        .claim_key(&other, "f", now + DAY, now, now)
        .expect("claimed");
    assert_eq!(store.purge_keys(now + 3 * MINUTE).expect("purged"), 1);
    assert_eq!(
        store
            .claim_key(&other, "f", now + DAY, now, now)
            .expect("claimed"),
        Claim::InFlight
    );
}
