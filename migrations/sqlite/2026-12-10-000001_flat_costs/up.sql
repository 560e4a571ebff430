-- Costs that do not grow with the data (docs/decisions.md, "Flat costs").
--
-- `org_counts` keeps each org's live templates, live pipelines and audit
-- entries, so the `total` of an unfiltered list is read from at most 16 rows
-- instead of counted over the org's rows. Every change adds to it in its own
-- transaction. A transaction adds to one of 16 stripes per org (chosen from
-- its audit entry's id) so that concurrent writers of one org rarely wait
-- for each other's counter row; the total is the sum of the stripes.
CREATE TABLE org_counts (
    org_id         TEXT NOT NULL,
    stripe         INTEGER NOT NULL CHECK (stripe >= 0 AND stripe < 16),
    live_templates INTEGER NOT NULL DEFAULT 0,
    live_pipelines INTEGER NOT NULL DEFAULT 0,
    audit_entries  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, stripe)
);

-- What the database holds now, in stripe 0.
INSERT INTO org_counts (org_id, stripe, live_templates, live_pipelines, audit_entries)
SELECT org_id, 0, SUM(t), SUM(p), SUM(a)
FROM (
    SELECT org_id, COUNT(*) AS t, 0 AS p, 0 AS a FROM templates WHERE deleted_at IS NULL GROUP BY org_id
    UNION ALL
    SELECT org_id, 0, COUNT(*), 0 FROM pipelines WHERE deleted_at IS NULL GROUP BY org_id
    UNION ALL
    SELECT org_id, 0, 0, COUNT(*) FROM audit_log GROUP BY org_id
) AS per_org
GROUP BY org_id;

-- Lists walk only live rows, newest first: one index range per page, whatever
-- the number of deleted rows or of other orgs' rows.
DROP INDEX templates_org_newest;
CREATE INDEX templates_live_newest ON templates (org_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
DROP INDEX pipelines_org_newest;
CREATE INDEX pipelines_live_newest ON pipelines (org_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

-- Names are unique per org among live rows as before, but the unique indexes
-- lead with the name: an index that leads with org_id and ends elsewhere than
-- the list order would let a plan made without statistics (a new database)
-- list an org by reading and sorting all its rows.
DROP INDEX templates_live_name;
CREATE UNIQUE INDEX templates_live_name ON templates (name_key, org_id) WHERE deleted_at IS NULL;
DROP INDEX pipelines_live_name;
CREATE UNIQUE INDEX pipelines_live_name ON pipelines (name_key, org_id) WHERE deleted_at IS NULL;

-- The pins of a template, newest first (also the index of the template_id
-- foreign key).
DROP INDEX attachments_template;
CREATE INDEX attachments_template_newest ON attachments (template_id, created_at DESC, id DESC);
