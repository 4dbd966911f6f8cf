-- Failed events (outcome = 'failure') per tenant and minute, by activity_type and severity,
-- with how many distinct users and source addresses failed: the "burst of failed logins"
-- alert and the failure panels read this, so they stay cheap however large the log grows.
-- How the views, their backfill and their TTL work: see 0010_create_activity_hourly.sql.
--
-- AggregatingMergeTree: `failures` sums like in the other tables (SimpleAggregateFunction),
-- and the distinct counts are uniq states merged at read time with uniqMerge(). The states
-- hold hashes of user ids and addresses, not the values themselves.
-- Minutes are many, so 90 days: beyond that the hourly table has the failure counts.
-- Weekly partitions: few enough parts for inserts that span days (late or imported events),
-- small enough that expired weeks drop whole (ttl_only_drop_parts) soon after 90 days.
CREATE TABLE IF NOT EXISTS {{database}}.audit_failures_minutely
(
    tenant_id     LowCardinality(String),
    minute        DateTime('UTC') CODEC(Delta, ZSTD(1)),
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    failures      SimpleAggregateFunction(sum, UInt64),
    users         AggregateFunction(uniq, String),
    ip_addresses  AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toMonday(minute)
ORDER BY (tenant_id, minute, activity_type, severity)
TTL minute + toIntervalDay(90)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.audit_failures_minutely_mv
TO {{database}}.audit_failures_minutely
AS SELECT
    tenant_id,
    toStartOfMinute(toDateTime(timestamp, 'UTC')) AS minute,
    activity_type,
    severity,
    toUInt64(count()) AS failures,
    uniqState(user_id) AS users,
    uniqState(ip_address) AS ip_addresses
FROM {{database}}.audit_activities
WHERE outcome = 'failure'
GROUP BY tenant_id, minute, activity_type, severity;

INSERT INTO {{database}}.audit_failures_minutely (tenant_id, minute, activity_type, severity, failures, users, ip_addresses)
SELECT
    tenant_id,
    toStartOfMinute(toDateTime(timestamp, 'UTC')) AS minute,
    activity_type,
    severity,
    toUInt64(count()) AS failures,
    uniqState(user_id) AS users,
    uniqState(ip_address) AS ip_addresses
FROM {{database}}.audit_activities
WHERE outcome = 'failure' AND (SELECT count() FROM {{database}}.audit_failures_minutely) = 0
GROUP BY tenant_id, minute, activity_type, severity;
