-- Up Migration
INSERT INTO items (name) VALUES ('first'), ('second');

-- Down Migration
DELETE FROM items WHERE name IN ('first', 'second');
