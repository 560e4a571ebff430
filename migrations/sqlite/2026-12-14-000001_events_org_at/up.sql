-- A pipeline's config at a past instant (`?at=`) first turns the instant
-- into the org's last event by then: `max(seq) WHERE org_id = ? AND at <= ?`.
-- The primary key (org_id, seq) does not order an org's events by time, so
-- without this index that lookup reads every event the org keeps.
CREATE INDEX events_org_at ON events (org_id, at, seq);
