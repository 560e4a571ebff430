DROP TABLE sealed_values;
DROP FUNCTION sealed_values_guard();
