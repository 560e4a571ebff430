DROP INDEX events_org_at;
