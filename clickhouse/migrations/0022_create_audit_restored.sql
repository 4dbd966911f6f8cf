-- Events re-imported from archives by `audithouse archive restore`, for investigation.
--
-- A table of its own, not audit_activities: restored rows are long expired, so in the live table
-- the next retention run would archive them again (a second copy in the chain) and delete them;
-- and the query API, dashboards and retention never read or touch this table. It has no TTL:
-- restored rows stay until an operator drops them (TRUNCATE TABLE audit_restored) when the
-- investigation ends. archive_* columns say which archive each row came from; a restore of the
-- same archive twice is skipped (see src/archive/restore.ts). Columns an archive carries that this
-- table lacks (a newer audit_activities schema) are added by the restore before importing.
CREATE TABLE IF NOT EXISTS {{database}}.audit_restored
(
    id             UUID,
    tenant_id      LowCardinality(String),
    timestamp      DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    received_at    DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    activity_type  LowCardinality(String),
    severity       Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    action         LowCardinality(String),
    outcome        Enum8('success' = 1, 'failure' = 2),
    resource_type  LowCardinality(String),
    user_agent     LowCardinality(String) CODEC(ZSTD(1)),
    user_id        String CODEC(ZSTD(1)),
    resource_id    String CODEC(ZSTD(1)),
    ip_address     String CODEC(ZSTD(1)),
    request_id     String CODEC(ZSTD(1)),
    description    String CODEC(ZSTD(3)),
    details        String CODEC(ZSTD(3)),
    archive_seq    UInt64,
    archive_file   String,
    archive_sha256 String,
    restored_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (tenant_id, timestamp, id);
