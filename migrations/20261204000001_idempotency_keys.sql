-- Orders that are safe to retry (docs/api.md#retrying-an-order).
ALTER TABLE orders
    -- The client's `Idempotency-Key`, written in the order's own
    -- transaction: the unique index, not a map in one instance's memory,
    -- decides between two attempts with one key, on any instance — the
    -- loser's insert fails, and its transaction, deduction included, rolls
    -- back.
    ADD COLUMN idempotency_key TEXT,
    -- The stock the order wrote, so a retry gets the first answer back.
    ADD COLUMN remaining BIGINT;

CREATE UNIQUE INDEX orders_idempotency_key_idx ON orders (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
