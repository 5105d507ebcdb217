-- migrate: no-transaction
-- Replaced by documents_created_state_idx (0014): one index fewer for every document
-- written.
DROP INDEX CONCURRENTLY IF EXISTS documents_created_idx;
