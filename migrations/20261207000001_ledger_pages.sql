-- Which transaction wrote each order, so that a reader can page through the
-- ledger as it grows and miss no row: GET /admin/ledger/{sku}?after=N
-- returns the rows of transactions in [N, the oldest still running), all of
-- which have ended, and the cursor to ask from next (docs/api.md#the-ledger-page-by-page).
-- An id or a timestamp cannot be that cursor: rows commit out of their order,
-- and one that commits after the reader passed its key would be missed.
ALTER TABLE orders ADD COLUMN txid BIGINT NOT NULL DEFAULT txid_current();
CREATE INDEX orders_sku_txid_idx ON orders (sku, txid);
