DROP TABLE attachments;
DROP TABLE pipelines;
DROP TABLE revisions;
DROP FUNCTION revisions_refuse_change();
DROP TABLE templates;
