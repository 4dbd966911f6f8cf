-- Where each sink is: per (tenant, writer stream), the last seq delivered and its received_at
-- (the lower bound for the stream's next events, since received_at does not decrease along a
-- stream). In ClickHouse, not on a replica's disk: the lease that picks the delivering replica
-- (audit_leases) can move, and the next holder continues from here.
--
-- ReplacingMergeTree(seq): a checkpoint only moves forward, and the highest seq is the one
-- kept, so two replicas writing during a lease hand-over can never move a sink backwards.
-- Readers aggregate (max(seq), argMax(received_at, seq)), exact before merges too.
-- A row with empty tenant_id and stream marks that the sink exists (its start position was set).
CREATE TABLE IF NOT EXISTS {{database}}.audit_sink_checkpoints
(
    sink        LowCardinality(String),
    tenant_id   LowCardinality(String),
    stream      String,
    seq         UInt64,
    received_at DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (sink, tenant_id, stream);
