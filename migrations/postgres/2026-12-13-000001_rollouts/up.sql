-- Rollouts (docs/api.md, "Rollouts"): a re-pin of many pipelines of a
-- template in one transaction. Previews are never stored. A rollout's
-- pipelines are kept whole, as the JSON array the API shows (each with the
-- revision it really moved from and its status): a rollout is written once
-- and read whole, never queried by its pipelines. Their secret-safe diffs
-- (up to 8 MiB in all) are a column of their own, read only for one rollout,
-- never for a list.
CREATE TABLE rollouts (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT COLLATE "C" NOT NULL,
    template_id      TEXT COLLATE "C" NOT NULL,
    -- NULL for a rollback: each pipeline returns to its own revision.
    to_revision      INTEGER,
    rolled_back_from TEXT,
    note             TEXT,
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    pipelines        TEXT NOT NULL,
    -- A JSON array: each pipeline's config_diff, in the order of `pipelines`.
    diffs            TEXT NOT NULL
);
-- Newest first, for the org and for one template.
CREATE INDEX rollouts_newest ON rollouts (org_id, created_at DESC, id DESC);
CREATE INDEX rollouts_of_template ON rollouts (org_id, template_id, created_at DESC, id DESC);
