ALTER TABLE pipelines DROP COLUMN secret_parameters;
