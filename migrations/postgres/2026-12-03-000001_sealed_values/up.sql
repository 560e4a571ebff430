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
    owner_kind TEXT COLLATE "C" NOT NULL CHECK (owner_kind IN ('revision', 'pipeline')),
    owner_id   TEXT COLLATE "C" NOT NULL,
    field_path TEXT COLLATE "C" NOT NULL,
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
CREATE FUNCTION sealed_values_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'the sealed values of revisions are immutable';
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.owner_kind = 'revision' THEN
            RAISE EXCEPTION 'the sealed values of revisions are immutable';
        END IF;
        RETURN OLD;
    END IF;
    IF (NEW.org_id, NEW.owner_kind, NEW.owner_id, NEW.field_path, NEW.version_id, NEW.created_at)
        IS DISTINCT FROM
       (OLD.org_id, OLD.owner_kind, OLD.owner_id, OLD.field_path, OLD.version_id, OLD.created_at) THEN
        RAISE EXCEPTION 'a sealed value keeps its place and version';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER sealed_values_guard BEFORE UPDATE OR DELETE ON sealed_values
    FOR EACH ROW EXECUTE FUNCTION sealed_values_guard();
CREATE TRIGGER sealed_values_refuse_truncate BEFORE TRUNCATE ON sealed_values
    FOR EACH STATEMENT EXECUTE FUNCTION sealed_values_guard();
