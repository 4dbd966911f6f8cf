-- Tamper evidence (src/integrity): every event is a link in a hash chain. A chain is one
-- (tenant_id, stream) pair; a stream is one writer process lifetime, so replicas never share one.
--   seq       position in the chain, 1, 2, 3 ... (Delta: consecutive within a stream's rows)
--   prev_hash hash of the previous link (or the chain's genesis value); 64 hex chars
--   hash      HMAC-SHA256 over the canonical form of this row (README: Integrity and erasure)
--   pii_mac   HMAC-SHA256 over the personal fields, which enter `hash` only through it, so
--             erasing them later leaves the chain verifiable
--   erasure   set by an erasure: "<erasure event id>:<MAC over the erased row's personal fields>"
-- Hashes are random-looking hex: ZSTD gains little, LowCardinality nothing; plain String.
ALTER TABLE {{database}}.audit_activities
    ADD COLUMN IF NOT EXISTS stream    LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS seq       UInt64 DEFAULT 0 CODEC(Delta, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS prev_hash String DEFAULT '',
    ADD COLUMN IF NOT EXISTS hash      String DEFAULT '',
    ADD COLUMN IF NOT EXISTS pii_mac   String DEFAULT '',
    ADD COLUMN IF NOT EXISTS erasure   String DEFAULT '';

-- One row per stream: which writer instance, and the canonicalization parameters in force
-- (which details keys and resource types were personal), bound into each chain's genesis.
CREATE TABLE IF NOT EXISTS {{database}}.integrity_streams
(
    stream     String,
    instance   String,
    started_at DateTime64(3, 'UTC'),
    params     String
)
ENGINE = MergeTree
ORDER BY stream;

-- Signed chain heads (compact JWS, Ed25519). `final` seals a stream at shutdown: nothing may
-- follow it. The columns repeat the signed payload so the walk can sort by them; the walk
-- trusts only the payload.
CREATE TABLE IF NOT EXISTS {{database}}.integrity_checkpoints
(
    tenant_id  LowCardinality(String),
    stream     LowCardinality(String),
    seq        UInt64,
    hash       String,
    kind       Enum8('head' = 1, 'final' = 2),
    created_at DateTime64(3, 'UTC'),
    jws        String CODEC(ZSTD(1))
)
ENGINE = MergeTree
ORDER BY (tenant_id, stream, seq, created_at);

-- Retention cuts: runs of consecutive links [first_seq, last_seq] that the retention job deleted,
-- with the hashes on both edges and a MAC, so the verifier can bridge the gap (a deletion it
-- was told about, by the key holder) yet still reports any other missing link as deleted.
CREATE TABLE IF NOT EXISTS {{database}}.integrity_cuts
(
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
ENGINE = MergeTree
ORDER BY (tenant_id, stream, first_seq);

-- Rows stored before this migration carry no chain; the verifier counts them as legacy
-- (received before this instant) instead of calling them forged.
INSERT INTO {{database}}.audit_meta (key, value)
SELECT 'integrity.chained_since', toString(toUnixTimestamp64Milli(now64(3)))
WHERE NOT EXISTS (SELECT 1 FROM {{database}}.audit_meta WHERE key = 'integrity.chained_since');
