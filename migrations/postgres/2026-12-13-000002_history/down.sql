DROP TABLE history_horizons;
DROP TABLE history_sealed_values;
DROP TABLE config_history;
