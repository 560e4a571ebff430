-- A pipeline's secret parameters: key -> `enc:v2:<version>`. The values are
-- sealed in `sealed_values` (owner_kind 'pipeline', field path
-- `/secret_parameters/<KEY>`), bound to their place; this column holds only
-- references, so no credential is ever in it.
ALTER TABLE pipelines ADD COLUMN secret_parameters TEXT NOT NULL DEFAULT '{}';
