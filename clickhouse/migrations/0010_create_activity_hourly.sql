-- Hourly event counts per tenant, by activity_type, severity and outcome: what the Grafana
-- time-series panels read, so a chart over months reads thousands of rows, not millions.
--
-- How the analytics views (0010 to 0014) work, and why:
-- * A materialized view is an insert trigger: every block inserted into audit_activities is
--   aggregated and the result appended to the view's target table. Deletes on the source (the
--   retention job, the per-severity TTL, erasure of raw rows) never reach the target. That is
--   the point: trends outlive raw retention, and each target has its own, longer TTL.
-- * Targets are SummingMergeTree (AggregatingMergeTree where they hold uniq states). Background
--   merges collapse rows with the same key at some point, never guaranteed, so every read
--   aggregates again (sum(events) ... GROUP BY), which is exact whether parts merged or not.
-- * Backfill: the view is created first, then the rows already stored are copied by one
--   INSERT ... SELECT. A SELECT reads the snapshot of parts that exists when it starts, so it
--   sees exactly the rows stored before it, and rows inserted after the view exists go through
--   the view. The only overlap is a row inserted by ANOTHER writer in the milliseconds between
--   the two statements: the service runs migrations before its writer starts, so a single
--   instance never has one (with several instances, run `audithouse migrate` before rolling out).
-- * The backfill runs only while the target is empty, so re-running this file after a crash
--   between the two statements cannot count the same rows twice.
-- * Counts are by event time (timestamp), like every other read of the audit log.
--
-- 400 days (13 months) of hours: a year-over-year chart still has data after the raw rows of
-- its period are gone (CRITICAL, the longest default retention, keeps 365 days).
-- ttl_only_drop_parts: parts (one month each) are dropped whole once expired, never rewritten.
CREATE TABLE IF NOT EXISTS {{database}}.audit_activity_hourly
(
    tenant_id     LowCardinality(String),
    hour          DateTime('UTC') CODEC(Delta, ZSTD(1)),
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    outcome       Enum8('success' = 1, 'failure' = 2),
    events        UInt64
)
ENGINE = SummingMergeTree(events)
PARTITION BY toYYYYMM(hour)
-- Every chart filters by tenant and time first, then groups by one of the other key columns.
ORDER BY (tenant_id, hour, activity_type, severity, outcome)
TTL hour + toIntervalDay(400)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.audit_activity_hourly_mv
TO {{database}}.audit_activity_hourly
AS SELECT
    tenant_id,
    toStartOfHour(toDateTime(timestamp, 'UTC')) AS hour,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM {{database}}.audit_activities
GROUP BY tenant_id, hour, activity_type, severity, outcome;

INSERT INTO {{database}}.audit_activity_hourly (tenant_id, hour, activity_type, severity, outcome, events)
SELECT
    tenant_id,
    toStartOfHour(toDateTime(timestamp, 'UTC')) AS hour,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM {{database}}.audit_activities
WHERE (SELECT count() FROM {{database}}.audit_activity_hourly) = 0
GROUP BY tenant_id, hour, activity_type, severity, outcome;
