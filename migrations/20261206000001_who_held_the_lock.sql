-- Who held the lock when: what the dashboard's timeline draws
-- (docs/dashboard.md#who-held-the-lock-when).

ALTER TABLE orders
    -- The instance that committed the order: its `INSTANCE_NAME`, which
    -- the service gives every pooled connection as its `application_name`
    -- (so PostgreSQL's own pg_stat_activity names it too). A default, not a
    -- bound value: every statement that records an order gets it without
    -- one more parameter. NULL for rows recorded before this migration.
    ADD COLUMN instance TEXT DEFAULT NULLIF(current_setting('application_name'), '');

-- An order refused with 409 `lock_lost` rolls back and leaves no row in
-- `orders`: it is written here instead, on its own, after the rollback, so
-- the timeline can mark where fencing (or the check before commit) stopped
-- a holder. Not part of any verdict: `orders` alone decides those.
CREATE TABLE lock_refusals (
    id            BIGSERIAL PRIMARY KEY,
    sku           TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    instance      TEXT DEFAULT NULLIF(current_setting('application_name'), ''),
    lock_backend  TEXT NOT NULL,
    -- The token the refused holder had, if its lock gives tokens.
    fence_token   BIGINT,
    -- When it was refused, by PostgreSQL's clock (as orders' sections are).
    refused_us    BIGINT NOT NULL
                  DEFAULT (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT
);

CREATE INDEX lock_refusals_sku_idx ON lock_refusals (sku, refused_us);
