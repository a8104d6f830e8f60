-- Fencing tokens and measured critical sections (see src/lock/fence.rs).

-- The fencing token a holder last claimed for the product, and the epoch of
-- the sequence that issued it (a backend, and which incarnation of its
-- server): tokens of different epochs are not comparable, so a claim in
-- another epoch starts afresh.
ALTER TABLE products
    ADD COLUMN fence_epoch  TEXT,
    ADD COLUMN fence        BIGINT,
    -- Which acquisition claimed it (a Redis owner id, an etcd lease): should
    -- a sequence ever hand out one token twice (a Redis reloaded from an old
    -- snapshot, an etcd restored from a backup), the two holders still differ.
    ADD COLUMN fence_holder TEXT;

ALTER TABLE orders
    -- The token the order's lock holder wrote under (NULL: not fenced).
    ADD COLUMN fence_token BIGINT,
    -- When its critical section began (the read) and ended (the write), in
    -- microseconds since the epoch by PostgreSQL's clock (clock_timestamp()).
    -- Two orders of one SKU whose sections overlap are direct evidence that
    -- the lock failed to exclude them. NULL for `atomic`, which has no
    -- critical section outside its one statement.
    ADD COLUMN cs_started_us BIGINT,
    ADD COLUMN cs_ended_us   BIGINT;

CREATE INDEX orders_sku_cs_idx ON orders (sku, cs_started_us);
