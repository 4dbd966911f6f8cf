-- Daily event counts per tenant, by activity_type, severity and outcome: the summary API
-- (GET /api/v1/audit/summary) and long-range Grafana charts read this table.
-- How the views, their backfill and their TTL work: see 0010_create_activity_hourly.sql.
--
-- Five years of days: a few hundred rows per tenant per day at most, cheap to keep, so trends
-- survive long after raw rows (and the hourly table) are gone. Yearly partitions: five of them.
CREATE TABLE IF NOT EXISTS {{database}}.audit_activity_daily
(
    tenant_id     LowCardinality(String),
    day           Date CODEC(Delta, ZSTD(1)),
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    outcome       Enum8('success' = 1, 'failure' = 2),
    events        UInt64
)
ENGINE = SummingMergeTree(events)
PARTITION BY toYear(day)
ORDER BY (tenant_id, day, activity_type, severity, outcome)
TTL day + toIntervalDay(1830)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.audit_activity_daily_mv
TO {{database}}.audit_activity_daily
AS SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM {{database}}.audit_activities
GROUP BY tenant_id, day, activity_type, severity, outcome;

INSERT INTO {{database}}.audit_activity_daily (tenant_id, day, activity_type, severity, outcome, events)
SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM {{database}}.audit_activities
WHERE (SELECT count() FROM {{database}}.audit_activity_daily) = 0
GROUP BY tenant_id, day, activity_type, severity, outcome;
