-- orders_sku_cs_idx (sku, cs_started_us) serves every lookup by SKU, so the
-- index on sku alone only costs every order's INSERT — and misled the
-- planner: with statistics that had not yet seen a phase's orders, it
-- scanned all of a SKU's orders for every one of them in the audit's
-- overlap count (26,000 orders: over 30 s) instead of ranging over the
-- composite index.
DROP INDEX orders_sku_idx;
