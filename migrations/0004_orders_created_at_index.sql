-- Up Migration
CREATE INDEX orders_created_at_idx ON orders (created_at DESC);

-- Down Migration
DROP INDEX orders_created_at_idx;
