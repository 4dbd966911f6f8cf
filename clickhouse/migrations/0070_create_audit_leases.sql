-- Leases for work that must run once per deployment even with several service replicas
-- (the retention job). Acquisition is an INSERT with an insert_deduplication_token naming the
-- lease and its slot: ClickHouse keeps only the first insert of a token (non-replicated
-- deduplication here; Keeper-backed deduplication on a ReplicatedMergeTree in a cluster), so
-- exactly one holder wins each slot, with no coordinator besides ClickHouse itself.
CREATE TABLE IF NOT EXISTS {{database}}.audit_leases
(
    name        LowCardinality(String),
    slot        String,
    holder      String,
    acquired_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (name, slot)
TTL toDateTime(acquired_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000;
