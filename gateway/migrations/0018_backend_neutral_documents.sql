-- The outbox speaks of the accounting system in neutral words: what the backend a document
-- went to calls it (its id, number, status and version: Dinero's Guid, Number, Status and
-- Timestamp), and which backend that is. Dinero is the only one so far.
--
-- Deploying: a rename is one catalogue change, quick under this transaction's lock, but
-- code from before it reads the old names and code after it the new ones. Stop `web` and
-- `worker` for the deploy, run `gateway migrate`, then start the new release (compose's
-- one-shot `migrate` runs before both). Nothing is lost meanwhile: ingest answers nobody,
-- so the shops' platforms send again (the signed API's clients retry, Shopify retries,
-- reconcile brings in what a WooCommerce webhook missed), and what is owed waits in
-- Postgres for the workers. A deploy that must not stop would instead add the new columns,
-- write both from a release that reads the new, copy, and drop the old in a later migration.
ALTER TABLE documents RENAME COLUMN dinero_guid TO backend_id;
ALTER TABLE documents RENAME COLUMN dinero_number TO backend_number;
ALTER TABLE documents RENAME COLUMN dinero_status TO backend_status;
ALTER TABLE documents RENAME COLUMN dinero_timestamp TO backend_version;

COMMENT ON COLUMN documents.backend_id IS
    'The backend''s id for what was created: equal to client_guid where it takes ours '
    '(Dinero''s invoices and credit notes), else the id it assigned';
COMMENT ON COLUMN documents.backend_version IS
    'The backend''s version of the document, sent back when booking or paying it '
    '(Dinero''s Timestamp)';

-- Which backend the document goes to: the key of the worker's registry of backends
-- (`workers.backends`). A constant default, so adding it rewrites no rows.
ALTER TABLE documents ADD COLUMN backend text NOT NULL DEFAULT 'dinero'
    CHECK (backend ~ '^[a-z][a-z0-9_]*$');
