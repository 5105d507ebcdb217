-- Documents counted by shop, kind and state, kept by triggers on `documents`, so the admin's
-- connection lists, a shop's counts and the metrics' documents-by-state gauge read a few
-- thousand counter rows instead of counting up to a million documents at read time.
--
-- Every write to `documents` adds what it changed to `document_counts_pending`, in its own
-- statement's trigger and so in its own transaction: a rolled-back write leaves no count
-- behind, and a count is seen exactly when the change it counts is. Pending rows are only
-- ever inserted, never updated, so two writers never wait for each other over a counter,
-- whatever documents they change and in whichever order (no lock, no deadlock). The
-- sweeper folds them into `document_counts_folded` and `document_totals_folded`
-- (`tenants.outbox.counts.fold`), one folder at a time. Readers ask the views
-- `document_counts` (per shop) and `document_totals` (over all shops): folded plus pending,
-- which equals counting the documents in any snapshot.
CREATE TABLE document_counts_folded (
    shop_id uuid   NOT NULL,
    kind    text   NOT NULL,
    state   text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (shop_id, state, kind)
) WITH (fillfactor = 70);  -- only n changes: room for the fold's updates in place
-- Counts in one state across shops: parked documents per connection, platform totals.
CREATE INDEX document_counts_folded_state_idx ON document_counts_folded (state, shop_id);

CREATE TABLE document_counts_pending (
    shop_id uuid   NOT NULL,
    kind    text   NOT NULL,
    state   text   NOT NULL,
    n       bigint NOT NULL  -- a change: negative for rows that left (shop, kind, state)
);

-- A (shop, kind, state) may have several rows here, some negative: readers add up `n`
-- (`sum(n)` grouped as they need), never count rows. Left unsummed so that a question about
-- one state or one shop reads only those rows of both tables.
CREATE VIEW document_counts AS
SELECT shop_id, kind, state, n FROM document_counts_folded
UNION ALL
SELECT shop_id, kind, state, n FROM document_counts_pending;

-- The same counts summed over every shop, by kind and state: the platform's totals and the
-- documents gauge read these few rows. Written by the fold alone, as the folded counts are.
CREATE TABLE document_totals_folded (
    kind  text   NOT NULL,
    state text   NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (kind, state)
);

-- Likewise added up by readers, never counted.
CREATE VIEW document_totals AS
SELECT kind, state, n FROM document_totals_folded
UNION ALL
SELECT kind, state, n FROM document_counts_pending;

-- Statement-level, with the statement's rows as transition tables: a bulk update (parking
-- an organisation's documents) adds one row per shop, kind and state it moved, not one per
-- document; an update that changes no shop, kind or state (a lease, a step) adds nothing.
CREATE FUNCTION documents_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_counts_pending (shop_id, kind, state, n)
    SELECT shop_id, kind, state, count(*) FROM new_rows GROUP BY shop_id, kind, state;
    RETURN NULL;
END $$;

CREATE FUNCTION documents_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_counts_pending (shop_id, kind, state, n)
    SELECT shop_id, kind, state, sum(n) FROM (
        SELECT shop_id, kind, state, -1 AS n FROM old_rows
        UNION ALL
        SELECT shop_id, kind, state, 1 AS n FROM new_rows) c
    GROUP BY shop_id, kind, state
    HAVING sum(n) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION documents_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_counts_pending (shop_id, kind, state, n)
    SELECT shop_id, kind, state, -count(*) FROM old_rows GROUP BY shop_id, kind, state;
    RETURN NULL;
END $$;

CREATE FUNCTION documents_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM document_counts_pending;
    DELETE FROM document_counts_folded;
    DELETE FROM document_totals_folded;
    RETURN NULL;
END $$;

-- Creating the triggers locks out writers to `documents` until this migration commits, so
-- the count below sees every document written before and none is counted twice.
CREATE TRIGGER documents_count_inserted AFTER INSERT ON documents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_count_inserted();
CREATE TRIGGER documents_count_updated AFTER UPDATE ON documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_count_updated();
CREATE TRIGGER documents_count_deleted AFTER DELETE ON documents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_count_deleted();
CREATE TRIGGER documents_count_truncated AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION documents_count_truncated();

INSERT INTO document_counts_folded (shop_id, kind, state, n)
SELECT shop_id, kind, state, count(*) FROM documents GROUP BY shop_id, kind, state;
INSERT INTO document_totals_folded (kind, state, n)
SELECT kind, state, sum(n) FROM document_counts_folded GROUP BY kind, state;
