DROP INDEX attachments_template_newest;
CREATE INDEX attachments_template ON attachments (template_id);
DROP INDEX pipelines_live_newest;
CREATE INDEX pipelines_org_newest ON pipelines (org_id, created_at DESC, id DESC);
DROP INDEX templates_live_newest;
CREATE INDEX templates_org_newest ON templates (org_id, created_at DESC, id DESC);
DROP TABLE org_counts;
