-- Idempotency keys (docs/api.md, "Idempotency"): one row per (org, user, key). `status` is NULL
-- while the first request is in flight, then holds the replayed response.
CREATE TABLE idempotency_keys (
    org_id          TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    status          INTEGER,
    response_body   TEXT,
    location        TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, user_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
