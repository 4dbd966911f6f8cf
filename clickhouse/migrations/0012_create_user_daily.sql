-- Events and failures per tenant, day and user: "top users" in the summary API and Grafana.
-- How the views, their backfill and their TTL work: see 0010_create_activity_hourly.sql.
--
-- user_id is personal data, so this table keeps it 400 days, not five years: a little longer
-- than the longest default raw retention (365), enough for a year of top-user lists.
-- Erasure must reach it too: src/analytics/views.ts forgetUserInViews() removes or
-- re-attributes a user's rows here.
CREATE TABLE IF NOT EXISTS {{database}}.audit_user_daily
(
    tenant_id LowCardinality(String),
    day       Date CODEC(Delta, ZSTD(1)),
    user_id   String CODEC(ZSTD(1)),
    events    UInt64,
    failures  UInt64
)
ENGINE = SummingMergeTree((events, failures))
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, user_id)
TTL day + toIntervalDay(400)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.audit_user_daily_mv
TO {{database}}.audit_user_daily
AS SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    user_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM {{database}}.audit_activities
GROUP BY tenant_id, day, user_id;

INSERT INTO {{database}}.audit_user_daily (tenant_id, day, user_id, events, failures)
SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    user_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM {{database}}.audit_activities
WHERE (SELECT count() FROM {{database}}.audit_user_daily) = 0
GROUP BY tenant_id, day, user_id;
