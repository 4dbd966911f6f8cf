-- The archive catalog: every archive file the retention job committed, in chain order (seq).
--
-- A row is written only after the file was fsynced, re-read and its checksum verified, and the
-- signed manifest was in place; rows of the archive are deleted from audit_activities only after
-- that. A state change (archived → deleted) inserts a newer version of the same seq, so the table
-- is append-only and ReplacingMergeTree(version) keeps the latest; readers use FINAL (the table
-- holds one row per archive: a few per day, FINAL costs nothing).
CREATE TABLE IF NOT EXISTS {{database}}.audit_archives
(
    seq                  UInt64,
    -- Month partition of audit_activities (toYYYYMM(timestamp)) and severity the file holds.
    partition            String,
    severity             LowCardinality(String),
    -- Paths relative to AUDIT_ARCHIVE_LOCATION.
    file                 String,
    manifest             String,
    file_sha256          String,
    file_bytes           UInt64,
    manifest_sha256      String,
    prev_manifest_sha256 String,
    row_count            UInt64,
    first_timestamp      DateTime64(3, 'UTC'),
    last_timestamp       DateTime64(3, 'UTC'),
    -- The archive holds rows of this partition and severity with timestamp < cutoff.
    cutoff               DateTime64(3, 'UTC'),
    schema_version       UInt32,
    key_id               String,
    created_at           DateTime64(3, 'UTC'),
    state                Enum8('archived' = 1, 'deleted' = 2),
    deleted_rows         UInt64 DEFAULT 0,
    deleted_at           Nullable(DateTime64(3, 'UTC')),
    version              UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY seq;
