-- The token of the claim that owns an in-flight key (a ULID drawn when the key is claimed): the
-- change that records the key's response must hold it, so a request whose claim was taken over
-- (abandoned after a minute) cannot record, and its change rolls back.
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
