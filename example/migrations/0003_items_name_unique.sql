-- Up Migration
CREATE UNIQUE INDEX items_name_key ON items (name);

-- Down Migration
DROP INDEX items_name_key;
