-- The change feed of audit_activities for the sinks (src/sinks): per tenant and writer stream,
-- how far the stored events go. Sinks read events in (stream, seq) order per tenant; this tiny
-- table tells them which streams have events past their checkpoint, and from which received_at
-- on to look (min_received_at bounds a stream they have never seen, e.g. a new stream that
-- replays an old write-ahead log, whose received_at values are older than anything delivered).
--
-- Fed by a materialized view, i.e. by every insert into audit_activities, whichever path made it
-- (direct, spool replay, a write-ahead log): a row becomes visible here when its events do,
-- however late that is after their received_at. No change to the writer, no scan of the big
-- table to find new events.
--
-- SimpleAggregateFunction columns under AggregatingMergeTree: merges keep one row per
-- (tenant_id, stream); readers still aggregate (max/min ... GROUP BY), exact before merges too.
-- min/max are idempotent, so the backfill below may overlap the view without harm.
-- last_stored_at: when the last insert of the stream happened (server clock), so a sink can tell
-- rows that are gone (retention, erasure) from rows not visible yet.
CREATE TABLE IF NOT EXISTS {{database}}.audit_stream_heads
(
    tenant_id       LowCardinality(String),
    stream          LowCardinality(String),
    max_seq         SimpleAggregateFunction(max, UInt64),
    min_received_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    max_received_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_stored_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, stream);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.audit_stream_heads_mv
TO {{database}}.audit_stream_heads
AS SELECT
    tenant_id,
    stream,
    max(seq) AS max_seq,
    min(received_at) AS min_received_at,
    max(received_at) AS max_received_at,
    now64(3) AS last_stored_at
FROM {{database}}.audit_activities
GROUP BY tenant_id, stream;

INSERT INTO {{database}}.audit_stream_heads (tenant_id, stream, max_seq, min_received_at, max_received_at, last_stored_at)
SELECT tenant_id, stream, max(seq), min(received_at), max(received_at), max(received_at)
FROM {{database}}.audit_activities
WHERE (SELECT count() FROM {{database}}.audit_stream_heads) = 0
GROUP BY tenant_id, stream;
