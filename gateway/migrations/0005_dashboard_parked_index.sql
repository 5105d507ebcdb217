-- migrate: no-transaction
-- Failed and parked documents, counted from the index alone: the admin's platform totals
-- ("parked now", "failed now") and the parked documents per connection. Through
-- documents_attention_idx each counted row costs a heap visit (15-80 ms at a million
-- documents with 37,000 stuck); this reads about 150 index pages instead (1-3 ms). Small,
-- as it holds only the documents in these two states.
CREATE INDEX CONCURRENTLY IF NOT EXISTS documents_stuck_idx ON documents (state, shop_id)
    WHERE state IN ('failed', 'needs_reconnect');
