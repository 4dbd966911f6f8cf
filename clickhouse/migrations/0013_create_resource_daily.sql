-- Events and failures per tenant, day and resource: "top resources" in the summary API and
-- Grafana. Events without a resource (resource_id '') are not a resource and are left out.
-- How the views, their backfill and their TTL work: see 0010_create_activity_hourly.sql.
-- 400 days, like audit_user_daily: resource ids can name people too (a user's profile, a file).
CREATE TABLE IF NOT EXISTS {{database}}.audit_resource_daily
(
    tenant_id     LowCardinality(String),
    day           Date CODEC(Delta, ZSTD(1)),
    resource_type LowCardinality(String),
    resource_id   String CODEC(ZSTD(1)),
    events        UInt64,
    failures      UInt64
)
ENGINE = SummingMergeTree((events, failures))
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, resource_type, resource_id)
TTL day + toIntervalDay(400)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.audit_resource_daily_mv
TO {{database}}.audit_resource_daily
AS SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    resource_type,
    resource_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM {{database}}.audit_activities
WHERE resource_id != ''
GROUP BY tenant_id, day, resource_type, resource_id;

INSERT INTO {{database}}.audit_resource_daily (tenant_id, day, resource_type, resource_id, events, failures)
SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    resource_type,
    resource_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM {{database}}.audit_activities
WHERE resource_id != '' AND (SELECT count() FROM {{database}}.audit_resource_daily) = 0
GROUP BY tenant_id, day, resource_type, resource_id;
