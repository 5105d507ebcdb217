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

-- The folded counts added up per Dinero connection, over the shops on it now: the admin's
-- connection lists rank every connection by its parked documents without joining every
-- shop. Kept exact by the fold (which adds each change under the shop's connection at
-- that moment) and by the trigger below, which moves a shop's folded counts when the shop
-- changes connection or goes. Both hold the fold's advisory lock
-- (`tenants.outbox.counts._FOLD_LOCK`), so a shop never moves while a fold reads where it
-- is.
CREATE TABLE connection_document_counts_folded (
    connection_id uuid   NOT NULL,
    state         text   NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (connection_id, state)
);
CREATE INDEX connection_document_counts_folded_state_idx
    ON connection_document_counts_folded (state);

-- Added up by readers, as the others: the folded counts plus the pending changes of the
-- shops on the connection now.
CREATE VIEW connection_document_counts AS
SELECT connection_id, state, n FROM connection_document_counts_folded
UNION ALL
SELECT s.connection_id, p.state, p.n FROM document_counts_pending p
JOIN shops s ON s.id = p.shop_id WHERE s.connection_id IS NOT NULL;

CREATE FUNCTION shops_move_document_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7237112404930555508);  -- the fold's lock
    -- After the lock, so this reads what any fold that ran meanwhile folded.
    IF OLD.connection_id IS NOT NULL THEN
        INSERT INTO connection_document_counts_folded AS c (connection_id, state, n)
        SELECT OLD.connection_id, state, -sum(n) FROM document_counts_folded
        WHERE shop_id = OLD.id GROUP BY state
        ON CONFLICT (connection_id, state) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.connection_id IS NOT NULL THEN
        INSERT INTO connection_document_counts_folded AS c (connection_id, state, n)
        SELECT NEW.connection_id, state, sum(n) FROM document_counts_folded
        WHERE shop_id = NEW.id GROUP BY state
        ON CONFLICT (connection_id, state) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER shops_move_document_counts AFTER UPDATE OF connection_id ON shops
    FOR EACH ROW WHEN (OLD.connection_id IS DISTINCT FROM NEW.connection_id)
    EXECUTE FUNCTION shops_move_document_counts();
CREATE TRIGGER shops_drop_document_counts AFTER DELETE ON shops
    FOR EACH ROW WHEN (OLD.connection_id IS NOT NULL)
    EXECUTE FUNCTION shops_move_document_counts();

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
    DELETE FROM connection_document_counts_folded;
    RETURN NULL;
END $$;

-- Creating the triggers locks out writers to `documents` (and moves of shops) until this
-- migration commits, so the counts below see every document written before and none is
-- counted twice.
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
INSERT INTO connection_document_counts_folded (connection_id, state, n)
SELECT s.connection_id, f.state, sum(f.n) FROM document_counts_folded f
JOIN shops s ON s.id = f.shop_id WHERE s.connection_id IS NOT NULL
GROUP BY s.connection_id, f.state;
