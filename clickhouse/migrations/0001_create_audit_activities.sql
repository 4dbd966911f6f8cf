-- The audit log itself: one row per accepted event, a column per contract field.
--
-- Sort key (tenant_id, timestamp, id): every read is tenant-scoped and time-ordered (the feed is
-- "latest N for a tenant"), so a tenant's events sit together in time order and the newest-first
-- feed is a reverse in-order read of one key range. `id` last makes (timestamp, id) a unique,
-- stable keyset for cursors.
-- Partitions are months: retention and archives work per month, and old months stop merging.
-- Plain MergeTree, not Replacing: duplicates are refused at write time (the writer looks up ids
-- before inserting), and an engine that silently collapses rows has no place in an audit log.
-- TTL is not here: it is derived from the AUDIT_RETENTION_* settings and reconciled at every
-- start (src/retention/policy.ts), so changing a setting needs no new migration.
CREATE TABLE IF NOT EXISTS {{database}}.audit_activities
(
    id            UUID,
    tenant_id     LowCardinality(String),
    -- Delta suits monotone-ish timestamps within a granule; ZSTD squeezes what is left.
    timestamp     DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    received_at   DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    -- Few distinct values per column: dictionary-encoded.
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    action        LowCardinality(String),
    outcome       Enum8('success' = 1, 'failure' = 2),
    resource_type LowCardinality(String),
    user_agent    LowCardinality(String) CODEC(ZSTD(1)),
    -- High-cardinality identifiers and free text.
    user_id       String CODEC(ZSTD(1)),
    resource_id   String CODEC(ZSTD(1)),
    ip_address    String CODEC(ZSTD(1)),
    request_id    String CODEC(ZSTD(1)),
    description   String CODEC(ZSTD(3)),
    -- The event's `details` object as JSON text (already redacted).
    details       String CODEC(ZSTD(3)),

    -- Skip indexes for the lookups users make outside the sort key. Bloom filters answer
    -- "which granules may hold this value" for equality and IN.
    INDEX idx_id          id          TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user_id     user_id     TYPE bloom_filter(0.01)  GRANULARITY 1,
    INDEX idx_resource_id resource_id TYPE bloom_filter(0.01)  GRANULARITY 1,
    INDEX idx_request_id  request_id  TYPE bloom_filter(0.01)  GRANULARITY 1,
    -- Free-text search in description (q=...): lower-cased trigram bloom filter.
    INDEX idx_description lower(description) TYPE ngrambf_v1(3, 8192, 2, 0) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, timestamp, id)
-- Smaller granules than the 8192 default: point reads (by id, by user) touch fewer rows.
SETTINGS index_granularity = 2048;
