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

-- 0030_add_integrity_chain
ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` ADD COLUMN IF NOT EXISTS stream    LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS seq       UInt64 DEFAULT 0 CODEC(Delta, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS prev_hash String DEFAULT '',
    ADD COLUMN IF NOT EXISTS hash      String DEFAULT '',
    ADD COLUMN IF NOT EXISTS pii_mac   String DEFAULT '',
    ADD COLUMN IF NOT EXISTS erasure   String DEFAULT '';

ALTER TABLE `audit`.`audit_activities` ON CLUSTER `audit_cluster` ADD COLUMN IF NOT EXISTS stream    LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS seq       UInt64 DEFAULT 0 CODEC(Delta, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS prev_hash String DEFAULT '',
    ADD COLUMN IF NOT EXISTS hash      String DEFAULT '',
    ADD COLUMN IF NOT EXISTS pii_mac   String DEFAULT '',
    ADD COLUMN IF NOT EXISTS erasure   String DEFAULT '';

CREATE TABLE IF NOT EXISTS `audit`.`integrity_streams_local` ON CLUSTER `audit_cluster` (
    stream     String,
    instance   String,
    started_at DateTime64(3, 'UTC'),
    params     String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/integrity_streams_local', '{replica}') ORDER BY stream;

CREATE TABLE IF NOT EXISTS `audit`.`integrity_streams` ON CLUSTER `audit_cluster` AS `audit`.`integrity_streams_local` ENGINE = Distributed(`audit_cluster`, `audit`, `integrity_streams_local`, rand());

CREATE TABLE IF NOT EXISTS `audit`.`integrity_checkpoints_local` ON CLUSTER `audit_cluster` (
    tenant_id  LowCardinality(String),
    stream     LowCardinality(String),
    seq        UInt64,
    hash       String,
    kind       Enum8('head' = 1, 'final' = 2),
    created_at DateTime64(3, 'UTC'),
    jws        String CODEC(ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/integrity_checkpoints_local', '{replica}') ORDER BY (tenant_id, stream, seq, created_at);

CREATE TABLE IF NOT EXISTS `audit`.`integrity_checkpoints` ON CLUSTER `audit_cluster` AS `audit`.`integrity_checkpoints_local` ENGINE = Distributed(`audit_cluster`, `audit`, `integrity_checkpoints_local`, cityHash64(tenant_id));

CREATE TABLE IF NOT EXISTS `audit`.`integrity_cuts_local` ON CLUSTER `audit_cluster` (
    tenant_id  LowCardinality(String),
    stream     LowCardinality(String),
    first_seq  UInt64,
    last_seq   UInt64,
    prev_hash  String,
    last_hash  String,
    run_id     String,
    created_at DateTime64(3, 'UTC'),
    mac        String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/integrity_cuts_local', '{replica}') ORDER BY (tenant_id, stream, first_seq);

CREATE TABLE IF NOT EXISTS `audit`.`integrity_cuts` ON CLUSTER `audit_cluster` AS `audit`.`integrity_cuts_local` ENGINE = Distributed(`audit_cluster`, `audit`, `integrity_cuts_local`, cityHash64(tenant_id));

INSERT INTO `audit`.audit_meta (key, value)
SELECT 'integrity.chained_since', toString(toUnixTimestamp64Milli(now64(3)))
WHERE NOT EXISTS (SELECT 1 FROM `audit`.audit_meta WHERE key = 'integrity.chained_since');

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
