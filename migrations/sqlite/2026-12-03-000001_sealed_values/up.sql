-- Sealed secret values, each in a row of its own beside the row that owns it
-- (a revision today; a pipeline's secret parameters later). The owner's JSON
-- holds only a reference, `enc:v2:<version_id>`, so re-sealing a value under
-- another key rewrites this table and never an immutable revision.
--
-- A value is bound to its place: the org, owner and field path (a JSON
-- Pointer into the owner's config) and its version id are the AES-GCM
-- associated data of `ciphertext`, so a ciphertext copied to another row
-- does not open. `version_id` names one entered value: it is kept when the
-- value is carried to a new revision (an echoed "***", a restore) or
-- re-sealed, and diffs compare it instead of any plaintext.
--
-- Values sealed inline before this table existed (`enc:v1:…` in a revision's
-- config) stay where they are and are still read.
CREATE TABLE sealed_values (
    org_id     TEXT NOT NULL,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('revision', 'pipeline')),
    owner_id   TEXT NOT NULL,
    field_path TEXT NOT NULL,
    version_id TEXT NOT NULL,
    kid        TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, field_path)
);
-- Per-key counts of an org, and finding what a key rotation still has to re-seal.
CREATE INDEX sealed_values_org_kid ON sealed_values (org_id, kid);

-- Only the envelope (kid, ciphertext) may ever change: a value keeps its place
-- and its version. A revision's values live as long as the revision: forever.
CREATE TRIGGER sealed_values_keep_place
BEFORE UPDATE OF org_id, owner_kind, owner_id, field_path, version_id, created_at ON sealed_values
BEGIN
    SELECT RAISE(ABORT, 'a sealed value keeps its place and version');
END;
CREATE TRIGGER sealed_values_refuse_revision_delete
BEFORE DELETE ON sealed_values WHEN OLD.owner_kind = 'revision'
BEGIN
    SELECT RAISE(ABORT, 'the sealed values of revisions are immutable');
END;
