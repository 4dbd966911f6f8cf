-- The sinks read "events of these streams received since T" (src/sinks/feed.ts). The sort key is
-- by event time (timestamp), which says little about when an event arrived (imports, late
-- delivery), so a minmax index on received_at lets that read skip every granule that arrived
-- before T: once caught up, a sink's poll reads the newest granules only, not the table.
-- 16 bytes per granule; MATERIALIZE builds it for rows already stored.
ALTER TABLE {{database}}.audit_activities
    ADD INDEX IF NOT EXISTS idx_received_at received_at TYPE minmax GRANULARITY 1;

ALTER TABLE {{database}}.audit_activities MATERIALIZE INDEX idx_received_at;
