-- The two tables of the ledger. The audit endpoint derives every verdict
-- (sold, oversold, consistent) from these rows, never from in-memory counters.

CREATE TABLE products (
    sku           TEXT PRIMARY KEY,
    -- What the product was last reset to: the yardstick for "oversold".
    initial_stock BIGINT NOT NULL CHECK (initial_stock >= 0),
    -- Deliberately no CHECK (stock >= 0): the lesson is to watch the service
    -- oversell when its lock is broken. A constraint would turn that into a
    -- database error and hide lost updates that never drive stock negative.
    stock         BIGINT NOT NULL
);

CREATE TABLE orders (
    order_id     UUID PRIMARY KEY,
    sku          TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    -- Which backend guarded the deduction: a ledger that mixes backends
    -- (a switch under load) can still be read per backend.
    lock_backend TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX orders_sku_idx ON orders (sku);
