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

-- 0010_create_activity_hourly
CREATE TABLE IF NOT EXISTS `audit`.`audit_activity_hourly_local` ON CLUSTER `audit_cluster` (
    tenant_id     LowCardinality(String),
    hour          DateTime('UTC') CODEC(Delta, ZSTD(1)),
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    outcome       Enum8('success' = 1, 'failure' = 2),
    events        UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/audit/audit_activity_hourly_local', '{replica}', events)
PARTITION BY toYYYYMM(hour)

ORDER BY (tenant_id, hour, activity_type, severity, outcome)
TTL hour + toIntervalDay(400)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `audit`.`audit_activity_hourly` ON CLUSTER `audit_cluster` AS `audit`.`audit_activity_hourly_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_activity_hourly_local`, cityHash64(tenant_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_activity_hourly_mv` ON CLUSTER `audit_cluster` TO `audit`.`audit_activity_hourly_local` AS SELECT
    tenant_id,
    toStartOfHour(toDateTime(timestamp, 'UTC')) AS hour,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM `audit`.`audit_activities_local`
GROUP BY tenant_id, hour, activity_type, severity, outcome;

INSERT INTO `audit`.audit_activity_hourly (tenant_id, hour, activity_type, severity, outcome, events)
SELECT
    tenant_id,
    toStartOfHour(toDateTime(timestamp, 'UTC')) AS hour,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM `audit`.audit_activities
WHERE (SELECT count() FROM `audit`.audit_activity_hourly) = 0
GROUP BY tenant_id, hour, activity_type, severity, outcome;

-- 0011_create_activity_daily
CREATE TABLE IF NOT EXISTS `audit`.`audit_activity_daily_local` ON CLUSTER `audit_cluster` (
    tenant_id     LowCardinality(String),
    day           Date CODEC(Delta, ZSTD(1)),
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    outcome       Enum8('success' = 1, 'failure' = 2),
    events        UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/audit/audit_activity_daily_local', '{replica}', events)
PARTITION BY toYear(day)
ORDER BY (tenant_id, day, activity_type, severity, outcome)
TTL day + toIntervalDay(1830)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `audit`.`audit_activity_daily` ON CLUSTER `audit_cluster` AS `audit`.`audit_activity_daily_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_activity_daily_local`, cityHash64(tenant_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_activity_daily_mv` ON CLUSTER `audit_cluster` TO `audit`.`audit_activity_daily_local` AS SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM `audit`.`audit_activities_local`
GROUP BY tenant_id, day, activity_type, severity, outcome;

INSERT INTO `audit`.audit_activity_daily (tenant_id, day, activity_type, severity, outcome, events)
SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    activity_type,
    severity,
    outcome,
    count() AS events
FROM `audit`.audit_activities
WHERE (SELECT count() FROM `audit`.audit_activity_daily) = 0
GROUP BY tenant_id, day, activity_type, severity, outcome;

-- 0012_create_user_daily
CREATE TABLE IF NOT EXISTS `audit`.`audit_user_daily_local` ON CLUSTER `audit_cluster` (
    tenant_id LowCardinality(String),
    day       Date CODEC(Delta, ZSTD(1)),
    user_id   String CODEC(ZSTD(1)),
    events    UInt64,
    failures  UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/audit/audit_user_daily_local', '{replica}', (events, failures))
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, user_id)
TTL day + toIntervalDay(400)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `audit`.`audit_user_daily` ON CLUSTER `audit_cluster` AS `audit`.`audit_user_daily_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_user_daily_local`, cityHash64(tenant_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_user_daily_mv` ON CLUSTER `audit_cluster` TO `audit`.`audit_user_daily_local` AS SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    user_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.`audit_activities_local`
GROUP BY tenant_id, day, user_id;

INSERT INTO `audit`.audit_user_daily (tenant_id, day, user_id, events, failures)
SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    user_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.audit_activities
WHERE (SELECT count() FROM `audit`.audit_user_daily) = 0
GROUP BY tenant_id, day, user_id;

-- 0013_create_resource_daily
CREATE TABLE IF NOT EXISTS `audit`.`audit_resource_daily_local` ON CLUSTER `audit_cluster` (
    tenant_id     LowCardinality(String),
    day           Date CODEC(Delta, ZSTD(1)),
    resource_type LowCardinality(String),
    resource_id   String CODEC(ZSTD(1)),
    events        UInt64,
    failures      UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/audit/audit_resource_daily_local', '{replica}', (events, failures))
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, resource_type, resource_id)
TTL day + toIntervalDay(400)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `audit`.`audit_resource_daily` ON CLUSTER `audit_cluster` AS `audit`.`audit_resource_daily_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_resource_daily_local`, cityHash64(tenant_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_resource_daily_mv` ON CLUSTER `audit_cluster` TO `audit`.`audit_resource_daily_local` AS SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    resource_type,
    resource_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.`audit_activities_local`
WHERE resource_id != ''
GROUP BY tenant_id, day, resource_type, resource_id;

INSERT INTO `audit`.audit_resource_daily (tenant_id, day, resource_type, resource_id, events, failures)
SELECT
    tenant_id,
    toDate(timestamp, 'UTC') AS day,
    resource_type,
    resource_id,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.audit_activities
WHERE resource_id != '' AND (SELECT count() FROM `audit`.audit_resource_daily) = 0
GROUP BY tenant_id, day, resource_type, resource_id;

-- 0014_create_failures_minutely
CREATE TABLE IF NOT EXISTS `audit`.`audit_failures_minutely_local` ON CLUSTER `audit_cluster` (
    tenant_id     LowCardinality(String),
    minute        DateTime('UTC') CODEC(Delta, ZSTD(1)),
    activity_type LowCardinality(String),
    severity      Enum8('LOW' = 1, 'MEDIUM' = 2, 'HIGH' = 3, 'CRITICAL' = 4),
    failures      SimpleAggregateFunction(sum, UInt64),
    users         AggregateFunction(uniq, String),
    ip_addresses  AggregateFunction(uniq, String)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/audit/audit_failures_minutely_local', '{replica}') PARTITION BY toMonday(minute)
ORDER BY (tenant_id, minute, activity_type, severity)
TTL minute + toIntervalDay(90)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `audit`.`audit_failures_minutely` ON CLUSTER `audit_cluster` AS `audit`.`audit_failures_minutely_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_failures_minutely_local`, cityHash64(tenant_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_failures_minutely_mv` ON CLUSTER `audit_cluster` TO `audit`.`audit_failures_minutely_local` AS SELECT
    tenant_id,
    toStartOfMinute(toDateTime(timestamp, 'UTC')) AS minute,
    activity_type,
    severity,
    toUInt64(count()) AS failures,
    uniqState(user_id) AS users,
    uniqState(ip_address) AS ip_addresses
FROM `audit`.`audit_activities_local`
WHERE outcome = 'failure'
GROUP BY tenant_id, minute, activity_type, severity;

INSERT INTO `audit`.audit_failures_minutely (tenant_id, minute, activity_type, severity, failures, users, ip_addresses)
SELECT
    tenant_id,
    toStartOfMinute(toDateTime(timestamp, 'UTC')) AS minute,
    activity_type,
    severity,
    toUInt64(count()) AS failures,
    uniqState(user_id) AS users,
    uniqState(ip_address) AS ip_addresses
FROM `audit`.audit_activities
WHERE outcome = 'failure' AND (SELECT count() FROM `audit`.audit_failures_minutely) = 0
GROUP BY tenant_id, minute, activity_type, severity;

-- 0020_create_audit_archives
CREATE TABLE IF NOT EXISTS `audit`.`audit_archives_local` ON CLUSTER `audit_cluster` (
    seq                  UInt64,

    partition            String,
    severity             LowCardinality(String),

    file                 String,
    manifest             String,
    file_sha256          String,
    file_bytes           UInt64,
    manifest_sha256      String,
    prev_manifest_sha256 String,
    row_count            UInt64,
    first_timestamp      DateTime64(3, 'UTC'),
    last_timestamp       DateTime64(3, 'UTC'),

    cutoff               DateTime64(3, 'UTC'),
    schema_version       UInt32,
    key_id               String,
    created_at           DateTime64(3, 'UTC'),
    state                Enum8('archived' = 1, 'deleted' = 2),
    deleted_rows         UInt64 DEFAULT 0,
    deleted_at           Nullable(DateTime64(3, 'UTC')),
    version              UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/audit/audit_archives_local', '{replica}', version)
ORDER BY seq;

CREATE TABLE IF NOT EXISTS `audit`.`audit_archives` ON CLUSTER `audit_cluster` AS `audit`.`audit_archives_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_archives_local`, cityHash64(seq));

-- 0021_create_audit_archive_keys
CREATE TABLE IF NOT EXISTS `audit`.`audit_archive_keys_local` ON CLUSTER `audit_cluster` (
    seq         UInt64,
    tenant_id   String,
    id          UUID,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/audit_archive_keys_local', '{replica}') ORDER BY (seq, tenant_id, id);

CREATE TABLE IF NOT EXISTS `audit`.`audit_archive_keys` ON CLUSTER `audit_cluster` AS `audit`.`audit_archive_keys_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_archive_keys_local`, cityHash64(seq));

-- 0022_create_audit_restored
CREATE TABLE IF NOT EXISTS `audit`.`audit_restored_local` ON CLUSTER `audit_cluster` (
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/audit/audit_restored_local', '{replica}') ORDER BY (tenant_id, timestamp, id);

CREATE TABLE IF NOT EXISTS `audit`.`audit_restored` ON CLUSTER `audit_cluster` AS `audit`.`audit_restored_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_restored_local`, cityHash64(tenant_id));

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

-- 0060_add_id_time_index
ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` ADD INDEX IF NOT EXISTS idx_id_time UUIDv7ToDateTime(id) TYPE minmax GRANULARITY 1 FIRST;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MATERIALIZE INDEX idx_id_time;

-- 0061_tune_storage
ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MODIFY COLUMN id CODEC(ZSTD(3)),
    MODIFY COLUMN activity_type CODEC(ZSTD(1)),
    MODIFY COLUMN severity CODEC(ZSTD(1)),
    MODIFY COLUMN action CODEC(ZSTD(1)),
    MODIFY COLUMN outcome CODEC(ZSTD(1)),
    MODIFY COLUMN resource_type CODEC(ZSTD(1)),
    MODIFY COLUMN user_id CODEC(ZSTD(3)),
    MODIFY COLUMN resource_id CODEC(ZSTD(3)),
    MODIFY COLUMN ip_address CODEC(ZSTD(3)),
    MODIFY COLUMN description CODEC(ZSTD(9)),
    MODIFY COLUMN details CODEC(ZSTD(9));

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` DROP INDEX IF EXISTS idx_request_id;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` DROP INDEX IF EXISTS idx_id;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` ADD INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 1 AFTER idx_id_time;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MATERIALIZE INDEX idx_id;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` DROP INDEX IF EXISTS idx_description;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` ADD INDEX idx_description lower(description) TYPE ngrambf_v1(3, 2048, 2, 0) GRANULARITY 1;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MATERIALIZE INDEX idx_description;

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

-- 0080_compact_integrity_codecs
ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MODIFY COLUMN hash CODEC(ZSTD(3)),
    MODIFY COLUMN prev_hash CODEC(ZSTD(3)),
    MODIFY COLUMN pii_mac CODEC(ZSTD(3)),
    MODIFY COLUMN seq UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    MODIFY COLUMN received_at DateTime64(3, 'UTC') CODEC(T64, ZSTD(3));

-- 0100_create_audit_stream_heads
CREATE TABLE IF NOT EXISTS `audit`.`audit_stream_heads_local` ON CLUSTER `audit_cluster` (
    tenant_id       LowCardinality(String),
    stream          LowCardinality(String),
    max_seq         SimpleAggregateFunction(max, UInt64),
    min_received_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    max_received_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_stored_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/audit/audit_stream_heads_local', '{replica}') ORDER BY (tenant_id, stream);

CREATE TABLE IF NOT EXISTS `audit`.`audit_stream_heads` ON CLUSTER `audit_cluster` AS `audit`.`audit_stream_heads_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_stream_heads_local`, cityHash64(tenant_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_stream_heads_mv` ON CLUSTER `audit_cluster` TO `audit`.`audit_stream_heads_local` AS SELECT
    tenant_id,
    stream,
    max(seq) AS max_seq,
    min(received_at) AS min_received_at,
    max(received_at) AS max_received_at,
    now64(3) AS last_stored_at
FROM `audit`.`audit_activities_local`
GROUP BY tenant_id, stream;

INSERT INTO `audit`.audit_stream_heads (tenant_id, stream, max_seq, min_received_at, max_received_at, last_stored_at)
SELECT tenant_id, stream, max(seq), min(received_at), max(received_at), max(received_at)
FROM `audit`.audit_activities
WHERE (SELECT count() FROM `audit`.audit_stream_heads) = 0
GROUP BY tenant_id, stream;

-- 0101_create_audit_sink_checkpoints
CREATE TABLE IF NOT EXISTS `audit`.`audit_sink_checkpoints_local` ON CLUSTER `audit_cluster` (
    sink        LowCardinality(String),
    tenant_id   LowCardinality(String),
    stream      String,
    seq         UInt64,
    received_at DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/audit/audit_sink_checkpoints_local', '{replica}', seq)
ORDER BY (sink, tenant_id, stream);

CREATE TABLE IF NOT EXISTS `audit`.`audit_sink_checkpoints` ON CLUSTER `audit_cluster` AS `audit`.`audit_sink_checkpoints_local` ENGINE = Distributed(`audit_cluster`, `audit`, `audit_sink_checkpoints_local`, cityHash64(tenant_id));

-- 0102_add_received_at_index
ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` ADD INDEX IF NOT EXISTS idx_received_at received_at TYPE minmax GRANULARITY 1;

ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MATERIALIZE INDEX idx_received_at;
