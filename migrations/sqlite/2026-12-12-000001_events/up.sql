-- The change feed (docs/api.md, "Events"; docs/decisions.md, "The change feed").
--
-- Every change appends its events in its own transaction, as its last
-- statements. `seq` is per org, taken from the org's `event_seqs` row: the
-- update keeps that row locked until the change commits, so an org's events
-- commit in `seq` order, and a rolled-back change gives its numbers back —
-- an org's events are numbered without gaps. Pruning deletes an org's oldest
-- events from the lowest `seq` up, so what is kept is always an unbroken run
-- ending at the newest, and it never touches `event_seqs` (writers never wait
-- for it).
CREATE TABLE event_seqs (
    org_id   TEXT PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE TABLE events (
    org_id        TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    id            TEXT NOT NULL,
    type          TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    -- A JSON array of pipeline ids.
    pipeline_ids  TEXT NOT NULL,
    actor         TEXT NOT NULL,
    at            TIMESTAMP NOT NULL,
    -- A JSON object of ids, numbers and names; never a config, a value or a secret.
    data          TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
-- Pruning finds old events by age, in small batches.
CREATE INDEX events_at ON events (at);
