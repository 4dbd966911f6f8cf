-- bootstrap
CREATE DATABASE IF NOT EXISTS `audit` ON CLUSTER `audit_cluster`;

CREATE TABLE IF NOT EXISTS `audit`.`schema_migrations_local` ON CLUSTER `audit_cluster` (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
     ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/schema_migrations_local', '{replica}') ORDER BY version;

CREATE TABLE IF NOT EXISTS `audit`.`schema_migrations` ON CLUSTER `audit_cluster` AS `audit`.`schema_migrations_local` ENGINE = Distributed(`audit_cluster`, `audit`, `schema_migrations_local`, rand());

CREATE TABLE IF NOT EXISTS `audit`.`audit_meta_local` ON CLUSTER `audit_cluster` (key String, value String, updated_at DateTime64(3, 'UTC') DEFAULT now64(3))
     ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/audit/audit_meta_local', '{replica}', updated_at) ORDER BY key;

CREATE TABLE IF NOT EXISTS `audit`.`audit_meta` ON CLUSTER `audit_cluster` AS `audit`.`audit_meta_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_meta_local`, rand());

-- 0001_create_audit_activities
CREATE TABLE IF NOT EXISTS `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` (
    id            UUID,
    tenant_id     LowCardinality(String),

    timestamp     DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    received_at   DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),

    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    action        LowCardinality(String),
    outcome       Enum8('success' = 1, 'failure' = 2),
    resource_type LowCardinality(String),
    user_agent    LowCardinality(String) CODEC(ZSTD(1)),

    user_id       String CODEC(ZSTD(1)),
    resource_id   String CODEC(ZSTD(1)),
    ip_address    String CODEC(ZSTD(1)),
    request_id    String CODEC(ZSTD(1)),
    description   String CODEC(ZSTD(3)),

    details       String CODEC(ZSTD(3)),


    INDEX idx_id          id          TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user_id     user_id     TYPE bloom_filter(0.01)  GRANULARITY 1,
    INDEX idx_resource_id resource_id TYPE bloom_filter(0.01)  GRANULARITY 1,
    INDEX idx_request_id  request_id  TYPE bloom_filter(0.01)  GRANULARITY 1,

    INDEX idx_description lower(description) TYPE ngrambf_v1(3, 8192, 2, 0) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/audit_activities_local', '{replica}') PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, timestamp, id)

SETTINGS index_granularity = 2048;

CREATE TABLE IF NOT EXISTS `audit`.`audit_activities` ON CLUSTER `audit_cluster` AS `audit`.`audit_activities_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_activities_local`, cityHash64(tenant_id));

-- 0070_create_audit_leases
CREATE TABLE IF NOT EXISTS `audit`.`audit_leases_local` ON CLUSTER `audit_cluster` (
    name        LowCardinality(String),
    slot        String,
    holder      String,
    acquired_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/audit_leases_local', '{replica}') ORDER BY (name, slot)
TTL toDateTime(acquired_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `audit`.`audit_leases` ON CLUSTER `audit_cluster` AS `audit`.`audit_leases_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_leases_local`, cityHash64(name));
