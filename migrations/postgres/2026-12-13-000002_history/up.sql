-- The history of what shapes a pipeline's rendered config (docs/api.md,
-- "A pipeline's config at a past instant"; docs/decisions.md, "Config history").
--
-- `events::close` writes one row per change of a pipeline's parameters or of
-- one of its attachments, in the change's transaction, numbered by the
-- change's event `seq`. `subject` is the pipeline's id (its parameters) or
-- the attachment's id (its pin); `live` is false for a deletion or a detach.
-- The state at `seq` S is, per subject, its row with the highest seq <= S.
-- Revisions are immutable and templates only soft-deleted, so rows can
-- reference them by id. Pruning keeps, per subject, the newest row at or
-- before the cutoff (see `history_horizons`).
CREATE TABLE config_history (
    org_id            TEXT COLLATE "C" NOT NULL,
    pipeline_id       TEXT COLLATE "C" NOT NULL,
    subject           TEXT COLLATE "C" NOT NULL,
    seq               BIGINT NOT NULL,
    at                TIMESTAMP NOT NULL,
    live              BOOLEAN NOT NULL,
    -- A pipeline's plain parameters and its secret parameters' version ids
    -- (key -> `enc:v2:<version>`, never a value).
    parameters        TEXT,
    secret_parameters TEXT,
    -- An attachment's pin.
    template_id       TEXT COLLATE "C",
    revision_id       TEXT COLLATE "C",
    enabled           BOOLEAN,
    attached_at       TIMESTAMP,
    PRIMARY KEY (pipeline_id, subject, seq)
);
-- Resolving an instant to a seq, and pruning by age.
CREATE INDEX config_history_org_at ON config_history (org_id, at);

-- Copies of the sealed values of pipelines' secret parameters (never
-- plaintext), one per entered value: bound, like the original, to the
-- pipeline's place and the value's version, so a copy opens exactly as the
-- original did. Key rotation re-seals them too.
CREATE TABLE history_sealed_values (
    org_id      TEXT COLLATE "C" NOT NULL,
    pipeline_id TEXT COLLATE "C" NOT NULL,
    field_path  TEXT COLLATE "C" NOT NULL,
    version_id  TEXT COLLATE "C" NOT NULL,
    kid         TEXT NOT NULL,
    ciphertext  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (pipeline_id, field_path, version_id)
);
CREATE INDEX history_sealed_values_org_kid ON history_sealed_values (org_id, kid);

-- Per org, the instant from which its history is complete: a request for an
-- earlier instant is refused (410 HISTORY_EXPIRED). No row: complete since
-- the org's first change.
CREATE TABLE history_horizons (
    org_id        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    complete_from TIMESTAMP NOT NULL
);

-- What exists now becomes the first history: complete from this migration on.
INSERT INTO history_horizons (org_id, complete_from)
SELECT org_id, now() AT TIME ZONE 'UTC' FROM pipelines GROUP BY org_id;

INSERT INTO config_history (org_id, pipeline_id, subject, seq, at, live, parameters, secret_parameters)
SELECT p.org_id, p.id, p.id, COALESCE(s.last_seq, 0), now() AT TIME ZONE 'UTC', TRUE,
       p.parameters, p.secret_parameters
FROM pipelines p LEFT JOIN event_seqs s ON s.org_id = p.org_id
WHERE p.deleted_at IS NULL;

INSERT INTO config_history (org_id, pipeline_id, subject, seq, at, live, template_id, revision_id, enabled, attached_at)
SELECT a.org_id, a.pipeline_id, a.id, COALESCE(s.last_seq, 0), now() AT TIME ZONE 'UTC', TRUE,
       a.template_id, a.revision_id, a.enabled, a.created_at
FROM attachments a LEFT JOIN event_seqs s ON s.org_id = a.org_id;

INSERT INTO history_sealed_values (org_id, pipeline_id, field_path, version_id, kid, ciphertext, created_at)
SELECT org_id, owner_id, field_path, version_id, kid, ciphertext, created_at
FROM sealed_values WHERE owner_kind = 'pipeline';
