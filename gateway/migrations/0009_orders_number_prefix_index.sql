-- migrate: no-transaction
-- An order number's beginning, found from an index: the documents list's search reads
-- `number ~>=~ $prefix AND number ~<~ $prefix || U+10FFFF` (byte order, which this operator
-- class sorts by whatever the database's collation), where `starts_with` alone could use no
-- index outside the C collation and read every order of the shop (0.4-0.6 s at 100,000).
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_shop_number_prefix_idx
    ON orders (shop_id, number text_pattern_ops);
