use std::time::Duration;

use integrations_domain::{OrgId, Page, Template, UserId};
use integrations_ports::{
    AuditStore, Change, Claim, ClaimedKey, IdempotencyScope, IdempotencyStore, StoreError,
    StoredResponse, TemplateStore,
};
use integrations_testing::TestDb;

use crate::support::{audit, new_template, org, store, tick};

/// The claim a `Fresh` answer holds.
fn fresh(claim: Claim, scope: &IdempotencyScope) -> ClaimedKey {
    match claim {
        Claim::Fresh { token } => ClaimedKey {
            scope: scope.clone(),
            token,
        },
        other => panic!("expected a fresh claim, got {other:?}"),
    }
}

fn scope(org_id: &OrgId, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        org: org_id.clone(),
        user: UserId::parse("user_123").expect("valid"),
        key: key.to_owned(),
    }
}

const DAY: Duration = Duration::from_secs(86_400);
const MINUTE: Duration = Duration::from_secs(60);

fn idempotency_keys_are_claimed_once_then_replayed(db: &TestDb) {
    let store = store(db);
    let key = scope(&org("org_a"), "k1");
    let now = tick();
    let claim = |fingerprint: &str, at| {
        store
            .claim_key(&key, fingerprint, at, at - DAY, at - MINUTE)
            .expect("claimed")
    };
    let claimed = fresh(claim("f1", now), &key);
    assert_eq!(claimed.token.len(), 26, "a ULID");
    assert_eq!(claim("f1", now), Claim::InFlight);
    assert_eq!(claim("f2", now), Claim::Mismatch);
    let response = StoredResponse {
        status: 201,
        body: "{\"id\":1}".into(),
        location: Some("/x/1".into()),
    };
    store.complete_key(&claimed, &response).expect("completed");
    assert_eq!(claim("f1", now), Claim::Done(response.clone()));
    assert_eq!(claim("f2", now), Claim::Mismatch);
    // Another org's or user's identical key is independent.
    assert!(matches!(
        store
            .claim_key(
                &scope(&org("org_b"), "k1"),
                "f1",
                now,
                now - DAY,
                now - MINUTE
            )
            .expect("claimed"),
        Claim::Fresh { .. }
    ));
    // After the retention period the key is fresh again.
    assert!(matches!(
        claim("f2", now + DAY + MINUTE),
        Claim::Fresh { .. }
    ));
}

fn abandoned_and_released_claims_can_be_retried(db: &TestDb) {
    let store = store(db);
    let key = scope(&org("org_a"), "k2");
    let now = tick();
    let claim = |at| {
        store
            .claim_key(&key, "f", at, at - DAY, at - MINUTE)
            .expect("claimed")
    };
    let first = fresh(claim(now), &key);
    assert_eq!(claim(now + Duration::from_secs(30)), Claim::InFlight);
    // A request in flight for longer than the abandon limit died: take it over.
    let second = fresh(claim(now + 2 * MINUTE), &key);
    assert_ne!(first.token, second.token);
    // The first claim can no longer release the key.
    store.release_key(&first).expect("released nothing");
    assert_eq!(claim(now + 2 * MINUTE), Claim::InFlight);
    store.release_key(&second).expect("released");
    assert!(
        matches!(claim(now + 2 * MINUTE), Claim::Fresh { .. }),
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

/// A request whose claim was taken over (as abandoned) cannot record its
/// response: its change fails and rolls back, so only the retry commits.
fn a_change_whose_claim_was_taken_over_rolls_back(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let key = scope(&a, "k4");
    let now = tick();
    let claim = |at| {
        store
            .claim_key(&key, "f", at, at - DAY, at - MINUTE)
            .expect("claimed")
    };
    let first = fresh(claim(now), &key);
    let retry = fresh(claim(now + 2 * MINUTE), &key);
    let respond = |t: &Template| StoredResponse {
        status: 201,
        body: t.id.to_string(),
        location: None,
    };
    let lost = store.create_template(
        new_template(&a, "T"),
        Change {
            audit: audit(),
            replay: Some((&first, &respond)),
        },
    );
    assert!(
        matches!(lost, Err(StoreError::ClaimLost)),
        "expected ClaimLost, got {lost:?}"
    );
    // Rolled back: no template, no audit entry, the key still the retry's.
    assert_eq!(
        store
            .audit_log(&a, None, Page::default().into())
            .expect("read")
            .total,
        0
    );
    assert_eq!(claim(now + 2 * MINUTE), Claim::InFlight);
    let made = store
        .create_template(
            new_template(&a, "T"),
            Change {
                audit: audit(),
                replay: Some((&retry, &respond)),
            },
        )
        .expect("the retry holds the claim (and the name is free)");
    assert_eq!(
        claim(now + 2 * MINUTE),
        Claim::Done(respond(&made)),
        "the retry's response is recorded"
    );
    // A claim already settled cannot record again either.
    assert!(matches!(
        store.complete_key(&retry, &respond(&made)),
        Err(StoreError::ClaimLost)
    ));
}

integrations_testing::backend_tests!(
    idempotency_keys_are_claimed_once_then_replayed,
    abandoned_and_released_claims_can_be_retried,
    a_change_whose_claim_was_taken_over_rolls_back,
);
