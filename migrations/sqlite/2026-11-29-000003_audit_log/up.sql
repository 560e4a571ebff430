-- The audit log (docs/api.md, "Audit log"): one row per change, written in the change's own
-- transaction. Values are JSON text with secrets already masked.
CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    old_value     TEXT,
    new_value     TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_org_newest ON audit_log (org_id, created_at DESC, id DESC);
CREATE INDEX audit_log_resource ON audit_log (org_id, resource_id, created_at DESC, id DESC);
