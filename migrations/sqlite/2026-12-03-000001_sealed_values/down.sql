DROP TRIGGER sealed_values_refuse_revision_delete;
DROP TRIGGER sealed_values_keep_place;
DROP TABLE sealed_values;
