-- Templates, their immutable revisions, pipelines and their attachments.
-- Timestamps are UTC (TIMESTAMP columns hold UTC by contract). Names are unique
-- per org among live rows, compared by `name_key` (the name in Unicode lower
-- case, computed by the application so that every backend folds case alike).
-- Ids are prefixed ULIDs compared bytewise (COLLATE "C").

CREATE TABLE templates (
    id                  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    org_id              TEXT NOT NULL,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,
    vendor              TEXT NOT NULL,
    description         TEXT,
    catalog_vendor_key  TEXT,
    catalog_variant_key TEXT,
    latest_revision     INTEGER NOT NULL DEFAULT 0 CHECK (latest_revision >= 0),
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    deleted_at          TIMESTAMP
);
CREATE UNIQUE INDEX templates_live_name ON templates (org_id, name_key) WHERE deleted_at IS NULL;
CREATE INDEX templates_org_newest ON templates (org_id, created_at DESC, id DESC);

CREATE TABLE revisions (
    id              TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    template_id     TEXT COLLATE "C" NOT NULL REFERENCES templates (id),
    org_id          TEXT NOT NULL,
    revision_number INTEGER NOT NULL CHECK (revision_number >= 1),
    config          TEXT NOT NULL,
    delivery_mode   TEXT NOT NULL CHECK (delivery_mode IN ('server_side', 'client_side')),
    change_summary  TEXT,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    restored_from   INTEGER CHECK (restored_from >= 1),
    -- Also the index of the template_id foreign key.
    CONSTRAINT revisions_number UNIQUE (template_id, revision_number),
    -- The target of attachments' (revision_id, template_id) foreign key.
    CONSTRAINT revisions_of_template UNIQUE (id, template_id)
);

-- History is append-only: no statement may rewrite or remove a revision.
CREATE FUNCTION revisions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'revisions are immutable';
END;
$$;
CREATE TRIGGER revisions_refuse_change BEFORE UPDATE OR DELETE ON revisions
    FOR EACH ROW EXECUTE FUNCTION revisions_refuse_change();
CREATE TRIGGER revisions_refuse_truncate BEFORE TRUNCATE ON revisions
    FOR EACH STATEMENT EXECUTE FUNCTION revisions_refuse_change();

CREATE TABLE pipelines (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    description TEXT,
    parameters  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP
);
CREATE UNIQUE INDEX pipelines_live_name ON pipelines (org_id, name_key) WHERE deleted_at IS NULL;
CREATE INDEX pipelines_org_newest ON pipelines (org_id, created_at DESC, id DESC);

CREATE TABLE attachments (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    pipeline_id TEXT COLLATE "C" NOT NULL REFERENCES pipelines (id),
    template_id TEXT COLLATE "C" NOT NULL REFERENCES templates (id),
    revision_id TEXT COLLATE "C" NOT NULL,
    enabled     BOOLEAN NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    -- One pin per (pipeline, template); also the index of the pipeline_id foreign key.
    CONSTRAINT attachments_once UNIQUE (pipeline_id, template_id),
    -- The pinned revision must belong to the pinned template.
    CONSTRAINT attachments_revision_of_template FOREIGN KEY (revision_id, template_id)
        REFERENCES revisions (id, template_id)
);
CREATE INDEX attachments_template ON attachments (template_id);
CREATE INDEX attachments_revision ON attachments (revision_id, template_id);
