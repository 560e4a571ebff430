DROP TABLE attachments;
DROP TABLE pipelines;
DROP TRIGGER revisions_refuse_delete;
DROP TRIGGER revisions_refuse_update;
DROP TABLE revisions;
DROP TABLE templates;
