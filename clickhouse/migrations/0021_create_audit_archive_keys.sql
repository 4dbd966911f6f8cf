-- Staging for exact deletion: the row keys read back from a verified archive file. The retention
-- job deletes `(tenant_id, id, received_at) IN (keys of the archive)`, never "everything matching
-- the archive's predicate", so a row that arrived after the export with an old timestamp (same
-- partition, same severity, already expired) is not deleted unarchived: it is not in the file.
-- received_at makes the key a stored row, not an event id: an event re-posted after its archived
-- copy was deleted is a new row and is not touched by a replayed deletion.
-- Short-lived: truncated at the start and end of every retention run.
CREATE TABLE IF NOT EXISTS {{database}}.audit_archive_keys
(
    seq         UInt64,
    tenant_id   String,
    id          UUID,
    received_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (seq, tenant_id, id);
